"""Scalar types of generated models, validated exactly as the emitted JSON Schemas describe them.

Each marker is used inside `Annotated[...]`. In JSON mode a value must have its wire form
(a string matching `patterns`, a JSON number, ...); in Python mode the natural Python value is
accepted too (what fastavro returns and what user code passes). Serialization to JSON gives the
canonical wire form, so decode(encode(x)) == x.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import struct
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Context, Decimal, InvalidOperation
from typing import Annotated, Any
from uuid import UUID

from pydantic import GetCoreSchemaHandler, ValidationInfo
from pydantic_core import CoreSchema, core_schema

from eventgen.runtime import patterns

FLOAT32_MAX = 3.4028234663852886e38
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)


class _Marker:
    """Plain validator plus JSON-mode serializer; subclasses define both."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.with_info_plain_validator_function(
            self.validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                self.serialize, when_used="json"
            ),
        )

    def validate(self, value: Any, info: ValidationInfo) -> Any:
        raise NotImplementedError

    def serialize(self, value: Any) -> Any:
        return value


def _wire_string(value: Any, regex: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected {what} as a string")  # noqa: TRY004 (pydantic wants ValueError)
    if regex.search(value) is None:
        raise ValueError(f"not a valid {what}: {value!r}")
    return value


@dataclass(frozen=True)
class UuidWire(_Marker):
    """A UUID; on the wire its 8-4-4-4-12 hex string."""

    regex: re.Pattern[str] = field(default=re.compile(patterns.UUID), repr=False)

    def validate(self, value: Any, info: ValidationInfo) -> UUID:
        if type(value) is UUID and info.mode == "python":
            return value
        return UUID(_wire_string(value, self.regex, "UUID"))

    def serialize(self, value: UUID) -> str:
        return str(value)


@dataclass(frozen=True)
class TimestampWire(_Marker):
    """A UTC instant with microseconds; RFC 3339 on the wire, normalized to UTC."""

    regex: re.Pattern[str] = field(default=re.compile(patterns.TIMESTAMP), repr=False)

    def validate(self, value: Any, info: ValidationInfo) -> datetime:
        if isinstance(value, datetime) and info.mode == "python":
            if value.tzinfo is UTC:
                return value  # fast path: what fastavro returns
            if value.tzinfo is None:
                raise ValueError("timestamp needs a timezone")
            instant: datetime = value
        else:
            instant = datetime.fromisoformat(_wire_string(value, self.regex, "timestamp"))
        try:
            return instant.astimezone(UTC)
        except OverflowError:
            raise ValueError("timestamp out of range in UTC") from None

    def serialize(self, value: datetime) -> str:
        return value.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class DateWire(_Marker):
    """A calendar date; YYYY-MM-DD on the wire."""

    regex: re.Pattern[str] = field(default=re.compile(patterns.DATE), repr=False)

    def validate(self, value: Any, info: ValidationInfo) -> date:
        if type(value) is date and info.mode == "python":
            return value
        return date.fromisoformat(_wire_string(value, self.regex, "date"))

    def serialize(self, value: date) -> str:
        return value.isoformat()


@dataclass(frozen=True)
class TimeWire(_Marker):
    """A time of day without timezone, microsecond precision; HH:MM:SS[.ffffff] on the wire."""

    regex: re.Pattern[str] = field(default=re.compile(patterns.TIME), repr=False)

    def validate(self, value: Any, info: ValidationInfo) -> time:
        if isinstance(value, time) and info.mode == "python":
            if value.tzinfo is not None:
                raise ValueError("time of day must not carry a timezone")
            return value
        return time.fromisoformat(_wire_string(value, self.regex, "time"))

    def serialize(self, value: time) -> str:
        return value.isoformat()


@dataclass(frozen=True)
class BytesWire(_Marker):
    """Raw bytes; padded standard base64 on the wire (and as a str in Python mode)."""

    regex: re.Pattern[str] = field(default=re.compile(patterns.BASE64), repr=False)

    def validate(self, value: Any, info: ValidationInfo) -> bytes:
        if isinstance(value, (bytes, bytearray, memoryview)) and info.mode == "python":
            return bytes(value)
        try:
            return base64.b64decode(_wire_string(value, self.regex, "base64"), validate=True)
        except binascii.Error as exc:
            raise ValueError(f"not valid base64: {exc}") from None

    def serialize(self, value: bytes) -> str:
        return base64.b64encode(value).decode("ascii")


@dataclass(frozen=True)
class IntRange(_Marker):
    """An integer within [minimum, maximum] (the spec bounds intersected with int/long)."""

    minimum: int
    maximum: int

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        # Python mode uses pydantic's native strict int (no Python call per value: Avro decoding
        # speed); JSON mode keeps `validate`, which also takes 1.0 like JSON Schema does.
        return core_schema.json_or_python_schema(
            json_schema=super().__get_pydantic_core_schema__(source, handler),
            python_schema=core_schema.int_schema(strict=True, ge=self.minimum, le=self.maximum),
        )

    def validate(self, value: Any, info: ValidationInfo) -> int:
        if type(value) is not int:
            # JSON Schema counts 1.0 as an integer; so must we, for the two to agree.
            if info.mode == "json" and isinstance(value, float) and value.is_integer():
                value = int(value)
            elif isinstance(value, bool) or not isinstance(value, int):
                raise ValueError("expected an integer")
        if not self.minimum <= value <= self.maximum:
            raise ValueError(f"must be within [{self.minimum}, {self.maximum}]")
        return int(value)


@dataclass(frozen=True)
class FloatRange(_Marker):
    """A finite float (single: stored as IEEE binary32, like Avro `float`)."""

    minimum: float | None = None
    maximum: float | None = None
    single: bool = False

    def validate(self, value: Any, info: ValidationInfo) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError("expected a number")  # noqa: TRY004
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("NaN and infinities have no JSON form")
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"must be >= {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"must be <= {self.maximum}")
        if self.single:
            if abs(value) > FLOAT32_MAX:
                raise ValueError("out of range for a 32-bit float")
            # Round once here so that Avro `float` round trips are exact.
            return float(struct.unpack("<f", struct.pack("<f", value))[0])
        return float(value)


@dataclass(frozen=True)
class Str(_Marker):
    """A string with optional length bounds (code points) and a `re.search` pattern."""

    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    regex: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        regex = None if self.pattern is None else re.compile(self.pattern)
        object.__setattr__(self, "regex", regex)

    def validate(self, value: Any, info: ValidationInfo) -> str:
        if not isinstance(value, str):
            raise ValueError("expected a string")  # noqa: TRY004
        if self.min_length is not None and len(value) < self.min_length:
            raise ValueError(f"shorter than {self.min_length}")
        if self.max_length is not None and len(value) > self.max_length:
            raise ValueError(f"longer than {self.max_length}")
        if self.regex is not None and self.regex.search(value) is None:
            raise ValueError(f"does not match {self.pattern!r}")
        return str(value)


@dataclass(frozen=True)
class DecimalSpec(_Marker):
    """A decimal(precision, scale); a plain-notation string on the wire, quantized to scale."""

    precision: int
    scale: int
    signed: bool = True  # False when the spec says minimum: 0 (the sign is in the pattern)
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)
    quantum: Decimal = field(init=False, repr=False, compare=False)
    context: Context = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        pattern = patterns.decimal(self.precision, self.scale, self.signed)
        object.__setattr__(self, "regex", re.compile(pattern))
        object.__setattr__(self, "quantum", Decimal(1).scaleb(-self.scale))
        object.__setattr__(self, "context", Context(prec=self.precision + 2))

    def validate(self, value: Any, info: ValidationInfo) -> Decimal:
        if type(value) is Decimal and info.mode == "python":
            sign, digits, exponent = value.as_tuple()
            # Fast path: fastavro returns exactly `scale` places; zero and -0 need normalizing.
            if exponent == -self.scale and len(digits) <= self.precision and any(digits):
                if sign and not self.signed:
                    raise ValueError("must not be negative")
                return value
        if info.mode == "python" and isinstance(value, (Decimal, int)) and type(value) is not bool:
            number = Decimal(value)
            if not number.is_finite():
                raise ValueError("decimal must be finite")
        else:
            number = Decimal(
                _wire_string(value, self.regex, f"decimal({self.precision},{self.scale})")
            )
        try:
            exact = number.quantize(self.quantum, context=self.context)
        except InvalidOperation:
            raise ValueError(f"more than {self.precision} digits") from None
        if exact != number:
            raise ValueError(f"more than {self.scale} decimal places")
        if len(exact.as_tuple().digits) > self.precision:
            raise ValueError(f"more than {self.precision} digits")
        if exact.is_zero():
            return abs(exact)  # one canonical zero: -0.00 and 0.00 are the same amount
        if not self.signed and exact < 0:
            raise ValueError("must not be negative")
        return exact

    def serialize(self, value: Decimal) -> str:
        return format(value, "f")


Uuid = Annotated[UUID, UuidWire()]
Timestamp = Annotated[datetime, TimestampWire()]
Date = Annotated[date, DateWire()]
Time = Annotated[time, TimeWire()]
Bytes = Annotated[bytes, BytesWire()]
Int32 = Annotated[int, IntRange(*INT32)]
Int64 = Annotated[int, IntRange(*INT64)]
Float32 = Annotated[float, FloatRange(single=True)]
Float64 = Annotated[float, FloatRange()]
String = Annotated[str, Str()]
