"""Dead-letter headers: exact names and values, the 4 KiB bound, replacement of older ones."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from eventgen.runtime.failures.dlq import (
    DLQ_HEADERS,
    MAX_HEADER_BYTES,
    REASONS,
    TRUNCATED,
    bounded,
    dead_letter_record,
    dlq_headers,
    read_dlq_headers,
)

T1 = datetime(2026, 3, 4, 5, 6, 7, 891_000, tzinfo=UTC)
T2 = datetime(2026, 3, 4, 7, 6, 7, tzinfo=timezone(timedelta(hours=2)))  # 05:06:07 UTC

CONTRACT_NAMES = [
    "eventgen-dlq-reason",
    "eventgen-dlq-error-class",
    "eventgen-dlq-error-message",
    "eventgen-dlq-original-topic",
    "eventgen-dlq-original-partition",
    "eventgen-dlq-original-offset",
    "eventgen-dlq-original-timestamp",
    "eventgen-dlq-consumer-group",
    "eventgen-dlq-attempts",
    "eventgen-dlq-first-failure-at",
    "eventgen-dlq-last-failure-at",
]


class Boom(RuntimeError):
    pass


def headers_for(original: Sequence[tuple[str, bytes | None]] | None, **kw: Any) -> list[Any]:
    args: dict[str, Any] = {
        "reason": "handler",
        "error": Boom("stock service down"),
        "topic": "shop.orders",
        "partition": 3,
        "offset": 42,
        "timestamp_ms": 1_772_600_767_123,
        "group": "reserve-stock",
        "attempts": 4,
        "first_failure_at": T1,
        "last_failure_at": T2,
    }
    args.update(kw)
    return dlq_headers(original, **args)


def test_names_order_and_values_are_exact() -> None:
    assert list(DLQ_HEADERS) == CONTRACT_NAMES
    assert REASONS == ("decode", "handler", "parked")
    original = [("event_id", b"e-1"), ("type", b"orders.OrderPlaced")]
    got = headers_for(original)
    assert got[:2] == original
    assert got[2:] == [
        ("eventgen-dlq-reason", b"handler"),
        ("eventgen-dlq-error-class", f"{__name__}.Boom".encode()),
        ("eventgen-dlq-error-message", b"stock service down"),
        ("eventgen-dlq-original-topic", b"shop.orders"),
        ("eventgen-dlq-original-partition", b"3"),
        ("eventgen-dlq-original-offset", b"42"),
        ("eventgen-dlq-original-timestamp", b"2026-03-04T05:06:07.123Z"),
        ("eventgen-dlq-consumer-group", b"reserve-stock"),
        ("eventgen-dlq-attempts", b"4"),
        ("eventgen-dlq-first-failure-at", b"2026-03-04T05:06:07.891Z"),
        ("eventgen-dlq-last-failure-at", b"2026-03-04T05:06:07.000Z"),
    ]


def test_builtin_error_class_and_no_error_and_no_timestamp() -> None:
    got = dict(headers_for(None, error=ValueError("bad"), timestamp_ms=-1))
    assert got["eventgen-dlq-error-class"] == b"ValueError"
    assert got["eventgen-dlq-original-timestamp"] == b""
    parked = dict(headers_for(None, reason="parked", error=None))
    assert parked["eventgen-dlq-reason"] == b"parked"
    assert parked["eventgen-dlq-error-class"] == b""
    assert parked["eventgen-dlq-error-message"] == b""
    assert len(parked) == 11


def test_unknown_reason_is_refused() -> None:
    with pytest.raises(ValueError, match="reason 'oops'"):
        headers_for(None, reason="oops")


def test_earlier_dlq_headers_are_replaced_not_appended() -> None:
    first = headers_for([("event_id", b"e-1")], reason="decode", attempts=1)
    again = headers_for(
        [*first, ("eventgen-replay-count", b"1"), ("eventgen-dlq-custom", b"x")], attempts=2
    )
    names = [name for name, _ in again]
    assert names == ["event_id", "eventgen-replay-count", *CONTRACT_NAMES]
    assert dict(again)["eventgen-dlq-reason"] == b"handler"
    assert dict(again)["eventgen-dlq-attempts"] == b"2"


def test_other_headers_kept_unchanged_with_duplicates_and_order() -> None:
    original: list[tuple[str, bytes | None]] = [
        ("b", b"\xff\x00binary"),
        ("a", b"1"),
        ("a", b"2"),
        ("nul", None),
    ]
    got = headers_for(original)
    assert got[:4] == [("b", b"\xff\x00binary"), ("a", b"1"), ("a", b"2"), ("nul", b"")]


def test_long_multibyte_message_is_cut_on_a_character_boundary() -> None:
    message = "ä€😀" * 2000  # 2 + 3 + 4 bytes per round: 18,000 bytes
    got = dict(headers_for(None, error=Boom(message), topic="t" * 5000))
    value = got["eventgen-dlq-error-message"]
    assert len(value) <= MAX_HEADER_BYTES
    text = value.decode("utf-8")  # valid UTF-8: no partial character left at the cut
    assert text.endswith(TRUNCATED)
    assert message.startswith(text.removesuffix(TRUNCATED))
    assert len(value) > MAX_HEADER_BYTES - 4 - len(TRUNCATED)  # cut no more than one char
    topic = got["eventgen-dlq-original-topic"]
    assert len(topic) == MAX_HEADER_BYTES and topic.endswith(TRUNCATED.encode())
    for name in CONTRACT_NAMES:
        assert len(got[name]) <= MAX_HEADER_BYTES


@pytest.mark.parametrize("size", [MAX_HEADER_BYTES - 1, MAX_HEADER_BYTES])
def test_values_up_to_the_bound_are_kept_whole(size: int) -> None:
    assert bounded("x" * size) == b"x" * size


def test_cut_at_each_position_of_a_multibyte_character() -> None:
    for pad in range(4):
        text = "a" * pad + "😀" * 2000
        value = bounded(text)
        assert len(value) <= MAX_HEADER_BYTES
        assert value.decode("utf-8").endswith(TRUNCATED)


@dataclass
class Consumed:
    """A consumed record's values (confluent_kafka.Message cannot be built by hand)."""

    headers_: list[tuple[str, bytes | None]] | None = field(default_factory=list)
    timestamp_: tuple[int, int] = (1, 1_772_600_767_123)

    def topic(self) -> str | None:
        return "shop.orders"

    def partition(self) -> int | None:
        return 1

    def offset(self) -> int | None:
        return 7

    def key(self) -> bytes | None:
        return b"\x02k"

    def value(self) -> bytes | None:
        return b"\x00\x01value"

    def headers(self) -> list[tuple[str, bytes | None]] | None:
        return self.headers_

    def timestamp(self) -> tuple[int, int]:
        return self.timestamp_

    def error(self) -> Any:
        return None


