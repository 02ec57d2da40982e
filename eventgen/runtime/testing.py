"""An in-memory Kafka for users' unit tests: `InMemoryBroker` is a Transport.

    broker = InMemoryBroker()
    broker.create_topic("shop.orders.v1", partitions=3)
    app.run(transport=broker, max_messages=1, idle_exit_s=0.5)
    assert broker.records("shop.orders.v1.dlq") == []

It runs the same apps, publishers, codecs, retries, DLQ writes and idempotency stores as Kafka
does, with what they rely on: partitions, keyed partitioning (librdkafka's default,
CRC32 of the key modulo the partition count, so a key lands where it would on Kafka), offsets,
consumer groups with committed offsets and incremental (cooperative) assignment, pause/resume,
seek, and transactions whose records read_committed consumers see only once committed (aborted
ones never). It is deterministic: partitions are dealt round-robin to a group's members in join
order, unkeyed records go round-robin, records come back in (topic, partition, offset) order.

What it leaves out, on purpose: replication and brokers, retention and compaction (offsets
start at 0 and records stay), transaction control records (offsets stay contiguous), regex
subscriptions, quotas. A topic must be created before it is produced to (as with
auto.create.topics.enable=false), so a missing DLQ topic fails as it would in production.

Callbacks (on_assign, on_revoke, on_delivery) run in the thread that calls consume(), poll()
or flush(), as with confluent-kafka. This is for users' unit tests; the project's own
integration tests run against Kafka.
"""

from __future__ import annotations

import itertools
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    OFFSET_INVALID,
    TIMESTAMP_CREATE_TIME,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)
from confluent_kafka.admin._metadata import ClusterMetadata, PartitionMetadata, TopicMetadata

TP = tuple[str, int]
Assignment = Callable[[Any, list[TopicPartition]], None]


@dataclass
class _Txn:
    producer: str  # transactional.id
    state: str = "open"  # open | committed | aborted
    offsets: dict[str, dict[TP, int]] = field(default_factory=dict)  # group -> offsets


@dataclass(frozen=True)
class _Entry:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    timestamp_ms: int
    txn: _Txn | None

    def message(self) -> Message:
        # A fresh confluent_kafka.Message per delivery: the real type, and a caller that
        # mutates it (set_headers) cannot change the log.
        return Message(
            topic=self.topic,
            partition=self.partition,
            offset=self.offset,
            key=self.key,
            value=self.value,
            headers=list(self.headers) if self.headers else None,
            timestamp=(TIMESTAMP_CREATE_TIME, self.timestamp_ms),
        )


@dataclass(frozen=True)
class GroupMetadata:
    """What consumer_group_metadata() returns and send_offsets_to_transaction() takes."""

    group_id: str
    member_id: str
    generation: int


