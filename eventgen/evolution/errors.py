"""Input problems that make a verdict impossible: exit 2, never a silent "compatible".

A plain exception, not a click one: the evolution package is a library too (tests, scripts),
and only the CLI layer (`eventgen.cli`) decides how an error is printed and which code it exits.
"""

from __future__ import annotations

from collections.abc import Sequence

from eventgen.diagnostics import Diagnostic


class InputError(Exception):
    """Bad or unreadable input (a missing git ref, a corrupt history file, broken old specs)."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.message = message + (f"\n  hint: {hint}" if hint else "")
        super().__init__(self.message)
        self.hint = hint


class LoadError(InputError):
    """One side's specs do not load: exit 2, and the errors themselves, positioned (files as
    the report shows them), so `diff --format github|markdown|json` can report them as such."""

    def __init__(self, message: str, hint: str | None, diagnostics: Sequence[Diagnostic]) -> None:
        super().__init__(message, hint)
        self.summary = message.splitlines()[0].rstrip(":")
        self.diagnostics = tuple(diagnostics)
