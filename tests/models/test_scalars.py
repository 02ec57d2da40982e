"""Python-mode fast paths of the wire scalars agree with their `validate`, value by value.

Each marker's core schema runs a native pydantic-core schema (or a bare callback) in Python mode
and `validate` in JSON mode; here every marker meets every edge value and random values of every
kind, and the two paths must accept the same inputs and return the same value (type and repr).
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from eventgen.ir import scalars as table
from eventgen.ir.model import SCALARS, Scalar
from eventgen.runtime import scalars as sc

PYTHON: Any = sc._PYTHON_INFO

MARKERS: list[Any] = [
    sc.UuidWire(), sc.TimestampWire(), sc.DateWire(), sc.TimeWire(), sc.BytesWire(),
    sc.IntRange(*sc.INT32), sc.IntRange(*sc.INT64), sc.IntRange(1, 1000),
    sc.FloatRange(), sc.FloatRange(single=True), sc.FloatRange(0, 10), sc.FloatRange(-1.5, None),
    sc.FloatRange(0, 2**60 + 1), sc.Str(), sc.Str(min_length=1, max_length=3),
    sc.Str(pattern=r"^[A-Z]{3}$(?!\n)"), sc.Str(pattern=r"[a-z]"), sc.DecimalSpec(12, 2),
    sc.DecimalSpec(4, 4), sc.DecimalSpec(5, 0, signed=False), sc.DecimalSpec(3, 1, signed=False),
    sc.BoolWire(),
]  # fmt: skip


class Code(enum.StrEnum):
    A = "ABC"


class Text(str):
    pass


class Raw(bytes):
    pass


class Day(date):
    pass


class Id(uuid.UUID):
    pass


EDGES: list[Any] = [
    None, True, False, 0, 1, -1, 1000, 1001, 2**31, 2**63, -(2**63) - 1, 10**400,
    0.0, -0.0, 1.5, 1e300, 3.5e38, float("nan"), float("inf"), 2.0**60, float(2**60 + 2),
    Decimal("1234.50"), Decimal("1234.5"), Decimal("0.00"), Decimal("-0.00"), Decimal("-1.25"),
    Decimal("1E+3"), Decimal("0.1234"), Decimal("12345678901.00"), Decimal("NaN"),
    Decimal("Infinity"), Decimal("0.001"), Decimal(99999), Decimal(-5),
    "", "ABC", "abc", "ABC\n", "AB", "ABCD", "a\ud800", "𝄞𝄞", Code.A, Text("ABC"),
    "2024-02-29", "2023-02-29", "12:00:00", "2024-01-01T00:00:00Z", "2024-01-01T01:00:00+01:00",
    "AAEC/w==", "AAEC/w=", "12.5", "-0.0", "00000000-0000-0000-0000-000000000001",
    b"", b"\x00\xff", bytearray(b"ab"), memoryview(b"cd"), Raw(b"x"),
    uuid.UUID(int=7), Id(int=8), date(2024, 2, 29), Day(2020, 1, 1),
    datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 1), datetime(2024, 1, 1, tzinfo=ZoneInfo("UTC")),
    datetime(2024, 1, 1, 3, tzinfo=timezone(timedelta(hours=2))),
    datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))),
    time(12, 0), time(12, 0, tzinfo=UTC), [1], {"a": 1},
]  # fmt: skip


def _outcome(call: Any, value: Any) -> tuple[str, str]:
    try:
        result = call(value)
    except ValueError:  # pydantic's ValidationError is a ValueError
        return "rejected", ""
    except OverflowError:
        return "overflow", ""
    return type(result).__name__, repr(result)


def _check(marker: Any, value: Any) -> None:
    adapter = TypeAdapter(Annotated[Any, marker])
    fast = _outcome(adapter.validate_python, value)
    exact = _outcome(lambda v: marker.validate(v, PYTHON), value)
    assert fast == exact, (marker, value)


@pytest.mark.parametrize("marker", MARKERS, ids=repr)
def test_python_mode_matches_validate_on_edges(marker: Any) -> None:
    for value in EDGES:
        _check(marker, value)


ANY_VALUE = st.one_of(
    st.integers(),
    st.floats(),
    st.decimals(places=None),
    st.decimals(places=2, allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
    st.from_regex(r"\A[A-Z]{1,4}\n?\Z"),
    st.binary(max_size=4),
    st.uuids(),
    st.dates(),
    st.times(timezones=st.none() | st.just(UTC)),
    st.datetimes(timezones=st.none() | st.just(UTC) | st.timezones()),
    st.booleans(),
)


@pytest.mark.parametrize("marker", MARKERS, ids=repr)
@given(value=ANY_VALUE)
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_python_mode_matches_validate_on_random_values(marker: Any, value: Any) -> None:
    _check(marker, value)


@pytest.mark.parametrize("text", ["0", "1", "0.0", '"true"', '"yes"', "null"])
def test_boolean_takes_only_true_and_false_from_json(text: str) -> None:
    adapter = TypeAdapter(sc.Boolean)
    assert adapter.validate_json("true") is True
    with pytest.raises(ValueError, match="true or false"):
        adapter.validate_json(text)


@pytest.mark.parametrize("name", SCALARS)
def test_table_validator_is_the_marker_generated_code_uses(name: str) -> None:
    """The generator checks defaults with the very marker the unconstrained annotation carries."""
    ref = Scalar(name, precision=10, scale=2) if name == "decimal" else Scalar(name)
    row = table.TABLE[name]
    validator = row.validator(ref, table.NO_CONSTRAINTS)
    assert type(validator).__module__ == "eventgen.runtime.scalars"
    if row.marker is not None:
        (marker,) = getattr(sc, row.marker).__metadata__
        assert marker == validator
