"""What a live projector holds between polls: the batch being built, its dead letters, and
the Kafka records waiting for the event store to drain (eventgen.runtime.es.projector)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from eventgen.runtime.errors import DecodeError, DeliveryError, DeliveryFailure
from eventgen.runtime.model import Message

log = logging.getLogger("eventgen.runtime.es.projector")


@dataclass
class ProjectorStats:
    """Counters of a projector run or a rebuild; `line()` is the runner's closing line."""

    events: int = 0  # events handed to `project` (store events and decoded records)
    skipped: int = 0  # at or below their source's checkpoint (already applied)
    ignored: int = 0  # Kafka records of a type the projection does not handle
    undecodable: int = 0  # Kafka records that do not decode: logged and skipped
    dead_lettered: int = 0  # of those, copied to their topic's DLQ (routes with `dlq:`)
    missed: int = 0  # set / inc / append on a missing row (nothing happens)
    rows_written: int = 0
    rows_deleted: int = 0
    batches: int = 0

    def line(self) -> str:
        return " ".join(f"{name}={value}" for name, value in vars(self).items())


@dataclass
class _Pending:
    """Events of one batch before they are applied: (source, position, message)."""

    events: list[tuple[str, int, Message]] = field(default_factory=list)
    positions: dict[str, int] = field(default_factory=dict)  # new checkpoints

    read: int = 0  # items read (events and records, applied or not)

    def add(self, source: str, position: int, message: Message | None) -> None:
        self.read += 1
        if message is not None:
            self.events.append((source, position, message))
        if position > self.positions.get(source, -1):
            self.positions[source] = position


class _DeadLetters:
    """Undecodable records of topics with a DLQ, produced there within the batch's transaction.

    `flush` runs before the batch commits its checkpoints: a dead letter the broker did not
    acknowledge raises DeliveryError, the transaction rolls back, and the records are read
    again (a dead letter may then be written twice, never lost), as the consumer apps do.
    """

    def __init__(self, transport: Any, settings: dict[str, Any], group: str) -> None:
        self.transport = transport
        self.settings = settings
        self.group = group
        self.producer: Any = None
        self.failures: list[DeliveryFailure] = []
        self.sent = 0

    def add(self, record: Any, dlq_topic: str, error: DecodeError) -> None:
        from eventgen.runtime.failures.dlq import dead_letter_record

        if self.producer is None:
            self.producer = self.transport.producer(self.settings)
        now = datetime.now(UTC)
        topic, key, value, headers = dead_letter_record(
            record, dlq_topic=dlq_topic, reason="decode", error=error, group=self.group,
            attempts=1, first_failure_at=now,
        )  # fmt: skip

        def delivered(err: Any, _msg: Any) -> None:
            if err is not None:
                self.failures.append(DeliveryFailure(topic, key, None, str(err)))

        self.producer.produce(topic, value=value, key=key, headers=headers, on_delivery=delivered)
        self.sent += 1

    def flush(self, timeout_s: float) -> None:
        if not self.sent:
            return
        left = self.producer.flush(timeout_s)
        failures, self.failures, self.sent = self.failures, [], 0
        if left:
            failures.append(DeliveryFailure("(dlq)", None, None, f"{left} not acknowledged"))
        if failures:
            raise DeliveryError(failures)


class _Feed:
    """The live projector's Kafka records, consumed but not yet applied.

    At most one batch is held: while it waits for the store source to drain, the assigned
    partitions are paused (the consumer is still polled, so it keeps its group membership
    and sees rebalances) and resumed once the records are applied. A rebalance drops the
    held records: the new assignment seeks to the stored checkpoints + 1, so they are read
    again rather than applied twice.
    """

    def __init__(self) -> None:
        self.consumer: Any = None
        self.records: list[Any] = []
        self.paused = False

    def reset(self) -> None:
        self.records.clear()
        self.paused = False  # a new assignment starts unpaused

    def fill(self, want: int, timeout_s: float) -> None:
        room = want - len(self.records)
        if room > 0:
            if self.paused:
                self._toggle(pause=False)
            self.records.extend(self.consumer.consume(room, timeout_s))
            return
        if not self.paused:
            self._toggle(pause=True)
        # Poll without taking records in: serves rebalance callbacks and the poll interval.
        self.records.extend(self.consumer.consume(1, 0))

    def _toggle(self, *, pause: bool) -> None:
        assigned = self.consumer.assignment()
        if assigned:
            (self.consumer.pause if pause else self.consumer.resume)(assigned)
        self.paused = pause
