"""Byte-identical output across runs, hash seeds and working directories; no drift in generated/."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _build(out: Path, seed: str, cwd: Path) -> dict[str, bytes]:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    result = subprocess.run(
        [sys.executable, "-m", "eventgen", "build", str(REPO / "specs"), "-o", str(out)],
        check=False,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return {
        p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()
    }


def test_identical_bytes_under_two_hash_seeds_and_directories(tmp_path: Path) -> None:
    first = _build(tmp_path / "a", "0", REPO)
    second = _build(tmp_path / "b", "12345", tmp_path)
    assert first == second


def test_committed_generated_tree_does_not_drift() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "eventgen", "build", str(REPO / "specs"), "--check", "--no-cache"],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
