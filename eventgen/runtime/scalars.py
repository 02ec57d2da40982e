"""Scalar types of generated models, validated exactly as the emitted JSON Schemas describe them.

Each marker is used inside `Annotated[...]`. In JSON mode a value must have its wire form
(a string matching `patterns`, a JSON number, ...); in Python mode the natural Python value is
accepted too (what fastavro returns and what user code passes). Serialization to JSON gives the
canonical wire form, so decode(encode(x)) == x.

JSON mode always runs `validate` (a Python callback: the exact wire rules). Python mode (Avro
decoding, constructors) first tries a native pydantic-core schema where one accepts a subset of
what `validate` accepts and returns the same value for it (no Python call per value: Avro decode
speed), and falls back to `validate` for the rest; tests/models/test_scalars.py checks both
paths agree value by value.
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
from types import SimpleNamespace
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

from eventgen.runtime import patterns

if TYPE_CHECKING:  # pydantic is imported only when a model is built: the emitters use `validate`
    from pydantic import GetCoreSchemaHandler, ValidationInfo
    from pydantic_core import CoreSchema

FLOAT32_MAX = 3.4028234663852886e38
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)


class _Marker:
    """Plain validator plus JSON-mode serializer; subclasses define both, and maybe a fast path."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        from pydantic_core import core_schema

        serialization = core_schema.plain_serializer_function_ser_schema(
            self.serialize, when_used="json"
        )
        wire = core_schema.with_info_plain_validator_function(self.validate)
        native = self.python_schema()
        if native is None:
            return core_schema.with_info_plain_validator_function(
                self.validate, serialization=serialization
            )
        if self.python_is_complete():
            python = native
        else:  # the native subset first; anything else goes to `validate`
            python = core_schema.union_schema(
                [(native, "native"), (wire, "wire")], mode="left_to_right"
            )
        return core_schema.json_or_python_schema(
            json_schema=wire, python_schema=python, serialization=serialization
        )

    def validate(self, value: Any, info: ValidationInfo) -> Any:
        raise NotImplementedError

    def python_schema(self) -> CoreSchema | None:
        """Python-mode schema: accepts a subset of `validate`, with the same results."""
        return None

    def python_is_complete(self) -> bool:
        """True when `python_schema` accepts all that `validate` does in Python mode."""
        return False

    def serialize(self, value: Any) -> Any:
        return value


_PYTHON_INFO: Any = SimpleNamespace(mode="python")  # the only part of ValidationInfo we read


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
        if isinstance(value, UUID) and info.mode == "python":
            return value
        return UUID(_wire_string(value, self.regex, "UUID"))

    def python_schema(self) -> CoreSchema:
        from pydantic_core import core_schema

        return core_schema.is_instance_schema(UUID)

    def serialize(self, value: UUID) -> str:
        return str(value)


@dataclass(frozen=True)
class TimestampWire(_Marker):
    """A UTC instant with microseconds; RFC 3339 on the wire, normalized to UTC."""

    regex: re.Pattern[str] = field(default=re.compile(patterns.TIMESTAMP), repr=False)

    def python_schema(self) -> CoreSchema:
        from pydantic_core import core_schema

        # No native schema tells `timezone.utc` from other zones at offset 0 (which `validate`
        # converts), so Python mode is a bare callback with the fastavro case first.
        return core_schema.no_info_plain_validator_function(self.from_python)

    def python_is_complete(self) -> bool:
        return True

    def from_python(self, value: Any) -> datetime:
        if isinstance(value, datetime) and value.tzinfo is UTC:
            return value  # what fastavro returns
        return self.validate(value, _PYTHON_INFO)

    def validate(self, value: Any, info: ValidationInfo) -> datetime:
        if isinstance(value, datetime) and info.mode == "python":
            if value.tzinfo is UTC:
                return value
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
        if isinstance(value, date) and not isinstance(value, datetime) and info.mode == "python":
            return value
        return date.fromisoformat(_wire_string(value, self.regex, "date"))

    def python_schema(self) -> CoreSchema:
        from pydantic_core import core_schema

        return core_schema.date_schema(strict=True)  # date instances only, not datetimes

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

    def python_schema(self) -> CoreSchema:
        from pydantic_core import core_schema

        return core_schema.time_schema(strict=True, tz_constraint="naive")

    def serialize(self, value: time) -> str:
        return value.isoformat()


@dataclass(frozen=True)
class BytesWire(_Marker):
    """Raw bytes; padded standard base64 on the wire (and as a str in Python mode)."""

    regex: re.Pattern[str] = field(default=re.compile(patterns.BASE64), repr=False)

    def validate(self, value: Any, info: ValidationInfo) -> bytes:
        if info.mode == "python":
            if isinstance(value, bytes):
                return value
            if isinstance(value, (bytearray, memoryview)):
                return bytes(value)
        try:
            return base64.b64decode(_wire_string(value, self.regex, "base64"), validate=True)
        except binascii.Error as exc:
            raise ValueError(f"not valid base64: {exc}") from None

    def python_schema(self) -> CoreSchema:
        from pydantic_core import core_schema

        return core_schema.bytes_schema(strict=True)  # bytes instances only, returned as they are

    def serialize(self, value: bytes) -> str:
        return base64.b64encode(value).decode("ascii")


