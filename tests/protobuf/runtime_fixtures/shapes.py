"""Test-side views of the fixture's models, written from the docs/interop.md mapping alone
(not from the runtime codec): hypothesis strategies for every model, and the proto3 JSON of
a model value that protoc's classes parse with `json_format.ParseDict`."""

from __future__ import annotations

import types
import typing
from datetime import UTC
from decimal import Decimal
from enum import Enum
from typing import Any

from hypothesis import strategies as st

from eventgen.emit.protobuf.mapping import enum_value_name
from eventgen.runtime.model import Record
from eventgen.runtime.scalars import (
    BoolWire,
    BytesWire,
    DateWire,
    DecimalSpec,
    FloatRange,
    IntRange,
    Str,
    TimestampWire,
    TimeWire,
    UuidWire,
)

Shape = tuple[
    str, Any
]  # ("nullable" | "list" | "map", inner) | ("enum" | "record", cls) | ("leaf", marker)


def shape(annotation: Any, metadata: tuple[Any, ...] | list[Any] = ()) -> Shape:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return shape(args[0], (*metadata, *args[1:]))
    if origin in (typing.Union, types.UnionType):
        (inner,) = [a for a in args if a is not type(None)]
        return ("nullable", shape(inner))
    if origin is tuple:
        return ("list", shape(args[0]))
    if origin is dict:
        return ("map", shape(args[1]))
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return ("enum", annotation)
    if isinstance(annotation, type) and issubclass(annotation, Record):
        return ("record", annotation)
    markers = [m for m in metadata if type(m).__module__ == "eventgen.runtime.scalars"]
    if annotation is str and not markers:
        return ("leaf", Str())
    assert len(markers) == 1, (annotation, metadata)
    return ("leaf", markers[0])


def fields(cls: type[Record]) -> list[tuple[str, Shape]]:
    return [
        (info.alias or name, shape(info.annotation, info.metadata))
        for name, info in cls.model_fields.items()
    ]


# -- strategies -------------------------------------------------------------------------


def _leaf(marker: Any) -> st.SearchStrategy[Any]:
    if isinstance(marker, IntRange):
        return st.integers(marker.minimum, marker.maximum)
    if isinstance(marker, FloatRange):
        return st.floats(allow_nan=False, allow_infinity=False, width=32 if marker.single else 64)
    if isinstance(marker, DecimalSpec):
        quantum = Decimal(1).scaleb(-marker.scale)
        top = Decimal(10) ** (marker.precision - marker.scale) - quantum
        bottom = -top if marker.signed else Decimal(0)
        return st.decimals(min_value=bottom, max_value=top, places=marker.scale)
    if isinstance(marker, Str) and marker.pattern is not None:
        shortest, longest = marker.min_length or 0, marker.max_length or 6
        return st.from_regex(marker.pattern, fullmatch=True).filter(
            lambda text: shortest <= len(text) <= longest
        )
    if isinstance(marker, Str):
        least = marker.min_length or 0
        return st.text(min_size=least, max_size=max(least, min(marker.max_length or 6, 6)))
    simple: dict[type, st.SearchStrategy[Any]] = {
        UuidWire: st.uuids(),
        DateWire: st.dates(),
        TimeWire: st.times(),
        TimestampWire: st.datetimes(timezones=st.just(UTC)),
        BytesWire: st.binary(max_size=6),
        BoolWire: st.booleans(),
    }
    return simple[type(marker)]


def strategy(of: Shape) -> st.SearchStrategy[Any]:
    kind, arg = of
    if kind == "nullable":
        return st.none() | strategy(arg)
    if kind == "list":
        return st.lists(strategy(arg), max_size=3).map(tuple)
    if kind == "map":
        return st.dictionaries(st.text(max_size=4), strategy(arg), max_size=3)
    if kind == "enum":
        return st.sampled_from(list(arg))
    if kind == "record":
        return models(arg)
    return _leaf(arg)


def models(cls: type[Record]) -> st.SearchStrategy[Any]:
    by_name = {name: strategy(of) for name, of in fields(cls)}
    return st.fixed_dictionaries(by_name).map(lambda values: cls.model_validate(values))


# -- proto3 JSON of a model value ---------------------------------------------------------

OMIT = object()


def value_json(of: Shape, value: Any) -> Any:
    """The JSON of a proto field declared for spec type `of`; OMIT: the field is unset."""
    kind, arg = of
    if kind == "nullable":
        if value is None:
            return OMIT
        if arg[0] in ("list", "map"):  # `<Field>List` / `<Field>Map` wrapper
            return {"values": value_json(arg, value)}
        return value_json(arg, value)
    if kind == "list":
        return [element_json(arg, item) for item in value]
    if kind == "map":
        return {key: element_json(arg, item) for key, item in value.items()}
    if kind == "enum":
        return enum_value_name(arg.__name__, value)
    if kind == "record":
        return record_json(arg, value)
    return value


def element_json(of: Shape, value: Any) -> Any:
    """A list element / map value: nullable or collection elements are `<Field>Item`s."""
    if of[0] in ("nullable", "list", "map"):
        inner = value_json(of, value)
        return {} if inner is OMIT else {"value": inner}
    return value_json(of, value)


def record_json(cls: type[Record], dumped: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, of in fields(cls):
        got = value_json(of, dumped[name])
        if got is not OMIT:
            out[name] = got
    return out


def proto_json(model: Record) -> dict[str, Any]:
    return record_json(type(model), model.model_dump(mode="json", by_alias=True))
