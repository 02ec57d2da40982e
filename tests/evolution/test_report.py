"""Rendering of diff findings: text, json, markdown (PR comment) and GitHub annotations."""

from __future__ import annotations

import json

from eventgen.diagnostics import Loc
from eventgen.evolution.findings import DIFF_RULES, finding, normalize
from eventgen.evolution.report import render

FOUND = normalize(
    [
        finding(
            "D0102", Loc("specs/a.yaml", 4, 3), "s-value changed compatibly", subject="s-value"
        ),
        finding(
            "D0101",
            Loc("specs/a.yaml", 35, 7),
            "s-value is not BACKWARD compatible: a|b, 100%",
            hint="give it a default",
            subject="s-value",
            old_loc=Loc("HEAD:specs/a.yaml", 30, 7),
            details=("READER_FIELD_MISSING_DEFAULT_VALUE at /fields/3 (backward)",),
        ),
    ]
)


def test_breaking_sorts_first() -> None:
    assert [f.code for f in FOUND] == ["D0101", "D0102"]


def test_github_annotations() -> None:
    assert render(FOUND, "github", against="HEAD").splitlines() == [
        (
            "::error file=specs/a.yaml,line=35,col=7,title=D0101 breaking::s-value is not BACKWARD "
            "compatible: a|b, 100%25 (was at HEAD:specs/a.yaml:30:7) (hint: give it a default)"
        ),
        "::notice file=specs/a.yaml,line=4,col=3,title=D0102 info::s-value changed compatibly",
    ]


def test_markdown_comment() -> None:
    text = render(FOUND, "markdown", against="origin/main")
    lines = text.splitlines()
    assert lines[0] == "### eventgen diff against `origin/main`"
    assert lines[2] == "❌ **breaking changes**: 1 breaking, 0 warning, 1 info"
    assert "| 🔴 breaking | 1 |" in lines
    assert (
        "| 🔴 | D0101 | `specs/a.yaml:35:7` | s-value is not BACKWARD compatible: a\\|b, 100% |"
        in lines
    )
    assert "  - was at `HEAD:specs/a.yaml:30:7`" in lines
    assert "  - hint: give it a default" in lines
    assert text.endswith("</details>\n")


def test_markdown_without_findings() -> None:
    text = render([], "markdown", against="HEAD")
    assert "✅ no breaking changes: 0 breaking, 0 warning, 0 info" in text
    assert "<details>" not in text


def test_json_payload() -> None:
    payload = json.loads(render(FOUND, "json", against="HEAD"))
    assert payload["breaking"] is True
    assert payload["summary"] == {"breaking": 1, "warning": 0, "info": 1}
    first = payload["findings"][0]
    assert (first["rule"], first["file"], first["line"], first["col"]) == (
        "D0101",
        "specs/a.yaml",
        35,
        7,
    )
    assert first["old"] == {"file": "HEAD:specs/a.yaml", "line": 30, "col": 7}


def test_text_report() -> None:
    text = render(FOUND, "text", against="HEAD")
    assert text.splitlines()[0] == (
        "specs/a.yaml:35:7: breaking D0101: s-value is not BACKWARD compatible: a|b, 100%"
    )
    assert text.endswith("against HEAD: 1 breaking, 0 warning, 1 info\n")


def test_rule_registry_is_complete_and_unique() -> None:
    ids = [rule for rule, _, _ in DIFF_RULES]
    assert len(ids) == len(set(ids))
    assert all(level in ("breaking", "warning", "info") for _, level, _ in DIFF_RULES)
