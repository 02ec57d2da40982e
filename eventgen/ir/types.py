"""Type expressions (`list[OrderLine]?`, `decimal(12,2)`, `payments.Money`) and the type table."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache

from eventgen.ir.model import SCALARS, EnumType, ListOf, MapOf, Named, RecordType, Scalar, TypeRef

_TOKEN = re.compile(r"\s*(list\[|map\[|\]|\?|decimal\(\s*\d+\s*,\s*\d+\s*\)|[A-Za-z_][\w.-]*)")
_DECIMAL = re.compile(r"decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)")
# Deepest nesting of list[/map[ in one type and of records in records. Emitters, the
# rules and pydantic recurse per level; 64 is far beyond any real schema and far below
# Python's recursion limit.
MAX_NESTING = 64


class TypeSyntaxError(ValueError):
    """A type expression that does not parse."""


@lru_cache(maxsize=4096)
def parse_type(text: str) -> TypeRef:
    """Parse a type expression; named types keep their raw name (`Money`, `ctx.Money`).

    Cached: TypeRef is immutable and specs repeat the same few type strings many times.
    """
    tokens: list[str] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise TypeSyntaxError(f"cannot read type `{text}` at character {pos + 1}")
        tokens.append(match.group(1))
        pos = match.end()
    nesting = sum(1 for token in tokens if token in ("list[", "map["))
    if nesting > MAX_NESTING:
        # The parser, the emitters and Python's own repr recurse per level: refuse early.
        raise TypeSyntaxError(
            f"type nests {nesting} list[/map[ levels; at most {MAX_NESTING} are supported"
        )
    ref, rest = _parse(tokens, text)
    if rest:
        raise TypeSyntaxError(f"unexpected `{''.join(rest)}` in type `{text}`")
    return ref


def _parse(tokens: list[str], text: str) -> tuple[TypeRef, list[str]]:
    if not tokens:
        raise TypeSyntaxError(f"incomplete type `{text}`")
    head, rest = tokens[0], tokens[1:]
    if head in ("list[", "map["):
        item, rest = _parse(rest, text)
        if not rest or rest[0] != "]":
            raise TypeSyntaxError(f"missing `]` in type `{text}`")
        ref: TypeRef = ListOf(item) if head == "list[" else MapOf(item)
        rest = rest[1:]
    elif decimal := _DECIMAL.fullmatch(head):
        ref = Scalar("decimal", precision=int(decimal[1]), scale=int(decimal[2]))
    elif head in SCALARS:
        ref = Scalar(head)
    elif head in ("]", "?"):
        raise TypeSyntaxError(f"unexpected `{head}` in type `{text}`")
    else:
        ref = Named(head)
    if rest and rest[0] == "?":
        ref = replace(ref, nullable=True)
        rest = rest[1:]
    return ref, rest


@dataclass
class TypeTable:
    """Named types by qualified name, with lookup from inside a context."""

    types: dict[str, RecordType | EnumType]

    def resolve(self, raw: str, context: str) -> str | None:
        """Qualified name for `Name` (this context) or `context.Name`, or None."""
        qualified = raw if "." in raw else f"{context}.{raw}"
        return qualified if qualified in self.types else None

    def get(self, qualified: str) -> RecordType | EnumType | None:
        return self.types.get(qualified)


def walk(ref: TypeRef) -> list[TypeRef]:
    """The type and every type nested in it (list items, map values)."""
    out = [ref]
    while isinstance(ref, (ListOf, MapOf)):
        ref = ref.item
        out.append(ref)
    return out


def innermost(ref: TypeRef) -> TypeRef:
    """The type at the bottom of list/map nesting (`decimal(4,2)` in `list[decimal(4,2)]`)."""
    return walk(ref)[-1]


def non_null(ref: TypeRef) -> TypeRef:
    return replace(ref, nullable=False) if ref.nullable else ref


def kind_name(ref: TypeRef) -> str:
    """`list`, `map`, `named`, or the scalar's name: what a message calls the type's shape."""
    match ref:
        case ListOf():
            return "list"
        case MapOf():
            return "map"
        case Named():
            return "named"
        case Scalar(name):
            return name
