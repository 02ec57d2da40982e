"""Field paths (`total.amount`) through records, and `$`-expressions in payloads."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from eventgen.diagnostics import Loc
from eventgen.ir.model import NO_LOC, EnumType, Expr, Field, Named, RecordType, TypeRef, freeze

Lookup = Callable[[str], RecordType | EnumType | None]
ROOTS = ("$data", "$state", "$meta", "$")


def parse_expr(value: Any, loc: Loc = NO_LOC) -> Expr:
    """`$.a.b` / `$data.x` / `$state.x` / `$meta.x` become paths; anything else a literal."""
    if isinstance(value, str):
        for root in ROOTS:
            if value.startswith(root + ".") and len(value) > len(root) + 1:
                path = tuple(value[len(root) + 1 :].split("."))
                return Expr(root, path, loc=loc)  # type: ignore[arg-type]
    return Expr(None, literal=freeze(value), loc=loc)


def field_path_type(fields: Sequence[Field], path: Sequence[str], lookup: Lookup) -> TypeRef | None:
    """The type at `path` through nested records, or None when a step does not exist."""
    current: Sequence[Field] = fields
    ref: TypeRef | None = None
    for i, step in enumerate(path):
        match = next((f for f in current if f.name == step), None)
        if match is None:
            return None
        ref = match.type
        if i < len(path) - 1:
            target = lookup(ref.name) if isinstance(ref, Named) else None
            if not isinstance(target, RecordType):
                return None
            current = target.fields
    return ref


ENVELOPE_FIELDS = (
    "event_id", "message_id", "type", "schema_version", "occurred_at",
    "correlation_id", "causation_id",
)  # fmt: skip