@dataclass(frozen=True)
class BoolWire(_Marker):
    """true or false, nothing else: exactly JSON Schema's `boolean`."""

    def validate(self, value: Any, info: ValidationInfo) -> bool:
        if not isinstance(value, bool):
            raise ValueError("expected true or false")  # noqa: TRY004
        return value

    def python_schema(self) -> CoreSchema:
        from pydantic_core import core_schema

        # Strict: pydantic's lax bool takes 0, 1.0 and "yes", which JSON Schema's boolean refuses.
        return core_schema.bool_schema(strict=True)

    def python_is_complete(self) -> bool:
        return True


@dataclass(frozen=True)
class IntRange(_Marker):
    """An integer within [minimum, maximum] (the spec bounds intersected with int/long)."""

    minimum: int
    maximum: int

    def python_schema(self) -> CoreSchema:
        from pydantic_core import core_schema

        # Strict int: int instances but not bools, like `validate` in Python mode; JSON mode
        # keeps `validate`, which also takes 1.0 like JSON Schema does.
        return core_schema.int_schema(strict=True, ge=self.minimum, le=self.maximum)

    def python_is_complete(self) -> bool:
        return True

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
        try:
            number = float(value)
        except OverflowError:  # an int beyond any double
            raise ValueError("out of range for a 64-bit float") from None
        if self.single:
            if abs(number) > FLOAT32_MAX:
                raise ValueError("out of range for a 32-bit float")
            # Round once here so that Avro `float` round trips are exact.
            return float(struct.unpack("<f", struct.pack("<f", number))[0])
        return number

    def python_schema(self) -> CoreSchema | None:
        from pydantic_core import core_schema

        bounds = [b for b in (self.minimum, self.maximum) if b is not None]
        if self.single or any(float(b) != b for b in bounds):
            return None  # binary32 rounding, or bounds a float comparison would round
        # Float instances only (pydantic's strict float also takes ints and Decimals, returning
        # floats; `validate` handles ints); then finite, within bounds, as an exact float.
        return core_schema.chain_schema(
            [
                core_schema.is_instance_schema(float),
                core_schema.float_schema(
                    strict=True, allow_inf_nan=False, ge=self.minimum, le=self.maximum
                ),
            ]
        )


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
        return value if type(value) is str else str.__str__(value)

    def python_schema(self) -> CoreSchema:
        from pydantic_core import core_schema

        # str instances (subclasses as plain str), lengths in code points, the pattern with
        # Python's `re.search`: `validate` in Python mode, except that with constraints pydantic
        # refuses strings holding lone surrogates (those go to `validate`).
        return core_schema.str_schema(
            strict=True,
            min_length=self.min_length,
            max_length=self.max_length,
            pattern=self.pattern,
            regex_engine="python-re",
        )

    def python_is_complete(self) -> bool:
        return self.min_length is None and self.max_length is None and self.pattern is None


@dataclass(frozen=True)
class DecimalSpec(_Marker):
    """A decimal(precision, scale); a plain-notation string on the wire, quantized to scale."""

    precision: int
    scale: int
    signed: bool = True  # False when the spec says minimum: 0 (the sign is in the pattern)
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)
    quantum: Decimal = field(init=False, repr=False, compare=False)
    whole_digits: int = field(init=False, repr=False, compare=False)
    context: Context = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        pattern = patterns.decimal(self.precision, self.scale, self.signed)
        object.__setattr__(self, "regex", re.compile(pattern))
        object.__setattr__(self, "quantum", Decimal(1).scaleb(-self.scale))
        object.__setattr__(self, "whole_digits", self.precision - self.scale)
        object.__setattr__(self, "context", Context(prec=self.precision + 2))

    def python_schema(self) -> CoreSchema:
        from pydantic_core import core_schema

        # pydantic's decimal checks digits and places but neither quantizes nor normalizes -0,
        # so Python mode is a bare callback with the fastavro case first.
        return core_schema.no_info_plain_validator_function(self.from_python)

    def python_is_complete(self) -> bool:
        return True

    def from_python(self, value: Any) -> Decimal:
        # What fastavro returns: exactly `scale` places (same_quantum is False for NaN and
        # infinities), nonzero (zero and -0 need normalizing), at most `precision` digits.
        if (
            type(value) is Decimal
            and value.same_quantum(self.quantum)
            and value
            and value.adjusted() < self.whole_digits
        ):
            if not self.signed and value.is_signed():
                raise ValueError("must not be negative")
            return value
        return self.validate(value, _PYTHON_INFO)

    def validate(self, value: Any, info: ValidationInfo) -> Decimal:
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
Boolean = Annotated[bool, BoolWire()]
