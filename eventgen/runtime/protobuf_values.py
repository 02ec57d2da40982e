"""Readers and checks of proto values for the protobuf decoders (eventgen.runtime.protobuf_compile).

Each is built once per field, holds what it needs in closure variables and raises ValueError
naming the field. A fast check passes what its marker passes and hands anything else to the
marker itself, whose message then says why (or which accepts after all), so the rules are the
markers' (eventgen.runtime.scalars) and not a second copy of them.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from datetime import date, time
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID, SafeUUID

from eventgen.runtime.scalars import FloatRange, IntRange, Str

_PYTHON_INFO: Any = types.SimpleNamespace(mode="python")  # what the markers read of the info


def failing(marker: Any, where: str) -> Callable[[Any], Any]:
    """The marker's own rule, its message prefixed with the field: for values that fail."""
    validate = marker.validate

    def fail(value: Any) -> Any:
        try:
            return validate(value, _PYTHON_INFO)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None

    return fail


def int_check(marker: IntRange, where: str) -> Callable[[Any], Any]:
    low, high, fail = marker.minimum, marker.maximum, failing(marker, where)

    def checked(value: int) -> Any:
        return value if low <= value <= high else fail(value)

    return checked


def str_check(marker: Str, where: str) -> Callable[[Any], Any]:
    shortest, longest = marker.min_length or 0, marker.max_length
    search = marker.regex.search if marker.regex is not None else None
    fail = failing(marker, where)

    def checked(value: str) -> Any:
        size = len(value)
        if size < shortest or (longest is not None and size > longest):
            return fail(value)
        return value if search is None or search(value) is not None else fail(value)

    return checked


def float_check(marker: FloatRange, where: str) -> Callable[[Any], Any]:
    fail = failing(marker, where)
    if marker.minimum is not None or marker.maximum is not None:
        return fail  # bounds: the marker's comparison, exactly

    def checked(value: float) -> Any:
        return value if value - value == 0.0 else fail(value)  # NaN and infinities are not

    return checked


_PARSERS: dict[str, Callable[[str], Any]] = {
    "date": date.fromisoformat, "time": time.fromisoformat,
}  # fmt: skip


def wire_reader(marker: Any, kind: str, where: str) -> Callable[[str], Any]:
    """The value of a proto string holding `kind`'s JSON wire text, by the marker's pattern.

    The pattern is the JSON rule (a UUID only as 8-4-4-4-12, a decimal in plain notation);
    what it lets through parses, and the model's validator then checks the rest (a
    decimal's precision and scale) as for any Python value. ValueError names the field.
    """
    search = marker.regex.search
    if kind == "uuid":
        new, set_, unknown = object.__new__, object.__setattr__, SafeUUID.unknown

        def read_uuid(text: str) -> Any:
            if search(text) is None:
                raise ValueError(f"{where}: not a UUID: {text[:80]!r}")
            # 32 hex digits, as the pattern checked: what UUID(hex) ends with, without its
            # re-parsing of braces and prefixes (the hot path of every keyed message).
            value = new(UUID)
            set_(value, "int", int(text.replace("-", ""), 16))
            set_(value, "is_safe", unknown)
            return value

        return read_uuid
    if kind == "decimal":
        to_decimal, exact, quantum = Decimal, marker.from_python, marker.quantum
        whole, signed = marker.whole_digits, marker.signed

        def read_decimal(text: str) -> Any:
            if search(text) is None:
                raise ValueError(f"{where}: not a {kind}: {text[:80]!r}")
            value = to_decimal(text)
            # The marker's fast case inline (exactly `scale` places, nonzero, in precision);
            # anything else gets its full Python-mode rule (quantize, -0, the sign).
            if value.same_quantum(quantum) and value and value.adjusted() < whole and signed:
                return value
            try:
                return exact(value)
            except ValueError as exc:
                raise ValueError(f"{where}: {exc}") from None

        return read_decimal
    parse = _PARSERS[kind]

    def read(text: str) -> Any:
        if search(text) is None:
            raise ValueError(f"{where}: not a {kind}: {text[:80]!r}")
        return parse(text)

    return read


def enum_reader(members: dict[int, Enum], where: str) -> Callable[[int], Enum]:
    get = members.get

    def read(number: int) -> Enum:
        member = get(number)
        if member is None:  # 0 (UNSPECIFIED) or a number this build does not know
            raise ValueError(f"{where}: enum number {number} is no symbol")
        return member

    return read
