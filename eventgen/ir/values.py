"""Check a JSON-like literal (a default, an example value) against a type and constraints."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from eventgen.ir.model import Constraints, EnumType, RecordType, TypeRef

Lookup = Callable[[str], RecordType | EnumType | None]
INT_RANGE = (-(2**31), 2**31 - 1)
LONG_RANGE = (-(2**63), 2**63 - 1)


def value_problem(value: Any, ref: TypeRef, lookup: Lookup, path: str = "") -> str | None:
    """Why `value` is not a valid `ref` value, or None when it is."""
    where = f" at `{path}`" if path else ""
    if value is None:
        return None if ref.nullable else f"null{where} is not allowed for non-nullable `{ref}`"
    if ref.kind == "list":
        if not isinstance(value, (list, tuple)):
            return f"expected a list{where}, got {type(value).__name__}"
        assert ref.item is not None
        for i, item in enumerate(value):
            if problem := value_problem(item, ref.item, lookup, f"{path}[{i}]"):
                return problem
        return None
    if ref.kind == "map":
        if not isinstance(value, Mapping):
            return f"expected a mapping{where}, got {type(value).__name__}"
        assert ref.item is not None
        for key, item in value.items():
            if problem := value_problem(item, ref.item, lookup, f"{path}.{key}"):
                return problem
        return None
    if ref.kind == "named":
        return _named_problem(value, ref, lookup, path)
    return _scalar_problem(value, ref, where)


def _named_problem(value: Any, ref: TypeRef, lookup: Lookup, path: str) -> str | None:
    target = lookup(ref.name)
    where = f" at `{path}`" if path else ""
    if target is None:
        return None  # an unresolved type is reported elsewhere
    if isinstance(target, EnumType):
        if value not in target.symbols:
            return (
                f"`{value}`{where} is not a symbol of {target.name} ({', '.join(target.symbols)})"
            )
        return None
    if not isinstance(value, Mapping):
        return f"expected a {target.name} mapping{where}"
    names = {f.name for f in target.fields}
    for key in value:
        if key not in names:
            return f"{target.name} has no field `{key}`{where}"
    for fld in target.fields:
        sub = f"{path}.{fld.name}" if path else fld.name
        if fld.name not in value:
            if not (fld.has_default or fld.type.nullable):
                return f"missing `{sub}` (no default)"
            continue
        if problem := value_problem(value[fld.name], fld.type, lookup, sub):
            return problem
        if problem := constraint_problem(value[fld.name], fld.constraints):
            return problem
    return None


def _scalar_problem(value: Any, ref: TypeRef, where: str) -> str | None:
    name = ref.name
    if name == "boolean":
        return None if isinstance(value, bool) else f"expected true or false{where}"
    if isinstance(value, bool):
        return f"expected {name}{where}, got a boolean"
    if name in ("int", "long"):
        low, high = INT_RANGE if name == "int" else LONG_RANGE
        if not isinstance(value, int):
            return f"expected an integer{where}, got `{value}`"
        return None if low <= value <= high else f"{value}{where} does not fit a 32/64-bit `{name}`"
    if name in ("float", "double"):
        return None if isinstance(value, (int, float)) else f"expected a number{where}"
    if name == "decimal":
        return _decimal_problem(value, ref, where)
    if not isinstance(value, str):
        return f"expected {'a string' if name == 'string' else 'a ' + name + ' string'}{where}, got `{value}`"
    parsers: dict[str, Callable[[str], object]] = {
        "uuid": uuid.UUID,
        "date": dt.date.fromisoformat,
        "time": dt.time.fromisoformat,
        "timestamp": _timestamp,
    }
    if name in parsers:
        try:
            parsers[name](value)
        except ValueError:
            return f"`{value}`{where} is not a valid {name}"
    if name == "bytes":
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return f"`{value}`{where} is not base64 (bytes values are written in base64)"
    return None


def _timestamp(text: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError("timestamp without a timezone")
    return parsed


def _decimal_problem(value: Any, ref: TypeRef, where: str) -> str | None:
    if isinstance(value, float):
        return f'write decimal defaults as strings{where} (`"{value}"`) so no digit is lost'
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return f"`{value}`{where} is not a decimal number"
    if not number.is_finite():
        return f"`{value}`{where} is not a finite decimal"
    precision, scale = ref.precision or 38, ref.scale or 0
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)
    if -exponent > scale:
        return f"`{value}`{where} has more than {scale} digit(s) after the point"
    integer_digits = len(number.quantize(Decimal(1)).copy_abs().as_tuple().digits)
    if number.copy_abs() >= 1 and integer_digits > precision - scale:
        return f"`{value}`{where} needs more than decimal({precision},{scale}) holds"
    return None


def constraint_problem(value: Any, c: Constraints) -> str | None:
    """Why `value` breaks its field's constraints, or None."""
    if value is None:
        return None
    number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if isinstance(value, str) and c.minimum is not None:
        try:
            number = float(Decimal(value))
        except InvalidOperation:
            number = None
    if number is not None:
        if c.minimum is not None and number < c.minimum:
            return f"{value} is below the minimum {c.minimum}"
        if c.maximum is not None and number > c.maximum:
            return f"{value} is above the maximum {c.maximum}"
    if isinstance(value, (str, list, tuple, Mapping)):
        size = len(value)
        if c.min_length is not None and size < c.min_length:
            return f"length {size} is below min_length {c.min_length}"
        if c.max_length is not None and size > c.max_length:
            return f"length {size} is above max_length {c.max_length}"
    if isinstance(value, str) and c.pattern is not None:
        try:
            if not re.search(c.pattern, value):
                return f"`{value}` does not match the pattern {c.pattern}"
        except re.error:
            return None  # the pattern itself is reported by its own rule
    return None
