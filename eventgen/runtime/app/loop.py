"""The consumer loop: one thread, consume() batches, per-record retries, DLQ, offsets.

Where each guarantee commits (docs/consumers.md has the table and the crash points):

- at-most-once: the offsets of a consumed batch are committed synchronously before any of
  its records is handled; at a graceful stop or a revoke the exact position of the last
  handled record is committed (it may move back over records not handled yet, which only
  hands them to the next owner: never twice).
- at-least-once: a record's offset is marked done after its handler and DB transaction (the
  inbox row and `ctx.db` work together) and after its `ctx.publish` outputs and any DLQ write
  are acknowledged; done offsets are committed asynchronously every COMMIT_EVERY records or
  COMMIT_INTERVAL_S, and synchronously on revoke and at stop. A record that is waiting for a
  retry (or stopped without a DLQ) holds its partition back: nothing past it is done.
- exactly-once: one Kafka transaction per consumed batch holds the outputs, the DLQ writes and
  the offsets (send_offsets_to_transaction with the group metadata).

A failed handler pauses its partition and seeks it back to the failed offset; the loop keeps
calling consume() (with short timeouts, so max.poll.interval.ms never passes) and resumes the
partition when the backoff is due. Other partitions go on; per-key order holds because a
partition never moves past a record that is waiting.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from confluent_kafka import KafkaError, KafkaException, TopicPartition

from eventgen.runtime.app.context import Context, Output, Outputs
from eventgen.runtime.app.offsets import TP, FatalError, Offsets
from eventgen.runtime.app.stats import Progress, RunStats
from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.errors import DecodeError
from eventgen.runtime.model import Envelope, Message
from eventgen.runtime.spec import ConsumerSpec, Route
from eventgen.runtime.transport import ConsumerLike, ProducerLike, RecordLike

if TYPE_CHECKING:
    from eventgen.runtime.db import Store
    from eventgen.runtime.failures.retry import RetryState

log = logging.getLogger("eventgen.runtime.app")

Handler = Callable[[Any, Context[Any]], None]

CONSUME_MAX = 500  # records per consume() call (stream processing)
POLL_TIMEOUT_S = 0.5  # longest consume() wait: the stop event is seen at least this often
DLQ_RETRY_S = 1.0  # a DLQ or output write that failed is tried again after this long
FLUSH_TIMEOUT_S = 30.0
SWEEP_INTERVAL_S = 600.0  # inbox rows past the retention are deleted at start and this often


class RetryLater(Exception):
    """A record could not be finished for a reason that is not the handler's (a DLQ or output
    write that was not acknowledged): tried again later, attempts unchanged."""


class Loop(Offsets):
    """One run of a consumer app; `run()` returns when stopped, bounded or idle."""

    def __init__(
        self,
        spec: ConsumerSpec,
        config: RuntimeConfig,
        handlers: dict[str, Handler],
        handles: frozenset[str],
        consumer: ConsumerLike,
        producer: ProducerLike,
        store: Store | None,
    ) -> None:
        from eventgen.runtime.failures.retry import RetryStates

        super().__init__(spec, consumer, producer)
        self.config = config
        self.handlers = handlers
        self.handles = handles  # the types handled; others are skipped
        self.store = store
        self.routes: dict[str, Route] = {route.topic.name: route for route in spec.topics}
        self.progress = Progress(f"consumer {spec.name}", self.stats, config.log_interval_s)
        self.outputs = Outputs(spec.publisher, config, spec.name)
        self.retries = RetryStates()
        self.rng = random.Random()
        self.decoders: dict[str, Callable[[RecordLike], Envelope[Message] | None]] = {}
        self.inbox: Any = None
        if store is not None and spec.idempotency != "none" and not self.eos:
            from eventgen.runtime.inbox import Inbox

            self.inbox = Inbox(spec.inbox_table, spec.group, spec.idempotency_retention_ms)
        self.parked: Any = None
        if spec.on_failure == "park-key" and store is not None:
            from eventgen.runtime.failures.parking import ParkedKeys

            self.parked = ParkedKeys(spec.parked_table, spec.group)
        # ctx.db is None when the idempotency store is `none` (the contract), even when the
        # runtime keeps its parked keys in a private SQLite store.
        self.ctx_db = spec.idempotency != "none"
        # at-least-once stream processing takes a consumed batch in one transaction (`_fast`).
        self.fast = not self.eos and not self.amo and self.parked is None
        self.waiting: dict[TP, RetryState] = {}  # paused partitions: the record they wait on
        self.stopped: set[TP] = set()  # failed for good without a DLQ: paused until revoked

    # ------------------------------------------------------------------ the run

    def run(
        self,
        *,
        max_messages: int | None,
        idle_exit_s: float | None,
        stop: threading.Event,
    ) -> RunStats:
        if self.eos:
            self.producer.init_transactions(self.config.connect_timeout_s)
        self.consumer.subscribe(
            sorted(self.routes),
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        started = last_record = time.monotonic()
        next_sweep = 0.0
        try:
            while not stop.is_set():
                if self.inbox is not None and time.monotonic() >= next_sweep:
                    self._sweep()
                    next_sweep = time.monotonic() + SWEEP_INTERVAL_S
                left = None if max_messages is None else max_messages - self.stats.consumed
                if left is not None and left <= 0:
                    break
                self._resume_due()
                want = min(CONSUME_MAX, self._capacity(), CONSUME_MAX if left is None else left)
                records = self._usable(self._fetch(want, self._timeout(self._poll_timeout())))
                if records:
                    last_record = time.monotonic()
                    self._process(records, stop)
                self._tick(stop)
                self._maybe_commit()
                if self.progress.due():
                    self._measure_lag()
                    self.progress.report()
                if not self.joined and time.monotonic() - started < self.config.connect_timeout_s:
                    last_record = time.monotonic()  # idle time counts from the group join
                idle = idle_exit_s is not None and not self.waiting and not self._pending()
                if idle and time.monotonic() - last_record >= (idle_exit_s or 0):
                    break
            self._drain()
            self._finish_txn()
            try:
                self._commit_sync(self.assigned)
            except KafkaException as exc:  # a rebalance under way: the records come again
                log.error("consumer %s: final commit failed: %s", self.spec.name, exc)
        finally:
            self._close()
        return self.stats

    def _sweep(self) -> None:
        try:
            with self._db() as conn:
                swept = self.inbox.sweep(conn)
        except Exception:
            log.exception("consumer %s: sweeping the inbox failed", self.spec.name)
            return
        if swept:
            log.info("consumer %s: %d inbox rows past the retention swept", self.spec.name, swept)

    # Hooks of the batch loop (app/batch.py); stream processing needs none of them.

    def _tick(self, stop: threading.Event) -> None:
        """Called once per loop turn."""

    def _capacity(self) -> int:
        return CONSUME_MAX

    def _timeout(self, default: float) -> float:
        return default

    def _pending(self) -> bool:
        """Records taken but not finished (keeps an idle exit from happening)."""
        return False

    def _drain(self) -> None:
        """At stop: finish what was taken, if it can be finished now."""

    def _process(self, records: list[Any], stop: threading.Event) -> None:
        """Handle one consume() batch (stream processing: record by record)."""
        self.batch_first = {}
        if self.amo:
            self._commit_ahead(records)
        elif self.fast:
            records = records[self._fast(records, stop) :]
        for record in records:
            if stop.is_set():
                break  # the current record is finished; the rest stays uncommitted
            self._dispatch(record)
        self._finish_txn()

    # ------------------------------------------------------------------ the fast path

    def _fast(self, records: list[Any], stop: threading.Event) -> int:
        """at-least-once stream processing: a batch in one go; the count of records finished.

        The longest prefix of `records` that decodes and has no retry under way is handled in
        one store transaction: on PostgreSQL one inbox claim for all its event ids (duplicates
        skipped before their handler), the handlers in order each in a savepoint, one produce
        + flush for all their `ctx.publish` outputs, then the commit; only then are the
        offsets marked done. A handler that fails is rolled back to its savepoint, the claims
        of the records from it on are taken back, the records before it are committed and
        finished as above, and the failed record goes to the per-record failure handling
        (retry with its partition paused, or DLQ), so no handler runs twice and per-key order
        holds. Outputs that are not acknowledged, or a failed claim, savepoint or commit,
        roll the whole transaction back and the caller runs the same records through the
        per-record path (`_dispatch`). Without a store there is nothing to roll back: the
        same, minus the transaction, record by record as they decode (`_stream`). The rest of
        `records` (from the first record that does not decode or waits on a retry) goes to
        the per-record path.
        """
        if self.store is None:
            cut, failure = self._stream(records, stop)
        else:
            items = self._decoded_prefix(records)
            if not items:
                return 0
            try:
                cut, failure = self._fast_stored(items, stop)
            except Exception as exc:  # noqa: BLE001 - rolled back: record by record it is
                log.info(
                    "consumer %s: batch of %d rolled back (%s: %s); handling it record by record",
                    self.spec.name, len(items), type(exc).__name__, exc,
                )  # fmt: skip
                return 0
        if failure is None:
            return cut
        # The records before it are finished; the failed one is retried (its partition paused
        # and sought back) or dead-lettered, exactly as on the per-record path.
        self.stats.consumed += 1
        self._failed(records[cut], failure)
        return cut + 1

    def _decoded_prefix(self, records: list[Any]) -> list[tuple[Any, Envelope[Message] | None]]:
        """The records up to the first that waits on a retry or does not decode, decoded (the
        batch claim on PostgreSQL needs all their event ids before any handler runs)."""
        items: list[tuple[Any, Envelope[Message] | None]] = []
        states = self.retries.states
        for record in records:
            topic = record.topic()
            if states and (topic, record.partition(), record.offset()) in states:
                break
            try:
                envelope = self._decode(record, self.routes[topic])
            except Exception:  # noqa: BLE001 - the per-record path decides what it is
                break
            items.append((record, envelope))
        return items

    def _fast_stored(
        self, items: list[tuple[Any, Envelope[Message] | None]], stop: Any
    ) -> tuple[int, BaseException | None]:
        """The fast path with a store; (records finished, the failure of the next one)."""
        assert self.store is not None
        handled = duplicates = skipped = 0
        outputs: list[Output] = []
        cut = len(items)
        failure: BaseException | None = None
        inbox = self.inbox
        postgres = self.store.dialect == "postgres"
        with self.store.transaction() as conn:
            claimed: set[Any] | None = None
            if inbox is not None and postgres:
                # One statement for the batch (round trips are PostgreSQL's cost); SQLite
                # claims each record in its savepoint below (no round trip to save).
                ids = [envelope.event_id for _, envelope in items if envelope is not None]
                claimed = inbox.claim_many(conn, ids) if ids else set()
            for index, (record, envelope) in enumerate(items):
                if envelope is None:
                    skipped += 1
                    continue
                if stop.is_set():
                    cut = index  # the rest is not handled: its claims are taken back
                    break
                if claimed is not None:
                    if envelope.event_id not in claimed:
                        duplicates += 1
                        continue
                    claimed.discard(envelope.event_id)  # a second copy is a duplicate
                # A savepoint per record: a failed handler's own statements are undone
                # and the records before it stay handled (their handlers run once).
                conn.execute("SAVEPOINT eventgen_record")
                if inbox is not None and not postgres and not inbox.claim(conn, envelope.event_id):
                    conn.execute("RELEASE SAVEPOINT eventgen_record")
                    duplicates += 1
                    continue
                ctx = self._context(record, envelope, 1, conn)
                try:
                    self._call(envelope, ctx)
                except Exception as exc:  # noqa: BLE001 - the record's failure, handled below
                    conn.execute("ROLLBACK TO SAVEPOINT eventgen_record")
                    if claimed is not None:
                        claimed.add(envelope.event_id)  # taken back with the rest's below
                    cut, failure = index, exc
                    break
                if not postgres and conn.in_transaction:
                    conn.execute("RELEASE SAVEPOINT eventgen_record")  # local: no round trip
                if ctx.published:
                    outputs.extend(ctx.published)
                handled += 1
            if claimed:
                inbox.release_many(conn, claimed)  # claims of records left unhandled
            # Acknowledged before the commit: a crash in between repeats the records (their
            # claims were not committed), never loses their outputs.
            self._emit(outputs)
        positions = {
            (record.topic(), record.partition()): record.offset() + 1 for record, _ in items[:cut]
        }
        self._finish_fast(positions, cut, handled, duplicates, skipped)
        return cut, failure

    def _stream(self, records: list[Any], stop: Any) -> tuple[int, BaseException | None]:
        """The fast path without a store; (records finished, the failure of the next one).

        Each record is decoded and handed to its handler before the next is decoded, so no
        batch of envelopes is ever alive at once (holding 500 of them cost a third of the
        loop's time in allocation and cache misses: docs/performance.md). The positions are
        marked done only after the outputs of all the handled records are acknowledged.
        """
        handled = skipped = cut = 0
        outputs: list[Output] = []
        ahead: dict[TP, int] = {}
        failure: BaseException | None = None
        states = self.retries.states
        decoders = self.decoders
        routes = self.routes
        sink = self.outputs
        handlers = self.handlers
        timeout_ms = self.spec.timeout_ms
        monotonic = time.monotonic
        started = monotonic()
        for record in records:
            topic = record.topic()
            partition = record.partition()
            offset = record.offset()
            if states and (topic, partition, offset) in states:
                break
            decoder = decoders.get(topic)
            try:
                envelope = decoder(record) if decoder else self._decode(record, routes[topic])
            except Exception:  # noqa: BLE001 - the per-record path decides what it is
                break
            if envelope is None:
                skipped += 1
            else:
                if stop.is_set():
                    break  # the rest is not handled
                ctx = Context(record, envelope, 1, None, sink)
                try:
                    handlers[envelope.type](envelope.payload, ctx)  # `_call`, inlined
                except Exception as exc:  # noqa: BLE001 - the record's failure, handled below
                    failure = exc
                    break
                ended = monotonic()
                if (ended - started) * 1000 > timeout_ms:
                    self._slow(envelope, ctx, ended - started)
                started = ended
                if ctx.published:
                    outputs.extend(ctx.published)
                handled += 1
            ahead[(topic, partition)] = offset + 1
            cut += 1
        try:
            self._emit(outputs)
        except RetryLater:
            return 0, None  # nothing finished: record by record, outputs produced again
        self._finish_fast(ahead, cut, handled, 0, skipped)
        return cut, failure

    def _finish_fast(
        self, positions: dict[TP, int], cut: int, handled: int, duplicates: int, skipped: int
    ) -> None:
        """The first `cut` records of a batch are finished: `positions` become done."""
        stats = self.stats
        stats.consumed += cut
        stats.handled += handled
        stats.duplicates += duplicates
        stats.skipped += skipped
        self.done.update(positions)
        self.since_commit += cut

    def _close(self) -> None:
        self._measure_lag()
        self.progress.report(final=True)
        try:
            self.producer.flush(FLUSH_TIMEOUT_S)
        except Exception:
            log.exception("consumer %s: flushing the producer at close failed", self.spec.name)
        try:
            self.consumer.close()  # leaves the group
        except Exception:
            log.exception("consumer %s: closing the consumer failed", self.spec.name)
        if self.store is not None:
            self.store.close()

    # ------------------------------------------------------------------ records

    def _usable(self, records: list[Any]) -> list[Any]:
        """The records to process: no error events, none of partitions that wait or are gone.

        One pass with the partition's verdict kept while the records are of one partition
        (librdkafka hands them out in runs per partition): this runs for every record.
        """
        usable: list[Any] = []
        append = usable.append
        waiting, stopped, assigned, done = self.waiting, self.stopped, self.assigned, self.done
        last: TP | None = None
        wanted = False
        floor = -1
        for record in records:
            error = record.error()
            if error is not None:
                self._error_event(error)
                continue
            tp = (record.topic(), record.partition())
            if tp != last:
                last = tp
                # Fetched before a pause, seek or revoke: consumed again later.
                wanted = tp not in waiting and tp not in stopped and tp in assigned
                # After a rewind, records before the position already finished may be queued.
                floor = done.get(tp, -1)
            if wanted and record.offset() >= floor:
                append(record)
        return usable

    def _error_event(self, error: Any) -> None:
        if error.code() == KafkaError._PARTITION_EOF:
            return
        if error.fatal():
            raise FatalError(f"consumer {self.spec.name}: {error}")
        log.warning("consumer %s: %s", self.spec.name, error)

    def _dispatch(self, record: Any) -> None:
        """One record: type, skip, parking, decode, dedupe, handler, and its failures."""
        tp: TP = (record.topic(), record.partition())
        if tp in self.waiting or tp in self.stopped:
            return  # an earlier record of this batch failed: the partition was rewound
        self.stats.consumed += 1
        self.batch_first.setdefault(tp, record.offset())
        try:
            try:
                envelope = self._decode(record, self.routes[tp[0]])
            except DecodeError as exc:
                self._dead_letter_or_stop(record, "decode", exc, attempts=1)
                return
            except Exception as exc:
                raise RetryLater(f"cannot decode now ({type(exc).__name__}: {exc})") from exc
            if envelope is None:
                self.stats.skipped += 1
                self._finished(record)
                return
            if self.parked is not None and self._park_check(record):
                return
            self._handle(record, envelope)
        except RetryLater as exc:
            self._wait(record, DLQ_RETRY_S, f"{exc}; trying again in {DLQ_RETRY_S:g} s")

    def _decode(self, record: RecordLike, route: Route) -> Envelope[Message] | None:
        """The envelope, or None for a type this consumer does not handle (skipped)."""
        decoder = self.decoders.get(route.topic.name)
        if decoder is None:
            from eventgen.runtime.serde import codec_for, decoder_for

            codec = codec_for(route, self.config)
            decoder = self.decoders[route.topic.name] = decoder_for(codec, route, self.handles)
        return decoder(record)

    def _handle(self, record: Any, envelope: Envelope[Message]) -> None:
        offset = record.offset()
        state = self.retries.peek(record.topic(), record.partition(), offset)
        attempt = 1 if state is None else state.next_attempt
        try:
            if self.store is None:
                ctx = Context(record, envelope, attempt, None, self.outputs)
                self._call(envelope, ctx)
                self._emit(ctx.published)
                self.stats.handled += 1
            else:
                with self.store.transaction() as conn:
                    if self.inbox is not None and not self.inbox.claim(conn, envelope.event_id):
                        self.stats.duplicates += 1
                    else:
                        ctx = self._context(record, envelope, attempt, conn)
                        self._call(envelope, ctx)
                        # Outputs are acknowledged (or in the Kafka transaction) before the
                        # DB transaction commits: a crash in between repeats the record,
                        # never loses its outputs.
                        self._emit(ctx.published)
                        self.stats.handled += 1
        except RetryLater:
            raise
        except Exception as exc:  # noqa: BLE001 - any handler error is the record's failure
            self._failed(record, exc)
            return
        if state is not None:
            self.retries.done(record.topic(), record.partition(), offset)
        self._finished(record)

    def _call(
        self, envelope: Envelope[Message], ctx: Context[Any], started: float | None = None
    ) -> float:
        """Call the handler; the clock when it returned (the next call's start in a batch)."""
        if started is None:
            started = time.monotonic()
        self.handlers[envelope.type](envelope.payload, ctx)
        ended = time.monotonic()
        if (ended - started) * 1000 > self.spec.timeout_ms:
            self._slow(envelope, ctx, ended - started)
        return ended

    def _slow(self, envelope: Envelope[Message], ctx: Context[Any], elapsed_s: float) -> None:
        log.warning(
            "consumer %s: handler for %s at %s/%d/%d took %.0f ms (timeout %d ms)",
            self.spec.name, envelope.type, ctx.topic, ctx.partition, ctx.offset,
            elapsed_s * 1000, self.spec.timeout_ms,
        )  # fmt: skip

    def _context(
        self, record: Any, envelope: Envelope[Message], attempt: int, conn: Any
    ) -> Context[Any]:
        return Context(record, envelope, attempt, conn if self.ctx_db else None, self.outputs)

    @contextmanager
    def _db(self) -> Iterator[Any]:
        if self.store is None:
            yield None
            return
        with self.store.transaction() as conn:
            yield conn

    # ------------------------------------------------------------------ failures

    def _failed(self, record: Any, exc: BaseException) -> None:
        """A handler failure: retry later (partition paused), dead-letter, or stop."""
        topic, partition, offset = record.topic(), record.partition(), record.offset()
        state = self.retries.get(topic, partition, offset)
        if state.failed(self.spec.retry, exc, self.rng):
            self.stats.retried += 1
            delay = state.remaining_s()
            self._wait(
                record,
                delay,
                f"attempt {state.attempts} failed ({type(exc).__name__}: {exc}); "
                f"retry in {delay:.2f} s",
                state,
            )
            return
        first = state.first_failure_at
        last = state.last_failure_at
        assert first is not None and last is not None
        try:
            if self._parks(record):
                done = self._dead_letter_and_park(record, exc, state.attempts, first, last)
            else:
                done = self._dead_letter_or_stop(
                    record, "handler", exc, attempts=state.attempts, first=first, last=last
                )
        except RetryLater as later:
            self._wait(record, DLQ_RETRY_S, str(later), state)
            return
        if done:
            self.retries.done(topic, partition, offset)

    def _wait(self, record: Any, delay_s: float, why: str, state: RetryState | None = None) -> None:
        """Pause the record's partition and seek it back to the record until `delay_s`."""
        from eventgen.runtime.failures.retry import RetryState

        topic, partition, offset = record.topic(), record.partition(), record.offset()
        if state is None:
            state = self.retries.peek(topic, partition, offset) or RetryState(
                topic, partition, offset
            )
        state.next_due = time.monotonic() + delay_s
        self.waiting[(topic, partition)] = state
        self.stats.consumed -= 1  # it is consumed again when due: count it once
        self._rewind(topic, partition, offset)
        log.warning("consumer %s: %s/%d/%d: %s", self.spec.name, topic, partition, offset, why)

    def _rewind(self, topic: str, partition: int, offset: int) -> None:
        tp = TopicPartition(topic, partition, offset)
        self.consumer.pause([tp])
        self.consumer.seek(tp)
        self.done.setdefault((topic, partition), offset)

    def _resume_due(self) -> None:
        now = time.monotonic()
        due = [tp for tp, state in self.waiting.items() if state.next_due <= now]
        for tp in due:
            state = self.waiting.pop(tp)
            self.consumer.resume([TopicPartition(tp[0], tp[1], state.offset)])

    def _fetch(self, want: int, timeout_s: float) -> list[Any]:
        """Up to `want` records, returning as soon as one is there.

        librdkafka's batch consume waits out its whole timeout unless the batch fills
        (confluent-kafka-python #407), which added up to POLL_TIMEOUT_S to every hop of a
        request/reply conversation at low load. So: take what is buffered; if nothing, wait
        for one record; then take what came with it, without waiting again.
        """
        records = list(self.consumer.consume(want, 0))
        if records or timeout_s <= 0:
            return records
        records = list(self.consumer.consume(1, timeout_s))
        if records and want > 1:
            records += self.consumer.consume(want - 1, 0)
        return records

    def _poll_timeout(self) -> float:
        if not self.waiting:
            return POLL_TIMEOUT_S
        soonest = min(state.next_due for state in self.waiting.values())
        return max(0.0, min(POLL_TIMEOUT_S, soonest - time.monotonic()))

    def _dead_letter_or_stop(
        self,
        record: Any,
        reason: Any,
        exc: BaseException | None,
        *,
        attempts: int,
        first: datetime | None = None,
        last: datetime | None = None,
    ) -> bool:
        """Write the record to its DLQ (True), or stop its partition when it has none."""
        from eventgen.runtime.failures.retry import utc_now

        dlq = self.routes[record.topic()].dlq if self.spec.dlq else None
        if dlq is None:
            self._stop_partition(record, reason, exc)
            return False
        now = utc_now()
        self._produce_dead_letter(record, dlq, reason, exc, attempts, first or now, last or now)
        self.stats.dead_lettered += 1
        self._finished(record)
        return True

    def _stop_partition(self, record: Any, reason: str, exc: BaseException | None) -> None:
        tp = (record.topic(), record.partition())
        self.stopped.add(tp)
        self._rewind(tp[0], tp[1], record.offset())
        log.error(
            "consumer %s: %s/%d/%d failed (%s: %s) and there is no DLQ: partition STOPPED "
            "at this record until the app restarts or the partition moves",
            self.spec.name, tp[0], tp[1], record.offset(), reason, exc,
        )  # fmt: skip

    def _produce_dead_letter(
        self,
        record: Any,
        dlq: str,
        reason: Any,
        exc: BaseException | None,
        attempts: int,
        first: datetime,
        last: datetime,
    ) -> None:
        from eventgen.runtime.failures.dlq import dead_letter_record

        topic, key, value, headers = dead_letter_record(
            record, dlq_topic=dlq, reason=reason, error=exc, group=self.spec.group,
            attempts=attempts, first_failure_at=first, last_failure_at=last,
        )  # fmt: skip
        self._produce_acked([(topic, value, key, headers)])

    def _park_check(self, record: Any) -> bool:
        """park-key: True when the record's key is parked (the record was dead-lettered).

        A replayed record of a parked key releases the key and is handled (ParkedKeys.admit).
        """
        if record.key() is None:
            return False
        with self._db() as conn:
            if self.parked.admit(conn, record.topic(), record.key(), record.headers()):
                return False
        self._dead_letter_or_stop(record, "parked", None, attempts=0)
        return True

    def _parks(self, record: Any) -> bool:
        """park-key: a dead letter of this record parks its key (it has a key and a DLQ)."""
        return (
            self.parked is not None
            and record.key() is not None
            and self.spec.dlq
            and self.routes[record.topic()].dlq is not None
        )

    def _dead_letter_and_park(
        self,
        record: Any,
        exc: BaseException,
        attempts: int,
        first: datetime,
        last: datetime,
    ) -> bool:
        """park-key: park the key and dead-letter the record as one unit, then mark it done."""
        self._park_unit(record, exc, attempts, first, last)
        self._finished(record)
        return True

    def _park_unit(
        self,
        record: Any,
        exc: BaseException,
        attempts: int,
        first: datetime,
        last: datetime,
    ) -> None:
        """park-key: the park row and the DLQ write as one unit; the caller marks it done.

        The park row is inserted in a store transaction, the DLQ record is produced and
        acknowledged (under exactly-once: added to the Kafka transaction) inside it, then the
        store commits; only after that may the offset be marked done. Any failure (the DB,
        the DLQ write, the commit) raises RetryLater and nothing is done: the record is tried
        again and dead-lettered again, so a DLQ record may be written twice, a park is never
        lost.
        """
        from eventgen.runtime.failures.dlq import REPLAY_ID_HEADER

        assert self.store is not None
        dlq = self.routes[record.topic()].dlq
        assert dlq is not None
        run = dict(record.headers() or ()).get(REPLAY_ID_HEADER)
        try:
            with self.store.transaction() as conn:
                self.parked.park(
                    conn, record.topic(), record.key(), offset=record.offset(), reason="handler",
                    replay_id=None if run is None else run.decode(errors="replace"),
                )  # fmt: skip
                self._produce_dead_letter(record, dlq, "handler", exc, attempts, first, last)
        except RetryLater:
            raise
        except Exception as failure:
            raise RetryLater(
                f"parking the key failed ({type(failure).__name__}: {failure})"
            ) from failure
        self.stats.dead_lettered += 1
        log.warning(
            "consumer %s: key %r of %s parked after %s",
            self.spec.name, record.key(), record.topic(), type(exc).__name__,
        )  # fmt: skip

    # ------------------------------------------------------------------ producing

    def _emit(self, outputs: list[Output]) -> None:
        if outputs:
            self._produce_acked([(o.topic, o.value, o.key, o.headers) for o in outputs])

    def _produce_acked(
        self, records: list[tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]]]]
    ) -> None:
        """Produce `records`; outside a transaction wait until every one is acknowledged."""
        if self.eos:
            self._begin()
        failures: list[str] = []

        def delivered(err: Any, msg: Any) -> None:
            if err is not None:
                failures.append(f"{msg.topic()}: {err}")

        for topic, value, key, headers in records:
            while True:
                try:
                    self.producer.produce(
                        topic, value=value, key=key, headers=headers, on_delivery=delivered
                    )
                    break
                except BufferError:
                    self.producer.poll(0.1)
        if self.eos:
            return  # commit_transaction flushes and fails the transaction on any error
        left = self.producer.flush(FLUSH_TIMEOUT_S)
        if left or failures:
            raise RetryLater(
                f"{len(failures) or left} record(s) not acknowledged: "
                + "; ".join(failures[:3] or [f"{left} still queued"])
            )

    def _forget(self, partitions: set[TP]) -> None:
        super()._forget(partitions)
        for tp in partitions:
            self.waiting.pop(tp, None)
            self.stopped.discard(tp)
            self.retries.drop_partition(*tp)
