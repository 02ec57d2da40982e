"""`validate` and `build` never disagree: on every golden case they report the same findings.

The only codes `build` may add are the writer's (E0120, E0121): they are about the output
directory, which `validate` never reads.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from eventgen.cli import main
from tests.golden import CASES

CASE_DIRS = sorted(p for p in CASES.iterdir() if (p / "specs").is_dir())
WRITER_CODES = {"E0120", "E0121"}


def _findings(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main([*argv, "--format", "json"])
    out = capsys.readouterr().out
    found = json.loads(out) if out.strip() else []
    keys = [
        f"{d['code']} {d['file']}:{d['line']}:{d['col']}"
        for d in found
        if d["code"] not in WRITER_CODES
    ]
    return code, sorted(keys)


@pytest.mark.parametrize("case", CASE_DIRS, ids=[p.name for p in CASE_DIRS])
def test_validate_and_build_agree(
    case: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    if (case / "pre-existing").is_dir():
        shutil.copytree(case / "pre-existing", out, symlinks=True)
    validate_code, validate_found = _findings(
        ["validate", str(case / "specs"), "-o", str(out)], capsys
    )
    build_code, build_found = _findings(
        ["build", str(case / "specs"), "-o", str(out), "--no-cache"], capsys
    )
    assert validate_found == build_found
    expected = (case / "expected.txt").read_text(encoding="utf-8")
    if not any(code in expected for code in WRITER_CODES):
        assert validate_code == build_code


def test_an_overlay_error_fails_validate_without_env(capsys: pytest.CaptureFixture[str]) -> None:
    # The environments case breaks only `local`; validate without --env must still see it,
    # because build resolves every declared environment.
    code, found = _findings(["validate", str(CASES / "environments" / "specs")], capsys)
    assert code == 1
    assert [f.split()[0] for f in found] == ["E0114"]


def test_validate_renders_markdown_for_a_pr_comment(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["validate", str(CASES / "environments" / "specs"), "--format", "markdown"])
    out = capsys.readouterr().out
    assert code == 1
    assert out.startswith("### eventgen findings")
    assert [line.split(" | ")[1] for line in out.splitlines() if line.startswith("| 🔴")] == [
        "E0114"
    ]
