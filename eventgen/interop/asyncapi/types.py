"""The named types an import collects (records and enums), shared by both payload mappers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eventgen.diagnostics import Diagnostic, Loc, error
from eventgen.interop.asyncapi import codes


@dataclass
class TypeTable:
    """Spec `types:` entries by name, and which schema each came from (to tell collisions)."""

    types: dict[str, dict[str, Any]] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)
    found: list[Diagnostic] = field(default_factory=list)

    def claim(self, name: str, origin: str) -> tuple[str, bool]:
        """A free type name for `origin` (suffixed when another schema holds `name`) and
        whether the type is already defined for that same origin."""
        candidate, n = name, 1
        while candidate in self.origins and self.origins[candidate] != origin:
            n += 1
            candidate = f"{name}{n}"
        done = candidate in self.origins
        self.origins[candidate] = origin
        return candidate, done

    def report(
        self, code: str, loc: Loc, where: str, message: str, hint: str | None = None
    ) -> None:
        self.found.append(error(code, loc, f"{where}: {message}", hint))


def field_value(type_text: str, extras: dict[str, Any]) -> Any:
    """A spec field: the bare type string, or a mapping when anything else is said."""
    return {"type": type_text, **extras} if extras else type_text


__all__ = ["TypeTable", "codes", "field_value"]
