"""Formatting generated Python with ruff, in one process per build, independent of user config."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

LINE_LENGTH = 100
TARGET = "py311"


def ruff_bin() -> str:
    """The ruff executable installed with the `ruff` package (else the one on PATH)."""
    try:
        from ruff.__main__ import find_ruff_bin  # type: ignore[import-untyped]

        return str(find_ruff_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("ruff")
        if found is None:
            raise RuntimeError(
                "ruff is not installed; eventgen needs it to format Python"
            ) from None
        return found


def ruff_args(command: str) -> list[str]:
    """Arguments that pin the style: --isolated ignores pyproject/ruff.toml of the user."""
    return [
        ruff_bin(), command, "--isolated", "--no-cache",
        f"--line-length={LINE_LENGTH}", f"--target-version={TARGET}",
    ]  # fmt: skip


def format_source(source: str) -> str:
    """Format one module via `ruff format -` (stdin)."""
    done = subprocess.run(
        [*ruff_args("format"), "-"], input=source.encode(), capture_output=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"ruff format failed: {done.stderr.decode(errors='replace')}")
    return done.stdout.decode()


def format_sources(sources: dict[str, str]) -> dict[str, str]:
    """Format many modules with a single ruff run (one process instead of one per file)."""
    if len(sources) <= 1:
        return {path: format_source(text) for path, text in sources.items()}
    with tempfile.TemporaryDirectory(prefix="eventgen-fmt-") as tmp:
        root = Path(tmp)
        for path, text in sources.items():
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        done = subprocess.run(
            [*ruff_args("format"), "--quiet", str(root)], capture_output=True, check=False
        )
        if done.returncode != 0:
            message = done.stderr.decode(errors="replace") or done.stdout.decode(errors="replace")
            raise RuntimeError(f"ruff format failed (a generator bug): {message}")
        return {path: (root / path).read_text(encoding="utf-8") for path in sources}


if __name__ == "__main__":  # pragma: no cover - manual use: python -m eventgen.emit.format < x.py
    sys.stdout.write(format_source(sys.stdin.read()))
