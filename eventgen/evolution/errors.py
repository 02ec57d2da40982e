"""Input problems that make a verdict impossible: exit 2, never a silent "compatible".

A plain exception, not a click one: the evolution package is a library too (tests, scripts),
and only the CLI layer (`eventgen.cli`) decides how an error is printed and which code it exits.
"""

from __future__ import annotations


class InputError(Exception):
    """Bad or unreadable input (a missing git ref, a corrupt history file, broken old specs)."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.message = message + (f"\n  hint: {hint}" if hint else "")
        super().__init__(self.message)
        self.hint = hint
