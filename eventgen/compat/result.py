"""Result types of the compatibility checker: findings, results and parse errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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


@dataclass(frozen=True)
class CompatResult:
    """Verdict of a compatibility check with every breaking finding."""

    compatible: bool
    findings: tuple[Finding, ...] = ()

    def __bool__(self) -> bool:
        """Truthiness follows the verdict so `if check(...)` reads naturally."""
        return self.compatible
