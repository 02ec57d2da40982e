"""Hypothesis strategies: random valid IR projects, wire instances of a type, and mutations."""

from __future__ import annotations

import base64
import string
from datetime import UTC, datetime, timedelta, timezone
from decimal import Context, Decimal
from typing import Any, Literal

from hypothesis import strategies as st

from eventgen.emit.layout import TypeIndex
from eventgen.ir.model import (
    Constraints,
    EnumType,
    Field,
    ListOf,
    MapOf,
    Named,
    Project,
    RecordType,
    Scalar,
    TypeRef,
)
from eventgen.ir.scalars import int_bounds
from tests.models import fixtures as fx

SCALARS = ("string", "int", "long", "float", "double", "boolean", "bytes",
           "uuid", "date", "time", "timestamp", "decimal")  # fmt: skip
PATTERNS = {
    "^[A-Z]{3}$": st.from_regex(r"\A[A-Z]{3}\Z"),
    "^[a-z]+$": st.from_regex(r"\A[a-z]{1,8}\Z"),
}
FIELD_NAMES = st.sampled_from(
    ["id", "name", "class", "date", "from", "type", "json", "amount", "at", "items", "l", "x_1"]
)


# ---- random IR --------------------------------------------------------------------------------


@st.composite
def scalar_refs(draw: st.DrawFn, nullable: bool = True) -> tuple[TypeRef, Constraints]:
    name = draw(st.sampled_from(SCALARS))
    kw: dict[str, Any] = {}
    c = Constraints()
    if name == "decimal":
        precision = draw(st.integers(1, 38))
        kw = {"precision": precision, "scale": draw(st.integers(0, precision))}
        c = Constraints(minimum=draw(st.sampled_from([None, 0])))
    elif name in ("int", "long", "double") and draw(st.booleans()):
        low = draw(st.integers(-1000, 1000))
        c = Constraints(minimum=low, maximum=low + draw(st.integers(0, 5000)))
    elif name == "string" and draw(st.booleans()):
        pattern = draw(st.sampled_from([None, *PATTERNS]))
        c = Constraints(min_length=draw(st.sampled_from([None, 1])), max_length=8, pattern=pattern)
    ref = fx.scalar(name, nullable=nullable and draw(st.booleans()), **kw)
    return ref, c


@st.composite
def projects(draw: st.DrawFn, package: str) -> Project:
    """A valid project: one context, enums and records (acyclic), one message using them."""
    ctx = "rnd"
    types: list[Any] = []
    if draw(st.booleans()):
        symbols = draw(
            st.lists(
                st.sampled_from(["A", "B", "None", "class", "_x", "name"]),
                min_size=1,
                max_size=4,
                unique=True,
            )
        )
        types.append(EnumType(f"{ctx}.Color", ctx, "Color", tuple(symbols), default=symbols[0]))
    for i in range(draw(st.integers(0, 2))):
        fields = draw(field_lists(types, ctx))
        types.append(
            RecordType(
                f"{ctx}.Rec{i}",
                ctx,
                f"Rec{i}",
                tuple(fields),
                doc=draw(st.none() | st.text(max_size=20)),
            )
        )
    fields = draw(field_lists(types, ctx))
    content = draw(st.sampled_from(["closed", "open"]))
    message = fx.message(ctx, "Evt", fields, doc=draw(st.none() | st.text(max_size=30)))
    return fx.project([fx.context(ctx, types, [message], [])], package, content)


@st.composite
def field_lists(draw: st.DrawFn, types: list[Any], ctx: str) -> list[Field]:
    names = draw(st.lists(FIELD_NAMES, min_size=1, max_size=6, unique=True))
    return [draw(fields(name, types)) for name in names]


@st.composite
def fields(draw: st.DrawFn, name: str, types: list[Any]) -> Field:
    shape = draw(
        st.sampled_from(
            ["scalar", "scalar", "list", "map", "named"] if types else ["scalar", "list", "map"]
        )
    )
    c = Constraints()
    if shape == "named":
        ref = fx.named(draw(st.sampled_from(types)).qualified, nullable=draw(st.booleans()))
    else:
        item, c = draw(scalar_refs())
        if shape in ("list", "map"):
            wrap = fx.list_of if shape == "list" else fx.map_of
            ref = wrap(item, nullable=draw(st.booleans()))
            c = Constraints(max_length=draw(st.sampled_from([None, 3])))
        else:
            ref = item
    return Field(name=name, type=ref, constraints=c, doc=draw(st.none() | st.text(max_size=10)),
                 has_default=ref.nullable, deprecated=draw(st.booleans()))  # fmt: skip


# ---- instances --------------------------------------------------------------------------------

NONE = Constraints()
OFFSETS = st.integers(-1439, 1439).map(lambda m: timezone(timedelta(minutes=m)))


def wire_values(index: TypeIndex, ref: TypeRef, c: Constraints = NONE) -> st.SearchStrategy[Any]:
    """Valid JSON wire values of a field type (edge values included by hypothesis' shrinking)."""
    inner = _inner(index, ref, c)
    return st.none() | inner if ref.nullable else inner


