"""The scalar table: everything eventgen knows about each built-in scalar, in one place.

Per scalar: its Avro schema (with logical type), its JSON Schema fragment, its Python
annotation (plain and with the runtime marker generated models use), whether it can be a
Kafka key, and its value validator. The validator IS the runtime's (eventgen.runtime.scalars,
which generated models run through pydantic): the generator checks defaults and literals with
the very code that will check payloads, so validate, build and the models cannot disagree.
Emitters and rules read this table instead of branching on scalar names.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time
from decimal import Decimal
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

from eventgen.ir.model import SCALARS, Constraints, Scalar
from eventgen.runtime import patterns, scalars

NO_CONSTRAINTS = Constraints()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
JSON_MODE: Any = SimpleNamespace(mode="json")  # the only part of ValidationInfo markers read


# A runtime marker to construct: class name in eventgen.runtime.scalars, args, keyword args.
# Generated code writes this call (`IntRange(0, 10)`) and the generator runs the same one.
MarkerCall = tuple[str, tuple[Any, ...], dict[str, Any]]


@dataclass(frozen=True)
class ScalarInfo:
    name: str
    avro: Callable[[Scalar], Any]  # the Avro schema (a type name or a logical-type dict)
    json: Callable[[Scalar, Constraints], dict[str, Any]]  # JSON Schema with constraints
    python: tuple[str, str] | str  # plain annotation: a builtin, or (module, name) to import
    marker: str | None  # runtime alias used without constraints (`Uuid`); None: the plain type
    keyable: bool  # may be a Kafka key
    # The marker for a type with constraints (None when plain or the alias does).
    marker_call: Callable[[Scalar, Constraints], MarkerCall | None] = lambda ref, c: None
    avro_json: Callable[[Any], Any] = lambda value: value  # a typed value as an Avro JSON default

    def validator(self, ref: Scalar, c: Constraints) -> Any:
        """The runtime marker that checks a value: the one generated code annotates with."""
        call = self.marker_call(ref, c)
        if call is not None:
            name, args, kwargs = call
            return getattr(scalars, name)(*args, **kwargs)
        if self.marker is not None:
            return getattr(scalars, self.marker).__metadata__[0]
        return scalars.Str()  # a plain `str`: pydantic's str in JSON mode takes strings only


def int_bounds(ref: Scalar, c: Constraints) -> tuple[int, int]:
    """The spec bounds of an int/long intersected with its width."""
    low, high = scalars.INT32 if ref.name == "int" else scalars.INT64
    if c.minimum is not None:
        low = max(low, math.ceil(c.minimum))
    if c.maximum is not None:
        high = min(high, math.floor(c.maximum))
    return low, high


def decimal_signed(c: Constraints) -> bool:
    """False when the spec says `minimum: 0` (the only decimal bound JSON Schema can carry)."""
    return c.minimum is None or c.minimum < 0


def length_keywords(c: Constraints, low: str, high: str) -> dict[str, Any]:
    """`min_length`/`max_length` under the given JSON Schema keywords (strings, lists, maps)."""
    out: dict[str, Any] = {}
    if c.min_length is not None:
        out[low] = c.min_length
    if c.max_length is not None:
        out[high] = c.max_length
    return out


def _json_string(ref: Scalar, c: Constraints) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "string"} | length_keywords(c, "minLength", "maxLength")
    return out | ({"pattern": c.pattern} if c.pattern is not None else {})


def _json_int(ref: Scalar, c: Constraints) -> dict[str, Any]:
    low, high = int_bounds(ref, c)
    return {"type": "integer", "minimum": low, "maximum": high}


def _json_float(ref: Scalar, c: Constraints) -> dict[str, Any]:
    limit = scalars.FLOAT32_MAX if ref.name == "float" else None
    out: dict[str, Any] = {"type": "number"}
    if c.minimum is not None or limit is not None:
        out["minimum"] = c.minimum if c.minimum is not None else -limit  # type: ignore[operator]
    if c.maximum is not None or limit is not None:
        out["maximum"] = c.maximum if c.maximum is not None else limit
    return out


def _json_decimal(ref: Scalar, c: Constraints) -> dict[str, Any]:
    assert ref.precision is not None and ref.scale is not None
    return {
        "type": "string",
        "pattern": patterns.json_decimal(ref.precision, ref.scale, decimal_signed(c)),
    }


def _json_format(fmt: str, pattern: str) -> Callable[[Scalar, Constraints], dict[str, Any]]:
    return lambda ref, c: {"type": "string", "format": fmt, "pattern": pattern}


def _avro_decimal(ref: Scalar) -> dict[str, Any]:
    return {
        "type": "bytes",
        "logicalType": "decimal",
        "precision": ref.precision,
        "scale": ref.scale,
    }


def _logical(base: str, logical: str) -> Callable[[Scalar], Any]:
    return lambda ref: {"type": base, "logicalType": logical}


def _primitive(name: str) -> Callable[[Scalar], Any]:
    return lambda ref: name


def _bounded(c: Constraints) -> bool:
    return c.minimum is not None or c.maximum is not None


def _int_call(ref: Scalar, c: Constraints) -> MarkerCall | None:
    return ("IntRange", int_bounds(ref, c), {}) if _bounded(c) else None


def _float_call(ref: Scalar, c: Constraints) -> MarkerCall | None:
    if not _bounded(c):
        return None
    single = {"single": True} if ref.name == "float" else {}
    return "FloatRange", (), _given(minimum=c.minimum, maximum=c.maximum) | single


def _str_call(ref: Scalar, c: Constraints) -> MarkerCall | None:
    pattern = None if c.pattern is None else patterns.python(c.pattern)
    kwargs = _given(min_length=c.min_length, max_length=c.max_length, pattern=pattern)
    return ("Str", (), kwargs) if kwargs else None


def _decimal_call(ref: Scalar, c: Constraints) -> MarkerCall:
    assert ref.precision is not None and ref.scale is not None
    signed = {} if decimal_signed(c) else {"signed": False}
    return "DecimalSpec", (ref.precision, ref.scale), signed


def _given(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _avro_decimal_json(value: Decimal) -> str:
    # The unscaled integer from the digits themselves: Decimal arithmetic (scaleb) would round
    # to the default context's 28 digits, and decimal(29..38, s) defaults would change value.
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # the validator quantized it: finite
    unscaled = int("".join(map(str, digits)) or "0") * (-1 if sign else 1)
    size = max(1, (unscaled.bit_length() + 8) // 8)
    return unscaled.to_bytes(size, "big", signed=True).decode("latin-1")


def _micros_since_epoch(value: datetime) -> int:
    delta = value - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def _micros_of_day(value: time) -> int:
    return ((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000 + value.microsecond


_ROWS = (
    ScalarInfo("string", _primitive("string"), _json_string, "str", None, True, _str_call),
    ScalarInfo("int", _primitive("int"), _json_int, "int", "Int32", True, _int_call),
    ScalarInfo("long", _primitive("long"), _json_int, "int", "Int64", True, _int_call),
    ScalarInfo("float", _primitive("float"), _json_float, "float", "Float32", False, _float_call),
    ScalarInfo("double", _primitive("double"), _json_float, "float", "Float64", False, _float_call),
    ScalarInfo(
        "boolean",
        _primitive("boolean"),
        lambda ref, c: {"type": "boolean"},
        "bool",
        "Boolean",
        False,
    ),
    ScalarInfo(
        "bytes",
        _primitive("bytes"),
        lambda ref, c: {
            "type": "string",
            "contentEncoding": "base64",
            "pattern": patterns.JSON_BASE64,
        },
        "bytes",
        "Bytes",
        True,
        avro_json=lambda value: value.decode("latin-1"),
    ),
    ScalarInfo(
        "uuid",
        _logical("string", "uuid"),
        _json_format("uuid", patterns.JSON_UUID),
        ("uuid", "UUID"),
        "Uuid",
        True,
        avro_json=str,
    ),
    ScalarInfo(
        "date",
        _logical("int", "date"),
        _json_format("date", patterns.JSON_DATE),
        ("datetime", "date"),
        "Date",
        False,
        avro_json=lambda value: (value - _EPOCH.date()).days,
    ),
    ScalarInfo(
        "time",
        _logical("long", "time-micros"),
        _json_format("time", patterns.JSON_TIME),
        ("datetime", "time"),
        "Time",
        False,
        avro_json=_micros_of_day,
    ),
    ScalarInfo(
        "timestamp",
        _logical("long", "timestamp-micros"),
        _json_format("date-time", patterns.JSON_TIMESTAMP),
        ("datetime", "datetime"),
        "Timestamp",
        False,
        avro_json=_micros_since_epoch,
    ),
    ScalarInfo(
        "decimal",
        _avro_decimal,
        _json_decimal,
        ("decimal", "Decimal"),
        None,
        False,
        _decimal_call,
        avro_json=_avro_decimal_json,
    ),
)
TABLE: dict[str, ScalarInfo] = {row.name: row for row in _ROWS}
assert tuple(TABLE) == SCALARS, "the table and the type grammar must list the same scalars"


def info(ref: Scalar) -> ScalarInfo:
    return TABLE[ref.name]


def keyable(ref: Scalar) -> bool:
    return TABLE[ref.name].keyable


@lru_cache(maxsize=4096)
def validator(ref: Scalar, c: Constraints = NO_CONSTRAINTS) -> Any:
    """The runtime marker for `ref` with constraints; cached (markers are immutable, and a
    platform repeats the same few types over thousands of defaults)."""
    return TABLE[ref.name].validator(ref, c)


def wire_value(ref: Scalar, value: Any, c: Constraints = NO_CONSTRAINTS) -> Any:
    """The Python value of a JSON wire-form literal; ValueError (the runtime's) when invalid."""
    return validator(ref, c).validate(value, JSON_MODE)


def value_problem(ref: Scalar, value: Any, c: Constraints = NO_CONSTRAINTS) -> str | None:
    """Why the runtime would refuse `value` as a JSON-mode `ref` (with constraints), or None."""
    try:
        marker = validator(ref, c)
    except re.error:  # a bad `pattern:` is E0508 on its own; check the rest without it
        marker = validator(ref, replace(c, pattern=None))
    try:
        marker.validate(value, JSON_MODE)
    except ValueError as exc:
        return str(exc)
    return None


def avro_json(ref: Scalar, value: Any) -> Any:
    """A typed value (see `wire_value`) in Avro's JSON encoding of defaults."""
    return TABLE[ref.name].avro_json(value)


def json_wire(ref: Scalar, value: Any) -> Any:
    """A typed value back in its JSON wire form: the runtime marker's own serializer."""
    return validator(ref).serialize(value)
