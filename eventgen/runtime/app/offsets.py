"""Offsets, transactions and rebalances of the consumer loop (the part that talks to Kafka
about positions); `Loop` (app/loop.py) adds the records, retries and dead letters.

at-least-once commits the finished positions asynchronously on a cadence and synchronously
on revoke and at stop; at-most-once commits a batch ahead before handling it; exactly-once
sends the positions in the producer transaction of each consumed batch.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from confluent_kafka import KafkaError, KafkaException, TopicPartition

from eventgen.runtime.app.stats import RunStats
from eventgen.runtime.spec import ConsumerSpec
from eventgen.runtime.transport import ConsumerLike, ProducerLike

log = logging.getLogger("eventgen.runtime.app")

TP = tuple[str, int]

COMMIT_EVERY = 1000  # at-least-once: commit after this many done records ...
COMMIT_INTERVAL_S = 1.0  # ... or this long after the last commit, whichever comes first
COMMIT_TIMEOUT_S = 30.0
LAG_TIMEOUT_S = 0.2  # a watermark query for the lag figure (logs only) waits at most this


class FatalError(Exception):
    """The loop cannot go on (fenced by a newer instance, a fatal client error)."""


class Offsets:
    """Finished positions per partition and how they reach Kafka."""

    def __init__(self, spec: ConsumerSpec, consumer: ConsumerLike, producer: ProducerLike) -> None:
        self.spec = spec
        self.consumer = consumer
        self.producer = producer
        self.eos = spec.delivery == "exactly-once"
        self.amo = spec.delivery == "at-most-once"
        self.stats = RunStats()
        self.assigned: set[TP] = set()
        self.done: dict[TP, int] = {}  # next offset to commit (last finished record + 1)
        self.committed: dict[TP, int] = {}  # what was last committed (or sent in a txn)
        self.confirmed: dict[TP, int] = {}  # what a synchronous commit was acknowledged for
        self.since_commit = 0
        self.last_commit = time.monotonic()
        self.in_txn = False
        self.joined = False
        # exactly-once: the first offset of each partition in the current consume() batch,
        # where an aborted transaction rewinds to.
        self.batch_first: dict[TP, int] = {}

    # ------------------------------------------------------------------ offsets

    def _finished(self, record: Any) -> None:
        tp = (record.topic(), record.partition())
        self.done[tp] = record.offset() + 1
        self.since_commit += 1
        if self.eos:
            self._begin()  # the offset travels in the transaction, even for a skipped record

    def _commit_ahead(self, records: list[Any]) -> None:
        """at-most-once: commit past the whole batch before any record of it is handled."""
        ahead: dict[TP, int] = {}
        for record in records:
            tp = (record.topic(), record.partition())
            ahead[tp] = max(ahead.get(tp, 0), record.offset() + 1)
        self._commit(ahead, asynchronous=False)

    def _maybe_commit(self) -> None:
        if self.eos or self.amo or not self.since_commit:
            return
        due = time.monotonic() - self.last_commit >= COMMIT_INTERVAL_S
        if self.since_commit >= COMMIT_EVERY or due:
            self._commit({tp: off for tp, off in self.done.items() if tp in self.assigned})

    def _commit_sync(self, partitions: set[TP]) -> None:
        """Commit the finished positions of `partitions` now (revoke, stop)."""
        if self.eos:
            return  # offsets only ever travel in transactions
        self._commit({tp: off for tp, off in self.done.items() if tp in partitions}, False)

    def _commit(self, offsets: dict[TP, int], asynchronous: bool = True) -> None:
        # An asynchronous commit's outcome is known only to an on_commit callback (none is
        # set): `committed` records what was *asked*, so it only saves repeating an
        # unchanged position on the cadence. A synchronous commit (revoke, stop, at-most-once)
        # skips only positions an earlier synchronous commit confirmed (`confirmed`): a
        # rejected asynchronous commit is never taken for a confirmed one.
        known = self.committed if asynchronous else self.confirmed
        changed = {tp: off for tp, off in offsets.items() if known.get(tp) != off}
        self.since_commit = 0
        self.last_commit = time.monotonic()
        if not changed:
            return
        tps = [TopicPartition(t, p, off) for (t, p), off in sorted(changed.items())]
        try:
            self.consumer.commit(offsets=tps, asynchronous=asynchronous)
        except KafkaException as exc:
            if exc.args and exc.args[0].code() == KafkaError._NO_OFFSET:
                return
            if not asynchronous:
                raise
            log.warning("consumer %s: commit failed: %s", self.spec.name, exc)
            return
        self.committed.update(changed)
        if not asynchronous:
            self.confirmed.update(changed)

    # ------------------------------------------------------------------ transactions

    def _begin(self) -> None:
        if not self.in_txn:
            self.producer.begin_transaction()
            self.in_txn = True

    def _finish_txn(self) -> None:
        """exactly-once: commit the batch's transaction with its offsets, or roll back."""
        if not self.in_txn:
            return
        offsets = {tp: off for tp, off in self.done.items() if self.committed.get(tp) != off}
        tps = [TopicPartition(t, p, off) for (t, p), off in sorted(offsets.items())]
        try:
            if tps:
                self.producer.send_offsets_to_transaction(
                    tps, self.consumer.consumer_group_metadata(), COMMIT_TIMEOUT_S
                )
            self.producer.commit_transaction(COMMIT_TIMEOUT_S)
        except KafkaException as exc:
            self.in_txn = False
            error = exc.args[0] if exc.args else None
            if error is not None and error.txn_requires_abort():
                self.producer.abort_transaction(COMMIT_TIMEOUT_S)
                self._rewind_to_committed(offsets)
                log.warning("consumer %s: transaction aborted: %s", self.spec.name, exc)
                return
            raise FatalError(f"consumer {self.spec.name}: transaction failed: {exc}") from exc
        self.in_txn = False
        self.committed.update(offsets)

    def _rewind_to_committed(self, offsets: dict[TP, int]) -> None:
        """After an aborted transaction: its records are consumed again from the batch start."""
        for tp in set(offsets) | set(self.batch_first):
            start = self.batch_first.get(tp)
            if start is None or tp not in self.assigned:
                continue
            self.done[tp] = start
            self.consumer.seek(TopicPartition(tp[0], tp[1], start))

    # ------------------------------------------------------------------ rebalancing

    def _on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        self.joined = True  # also with nothing assigned: the group join is complete
        for p in partitions:
            self.assigned.add((p.topic, p.partition))
        log.info("consumer %s: assigned %s", self.spec.name, _names(partitions))

    def _on_revoke(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        revoked = {(p.topic, p.partition) for p in partitions}
        try:
            self._finish_txn()
            self._commit_sync(revoked)
        except Exception:
            log.exception("consumer %s: commit on revoke failed", self.spec.name)
        self._forget(revoked)
        log.info("consumer %s: revoked %s", self.spec.name, _names(partitions))

    def _on_lost(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        self._forget({(p.topic, p.partition) for p in partitions})
        log.warning("consumer %s: lost %s", self.spec.name, _names(partitions))

    def _forget(self, partitions: set[TP]) -> None:
        """A partition is gone (revoked or lost): drop what is known of it."""
        for tp in partitions:
            self.assigned.discard(tp)
            self.done.pop(tp, None)
            self.committed.pop(tp, None)
            self.confirmed.pop(tp, None)

    def _measure_lag(self) -> None:
        lag = 0
        try:
            positions = self.consumer.position(
                [TopicPartition(t, p) for t, p in sorted(self.assigned)]
            )
            for tp in positions:
                # From the last finished record, not the fetch position (records fetched and
                # not handled yet are behind too).
                at = self.done.get((tp.topic, tp.partition), tp.offset)
                if at < 0:
                    # No position yet (nothing fetched or finished there): no lag to measure,
                    # and asking the broker for its watermarks could time out and lose the
                    # other partitions' figures.
                    continue
                # The high watermark the last fetch response carried (no broker round trip,
                # which cost ~0.4 s a partition at every stop); a partition never fetched
                # yet has none cached and is asked with a short bound.
                marks = self.consumer.get_watermark_offsets(tp, cached=True)
                if marks is None or marks[1] < 0:
                    marks = self.consumer.get_watermark_offsets(
                        tp, timeout=LAG_TIMEOUT_S, cached=False
                    )
                if marks is not None and marks[1] >= 0:
                    lag += max(0, marks[1] - at)
        except KafkaException:
            return
        self.stats.lag = lag


def _names(partitions: list[TopicPartition]) -> str:
    return ", ".join(f"{p.topic}/{p.partition}" for p in partitions) or "nothing"
