"""Spec variants of tests/evolution/base and an in-process `eventgen diff` runner."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from eventgen.evolution.cli import diff

BASE = Path(__file__).parent / "base"


def variant(root: Path, name: str, edits: dict[str, list[tuple[str, str]]] | None = None) -> Path:
    """Copy the base specs to root/name and apply exact text edits (each must match once)."""
    target = root / name
    shutil.copytree(BASE, target)
    for file, changes in (edits or {}).items():
        path = target / file
        text = path.read_text()
        for old, new in changes:
            assert text.count(old) == 1, f"{old!r} must occur once in {file}"
            text = text.replace(old, new)
        path.write_text(text)
    return target


def run_diff(*args: str) -> tuple[int, str]:
    """Exit code and stdout+stderr of `eventgen diff ARGS`."""
    result = CliRunner().invoke(diff, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def findings(*args: str) -> tuple[int, list[tuple[str, str]]]:
    """Exit code and sorted (rule, file:line:col) of a JSON diff."""
    code, out = run_diff(*args, "--format", "json")
    assert code in (0, 1), out
    payload: dict[str, Any] = json.loads(out)
    pairs = [(f["rule"], f"{f['file']}:{f['line']}:{f['col']}") for f in payload["findings"]]
    return code, sorted(pairs)
