"""What `pip install .` gives a new user: the wheel, installed into a fresh venv, works.

The wheel is built from a copy of the working tree (what pip sees, ignored files included), then
installed with its dependencies into a new virtualenv: no editable install, no PYTHONPATH, and
every command runs from a temporary directory, so nothing can come from the repository. An
earlier version of this test passed while `eventgen/emit` was missing from the wheel, because
the test interpreter's editable install supplied it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SPECS = REPO / "specs"
REPO_EVENTGEN = Path(sys.executable).parent / "eventgen"
# What the wheel build never reads; everything else is copied, so a module that exists but
# git does not track (an ignore pattern once hid eventgen/ir/build) still shows up below.
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", ".services", "build", "dist", "*.egg-info", "__pycache__", ".*_cache",
    ".hypothesis", "generated", "tests", "benchmarks", "docs",
)  # fmt: skip
INSTALL_TIMEOUT_S = 900


@dataclass(frozen=True)
class Installed:
    wheel: Path
    bin: Path  # the fresh venv's bin/
    cwd: Path  # an empty directory: the repository is not importable from here

    def run(self, *args: str, warnings: bool = False) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        if warnings:
            env["PYTHONWARNINGS"] = "always::DeprecationWarning,always::PendingDeprecationWarning"
        return subprocess.run(
            [str(self.bin / "eventgen"), *args],
            capture_output=True, text=True, cwd=self.cwd, env=env, timeout=300, check=False,
        )  # fmt: skip


def _pip(python: Path, *args: str) -> None:
    result = subprocess.run(
        [str(python), "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """One wheel and one fresh venv per test session (pip's cache keeps reinstalls quick)."""
    root = tmp_path_factory.mktemp("packaging")
    source = root / "source"
    shutil.copytree(REPO, source, ignore=NOT_COPIED)
    _pip(Path(sys.executable), "wheel", "-q", "--no-deps", "-w", str(root / "wheels"), str(source))
    (wheel,) = (root / "wheels").glob("eventgen-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], check=True, timeout=300)
    python = root / "venv" / "bin" / "python"
    _pip(python, "install", "-q", str(wheel))
    cwd = root / "cwd"
    cwd.mkdir()
    yield Installed(wheel=wheel, bin=python.parent, cwd=cwd)


def _repo(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO_EVENTGEN), *args],
        capture_output=True, text=True, cwd=cwd, timeout=300, check=False,
    )  # fmt: skip


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_wheel_ships_every_tracked_module(installed: Installed) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "eventgen/*.py", "templates/*.py", "templates/*.jinja"],
        capture_output=True, text=True, cwd=REPO, check=True,
    ).stdout.split()  # fmt: skip
    # top-level templates/ ships as the package eventgen.templates (setup.py's package_dir)
    tracked = sorted(n if n.startswith("eventgen/") else "eventgen/" + n for n in listed)
    with zipfile.ZipFile(installed.wheel) as wheel:
        shipped = sorted(
            n
            for n in wheel.namelist()
            if n.startswith("eventgen/") and n.endswith((".py", ".jinja"))
        )
    assert shipped == tracked
    assert len([n for n in tracked if n.endswith(".py")]) > 50
    assert "eventgen/emit/pymodels/render.py" in shipped
    assert any(n.endswith(".jinja") for n in shipped)


def test_installed_package_is_the_wheel(installed: Installed) -> None:
    result = subprocess.run(
        [str(installed.bin / "python"), "-c", "import eventgen; print(eventgen.__file__)"],
        capture_output=True, text=True, cwd=installed.cwd, check=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )  # fmt: skip
    assert Path(result.stdout.strip()).is_relative_to(installed.bin.parent), result.stdout
    assert not Path(result.stdout.strip()).is_relative_to(REPO)


def test_build_output_is_byte_identical(installed: Installed, tmp_path: Path) -> None:
    ours, reference = tmp_path / "installed", tmp_path / "reference"
    built = installed.run("build", str(SPECS), "-o", str(ours), "--no-cache")
    assert built.returncode == 0, built.stderr
    repo = _repo("build", str(SPECS), "-o", str(reference), "--no-cache")
    assert repo.returncode == 0, repo.stderr
    produced, expected = _tree(ours), _tree(reference)
    assert list(produced) == list(expected)
    assert [k for k in produced if produced[k] != expected[k]] == []
    assert len(produced) > 20
    again = installed.run("build", str(SPECS), "-o", str(ours), "--check", "--no-cache")
    assert again.returncode == 0, again.stdout + again.stderr


def test_validate_and_diff_match_the_repo(installed: Installed, tmp_path: Path) -> None:
    # Both from the same working directory: findings show paths relative to it.
    valid = installed.run("validate", str(SPECS))
    repo_valid = _repo("validate", str(SPECS), cwd=installed.cwd)
    assert valid.returncode == repo_valid.returncode == 0, valid.stderr
    assert (valid.stdout, valid.stderr) == (repo_valid.stdout, repo_valid.stderr)
    old = tmp_path / "old"
    shutil.copytree(SPECS, old)
    diff_args = ("diff", str(SPECS), "--against", str(old), "--format", "json")
    same = installed.run(*diff_args)
    assert same.returncode == 0, same.stdout + same.stderr
    # The old side had more partitions: Kafka cannot shrink a topic, a breaking finding.
    orders = old / "orders.yaml"
    text = orders.read_text()
    assert text.count("    partitions: 12\n") == 1
    orders.write_text(text.replace("    partitions: 12\n", "    partitions: 24\n"))
    changed, repo = installed.run(*diff_args), _repo(*diff_args, cwd=installed.cwd)
    assert changed.returncode == repo.returncode == 1, changed.stdout + changed.stderr
    assert changed.stdout == repo.stdout and '"D0301"' in changed.stdout


def test_lazy_commands_import_from_the_wheel(installed: Installed) -> None:
    """registry and topics load their modules (and client libraries) only when named."""
    for args in (["--help"], ["registry", "--help"], ["topics", "--help"], ["rules"], ["schema"]):
        result = installed.run(*args, warnings=True)
        assert result.returncode == 0, (args, result.stderr)
        assert result.stderr == "", (args, result.stderr)
    check = installed.run(
        "registry", "check", str(SPECS), "--url", "http://127.0.0.1:1", warnings=True
    )
    assert check.returncode == 2, check.stdout + check.stderr
    # The client was built and tried (so httpx2/authlib/attrs/cachetools are installed), and it
    # printed one error and no DeprecationWarning.
    assert check.stderr.startswith("Error: registry at http://127.0.0.1:1 unavailable")
    assert "Warning" not in check.stderr and "Traceback" not in check.stderr, check.stderr
    plan = installed.run(
        "topics", "plan", str(SPECS), "--env", "local",
        "--bootstrap-servers", "127.0.0.1:1", "--timeout", "1",
    )  # fmt: skip
    assert plan.returncode == 2, plan.stdout + plan.stderr
    assert plan.stderr.startswith("error: cannot reach Kafka at 127.0.0.1:1"), plan.stderr


def test_datamodel_code_generator_is_not_a_runtime_dependency(installed: Installed) -> None:
    result = subprocess.run(
        [str(installed.bin / "python"), "-m", "pip", "show", "datamodel-code-generator"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 1 and "not found" in result.stderr, result.stdout