def test_dead_letter_record_keeps_key_value_headers() -> None:
    record = Consumed(headers_=[("type", b"orders.OrderPlaced")])
    topic, key, value, headers = dead_letter_record(
        record,
        dlq_topic="shop.orders.dlq",
        reason="decode",
        error=ValueError("bad bytes"),
        group="g",
        attempts=1,
        first_failure_at=T1,
    )
    assert (topic, key, value) == ("shop.orders.dlq", b"\x02k", b"\x00\x01value")
    assert headers[0] == ("type", b"orders.OrderPlaced")
    info = read_dlq_headers(headers)
    assert info.reason == "decode" and info.error_class == "ValueError"
    assert info.original_topic == "shop.orders"
    assert (info.original_partition, info.original_offset) == (1, 7)
    assert info.original_timestamp == datetime(2026, 3, 4, 5, 6, 7, 123_000, tzinfo=UTC)
    assert info.consumer_group == "g" and info.attempts == 1
    assert info.first_failure_at == T1 == info.last_failure_at


def test_record_without_timestamp_and_headers() -> None:
    record = Consumed(headers_=None, timestamp_=(0, -1))
    *_, headers = dead_letter_record(
        record,
        dlq_topic="d",
        reason="parked",
        error=None,
        group="g",
        attempts=0,
        first_failure_at=T1,
    )
    assert [n for n, _ in headers] == CONTRACT_NAMES
    assert read_dlq_headers(headers).original_timestamp is None


def test_read_back_tolerates_missing_and_bad_values() -> None:
    info = read_dlq_headers([("eventgen-dlq-original-offset", b"x"), ("other", None)])
    assert info.reason == "" and info.original_offset is None and info.attempts is None
