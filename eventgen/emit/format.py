"""Formatting generated Python with ruff, independent of user config.

Modules go to ruff as files in a scratch directory, in as few processes as possible: batches of
at most `BATCH_BYTES` of source, a bigger module alone, so no single run holds a huge input.
Ruff formats files on worker threads whose default stack is small; a topic with tens of
thousands of messages makes one `A | B | ...` union as deep as it is long, which overflowed it.
`RUST_MIN_STACK` (read by Rust's thread spawner) gives the workers a bigger stack; it is only
reserved address space, pages are used as the recursion needs them. A failure is a
`FormatError`: one line naming the module, exit 2, never a traceback.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from eventgen.evolution.errors import InputError

LINE_LENGTH = 100
TARGET = "py311"
BATCH_BYTES = 8 * 1024 * 1024
WORKER_STACK = str(512 * 1024 * 1024)


class FormatError(InputError):
    """ruff is missing or could not format a generated module (exit 2, one line)."""


def ruff_bin() -> str:
    """The ruff executable installed with the `ruff` package (else the one on PATH)."""
    try:
        from ruff.__main__ import find_ruff_bin  # type: ignore[import-untyped]

        return str(find_ruff_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("ruff")
        if found is None:
            raise FormatError(
                "ruff is not installed; eventgen needs it to format Python",
                "pip install ruff (it is a dependency of eventgen)",
            ) from None
        return found


def ruff_args(command: str) -> list[str]:
    """Arguments that pin the style: --isolated ignores pyproject/ruff.toml of the user."""
    return [
        ruff_bin(), command, "--isolated", "--no-cache",
        f"--line-length={LINE_LENGTH}", f"--target-version={TARGET}",
    ]  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, "RUST_MIN_STACK": WORKER_STACK}


def format_source(source: str) -> str:
    """Format one module via `ruff format -` (stdin)."""
    done = _run([*ruff_args("format"), "-"], input=source.encode())
    if done.returncode != 0:
        raise FormatError(f"ruff format failed on a module of {len(source)} characters: "
                          f"{_reason(done)}")  # fmt: skip
    return done.stdout.decode()


def format_sources(sources: dict[str, str]) -> dict[str, str]:
    """Format many modules with as few ruff runs as `BATCH_BYTES` allows; same bytes as one."""
    formatted: dict[str, str] = {}
    for batch in batches(sources, BATCH_BYTES):
        formatted.update(_format_batch(batch))
    return {path: formatted[path] for path in sources}


def batches(sources: dict[str, str], limit: int) -> Iterator[dict[str, str]]:
    """Groups of modules in order, each at most `limit` characters unless one module is more."""
    batch: dict[str, str] = {}
    size = 0
    for path, text in sources.items():
        if batch and size + len(text) > limit:
            yield batch
            batch, size = {}, 0
        batch[path] = text
        size += len(text)
    if batch:
        yield batch


def _format_batch(sources: dict[str, str]) -> dict[str, str]:
    with tempfile.TemporaryDirectory(prefix="eventgen-fmt-") as tmp:
        root = Path(tmp)
        for path, text in sources.items():
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        done = _run([*ruff_args("format"), "--quiet", str(root)])
        if done.returncode != 0:
            where = ", ".join(sorted(sources)) if len(sources) <= 3 else f"{len(sources)} modules"
            size = sum(len(t) for t in sources.values())
            raise FormatError(
                f"ruff format failed on {where} ({size} characters): {_reason(done)}",
                "a bug in eventgen's Python emitter, or a spec too big for ruff; please report it",
            )
        return {path: (root / path).read_text(encoding="utf-8") for path in sources}


def _run(argv: list[str], input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(argv, input=input, capture_output=True, check=False, env=_env())
    except OSError as exc:
        raise FormatError(f"cannot run ruff ({argv[0]}): {exc.strerror or exc}") from exc


def _reason(done: subprocess.CompletedProcess[bytes]) -> str:
    """ruff's message on one line (a crash prints a few; the first says what happened)."""
    text = (done.stderr or done.stdout).decode(errors="replace")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else f"exit status {done.returncode}"


if __name__ == "__main__":  # pragma: no cover - manual use: python -m eventgen.emit.format < x.py
    sys.stdout.write(format_source(sys.stdin.read()))
