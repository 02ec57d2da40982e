"""Batch processing (`processing: batch`): one handler call and one DB transaction per batch.

A batch collects up to `batch_max_records` records, waiting at most `batch_max_wait_ms` after
its first one. Decode failures and parked keys are dead-lettered and unhandled types skipped
when the batch is flushed, in order with the rest: no offset is marked done before the whole
batch is, so nothing is committed past an unfinished record.

When the handler fails, the batch is kept in memory and retried under the retry policy; while
it waits every partition it came from is paused, and records of other partitions that arrive
meanwhile are rewound (paused and sought back), so the consumer keeps polling and nothing is
taken out of order. After the last attempt the batch is processed one record at a time, each
in its own transaction with one attempt, to isolate the poison records: they go to the DLQ
(reason `handler`, attempts = the batch's attempts + 1), the others are handled. Without a DLQ
the partition stops at the first record that still fails.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from confluent_kafka import TopicPartition

from eventgen.runtime.app.consumer import BatchHandler
from eventgen.runtime.app.context import Context
from eventgen.runtime.app.loop import DLQ_RETRY_S, Loop, RetryLater
from eventgen.runtime.app.offsets import TP
from eventgen.runtime.errors import DecodeError
from eventgen.runtime.failures.retry import RetryState, utc_now
from eventgen.runtime.model import Envelope, Message


@dataclass
class Entry:
    record: Any
    envelope: Envelope[Message] | None = None
    error: DecodeError | None = None  # decode failure: dead-lettered at flush
    skip: bool = False  # a type the consumer does not handle
    settled: bool = False  # dead-lettered, skipped, duplicate or handled: nothing left to do

    @property
    def tp(self) -> TP:
        return (self.record.topic(), self.record.partition())


class BatchLoop(Loop):
    """The loop of a batch consumer; offsets, transactions and rebalances as in `Loop`."""

    batch_handler: BatchHandler

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batch: list[Entry] = []
        self.batch_due = 0.0  # monotonic time the open batch must be flushed
        self.held: RetryState | None = None  # a failed batch waiting for its retry
        self.held_paused: set[TP] = set()
        # park-key: (topic, key) parked while isolating the held batch (cleared with it)
        self.parked_now: set[tuple[str, bytes]] = set()

    # The open batch is flushed by `_tick` when full or due, also when no record comes.

    def _process(self, records: list[Any], stop: threading.Event) -> None:
        if self.held is not None:
            self._hold_back(records)
            return
        self.batch_first = {}
        if self.amo:
            self._commit_ahead(records)
        for record in records:
            tp = (record.topic(), record.partition())
            if tp in self.stopped or tp in self.waiting:
                continue
            self.stats.consumed += 1
            try:
                entry = self._entry(record)
            except Exception as exc:  # noqa: BLE001 - a registry outage is not the record's fault
                self._wait(record, DLQ_RETRY_S, f"cannot decode now ({type(exc).__name__}: {exc})")
                continue
            if not self.batch:
                self.batch_due = time.monotonic() + self.spec.batch_max_wait_ms / 1000
            self.batch.append(entry)
        self._tick(stop)

    def _tick(self, stop: threading.Event) -> None:
        if self.held is not None:
            if self.held.due():
                self._flush()
            return
        full = len(self.batch) >= self.spec.batch_max_records
        if self.batch and (full or time.monotonic() >= self.batch_due or stop.is_set()):
            self._flush()

    def _capacity(self) -> int:
        return max(1, self.spec.batch_max_records - len(self.batch))

    def _timeout(self, default: float) -> float:
        if self.held is not None:
            return min(default, self.held.remaining_s())
        if self.batch:
            return max(0.0, min(default, self.batch_due - time.monotonic()))
        return default

    def _pending(self) -> bool:
        return bool(self.batch) or self.held is not None

    def _drain(self) -> None:
        if self.batch and self.held is None:
            self._flush()

    def _entry(self, record: Any) -> Entry:
        try:
            envelope = self._decode(record, self.routes[record.topic()])
        except DecodeError as exc:
            return Entry(record, error=exc)
        return Entry(record, envelope=envelope, skip=envelope is None)

    def _hold_back(self, records: list[Any]) -> None:
        """Records that arrive while a failed batch waits: rewound and paused until it is done."""
        first: dict[TP, int] = {}
        for record in records:
            first.setdefault((record.topic(), record.partition()), record.offset())
        for (topic, partition), offset in first.items():
            tp = TopicPartition(topic, partition, offset)
            self.consumer.pause([tp])
            self.consumer.seek(tp)
            self.held_paused.add((topic, partition))

    # ------------------------------------------------------------------ flushing

    def _flush(self) -> None:
        entries = self.batch
        state = self.held
        try:
            if state is not None and state.exhausted:
                self._isolate(entries, state)
            else:
                self._settle_unhandled(entries)
                if not self._handle_batch(entries, state):
                    return  # held for its retry (or for isolation at the next turn)
        except RetryLater as exc:
            state = state or RetryState(*entries[0].tp, entries[0].record.offset())
            state.next_due = time.monotonic() + DLQ_RETRY_S
            self._hold(state)
            self._log_wait(f"{exc}; trying again in {DLQ_RETRY_S:g} s")
            return
        self._complete(entries)

    def _settle_unhandled(self, entries: list[Entry]) -> None:
        """Dead-letter decode failures and parked keys, skip unknown types (once each)."""
        for entry in entries:
            if entry.settled:
                continue
            if entry.error is not None:
                entry.settled = self._dead_letter_entry(entry, "decode", entry.error, 1)
            elif entry.skip:
                self.stats.skipped += 1
                entry.settled = True
            elif self.parked is not None and entry.record.key() is not None:
                with self._db() as conn:
                    admitted = self.parked.admit(
                        conn, entry.record.topic(), entry.record.key(), entry.record.headers()
                    )
                if not admitted:
                    entry.settled = self._dead_letter_entry(entry, "parked", None, 0)

    def _handle_batch(self, entries: list[Entry], state: RetryState | None) -> bool:
        """One handler call for the unsettled entries; False when it failed (batch held)."""
        attempt = 1 if state is None else state.next_attempt
        todo = [e for e in entries if not e.settled]
        if not todo:
            return True
        try:
            with self._db() as conn:
                pairs: list[tuple[Any, Context[Any]]] = []
                dups: list[Entry] = []
                for entry in todo:
                    assert entry.envelope is not None
                    if self.inbox is not None and not self.inbox.claim(
                        conn, entry.envelope.event_id
                    ):
                        dups.append(entry)
                        continue
                    ctx = self._context(entry.record, entry.envelope, attempt, conn)
                    pairs.append((entry.envelope.payload, ctx))
                if pairs:
                    self.batch_handler(pairs)
                    self._emit([out for _, ctx in pairs for out in ctx.published])
        except RetryLater:
            raise
        except Exception as exc:  # noqa: BLE001 - the batch failed
            first = todo[0].record
            state = state or RetryState(first.topic(), first.partition(), first.offset())
            retry = state.failed(self.spec.retry, exc, self.rng)
            if retry:
                self.stats.retried += 1
            else:
                state.next_due = time.monotonic()  # isolate at the next tick
            self._hold(state)
            self._log_wait(
                f"batch of {len(todo)} failed ({type(exc).__name__}: {exc}), attempt "
                f"{state.attempts}; "
                + (f"retry in {state.remaining_s():.2f} s" if retry else "isolating its records")
            )
            return False
        self.stats.duplicates += len(dups)
        self.stats.handled += len(pairs)
        for entry in todo:
            entry.settled = True
        return True

    def _isolate(self, entries: list[Entry], state: RetryState) -> None:
        """The batch failed for good: one record at a time, one attempt each.

        park-key: a poison record parks its key, and the later records of that key in the
        batch go to the DLQ (reason `parked`) without being handled, as they would have in
        a later batch: the key's order holds inside the batch too.
        """
        for entry in entries:
            if entry.settled or entry.tp in self.stopped:
                continue
            assert entry.envelope is not None
            key = entry.record.key()
            if (entry.record.topic(), key) in self.parked_now:
                entry.settled = self._dead_letter_entry(entry, "parked", None, 0)
                continue
            try:
                with self._db() as conn:
                    if self.inbox is not None and not self.inbox.claim(
                        conn, entry.envelope.event_id
                    ):
                        self.stats.duplicates += 1
                    else:
                        ctx = self._context(entry.record, entry.envelope, state.attempts + 1, conn)
                        self.batch_handler([(entry.envelope.payload, ctx)])
                        self._emit(ctx.published)
                        self.stats.handled += 1
                entry.settled = True
            except RetryLater:
                raise
            except Exception as exc:  # noqa: BLE001 - a poison record
                if self._parks(entry.record):
                    self._park_entry(entry, exc, state)
                else:
                    entry.settled = self._dead_letter_entry(
                        entry, "handler", exc, state.attempts + 1, state
                    )

    def _park_entry(self, entry: Entry, exc: BaseException, state: RetryState) -> None:
        """park-key: park the key and dead-letter the entry as one unit (Loop._park_unit);
        its offset is marked done with the batch's, afterwards."""
        now = utc_now()
        first = state.first_failure_at or now
        self._park_unit(entry.record, exc, state.attempts + 1, first, now)
        self.parked_now.add((entry.record.topic(), entry.record.key()))
        entry.settled = True

    def _dead_letter_entry(
        self,
        entry: Entry,
        reason: Any,
        exc: BaseException | None,
        attempts: int,
        state: RetryState | None = None,
    ) -> bool:
        """Dead-letter one entry; False when it has no DLQ (its partition is stopped)."""
        now = utc_now()
        first = state.first_failure_at if state and state.first_failure_at else now
        record = entry.record
        dlq = self.routes[record.topic()].dlq if self.spec.dlq else None
        if dlq is None:
            self._stop_partition(record, reason, exc)
            return False
        self._produce_dead_letter(record, dlq, reason, exc, attempts, first, now)
        self.stats.dead_lettered += 1
        return True

    def _complete(self, entries: list[Entry]) -> None:
        """Mark the settled entries done in order; a stopped partition stops at its record."""
        blocked: set[TP] = set()
        for entry in entries:
            if entry.tp in blocked or entry.tp not in self.assigned:
                continue
            if not entry.settled:
                blocked.add(entry.tp)
                if entry.tp not in self.stopped:  # never past it: consumed again from here
                    self._rewind(*entry.tp, entry.record.offset())
                    self.held_paused.add(entry.tp)
                continue
            self._finished(entry.record)
        self.batch = []
        self.held = None
        self.parked_now = set()
        if self.held_paused:
            paused = sorted(self.held_paused - self.stopped)
            self.consumer.resume([TopicPartition(t, p) for t, p in paused])
            self.held_paused = set()
        self._finish_txn()

    def _hold(self, state: RetryState) -> None:
        self.held = state
        tps = {entry.tp for entry in self.batch} - self.held_paused - self.stopped
        if tps:
            self.consumer.pause([TopicPartition(t, p) for t, p in sorted(tps)])
            self.held_paused |= tps

    def _log_wait(self, why: str) -> None:
        from eventgen.runtime.app.loop import log

        log.warning("consumer %s: %s", self.spec.name, why)

    def _forget(self, partitions: set[TP]) -> None:
        super()._forget(partitions)
        self.batch = [entry for entry in self.batch if entry.tp not in partitions]
        self.held_paused -= partitions
        if not self.batch:
            self.held = None
            self.parked_now = set()
