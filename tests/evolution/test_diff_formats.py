"""`eventgen diff` reports specs that do not load in the requested format, with exit 2.

A PR that breaks a spec must still get annotations (github), a comment (markdown) or a
machine-readable answer (json) saying why there is no verdict; text keeps its stderr report.
Both sides are tried: the new specs, and an old side given as a directory or a git ref.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from eventgen.cli import main

BASE = Path(__file__).resolve().parent / "base"
BROKEN = ("    topic: audit\n", "    topic: audit-nope\n")  # E0302, line of the topic: value


def _broken_line() -> int:
    lines = (BASE / "shop.yaml").read_text().splitlines(keepends=True)
    return lines.index(BROKEN[0]) + 1


@pytest.fixture
def trees(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`good/` (the base specs) and `bad/` (one unknown topic), with the cwd above them."""
    shutil.copytree(BASE, tmp_path / "good")
    shutil.copytree(BASE, tmp_path / "bad")
    spec = tmp_path / "bad" / "shop.yaml"
    spec.write_text(spec.read_text().replace(*BROKEN))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _diff(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["diff", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


SIDES = {"new": ("bad", "--against", "good"), "old": ("good", "--against", "bad")}


@pytest.mark.parametrize("side", sorted(SIDES))
def test_github(trees: Path, capsys: pytest.CaptureFixture[str], side: str) -> None:
    code, out, err = _diff(capsys, *SIDES[side], "--format", "github")
    line = _broken_line()
    assert code == 2
    assert out == (
        f"::error file=bad/shop.yaml,line={line},col=12,title=E0302::unknown topic `audit-nope`\n"
    )
    assert err.splitlines()[0] == "Error: the specs in bad do not load (1 error(s))"


@pytest.mark.parametrize("side", sorted(SIDES))
def test_markdown(trees: Path, capsys: pytest.CaptureFixture[str], side: str) -> None:
    code, out, _ = _diff(capsys, *SIDES[side], "--format", "markdown")
    against = SIDES[side][2]
    assert code == 2
    lines = out.splitlines()
    assert lines[:3] == [
        f"### eventgen diff against `{against}`",
        "",
        "❌ **the specs in bad do not load (1 error(s))**",
    ]
    row = f"| 🔴 | E0302 | `bad/shop.yaml:{_broken_line()}:12` | unknown topic `audit-nope` |"
    assert lines.count(row) == 1


@pytest.mark.parametrize("side", sorted(SIDES))
def test_json(trees: Path, capsys: pytest.CaptureFixture[str], side: str) -> None:
    code, out, _ = _diff(capsys, *SIDES[side], "--format", "json")
    assert code == 2
    assert json.loads(out) == {
        "against": SIDES[side][2],
        "error": "the specs in bad do not load (1 error(s))",
        "diagnostics": [
            {
                "code": "E0302",
                "severity": "error",
                "file": "bad/shop.yaml",
                "line": _broken_line(),
                "col": 12,
                "message": "unknown topic `audit-nope`",
                "hint": None,
            }
        ],
    }


def test_text_stays_on_stderr(trees: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _diff(capsys, "bad", "--against", "good")
    assert (code, out) == (2, "")
    assert err.splitlines()[:2] == [
        "Error: the specs in bad do not load (1 error(s)):",
        f"  bad/shop.yaml:{_broken_line()}:12: E0302: unknown topic `audit-nope`",
    ]


def test_old_side_at_a_git_ref(trees: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=trees, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    shutil.copytree(trees / "bad", trees / "specs")
    git("add", "specs")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "broken")
    shutil.rmtree(trees / "specs")
    shutil.copytree(trees / "good", trees / "specs")
    code, out, err = _diff(capsys, "specs", "--against", "HEAD", "--format", "github")
    assert code == 2
    line = _broken_line()
    assert out == (
        f"::error file=HEAD%3Aspecs/shop.yaml,line={line},col=12,title=E0302::"
        "unknown topic `audit-nope`\n"
    )
    assert err.splitlines()[0] == "Error: the specs at HEAD do not load (1 error(s))"
