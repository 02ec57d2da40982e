"""`InMemoryBroker`: topics, partitions, groups and transactions in one process."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, cast

from confluent_kafka import KafkaError, KafkaException

from eventgen.runtime.partitioning import partition_for
from eventgen.runtime.testing._log import TP, Entry, Group, Txn
from eventgen.runtime.testing.consumer import InMemoryConsumer
from eventgen.runtime.testing.producer import InMemoryProducer
from eventgen.runtime.transport import RecordLike


class InMemoryBroker:
    """A Transport whose clients share this object's topics and groups (thread-safe)."""

    def __init__(
        self,
        topics: dict[str, int] | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._logs: dict[str, list[list[Entry]]] = {}
        self._groups: dict[str, Group] = {}
        self._round_robin: dict[str, itertools.cycle[int]] = {}
        self._transactional: dict[str, InMemoryProducer] = {}  # transactional.id -> live one
        self._ids = itertools.count(1)
        self._faults: dict[str, list[int]] = {}  # topic -> error codes of the next deliveries
        self._clock = clock
        for name, partitions in (topics or {}).items():
            self.create_topic(name, partitions)

    # -- Transport -------------------------------------------------------------------------

    def consumer(self, config: dict[str, Any]) -> InMemoryConsumer:
        return InMemoryConsumer(self, dict(config), f"consumer-{next(self._ids)}")

    def producer(self, config: dict[str, Any]) -> InMemoryProducer:
        return InMemoryProducer(self, dict(config), f"producer-{next(self._ids)}")

    # -- administration and assertions ------------------------------------------------------

    def create_topic(self, name: str, partitions: int = 1) -> None:
        """Create `name` with `partitions` (>= 1); an existing topic must have that many."""
        if partitions < 1:
            raise ValueError(f"topic {name!r}: partitions must be at least 1, not {partitions}")
        with self._lock:
            existing = self._logs.get(name)
            if existing is not None:
                if len(existing) != partitions:
                    raise ValueError(
                        f"topic {name!r} exists with {len(existing)} partitions, not {partitions}"
                    )
                return
            self._logs[name] = [[] for _ in range(partitions)]
            self._round_robin[name] = itertools.cycle(range(partitions))
            self._rebalance_all()

    def topics(self) -> dict[str, int]:
        """Topic name -> partition count."""
        with self._lock:
            return {name: len(parts) for name, parts in sorted(self._logs.items())}

    def records(
        self, topic: str, partition: int | None = None, *, committed_only: bool = True
    ) -> list[RecordLike]:
        """The topic's records in (partition, offset) order, as a read_committed reader sees
        them (records of open or aborted transactions left out unless `committed_only` is
        False). Fresh confluent_kafka.Message objects, typed as the runtime's RecordLike (what
        codecs decode): key(), value(), headers(), offset() for assertions."""
        with self._lock:
            parts = self._partitions(topic)
            chosen = range(len(parts)) if partition is None else [partition]
            return [
                cast(RecordLike, entry.message())
                for p in chosen
                for entry in parts[p]
                if not committed_only or entry.txn is None or entry.txn.state == "committed"
            ]

    def values(self, topic: str) -> list[bytes | None]:
        """The values of records(topic)."""
        return [record.value() for record in self.records(topic)]

    def committed_offset(self, group: str, topic: str, partition: int = 0) -> int | None:
        """The group's committed offset (the next record it will read), None if none."""
        with self._lock:
            state = self._groups.get(group)
            return None if state is None else state.committed.get((topic, partition))

    def group_members(self, group: str) -> list[str]:
        """Member ids of the consumers in `group` (subscribed, not closed), in join order."""
        with self._lock:
            state = self._groups.get(group)
            return [] if state is None else [m._member_id for m in state.members]

    def produce(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        *,
        partition: int = -1,
        headers: Sequence[tuple[str, bytes | None]] | None = None,
        timestamp_ms: int = 0,
    ) -> RecordLike:
        """Append a record at once (no producer, no delivery callback): a test's input."""
        with self._lock:
            entry = self._append(topic, value, key, partition, headers, timestamp_ms, None)
            return cast(RecordLike, entry.message())

    def fail_deliveries(
        self, topic: str, count: int = 1, code: int = KafkaError._MSG_TIMED_OUT
    ) -> None:
        """Make the next `count` records produced to `topic` fail with `code` (reported to
        their delivery callbacks, not appended), as a broker outage would: for testing what
        your code does when a publish is not acknowledged."""
        with self._lock:
            self._partitions(topic)
            self._faults.setdefault(topic, []).extend([code] * count)

    def _take_fault(self, topic: str) -> KafkaError | None:
        codes = self._faults.get(topic)
        if not codes:
            return None
        code = codes.pop(0)
        return KafkaError(code, f"injected by InMemoryBroker.fail_deliveries({topic!r})")

    def partition_for(self, topic: str, key: bytes | None) -> int:
        """Where a keyed record goes: murmur2(key) % partitions, as every producer of the
        runtime partitions (eventgen.runtime.partitioning); an unkeyed one takes the next
        partition round-robin."""
        with self._lock:
            parts = self._partitions(topic)
            if key is None:
                return next(self._round_robin[topic])
            return partition_for(key, len(parts))

    # -- internals (called with the lock held) -----------------------------------------------

    def _partitions(self, topic: str) -> list[list[Entry]]:
        parts = self._logs.get(topic)
        if parts is None:
            raise KafkaException(
                KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART, f"unknown topic {topic!r}")
            )
        return parts

    def _append(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None,
        partition: int,
        headers: Sequence[tuple[str, bytes | None]] | None,
        timestamp_ms: int,
        txn: Txn | None,
    ) -> Entry:
        parts = self._partitions(topic)
        if partition < 0:
            partition = self.partition_for(topic, key)
        elif partition >= len(parts):
            raise KafkaException(
                KafkaError(KafkaError._UNKNOWN_PARTITION, f"{topic} has no partition {partition}")
            )
        log = parts[partition]
        entry = Entry(
            topic,
            partition,
            len(log),
            None if key is None else bytes(key),
            None if value is None else bytes(value),
            tuple((name, None if v is None else bytes(v)) for name, v in headers or ()),
            timestamp_ms or int(self._clock() * 1000),
            txn,
        )
        log.append(entry)
        self._changed.notify_all()
        return entry

    def _group(self, name: str) -> Group:
        return self._groups.setdefault(name, Group())

    def _rebalance(self, group: Group) -> None:
        """The target assignment: each topic's partitions dealt round-robin, in join order,
        to the members subscribed to it. Moves happen when members next call consume()."""
        target: dict[TP, InMemoryConsumer] = {}
        for topic in sorted({t for m in group.members for t in m._subscription}):
            if topic not in self._logs:
                continue
            members = [m for m in group.members if topic in m._subscription]
            for p in range(len(self._logs[topic])):
                target[(topic, p)] = members[p % len(members)]
        group.target = target
        group.generation += 1
        self._changed.notify_all()

    def _rebalance_all(self) -> None:
        for group in self._groups.values():
            if group.members:
                self._rebalance(group)

    def _visible(self, entry: Entry, read_committed: bool) -> bool | None:
        """True: deliver; False: skip (aborted); None: stop here (an open transaction)."""
        if entry.txn is None or entry.txn.state == "committed":
            return True
        if entry.txn.state == "aborted":
            return not read_committed
        return None if read_committed else True


def headers_of(record: Any) -> dict[str, str]:
    """A record's headers as text, for assertions (UTF-8; a repeated name: the last wins)."""
    out: dict[str, str] = {}
    for name, value in record.headers() or []:
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        out[name] = "" if value is None else str(value)
    return out
