"""Shared state of one build: diagnostics, symbol tables, and reference resolution."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from eventgen.diagnostics import Diagnostic, Loc, error, warning
from eventgen.ir.model import SCALARS, EnumType, Message, RecordType, Topic
from eventgen.ir.types import TypeTable
from eventgen.spec.nodes import PMap
from eventgen.suggest import did_you_mean


@dataclass
class Item:
    """A named spec item before resolution: where it is and its raw mapping."""

    context: str
    name: str
    file: str
    node: Any  # PMap, or a bare value (a field's type string)
    key_loc: Loc
    loc: Loc

    @property
    def qualified(self) -> str:
        return f"{self.context}.{self.name}"


@dataclass
class Scope:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    contexts: dict[str, list[PMap]] = field(default_factory=dict)
    raw_messages: dict[str, tuple[str, Item]] = field(default_factory=dict)  # -> (kind, item)
    raw_topics: dict[str, Item] = field(default_factory=dict)
    raw_types: dict[str, Item] = field(default_factory=dict)
    types: TypeTable = field(default_factory=lambda: TypeTable({}))
    messages: dict[str, Message] = field(default_factory=dict)
    topics: dict[str, Topic] = field(default_factory=dict)
    _tables: dict[tuple[str, ...], frozenset[str]] = field(default_factory=dict)

    def error(self, code: str, loc: Loc, message: str, hint: str | None = None) -> None:
        self.diagnostics.append(error(code, loc, message, hint))

    def warn(self, code: str, loc: Loc, message: str, hint: str | None = None) -> None:
        self.diagnostics.append(warning(code, loc, message, hint))

    def _resolve(
        self, raw: object, context: str, table: Collection[str], what: str, code: str, loc: Loc
    ) -> str | None:
        if not isinstance(raw, str) or not raw:
            self.error(code, loc, f"expected the name of a {what}")
            return None
        qualified = raw if "." in raw else f"{context}.{raw}"
        if qualified in table:  # the common case: no set copies, no suggestions
            return qualified
        names = set(table)
        local = [n.split(".", 1)[1] for n in names if n.startswith(context + ".")]
        extra = list(SCALARS) if what == "type" else []
        hint = did_you_mean(raw, local + sorted(names) + extra)
        if "." not in raw and hint is None:
            elsewhere = sorted(n for n in names if n.endswith("." + raw))
            if elsewhere:
                hint = f"it lives in another context: write `{elsewhere[0]}`"
        self.error(code, loc, f"unknown {what} `{raw}`", hint)
        return None

    def _message_table(self, kinds: tuple[str, ...]) -> frozenset[str]:
        table = self._tables.get(kinds)
        if table is None:
            table = frozenset(q for q, (kind, _) in self.raw_messages.items() if kind in kinds)
            self._tables[kinds] = table
        return table

    def resolve_message(
        self,
        raw: object,
        context: str,
        loc: Loc,
        kinds: tuple[str, ...] = ("event", "command", "query"),
    ) -> str | None:
        table = self._message_table(kinds)
        what = " or ".join(kinds) if len(kinds) < 3 else "message"
        found = self._resolve(raw, context, table, what, "E0303", loc)
        return found

    def resolve_topic(self, raw: object, context: str, loc: Loc) -> str | None:
        return self._resolve(raw, context, self.raw_topics, "topic", "E0302", loc)

    def resolve_type_name(self, raw: str, context: str, loc: Loc) -> str | None:
        return self._resolve(raw, context, self.raw_types, "type", "E0301", loc)

    def named(self, qualified: str) -> RecordType | EnumType | None:
        return self.types.get(qualified)