@dataclass
class _Group:
    members: list[InMemoryConsumer] = field(default_factory=list)  # join order
    committed: dict[TP, int] = field(default_factory=dict)
    owner: dict[TP, InMemoryConsumer] = field(default_factory=dict)
    target: dict[TP, InMemoryConsumer] = field(default_factory=dict)
    generation: int = 0


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
        self._logs: dict[str, list[list[_Entry]]] = {}
        self._groups: dict[str, _Group] = {}
        self._round_robin: dict[str, itertools.cycle[int]] = {}
        self._transactional: dict[str, InMemoryProducer] = {}  # transactional.id -> live one
        self._ids = itertools.count(1)
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
    ) -> list[Message]:
        """The topic's records in (partition, offset) order, as a read_committed reader sees
        them (records of open or aborted transactions left out unless `committed_only` is
        False). Fresh Message objects: key(), value(), headers(), offset() for assertions."""
        with self._lock:
            parts = self._partitions(topic)
            chosen = range(len(parts)) if partition is None else [partition]
            return [
                entry.message()
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
    ) -> Message:
        """Append a record at once (no producer, no delivery callback): a test's input."""
        with self._lock:
            return self._append(topic, value, key, partition, headers, timestamp_ms, None).message()

    def partition_for(self, topic: str, key: bytes | None) -> int:
        """Where a keyed record goes: CRC32(key) % partitions (librdkafka's consistent
        partitioner); an unkeyed one takes the next partition round-robin."""
        with self._lock:
            parts = self._partitions(topic)
            if key is None:
                return next(self._round_robin[topic])
            return zlib.crc32(key) % len(parts)

    # -- internals (called with the lock held) -----------------------------------------------

    def _partitions(self, topic: str) -> list[list[_Entry]]:
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
        txn: _Txn | None,
    ) -> _Entry:
        parts = self._partitions(topic)
        if partition < 0:
            partition = self.partition_for(topic, key)
        elif partition >= len(parts):
            raise KafkaException(
                KafkaError(KafkaError._UNKNOWN_PARTITION, f"{topic} has no partition {partition}")
            )
        log = parts[partition]
        entry = _Entry(
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

    def _group(self, name: str) -> _Group:
        return self._groups.setdefault(name, _Group())

    def _rebalance(self, group: _Group) -> None:
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

    def _visible(self, entry: _Entry, read_committed: bool) -> bool | None:
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


def _error(code: int, text: str, *, fatal: bool = False) -> KafkaException:
    return KafkaException(KafkaError(code, text, fatal=fatal))


class InMemoryConsumer:
    """The ConsumerLike subset of confluent_kafka.Consumer, on an InMemoryBroker."""

    def __init__(self, broker: InMemoryBroker, config: dict[str, Any], member_id: str) -> None:
        self._broker = broker
        self._member_id = member_id
        self._group_id: str | None = config.get("group.id")
        self._reset = str(config.get("auto.offset.reset", "latest"))
        self._read_committed = config.get("isolation.level", "read_committed") == "read_committed"
        self._auto_commit = str(config.get("enable.auto.commit", True)).lower() in ("true", "1")
        self._subscription: tuple[str, ...] = ()
        self._on_assign: Assignment | None = None
        self._on_revoke: Assignment | None = None
        self._owned: set[TP] = set()
        self._manual = False  # assign() instead of subscribe()
        self._positions: dict[TP, int] = {}
        # What commit() without arguments commits: the offset after the last record handed to
        # the application (librdkafka's enable.auto.offset.store), not the fetch position.
        self._stored: dict[TP, int] = {}
        self._paused: set[TP] = set()
        self._closed = False

    # -- group membership ------------------------------------------------------------------

    def subscribe(
        self,
        topics: list[str],
        on_assign: Assignment | None = None,
        on_revoke: Assignment | None = None,
        on_lost: Assignment | None = None,
    ) -> None:
        self._check_open()
        if self._group_id is None:
            raise _error(KafkaError._INVALID_ARG, "subscribe() needs group.id in the config")
        with self._broker._lock:
            self._subscription = tuple(topics)
            self._on_assign, self._on_revoke = on_assign, on_revoke
            group = self._broker._group(self._group_id)
            if self not in group.members:
                group.members.append(self)
            self._broker._rebalance(group)

    def unsubscribe(self) -> None:
        self._check_open()
        self._leave()

    def assign(self, partitions: list[TopicPartition]) -> None:
        """Manual assignment (no group rebalancing); offsets in the list are start positions."""
        self._check_open()
        with self._broker._lock:
            self._manual = True
            self._owned = {(tp.topic, tp.partition) for tp in partitions}
            self._positions = {}
            self._stored = {}
            for tp in partitions:
                self._broker._partitions(tp.topic)
                self._positions[(tp.topic, tp.partition)] = self._start(
                    (tp.topic, tp.partition), tp.offset
                )

    def unassign(self) -> None:
        with self._broker._lock:
            self._owned.clear()
            self._positions.clear()
            self._stored.clear()
            self._manual = False

    def assignment(self) -> list[TopicPartition]:
        with self._broker._lock:
            return [TopicPartition(t, p) for t, p in sorted(self._owned)]

    def consumer_group_metadata(self) -> GroupMetadata:
        self._check_open()
        if self._group_id is None:
            raise _error(KafkaError._INVALID_ARG, "consumer has no group.id")
        with self._broker._lock:
            generation = self._broker._group(self._group_id).generation
        return GroupMetadata(self._group_id, self._member_id, generation)

    # -- reading -----------------------------------------------------------------------------

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Message]:
        """Up to `num_messages` records, waiting at most `timeout` seconds (-1: forever)."""
        self._check_open()
        deadline = None if timeout is None or timeout < 0 else time.monotonic() + timeout
        while True:
            self._sync()
            with self._broker._lock:
                if self._auto_commit and self._group_id is not None:
                    self._store_commit(self._current_offsets())
                batch = self._fetch(num_messages)
                if batch:
                    return batch
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return []
                # A bounded wait even for timeout=-1, so that rebalances are served.
                self._broker._changed.wait(0.1 if remaining is None else min(remaining, 0.1))

    def poll(self, timeout: float = -1) -> Message | None:
        records = self.consume(1, timeout)
        return records[0] if records else None

    def _fetch(self, limit: int) -> list[Message]:
        out: list[Message] = []
        for tp in sorted(self._owned - self._paused):
            log = self._broker._logs[tp[0]][tp[1]]
            position = self._positions.get(tp, 0)
            while position < len(log) and len(out) < limit:
                entry = log[position]
                visible = self._broker._visible(entry, self._read_committed)
                if visible is None:
                    break  # the last stable offset: nothing past an open transaction
                position += 1
                if visible:
                    out.append(entry.message())
            if position != self._positions.get(tp, 0):
                self._stored[tp] = position
            self._positions[tp] = position
            if len(out) >= limit:
                break
        return out

    def _sync(self) -> None:
        """Apply the group's target: revoke what moved away (callback first, while still
        owned, so it can commit), then take what is free and ours (callback after)."""
        if self._group_id is None or self._manual:
            return
        broker = self._broker
        with broker._lock:
            group = broker._group(self._group_id)
            lose = sorted(tp for tp in self._owned if group.target.get(tp) is not self)
        if lose:
            if self._on_revoke is not None:
                self._on_revoke(self, [TopicPartition(t, p) for t, p in lose])
            with broker._lock:
                for tp in lose:
                    self._owned.discard(tp)
                    self._paused.discard(tp)
                    self._positions.pop(tp, None)
                    self._stored.pop(tp, None)
                    if group.owner.get(tp) is self:
                        del group.owner[tp]
                broker._changed.notify_all()
        with broker._lock:
            gain = sorted(
                tp
                for tp, member in group.target.items()
                if member is self and tp not in self._owned and tp not in group.owner
            )
            for tp in gain:
                group.owner[tp] = self
                self._owned.add(tp)
        if gain:
            if self._on_assign is not None:
                self._on_assign(self, [TopicPartition(t, p, OFFSET_INVALID) for t, p in gain])
            with broker._lock:
                for tp in gain:
                    if tp not in self._positions:  # on_assign may have seeked
                        self._positions[tp] = self._start(tp, OFFSET_INVALID)

    def _start(self, tp: TP, offset: int) -> int:
        """The position to read `tp` from: an explicit offset, else the committed one, else
        auto.offset.reset."""
        end = len(self._broker._logs[tp[0]][tp[1]])
        if offset == OFFSET_BEGINNING:
            return 0
        if offset == OFFSET_END:
            return end
        if offset >= 0:
            return min(offset, end)
        if self._group_id is not None:
            committed = self._broker._group(self._group_id).committed.get(tp)
            if committed is not None:
                return committed
        return 0 if self._reset in ("earliest", "smallest", "beginning") else end

    # -- offsets -------------------------------------------------------------------------------

    def commit(
        self,
        message: Any = None,
        offsets: list[TopicPartition] | None = None,
        asynchronous: bool = True,
    ) -> list[TopicPartition] | None:
        self._check_open()
        if self._group_id is None:
            raise _error(KafkaError._INVALID_ARG, "commit() needs group.id in the config")
        with self._broker._lock:
            if message is not None:
                wanted = {(message.topic(), message.partition()): message.offset() + 1}
            elif offsets is not None:
                wanted = {(tp.topic, tp.partition): tp.offset for tp in offsets}
            else:
                wanted = self._current_offsets()
            if not wanted:
                if asynchronous:
                    return None
                raise _error(KafkaError._NO_OFFSET, "no offsets to commit")
            if not self._manual:
                foreign = sorted(tp for tp in wanted if tp not in self._owned)
                if foreign:
                    raise _error(
                        KafkaError.UNKNOWN_MEMBER_ID,
                        f"commit of partitions not assigned to this member: {foreign}",
                    )
            self._store_commit(wanted)
            result = [TopicPartition(t, p, o) for (t, p), o in sorted(wanted.items())]
        return None if asynchronous else result

    def _current_offsets(self) -> dict[TP, int]:
        return {tp: self._stored[tp] for tp in sorted(self._owned) if tp in self._stored}

    def _store_commit(self, offsets: dict[TP, int]) -> None:
        if self._group_id is not None and offsets:
            self._broker._group(self._group_id).committed.update(offsets)

    def committed(
        self, partitions: list[TopicPartition], timeout: float = -1
    ) -> list[TopicPartition]:
        self._check_open()
        with self._broker._lock:
            stored = {} if self._group_id is None else self._broker._group(self._group_id).committed
            return [
                TopicPartition(tp.topic, tp.partition, stored.get((tp.topic, tp.partition), -1001))
                for tp in partitions
            ]

    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        with self._broker._lock:
            return [
                TopicPartition(
                    tp.topic,
                    tp.partition,
                    self._positions.get((tp.topic, tp.partition), OFFSET_INVALID),
                )
                for tp in partitions
            ]

    def seek(self, partition: TopicPartition) -> None:
        with self._broker._lock:
            tp = (partition.topic, partition.partition)
            if tp not in self._owned:
                raise _error(KafkaError._STATE, f"seek on a partition not assigned: {tp}")
            self._positions[tp] = self._start(tp, partition.offset)
            self._broker._changed.notify_all()

    def pause(self, partitions: list[TopicPartition]) -> None:
        with self._broker._lock:
            self._paused.update((tp.topic, tp.partition) for tp in partitions)

    def resume(self, partitions: list[TopicPartition]) -> None:
        with self._broker._lock:
            self._paused.difference_update((tp.topic, tp.partition) for tp in partitions)
            self._broker._changed.notify_all()

    def get_watermark_offsets(
        self, partition: TopicPartition, timeout: float = -1, cached: bool = False
    ) -> tuple[int, int]:
        with self._broker._lock:
            return 0, len(self._broker._partitions(partition.topic)[partition.partition])

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> ClusterMetadata:
        with self._broker._lock:
            return _metadata(self._broker, topic)

    # -- leaving -------------------------------------------------------------------------------

    def close(self) -> None:
        """Leave the group: revoke what is owned (callback first), auto-commit if enabled."""
        if self._closed:
            return
        if self._auto_commit and self._group_id is not None:
            with self._broker._lock:
                self._store_commit(self._current_offsets())
        self._leave()
        self._closed = True

    def _leave(self) -> None:
        broker = self._broker
        owned = sorted(self._owned)
        if owned and self._on_revoke is not None and not self._manual:
            self._on_revoke(self, [TopicPartition(t, p) for t, p in owned])
        with broker._lock:
            if self._group_id is not None and not self._manual:
                group = broker._group(self._group_id)
                for tp in owned:
                    if group.owner.get(tp) is self:
                        del group.owner[tp]
                if self in group.members:
                    group.members.remove(self)
                    broker._rebalance(group)
            self._owned.clear()
            self._positions.clear()
            self._stored.clear()
            self._paused.clear()
            self._subscription = ()
            broker._changed.notify_all()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("Consumer closed")


