"""Build spec folders with the real CLI and import what they generate."""

from __future__ import annotations

import importlib
import io
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "specs"


def build(specs: Path, out: Path) -> str:
    """`eventgen build specs -o out --no-cache` in process; the transcript (stderr)."""
    from eventgen.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        code = main(["build", str(specs), "-o", str(out), "--no-cache"])
    assert code == 0, stdout.getvalue() + stderr.getvalue()
    return stderr.getvalue()


def write_specs(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def import_fresh(out: Path, package: str, module: str) -> ModuleType:
    """Import `package.module` from `out`, dropping any earlier import of that package."""
    for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        del sys.modules[name]
    if str(out) in sys.path:
        sys.path.remove(str(out))
    sys.path.insert(0, str(out))
    importlib.invalidate_caches()
    return importlib.import_module(f"{package}.{module}")


def run_mypy(cwd: Path, *targets: str) -> subprocess.CompletedProcess[str]:
    """mypy --strict on files or packages under `cwd`, the checkout's eventgen importable."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{cwd}", "MYPYPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", *targets],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


@pytest.fixture(scope="session")
def example_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example platform (specs/) built once for the session."""
    out = tmp_path_factory.mktemp("example") / "out"
    build(EXAMPLE, out)
    return out
