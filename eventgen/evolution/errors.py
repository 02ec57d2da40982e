"""Input problems that make a verdict impossible: exit 2, never a silent "compatible"."""

from __future__ import annotations

import click


class InputError(click.ClickException):
    """Bad or unreadable input (a missing git ref, a corrupt history file, broken old specs)."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message + (f"\n  hint: {hint}" if hint else ""))
        self.hint = hint
