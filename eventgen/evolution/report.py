"""Render diff findings: text, json, markdown (a PR comment) and github (workflow commands)."""

from __future__ import annotations

import json
from collections import Counter

from eventgen.diagnostics import Loc
from eventgen.evolution.findings import LEVELS, Finding

FORMATS = ("text", "json", "markdown", "github")
_GITHUB_LEVEL = {"breaking": "error", "warning": "warning", "info": "notice"}
_ICON = {"breaking": "🔴", "warning": "🟡", "info": "🔵"}


def render(findings: list[Finding], fmt: str, *, against: str) -> str:
    """The report in one of FORMATS; `against` names the old side."""
    if fmt == "json":
        return _json(findings, against)
    if fmt == "markdown":
        return _markdown(findings, against)
    if fmt == "github":
        return _github(findings)
    return _text(findings, against)


def summary(findings: list[Finding]) -> str:
    counts = Counter(f.severity for f in findings)
    return ", ".join(f"{counts[level]} {level}" for level in LEVELS)


def _text(findings: list[Finding], against: str) -> str:
    lines = []
    for f in findings:
        lines.append(f"{f.loc}: {f.severity} {f.rule}: {f.message}")
        if f.old_loc is not None:
            lines.append(f"  was at: {f.old_loc}")
        lines += [f"  {d}" for d in f.details]
        if f.hint:
            lines.append(f"  hint: {f.hint}")
    lines.append(f"against {against}: {summary(findings)}")
    return "\n".join(lines) + "\n"


def _loc_json(loc: Loc | None) -> dict[str, object] | None:
    if loc is None:
        return None
    return {"file": loc.file, "line": loc.line, "col": loc.col}


def _json(findings: list[Finding], against: str) -> str:
    counts = Counter(f.severity for f in findings)
    payload = {
        "against": against,
        "breaking": counts["breaking"] > 0,
        "summary": {level: counts[level] for level in LEVELS},
        "findings": [
            {
                "rule": f.rule,
                "severity": f.severity,
                "subject": f.subject,
                **(_loc_json(f.loc) or {}),
                "old": _loc_json(f.old_loc),
                "message": f.message,
                "hint": f.hint,
                "details": list(f.details),
            }
            for f in findings
        ],
    }
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"


def _md(text: str) -> str:
    # Table cells: pipes split columns and newlines end rows; backticks stay (code spans).
    return text.replace("|", "\\|").replace("\n", " ")


def _markdown(findings: list[Finding], against: str) -> str:
    counts = Counter(f.severity for f in findings)
    verdict = "❌ **breaking changes**" if counts["breaking"] else "✅ no breaking changes"
    lines = [
        f"### eventgen diff against `{_md(against)}`",
        "",
        f"{verdict}: {summary(findings)}",
        "",
        "| severity | count |",
        "|---|---|",
    ]
    lines += [f"| {_ICON[level]} {level} | {counts[level]} |" for level in LEVELS]
    if findings:
        lines += ["", "| | rule | where | what |", "|---|---|---|---|"]
        for f in findings:
            where = f"`{_md(str(f.loc))}`"
            lines.append(f"| {_ICON[f.severity]} | {f.rule} | {where} | {_md(f.message)} |")
        lines += ["", "<details><summary>Details and hints</summary>", ""]
        for f in findings:
            lines.append(f"- **{f.rule}** `{_md(str(f.loc))}`: {_md(f.message)}")
            if f.old_loc is not None:
                lines.append(f"  - was at `{_md(str(f.old_loc))}`")
            lines += [f"  - `{_md(d)}`" for d in f.details]
            if f.hint:
                lines.append(f"  - hint: {_md(f.hint)}")
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def _escape(text: str, *, prop: bool = False) -> str:
    # Workflow commands need %, CR and LF escaped; properties also ':' and ','.
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def _github(findings: list[Finding]) -> str:
    lines = []
    for f in findings:
        props = f"file={_escape(f.loc.file, prop=True)}"
        if f.loc.line > 0:
            props += f",line={f.loc.line},col={f.loc.col}"
        props += f",title={_escape(f'{f.rule} {f.severity}', prop=True)}"
        body = f.message
        if f.old_loc is not None:
            body += f" (was at {f.old_loc})"
        if f.hint:
            body += f" (hint: {f.hint})"
        lines.append(f"::{_GITHUB_LEVEL[f.severity]} {props}::{_escape(body)}")
    return "\n".join(lines) + ("\n" if lines else "")
