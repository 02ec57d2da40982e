"""Findings as data: the one type every phase reports with (validation, `diff`, compat, writer).

Rendering lives in eventgen/render.py; this module only builds, orders and counts findings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any


class Severity(str, Enum):
    """How bad a finding is; errors (and breaking changes) fail the command, the rest do not."""

    ERROR = "error"
    WARNING = "warning"
    # `eventgen diff` levels: a breaking change fails the gate, info is a notice.
    BREAKING = "breaking"
    INFO = "info"


@dataclass(frozen=True, order=True, slots=True)  # slots: a 10,000-event spec loads 640,000
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

# A finding is read by a person or shown as a PR annotation: anything longer is a bug in
# whatever produced it (one once listed twenty million missing versions), so it is cut here,
# in the one constructor, whatever the phase.
MAX_MESSAGE = 2000


def bounded(text: str, limit: int = MAX_MESSAGE) -> str:
    """`text` cut to about `limit` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


@dataclass(frozen=True)
class Diagnostic:
    """One finding, reported with a stable code at a position.

    `old_loc` is where a `diff` finding was at the old ref, `subject` the registry subject or
    item it is about, `details` extra lines (the compatibility checker's rule ids and paths).
    """

    code: str
    severity: Severity
    loc: Loc
    message: str
    hint: str | None = None
    subject: str | None = None
    old_loc: Loc | None = None
    details: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Frozen: the bound is applied once, here, so no renderer has to repeat it.
        object.__setattr__(self, "message", bounded(self.message))
        if self.hint is not None:
            object.__setattr__(self, "hint", bounded(self.hint))
        if any(len(d) > MAX_MESSAGE for d in self.details):
            object.__setattr__(self, "details", tuple(bounded(d) for d in self.details))

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


def render(diagnostics: Iterable[Diagnostic], fmt: str, *, specs: Any = None) -> str:
    """Validation findings as `text`, `json` or `github` (see eventgen.render); with `specs`
    (the specs directory the files are relative to) paths are shown relative to the cwd."""
    from eventgen.render import render_diagnostics

    return render_diagnostics(diagnostics, fmt, specs=specs)
