"""The one renderer of findings: text, json, github (workflow commands) and markdown.

Validation (`validate`, `build`), `diff` and compatibility results are all Diagnostics, so
each format is written once here. The two reports differ only in their frame: validation
ends text with a count of errors and warnings, a diff report names the old side and counts
findings per level. The bytes of each are pinned by tests/foundation and tests/evolution.
"""

from __future__ import annotations

import copy
import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import PurePath

from eventgen.diagnostics import Diagnostic, Loc, Severity, normalize

FORMATS = ("text", "json", "markdown", "github")
DIFF_LEVELS: tuple[Severity, ...] = (Severity.BREAKING, Severity.WARNING, Severity.INFO)
_GITHUB_LEVEL = {
    Severity.ERROR: "error",
    Severity.BREAKING: "error",
    Severity.WARNING: "warning",
    Severity.INFO: "notice",
}
_ICON = {
    Severity.ERROR: "🔴",
    Severity.BREAKING: "🔴",
    Severity.WARNING: "🟡",
    Severity.INFO: "🔵",
}


# --- where a finding is shown ----------------------------------------------------------


def display_path(path: str | os.PathLike[str]) -> str:
    """A path as findings show it: relative to the working directory, absolute outside it.

    GitHub attaches an annotation to a PR line only by a path relative to the checkout, where
    CI runs; a path that leaves the working directory would only mislead, so it is absolute.
    """
    absolute = os.path.abspath(path)
    rel = os.path.relpath(absolute, os.getcwd())
    if rel == os.pardir or rel.startswith(os.pardir + os.sep):
        return PurePath(absolute).as_posix()
    return PurePath(rel).as_posix()


def at_cwd(diagnostics: Iterable[Diagnostic], specs: str | os.PathLike[str]) -> list[Diagnostic]:
    """Findings whose files are relative to `specs` (as phases report them), re-based on the
    working directory. Placeholders (`<project>`) stay; absolute files are shown relative too."""
    shown: dict[str, str] = {}
    out: list[Diagnostic] = []
    for d in diagnostics:
        file = d.loc.file
        if file.startswith("<"):
            out.append(d)
            continue
        if file not in shown:
            shown[file] = display_path(os.path.join(specs, file))
        out.append(moved(d, shown[file]))
    return out


def moved(d: Diagnostic, file: str) -> Diagnostic:
    """`d` shown in `file` (same line and column)."""
    copied = copy.copy(d)  # not dataclasses.replace: that would bound a cut message twice
    object.__setattr__(copied, "loc", Loc(file, d.loc.line, d.loc.col))
    return copied


# --- one finding, in each format -------------------------------------------------------


def text_lines(d: Diagnostic) -> list[str]:
    """`file:line:col: severity CODE: message`, then where it was, details and the hint."""
    lines = [f"{d.loc}: {d.severity.value} {d.code}: {d.message}"]
    if d.old_loc is not None:
        lines.append(f"  was at: {d.old_loc}")
    lines += [f"  {detail}" for detail in d.details]
    if d.hint:
        lines.append(f"  hint: {d.hint}")
    return lines


def _escape_github(text: str, *, prop: bool = False) -> str:
    # GitHub workflow commands need %, CR and LF escaped; properties also ':' and ','.
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def github_line(d: Diagnostic, *, title: str | None = None) -> str:
    """One workflow command, so the finding lands as an annotation on the PR line."""
    props = f"file={_escape_github(d.loc.file, prop=True)}"
    if d.loc.line > 0:
        props += f",line={d.loc.line},col={d.loc.col}"
    props += f",title={_escape_github(title or d.code, prop=True)}"
    body = d.message
    if d.old_loc is not None:
        body += f" (was at {d.old_loc})"
    if d.hint:
        body += f" (hint: {d.hint})"
    return f"::{_GITHUB_LEVEL[d.severity]} {props}::{_escape_github(body)}"


def _loc_json(loc: Loc | None) -> dict[str, object] | None:
    if loc is None:
        return None
    return {"file": loc.file, "line": loc.line, "col": loc.col}


def _md(text: str) -> str:
    # Table cells: pipes split columns and newlines end rows; backticks stay (code spans).
    return text.replace("|", "\\|").replace("\n", " ")


