"""Dead-letter records: the contract's `eventgen-dlq-*` headers, written and read back.

A dead letter keeps the failed record's key, value and headers; the loop adds the headers
below (UTF-8 strings, each value at most 4 KiB) and produces it to the topic's DLQ. A record
that was dead-lettered before (and replayed) carries older `eventgen-dlq-*` headers: they are
replaced, never appended, so a reader finds exactly one of each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from eventgen.runtime.transport import RecordLike

Reason = Literal["decode", "handler", "parked"]
REASONS: tuple[Reason, ...] = ("decode", "handler", "parked")

DLQ_PREFIX = "eventgen-dlq-"
REASON = "eventgen-dlq-reason"
ERROR_CLASS = "eventgen-dlq-error-class"
ERROR_MESSAGE = "eventgen-dlq-error-message"
ORIGINAL_TOPIC = "eventgen-dlq-original-topic"
ORIGINAL_PARTITION = "eventgen-dlq-original-partition"
ORIGINAL_OFFSET = "eventgen-dlq-original-offset"
ORIGINAL_TIMESTAMP = "eventgen-dlq-original-timestamp"
CONSUMER_GROUP = "eventgen-dlq-consumer-group"
ATTEMPTS = "eventgen-dlq-attempts"
FIRST_FAILURE_AT = "eventgen-dlq-first-failure-at"
LAST_FAILURE_AT = "eventgen-dlq-last-failure-at"
# In the order they are written (the contract's order).
DLQ_HEADERS = (
    REASON, ERROR_CLASS, ERROR_MESSAGE, ORIGINAL_TOPIC, ORIGINAL_PARTITION, ORIGINAL_OFFSET,
    ORIGINAL_TIMESTAMP, CONSUMER_GROUP, ATTEMPTS, FIRST_FAILURE_AT, LAST_FAILURE_AT,
)  # fmt: skip

# Set by `eventgen dlq replay` on every record it re-publishes (not `eventgen-dlq-*`, so a
# replayed record that fails again keeps them): how often it was replayed, and the run's id.
REPLAY_HEADER = "eventgen-replay-count"
REPLAY_ID_HEADER = "eventgen-replay-id"

MAX_HEADER_BYTES = 4096
TRUNCATED = "...[truncated]"

InHeaders = Sequence[tuple[str, bytes | None]]


def bounded(text: str, limit: int = MAX_HEADER_BYTES) -> bytes:
    """`text` as UTF-8, at most `limit` bytes: a longer one is cut on a character boundary
    and ends with the `...[truncated]` marker (so a reader sees it was cut)."""
    data = text.encode("utf-8", errors="replace")
    if len(data) <= limit:
        return data
    marker = TRUNCATED.encode()
    # errors="ignore" drops only the partial character at the cut: the rest is valid UTF-8.
    head = data[: limit - len(marker)].decode("utf-8", errors="ignore").encode("utf-8")
    return head + marker


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a `Z` (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_from_ms(timestamp_ms: int) -> str:
    """A Kafka record timestamp as ISO 8601 UTC; empty when the record has none (-1)."""
    if timestamp_ms < 0:
        return ""
    return iso_utc(datetime.fromtimestamp(timestamp_ms / 1000.0, UTC))


def error_class(error: BaseException | None) -> str:
    """`module.QualName` of the error (builtins without a module); empty without one."""
    if error is None:
        return ""
    cls = type(error)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )


def without_dlq_headers(headers: InHeaders | None) -> list[tuple[str, bytes]]:
    """The headers minus every `eventgen-dlq-*` one, in their order.

    A null header value (legal in Kafka, rare) becomes empty bytes: the producer surface the
    runtime uses takes bytes only.
    """
    return [
        (name, b"" if value is None else value)
        for name, value in headers or ()
        if not name.startswith(DLQ_PREFIX)
    ]


def dlq_headers(
    original: InHeaders | None,
    *,
    reason: Reason,
    error: BaseException | None,
    topic: str,
    partition: int,
    offset: int,
    timestamp_ms: int,
    group: str,
    attempts: int,
    first_failure_at: datetime,
    last_failure_at: datetime,
) -> list[tuple[str, bytes]]:
    """The dead letter's headers: the original ones (earlier DLQ headers removed), then the
    eleven `eventgen-dlq-*` headers in the contract's order."""
    if reason not in REASONS:
        raise ValueError(f"reason {reason!r}: expected one of {', '.join(REASONS)}")
    values = {
        REASON: reason,
        ERROR_CLASS: error_class(error),
        ERROR_MESSAGE: "" if error is None else str(error),
        ORIGINAL_TOPIC: topic,
        ORIGINAL_PARTITION: str(partition),
        ORIGINAL_OFFSET: str(offset),
        ORIGINAL_TIMESTAMP: iso_from_ms(timestamp_ms),
        CONSUMER_GROUP: group,
        ATTEMPTS: str(attempts),
        FIRST_FAILURE_AT: iso_utc(first_failure_at),
        LAST_FAILURE_AT: iso_utc(last_failure_at),
    }
    return without_dlq_headers(original) + [(name, bounded(values[name])) for name in DLQ_HEADERS]


