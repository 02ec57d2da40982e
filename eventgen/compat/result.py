"""Result types of the compatibility checker: findings, results and parse errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eventgen.diagnostics import NOWHERE, Diagnostic, Loc, Severity

JSONValue = Any


class SchemaParseError(ValueError):
    """A schema could not be parsed, so no compatibility verdict can be given."""

    def __init__(self, message: str, *, version_index: int | None = None) -> None:
        super().__init__(message)
        self.version_index = version_index


@dataclass(frozen=True)
class Finding:
    """One breaking difference between two schema versions."""

    rule: str
    path: str
    old: JSONValue
    new: JSONValue
    message: str
    version_index: int
    direction: str
    # The reference implementation's own name for the problem (Avro-Java type or
    # Confluent Difference.Type), kept so findings can be compared with theirs.
    code: str = ""
    details: str = field(default="", compare=False)

    def as_diagnostic(self, loc: Loc = NOWHERE, *, subject: str | None = None) -> Diagnostic:
        """This finding as the one finding type, so eventgen.render can show it.

        The checker knows schemas, not spec files: the caller says where the schema came from.
        """
        where = f"{self.rule} at {self.path or '/'} ({self.direction})"
        return Diagnostic(
            self.rule,
            Severity.ERROR,
            loc,
            self.message,
            subject=subject,
            details=(where,) + ((self.code,) if self.code else ()),
        )


@dataclass(frozen=True)
class CompatResult:
    """Verdict of a compatibility check with every breaking finding."""

    compatible: bool
    findings: tuple[Finding, ...] = ()

    def __bool__(self) -> bool:
        """Truthiness follows the verdict so `if check(...)` reads naturally."""
        return self.compatible

    def diagnostics(
        self, loc: Loc = NOWHERE, *, subject: str | None = None
    ) -> tuple[Diagnostic, ...]:
        """Every finding as a Diagnostic (render them with eventgen.render)."""
        return tuple(f.as_diagnostic(loc, subject=subject) for f in self.findings)