def _inner(index: TypeIndex, ref: TypeRef, c: Constraints) -> st.SearchStrategy[Any]:
    match ref:
        case ListOf(item):
            return st.lists(
                wire_values(index, item),
                min_size=c.min_length or 0,
                max_size=min(c.max_length or 3, 3),
            )
        case MapOf(item):
            keys = st.text(max_size=4)
            return st.dictionaries(
                keys, wire_values(index, item), max_size=min(c.max_length or 3, 3)
            )
        case Named(name):
            named = index[name]
            if isinstance(named, EnumType):
                return st.sampled_from(named.symbols)
            return record_instances(index, named.fields)
        case Scalar():
            return _scalar(ref, c)


def record_instances(
    index: TypeIndex, fields: tuple[Field, ...]
) -> st.SearchStrategy[dict[str, Any]]:
    required = {
        f.name: wire_values(index, f.type, f.constraints)
        for f in fields
        if not (f.has_default or f.type.nullable)
    }
    optional = {
        f.name: wire_values(index, f.type, f.constraints)
        for f in fields
        if f.has_default or f.type.nullable
    }
    return st.fixed_dictionaries(required, optional=optional)


def _scalar(ref: Scalar, c: Constraints) -> st.SearchStrategy[Any]:
    name = ref.name
    if name == "string":
        if c.pattern is not None:
            # fullmatch: no trailing newline (see patterns.python)
            regex = PATTERNS.get(c.pattern)
            if regex is None:
                regex = st.from_regex(c.pattern, fullmatch=True)
            low, high = c.min_length or 0, c.max_length
            # from_regex ignores length bounds; keep the draws valid (they are the accept side).
            return regex.filter(lambda s: low <= len(s) and (high is None or len(s) <= high))
        return st.text(
            min_size=c.min_length or 0, max_size=c.max_length if c.max_length is not None else 12
        )
    if name in ("int", "long"):
        low, high = int_bounds(ref, c)
        return st.integers(low, high)
    if name in ("float", "double"):
        width: Literal[32, 64] = 32 if name == "float" else 64
        return st.floats(c.minimum, c.maximum, allow_nan=False, allow_infinity=False, width=width)
    if name == "boolean":
        return st.booleans()
    if name == "bytes":
        return st.binary(max_size=8).map(lambda b: base64.b64encode(b).decode())
    if name == "uuid":
        return st.uuids().map(str)
    if name == "date":
        return st.dates().map(lambda d: d.isoformat())
    if name == "time":
        return st.times().map(lambda t: t.isoformat())
    if name == "timestamp":
        moments = st.datetimes(datetime(2, 1, 1), datetime(9998, 12, 31), timezones=OFFSETS)
        return moments.map(lambda d: d.isoformat()) | moments.map(
            lambda d: d.astimezone(UTC).isoformat().replace("+00:00", "Z")
        )
    assert ref.precision is not None and ref.scale is not None
    p, s = ref.precision, ref.scale
    low = 0 if c.minimum == 0 else -(10**p - 1)
    wide = Context(prec=100)
    return st.integers(low, 10**p - 1).map(lambda n: format(Decimal(n).scaleb(-s, wide), "f"))


TRICKY = [
    None, True, 0, -1, 1.0, 1.5, 2**31, -(2**31) - 1, 2**63, 1e39, "", "x", "ABC", "1.234", "-0.00",
    "1e5", " 1", "12345678901234567890", "2024-02-29", "2023-02-29", "2024-01-01T00:00:00Z",
    "2024-01-01T00:00:00", "2024-01-01 00:00:00Z", "24:00:00", "12:00:00.1234567", "12:00:00",
    "6f1c1c38-2d5e-4d47-9d0a-0c6f8f1b2a11", "6f1c1c382d5e4d479d0a0c6f8f1b2a11", "QQ==", "QQ=",
    [], {}, {"x": 1}, ["a"], "a\n", "None", "class",
]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn, instance: dict[str, Any]) -> Any:
    """A copy of `instance` with one value replaced, one key removed or one key added."""
    import copy

    doc = copy.deepcopy(instance)
    paths = list(_containers(doc))
    container, key = draw(st.sampled_from(paths))
    action = draw(st.sampled_from(["replace", "replace", "drop", "add"]))
    if action == "drop" and isinstance(container, dict) and key in container:
        del container[key]
    elif action == "add" and isinstance(container, dict):
        container[draw(st.sampled_from(["zz_extra", "type"]))] = draw(st.sampled_from(TRICKY))
    elif key is not None:
        container[key] = draw(st.sampled_from(TRICKY))
    return doc


def _containers(doc: Any) -> Any:
    yield doc, None
    items = (
        doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    )
    for key, value in items:
        yield doc, key
        if isinstance(value, (dict, list)):
            yield from _containers(value)


def ascii_names() -> st.SearchStrategy[str]:
    return st.text(string.ascii_lowercase, min_size=1, max_size=6)