def _markdown_table(items: Sequence[Diagnostic], head: str) -> list[str]:
    lines = ["", f"| | {head} | where | what |", "|---|---|---|---|"]
    for d in items:
        where = f"`{_md(str(d.loc))}`"
        lines.append(f"| {_ICON[d.severity]} | {d.code} | {where} | {_md(d.message)} |")
    lines += ["", "<details><summary>Details and hints</summary>", ""]
    for d in items:
        lines.append(f"- **{d.code}** `{_md(str(d.loc))}`: {_md(d.message)}")
        if d.old_loc is not None:
            lines.append(f"  - was at `{_md(str(d.old_loc))}`")
        lines += [f"  - `{_md(detail)}`" for detail in d.details]
        if d.hint:
            lines.append(f"  - hint: {_md(d.hint)}")
    lines += ["", "</details>"]
    return lines


def _joined(lines: list[str]) -> str:
    return "\n".join(lines) + ("\n" if lines else "")


# --- validation report (validate, build, compat results) ---------------------------------


def render_diagnostics(
    diagnostics: Iterable[Diagnostic], fmt: str, *, specs: str | os.PathLike[str] | None = None
) -> str:
    """Validation findings as `text`, `json`, `github` or `markdown`, sorted and unique.

    With `specs`, spec-relative files are shown relative to the working directory (at_cwd).
    """
    items = normalize(diagnostics if specs is None else at_cwd(diagnostics, specs))
    if fmt == "json":
        payload = [
            {
                "code": d.code,
                "severity": d.severity.value,
                "file": d.loc.file,
                "line": d.loc.line,
                "col": d.loc.col,
                "message": d.message,
                "hint": d.hint,
            }
            for d in items
        ]
        return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
    if fmt == "github":
        return _joined([github_line(d) for d in items])
    errors = sum(1 for d in items if d.severity is Severity.ERROR)
    tally = f"{errors} error(s), {len(items) - errors} warning(s)"
    if fmt == "markdown":
        lines = ["### eventgen findings", "", tally]
        return _joined(lines + (_markdown_table(items, "code") if items else []))
    lines = [line for d in items for line in text_lines(d)]
    if items:
        lines.append(tally)
    return _joined(lines)


# --- diff report -------------------------------------------------------------------------


def _counts(findings: Sequence[Diagnostic]) -> Counter[str]:
    return Counter(f.severity.value for f in findings)


def diff_summary(findings: Sequence[Diagnostic]) -> str:
    counts = _counts(findings)
    return ", ".join(f"{counts[level.value]} {level.value}" for level in DIFF_LEVELS)


def render_diff(findings: Sequence[Diagnostic], fmt: str, *, against: str) -> str:
    """The `eventgen diff` report in one of FORMATS; `against` names the old side."""
    if fmt == "json":
        counts = _counts(findings)
        payload = {
            "against": against,
            "breaking": counts["breaking"] > 0,
            "summary": {level.value: counts[level.value] for level in DIFF_LEVELS},
            "findings": [
                {
                    "rule": f.code,
                    "severity": f.severity.value,
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
    if fmt == "markdown":
        return _diff_markdown(findings, against)
    if fmt == "github":
        return _joined([github_line(f, title=f"{f.code} {f.severity.value}") for f in findings])
    lines = [line for f in findings for line in text_lines(f)]
    lines.append(f"against {against}: {diff_summary(findings)}")
    return _joined(lines)


def _diff_markdown(findings: Sequence[Diagnostic], against: str) -> str:
    counts = _counts(findings)
    verdict = "❌ **breaking changes**" if counts["breaking"] else "✅ no breaking changes"
    lines = [
        f"### eventgen diff against `{_md(against)}`",
        "",
        f"{verdict}: {diff_summary(findings)}",
        "",
        "| severity | count |",
        "|---|---|",
    ]
    lines += [f"| {_ICON[lv]} {lv.value} | {counts[lv.value]} |" for lv in DIFF_LEVELS]
    if findings:
        lines += _markdown_table(findings, "rule")
    return _joined(lines)


def render_diff_failure(
    diagnostics: Iterable[Diagnostic], fmt: str, *, against: str, summary: str
) -> str:
    """`eventgen diff` when one side's specs do not load: the load errors in the diff's format,
    so a PR still gets annotations and a comment saying why there is no verdict (exit 2)."""
    items = normalize(diagnostics)
    if fmt == "json":
        payload = {
            "against": against,
            "error": summary,
            "diagnostics": json.loads(render_diagnostics(items, "json")),
        }
        return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
    if fmt == "github":
        return render_diagnostics(items, "github")
    if fmt == "markdown":
        lines = [f"### eventgen diff against `{_md(against)}`", "", f"❌ **{_md(summary)}**"]
        return _joined(lines + (_markdown_table(items, "code") if items else []))
    return _joined([line for d in items for line in text_lines(d)])
