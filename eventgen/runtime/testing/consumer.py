"""`InMemoryConsumer`: the ConsumerLike subset of confluent_kafka.Consumer, in memory."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    OFFSET_INVALID,
    KafkaError,
    Message,
    TopicPartition,
)
from confluent_kafka.admin._metadata import ClusterMetadata

from eventgen.runtime.testing._log import TP, Assignment, GroupMetadata, error, metadata

if TYPE_CHECKING:
    from eventgen.runtime.testing.broker import InMemoryBroker


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
            raise error(KafkaError._INVALID_ARG, "subscribe() needs group.id in the config")
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
            raise error(KafkaError._INVALID_ARG, "consumer has no group.id")
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
            raise error(KafkaError._INVALID_ARG, "commit() needs group.id in the config")
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
                raise error(KafkaError._NO_OFFSET, "no offsets to commit")
            if not self._manual:
                foreign = sorted(tp for tp in wanted if tp not in self._owned)
                if foreign:
                    raise error(
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
                raise error(KafkaError._STATE, f"seek on a partition not assigned: {tp}")
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
            return metadata(self._broker._logs, topic)

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
