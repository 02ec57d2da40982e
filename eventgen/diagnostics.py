"""Diagnostics as data: code, severity, position, message, hint; and their renderings."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum


class Severity(str, Enum):
    """How bad a finding is; errors fail the command, warnings do not."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Loc:
    """A 1-based position in a spec file; line 0 means "the file as a whole"."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        return f"{self.file}:{self.line}:{self.col}"


NOWHERE = Loc("<project>")


@dataclass(frozen=True)
class Diagnostic:
    """One finding about the specs, reported with a stable code."""

    code: str
    severity: Severity
    loc: Loc
    message: str
    hint: str | None = None

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.loc.file, self.loc.line, self.loc.col, self.code, self.message)


class SpecError(Exception):
    """Raised to abort a phase when diagnostics make going on pointless."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        super().__init__(f"{len(self.diagnostics)} diagnostic(s)")


def error(code: str, loc: Loc, message: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic(code, Severity.ERROR, loc, message, hint)


def warning(code: str, loc: Loc, message: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic(code, Severity.WARNING, loc, message, hint)


def normalize(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Sort and de-duplicate, so output is stable whatever order rules ran in."""
    unique = {(d.sort_key(), d.severity.value, d.hint): d for d in diagnostics}
    return [unique[k] for k in sorted(unique, key=lambda k: (k[0], k[1], k[2] or ""))]


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.severity is Severity.ERROR for d in diagnostics)


def _escape_github(text: str, *, prop: bool = False) -> str:
    # GitHub workflow commands need %, CR and LF escaped; properties also ':' and ','.
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def render(diagnostics: Iterable[Diagnostic], fmt: str) -> str:
    """Render diagnostics as `text`, `json` or `github` (workflow annotations)."""
    items = normalize(diagnostics)
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
    lines: list[str] = []
    for d in items:
        if fmt == "github":
            level = "error" if d.severity is Severity.ERROR else "warning"
            props = f"file={_escape_github(d.loc.file, prop=True)}"
            if d.loc.line > 0:
                props += f",line={d.loc.line},col={d.loc.col}"
            props += f",title={d.code}"
            body = d.message + (f" (hint: {d.hint})" if d.hint else "")
            lines.append(f"::{level} {props}::{_escape_github(body)}")
        else:
            lines.append(f"{d.loc}: {d.severity.value} {d.code}: {d.message}")
            if d.hint:
                lines.append(f"  hint: {d.hint}")
    if fmt == "text" and items:
        errors = sum(1 for d in items if d.severity is Severity.ERROR)
        lines.append(f"{errors} error(s), {len(items) - errors} warning(s)")
    return "\n".join(lines) + ("\n" if lines else "")