@dataclass
class _Pending:
    entry: _Entry | None
    error: KafkaError | None
    callback: Callable[[Any, Any], None] | None
    message: Message


class InMemoryProducer:
    """The ProducerLike subset of confluent_kafka.Producer, on an InMemoryBroker.

    produce() appends at once (a transaction's records stay invisible to read_committed
    readers until commit); delivery callbacks run in poll() and flush(), as with librdkafka.
    """

    def __init__(self, broker: InMemoryBroker, config: dict[str, Any], name: str) -> None:
        self._broker = broker
        self._name = name
        self._transactional_id: str | None = config.get("transactional.id")
        self._default_callback = config.get("on_delivery") or config.get("delivery.report.cb")
        self._pending: list[_Pending] = []
        self._txn: _Txn | None = None
        self._ready = False  # init_transactions() done
        self._fenced = False
        self._txn_failed = False  # a record of the open transaction failed: commit aborts

    def produce(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int = -1,
        on_delivery: Callable[[Any, Any], None] | None = None,
        timestamp: int = 0,
        headers: Sequence[tuple[str, bytes]] | None = None,
        callback: Callable[[Any, Any], None] | None = None,
    ) -> None:
        self._check_fenced()
        handler = on_delivery or callback or self._default_callback
        if self._transactional_id is not None and self._txn is None:
            raise _error(KafkaError._STATE, "produce() outside a transaction")
        broker = self._broker
        with broker._lock:
            try:
                entry = broker._append(topic, value, key, partition, headers, timestamp, self._txn)
            except KafkaException as exc:
                # librdkafka reports an unknown topic through the delivery callback.
                failed = Message(topic=topic, partition=partition, key=key, value=value)
                self._pending.append(_Pending(None, exc.args[0], handler, failed))
                self._txn_failed = self._txn is not None
                return
            self._pending.append(_Pending(entry, None, handler, entry.message()))

    def poll(self, timeout: float = -1) -> int:
        pending, self._pending = self._pending, []
        for item in pending:
            if item.callback is not None:
                item.callback(item.error, item.message)
        return len(pending)

    def flush(self, timeout: float = -1) -> int:
        self.poll(0)
        return 0

    def __len__(self) -> int:
        return len(self._pending)

    # -- transactions --------------------------------------------------------------------------

    def init_transactions(self, timeout: float = -1) -> None:
        if self._transactional_id is None:
            raise _error(KafkaError._NOT_CONFIGURED, "init_transactions() needs transactional.id")
        broker = self._broker
        with broker._lock:
            previous = broker._transactional.get(self._transactional_id)
            if previous is not None and previous is not self:
                previous._fenced = True  # a restarted instance fences its predecessor
                if previous._txn is not None and previous._txn.state == "open":
                    previous._txn.state = "aborted"
                    broker._changed.notify_all()
            broker._transactional[self._transactional_id] = self
        self._ready = True

    def begin_transaction(self) -> None:
        self._check_fenced()
        if not self._ready:
            raise _error(KafkaError._STATE, "begin_transaction() before init_transactions()")
        if self._txn is not None:
            raise _error(KafkaError._STATE, "a transaction is already open")
        assert self._transactional_id is not None
        self._txn = _Txn(self._transactional_id)
        self._txn_failed = False

    def send_offsets_to_transaction(
        self, positions: list[TopicPartition], group_metadata: Any, timeout: float = -1
    ) -> None:
        self._check_fenced()
        if self._txn is None:
            raise _error(KafkaError._STATE, "send_offsets_to_transaction() outside a transaction")
        if not isinstance(group_metadata, GroupMetadata):
            raise _error(KafkaError._INVALID_ARG, "group_metadata: from consumer_group_metadata()")
        offsets = self._txn.offsets.setdefault(group_metadata.group_id, {})
        offsets.update({(tp.topic, tp.partition): tp.offset for tp in positions})

    def commit_transaction(self, timeout: float = -1) -> None:
        self._check_fenced()
        txn = self._open_txn("commit_transaction")
        self.flush()
        if self._txn_failed:
            self.abort_transaction()
            raise _error(KafkaError._STATE, "a record of the transaction failed: aborted")
        broker = self._broker
        with broker._lock:
            txn.state = "committed"
            for group, offsets in txn.offsets.items():
                broker._group(group).committed.update(offsets)
            broker._changed.notify_all()
        self._txn = None

    def abort_transaction(self, timeout: float = -1) -> None:
        self._check_fenced()
        txn = self._open_txn("abort_transaction")
        self._pending = [p for p in self._pending if p.entry is None or p.entry.txn is not txn]
        with self._broker._lock:
            txn.state = "aborted"
            self._broker._changed.notify_all()
        self._txn = None

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> ClusterMetadata:
        with self._broker._lock:
            return _metadata(self._broker, topic)

    def _open_txn(self, what: str) -> _Txn:
        if self._txn is None:
            raise _error(KafkaError._STATE, f"{what}() without an open transaction")
        return self._txn

    def _check_fenced(self) -> None:
        if self._fenced:
            raise _error(
                KafkaError._FENCED,
                f"transactional.id {self._transactional_id!r} was taken by a newer producer",
                fatal=True,
            )


def _metadata(broker: InMemoryBroker, topic: str | None) -> ClusterMetadata:
    meta = ClusterMetadata()
    names = sorted(broker._logs) if topic is None else [topic]
    for name in names:
        info = TopicMetadata()
        info.topic = name
        parts = broker._logs.get(name)
        if parts is None:
            info.error = KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART, f"unknown topic {name!r}")
        else:
            for p in range(len(parts)):
                pm = PartitionMetadata()
                pm.id = p
                pm.leader = 0
                pm.replicas = [0]
                pm.isrs = [0]
                info.partitions[p] = pm
        meta.topics[name] = info
    return meta