def record_timestamp_ms(record: RecordLike) -> int:
    """The record's timestamp in ms, -1 when it has none (TIMESTAMP_NOT_AVAILABLE)."""
    kind, value = record.timestamp()
    return value if kind != 0 else -1


def dead_letter_record(
    record: RecordLike,
    *,
    dlq_topic: str,
    reason: Reason,
    error: BaseException | None,
    group: str,
    attempts: int,
    first_failure_at: datetime,
    last_failure_at: datetime | None = None,
) -> tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]]]:
    """(topic, key, value, headers) to produce for a failed `record`: key and value unchanged."""
    topic, partition, offset = record.topic(), record.partition(), record.offset()
    if topic is None or partition is None or offset is None:
        raise ValueError("a dead letter needs a consumed record (topic, partition and offset)")
    headers = dlq_headers(
        record.headers(),
        reason=reason,
        error=error,
        topic=topic,
        partition=partition,
        offset=offset,
        timestamp_ms=record_timestamp_ms(record),
        group=group,
        attempts=attempts,
        first_failure_at=first_failure_at,
        last_failure_at=last_failure_at or first_failure_at,
    )
    return dlq_topic, record.key(), record.value(), headers


@dataclass(frozen=True)
class DeadLetterInfo:
    """What a dead letter's headers say (read back by replay and tools). Missing: empty/None."""

    reason: str
    error_class: str
    error_message: str
    original_topic: str
    original_partition: int | None
    original_offset: int | None
    original_timestamp: datetime | None
    consumer_group: str
    attempts: int | None
    first_failure_at: datetime | None
    last_failure_at: datetime | None


def read_dlq_headers(headers: InHeaders | None) -> DeadLetterInfo:
    """Parse the `eventgen-dlq-*` headers (the last of each name wins, unparsable: None)."""
    found: dict[str, str] = {}
    for name, value in headers or ():
        if name.startswith(DLQ_PREFIX) and value is not None:
            found[name] = value.decode("utf-8", errors="replace")
    return DeadLetterInfo(
        reason=found.get(REASON, ""),
        error_class=found.get(ERROR_CLASS, ""),
        error_message=found.get(ERROR_MESSAGE, ""),
        original_topic=found.get(ORIGINAL_TOPIC, ""),
        original_partition=_int(found.get(ORIGINAL_PARTITION)),
        original_offset=_int(found.get(ORIGINAL_OFFSET)),
        original_timestamp=parse_iso(found.get(ORIGINAL_TIMESTAMP)),
        consumer_group=found.get(CONSUMER_GROUP, ""),
        attempts=_int(found.get(ATTEMPTS)),
        first_failure_at=parse_iso(found.get(FIRST_FAILURE_AT)),
        last_failure_at=parse_iso(found.get(LAST_FAILURE_AT)),
    )


def parse_iso(text: str | None) -> datetime | None:
    """An ISO 8601 time (aware, UTC if it has no zone), None for empty or unparsable text."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)  # 3.11+: accepts a "Z"
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None
