"""Every golden case builds to exactly its expected transcript and output tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.golden import CASES, run_case, snapshot

CASE_DIRS = sorted(p for p in CASES.iterdir() if (p / "specs").is_dir())


@pytest.mark.parametrize("case", CASE_DIRS, ids=[p.name for p in CASE_DIRS])
def test_golden_case(case: Path, tmp_path: Path) -> None:
    transcript, files = run_case(case, tmp_path / "out")
    assert transcript == (case / "expected.txt").read_text(encoding="utf-8"), (
        "run `python -m tests.golden`"
    )
    before = snapshot(case / "pre-existing")
    expected_dir = case / "expected"
    expected = snapshot(expected_dir) if expected_dir.exists() else before
    assert sorted(files) == sorted(expected)
    for rel, data in files.items():
        assert data == expected[rel], f"{rel} differs; run `python -m tests.golden {case.name}`"
    if transcript.startswith("exit 1"):
        assert files == before, "a failed build must write nothing"
