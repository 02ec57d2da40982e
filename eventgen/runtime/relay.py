"""The polling relay: publishes outbox rows to Kafka, then deletes (or marks) them.

One cycle: read up to `spec.batch` unpublished rows ordered by `seq`, produce each with its
topic, key, value bytes and headers (the envelope headers rebuilt from the row's columns, then
the extra headers), wait until every record is acknowledged, then delete the rows (or set
`published_at` when `spec.retention_ms > 0`) in one transaction. A record the broker does not
acknowledge leaves the whole batch in the table; the next cycle sends it again.

Why nothing is skipped: the relay keeps no cursor. Every cycle reads whatever rows are in the
table, so a transaction that committed late (its `seq` lower than rows already published) is
simply found by the next cycle. Why per-aggregate order holds: rows of one aggregate commit
in `seq` order (outbox.py), only one relay per outbox publishes at a time (the leader), and a
batch is acknowledged before the next one is read. docs/outbox.md has the whole argument and
what each crash does.

Leader: PostgreSQL, a session advisory lock held by the relay's connection (released by the
server when the process dies); SQLite, an exclusive `flock` on a lock file next to the
database (released by the kernel when the process dies). No database lock is held while a
batch is produced (on SQLite that would block the application's outbox writes during a Kafka
outage); the delete after the acknowledgements waits for SQLite's write lock if an
application transaction holds it, rather than give up and send the batch again.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, TextIO

from eventgen.runtime.config import RuntimeConfig, load_config
from eventgen.runtime.db import Store, StoreError

# Re-exported (mypy --strict): the relay's StartupError was defined here before errors.py had it.
from eventgen.runtime.errors import StartupError as StartupError  # noqa: PLC0414
from eventgen.runtime.headers import HEADER_FIELDS
from eventgen.runtime.outbox import LOCK_NAMESPACE, load_headers
from eventgen.runtime.partitioning import PARTITIONER
from eventgen.runtime.publisher import librdkafka_compression
from eventgen.runtime.spec import OutboxSpec
from eventgen.runtime.sql import quote
from eventgen.runtime.transport import KafkaTransport, ProducerLike, Transport

log = logging.getLogger("eventgen.runtime.relay")

SELECT_COLUMNS = (
    "seq, id, aggregatetype, key, payload, type, schema_version, occurred_at, "
    "correlation_id, causation_id, headers"
)
SWEEP_EVERY_S = 60.0
# How long the SQLite relay waits for the write lock to delete a batch Kafka acknowledged
# (each try already waits the busy timeout); past it the batch is sent again later.
SQLITE_DELETE_WAIT_S = 300.0
MAX_BACKOFF_S = 5.0


@dataclass
class RelayStats:
    """What a relay run did: rows published, batches sent, batches that failed and stayed."""

    published: int = 0
    batches: int = 0
    failed_batches: int = 0
    swept: int = 0
    leader: bool = False  # whether this run held the leadership at some point

    def line(self) -> str:
        return " ".join(f"{name}={value}" for name, value in asdict(self).items())


@dataclass(frozen=True)
class OutboxRow:
    seq: int
    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


class PollingRelay:
    """Runs the polling relay of one outbox (the manifest's `outbox.relay`)."""

    def __init__(self, spec: OutboxSpec) -> None:
        self.spec = spec
        self._table = quote(spec.table)
        if spec.batch < 1:
            raise ValueError(f"outbox batch {spec.batch}: expected at least 1")

    def run(
        self,
        config: RuntimeConfig | None = None,
        *,
        transport: Transport | None = None,
        max_messages: int | None = None,
        idle_exit_s: float | None = None,
        stop: threading.Event | None = None,
    ) -> RelayStats:
        """Relay until `stop`, `max_messages` rows published, or `idle_exit_s` without work.

        Idle time counts both an empty table and waiting for another relay's leadership.
        """
        if self.spec.relay != "polling":
            raise StartupError(
                f"outbox {self.spec.table}: relay is {self.spec.relay!r}; the polling relay "
                "runs only for relay: polling (Debezium reads the WAL itself)"
            )
        config = config or load_config()
        run = _Run(self, config, transport or KafkaTransport(), stop or threading.Event())
        return run.loop(max_messages, idle_exit_s)


class _Run:
    """One `run()`: the store, the producers, the leadership and the counters."""

    def __init__(
        self, relay: PollingRelay, config: RuntimeConfig, transport: Transport, stop: Any
    ) -> None:
        self.spec = relay.spec
        self.table = relay._table
        self.config = config
        self.transport = transport
        self.stop: threading.Event = stop
        self.stats = RelayStats()
        self.store: Store | None = None
        self.lock_file: TextIO | None = None
        self.pg_locked = False
        self.producers: dict[str | None, ProducerLike] = {}
        self.compression = {
            name: route.compression for name, route in (self.spec.publisher or _NoRoutes()).routes
        }
        self.poll_s = max(self.spec.poll_interval_ms, 1) / 1000
        # Bounded waits for the broker: a record not acknowledged within this is a failure.
        self.delivery_timeout_s = max(1.0, config.connect_timeout_s)
        self.next_sweep = 0.0
        self.next_log = time.monotonic() + config.log_interval_s

    # -- the loop ---------------------------------------------------------------------------

    def loop(self, max_messages: int | None, idle_exit_s: float | None) -> RelayStats:
        self.store = Store.open(self.spec.store, self.config)  # StoreError: bad config, exit 2
        try:
            self.store.ensure_schema({"outbox": self.spec.table})
            self._check_broker()
            idle_since = time.monotonic()
            backoff = self.poll_s
            while not self.stop.is_set():
                if max_messages is not None and self.stats.published >= max_messages:
                    break
                limit = self.spec.batch
                if max_messages is not None:
                    limit = min(limit, max_messages - self.stats.published)
                try:
                    sent = self._cycle(limit) if self._connected() and self._lead() else 0
                except _BatchFailed as failure:
                    self.stats.failed_batches += 1
                    log.warning("outbox %s: batch not published, retrying: %s",
                                self.spec.table, failure)  # fmt: skip
                    self._reset_producers()
                    sent = -1
                except Exception as exc:
                    if not _is_db_error(exc):
                        raise
                    sent = -1
                    if isinstance(exc, sqlite3.OperationalError) and _busy(exc):
                        # The write lock stayed busy past the delete's whole wait: the
                        # batch stays and is sent again (at-least-once).
                        log.info("outbox %s: SQLite write lock busy, retrying", self.spec.table)
                    else:
                        # A lost connection (a restarted server, a killed backend): drop the
                        # connection, and with it the leadership; reconnect on the next turn.
                        log.warning("outbox %s: database error, reconnecting: %s",
                                    self.spec.table, " ".join(str(exc).split()))  # fmt: skip
                        self._disconnect()
                now = time.monotonic()
                if now >= self.next_log:
                    self._progress()
                if sent > 0:
                    idle_since, backoff = now, self.poll_s
                    continue
                if idle_exit_s is not None and now - idle_since >= idle_exit_s:
                    break
                if sent < 0:  # a failure: back off, doubling up to MAX_BACKOFF_S
                    self.stop.wait(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_S)
                else:
                    backoff = self.poll_s
                    self.stop.wait(self.poll_s)
            return self.stats
        finally:
            self._progress(final=True)
            self._close()

    def _cycle(self, limit: int) -> int:
        """One batch: read, produce, wait for the acks, delete. The number of rows published."""
        assert self.store is not None
        if time.monotonic() >= self.next_sweep:
            self._sweep()
        # Read outside a transaction: nothing is held while the batch is produced (on SQLite
        # the write lock would block the application's own outbox writes while Kafka is slow
        # or down); the leader lock keeps every other relay away from these rows.
        rows = self._read(self.store.connection, limit)
        if rows:
            self._publish(rows)
            self._remove_published([row.seq for row in rows])
        if not rows:
            return 0
        self.stats.published += len(rows)
        self.stats.batches += 1
        log.debug("outbox %s: published seq %d..%d (%d rows)",
                  self.spec.table, rows[0].seq, rows[-1].seq, len(rows))  # fmt: skip
        return len(rows)

    # -- leadership -------------------------------------------------------------------------

    def _connected(self) -> bool:
        """Whether there is a store connection (reopen it after a database error)."""
        if self.store is None:
            try:
                self.store = Store.open(self.spec.store, self.config)
            except StoreError as exc:
                log.warning("outbox %s: %s", self.spec.table, exc)
                return False
        return True

    def _lead(self) -> bool:
        """Whether this process is the outbox's relay leader (acquire it if free)."""
        assert self.store is not None
        if self.store.dialect == "postgres":
            if not self.pg_locked:
                row = self.store.connection.execute(
                    "SELECT pg_try_advisory_lock(hashtext(%s), hashtext(%s))",
                    (f"{LOCK_NAMESPACE}.relay", self.spec.table),
                ).fetchone()
                self.pg_locked = bool(row and row[0])
                if self.pg_locked:
                    log.info("outbox %s: relay leader (%s)", self.spec.table, self.store.where)
            got = self.pg_locked
        else:
            got = self._flock()
        self.stats.leader = self.stats.leader or got
        return got

    def _flock(self) -> bool:
        import fcntl

        if self.lock_file is not None:
            return True
        path = f"{os.path.realpath(self.config.sqlite_path)}.{self.spec.table}.relay-lock"
        handle = open(path, "a+")  # noqa: SIM115 - held open for the whole leadership
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self.lock_file = handle
        log.info("outbox %s: relay leader (lock %s)", self.spec.table, path)
        return True

    # -- database ---------------------------------------------------------------------------

    def _read(self, conn: Any, limit: int) -> list[OutboxRow]:
        mark = "%s" if self.store is not None and self.store.dialect == "postgres" else "?"
        cursor = conn.execute(
            f"SELECT {SELECT_COLUMNS} FROM {self.table} WHERE published_at IS NULL "
            f"ORDER BY seq LIMIT {mark}",
            (limit,),
        )
        return [_row(values) for values in cursor.fetchall()]

    def _remove_published(self, seqs: Sequence[int]) -> None:
        """Delete the acknowledged rows in one transaction. On SQLite an application
        transaction may hold the write lock past the busy timeout: wait for it (bounded, and
        a stop ends the wait) rather than give up, since giving up re-sends the whole batch."""
        assert self.store is not None
        if self.store.dialect == "postgres":
            with self.store.transaction() as conn:
                self._remove(conn, seqs)
            return
        deadline = time.monotonic() + SQLITE_DELETE_WAIT_S
        while True:
            try:
                with self.store.transaction(immediate=True) as conn:
                    self._remove(conn, seqs)
                return
            except sqlite3.OperationalError as exc:
                locked = "locked" in str(exc) or "busy" in str(exc)
                if not locked or time.monotonic() >= deadline or self.stop.is_set():
                    raise
                log.info("outbox %s: waiting for the write lock to delete a published batch",
                         self.spec.table)  # fmt: skip

    def _remove(self, conn: Any, seqs: Sequence[int]) -> None:
        """Delete (or mark published) the acknowledged rows in the caller's transaction."""
        keep = self.spec.retention_ms > 0
        if self.store is not None and self.store.dialect == "postgres":
            if keep:
                conn.execute(
                    f"UPDATE {self.table} SET published_at = now() WHERE seq = ANY(%s)",
                    (list(seqs),),
                )
            else:
                conn.execute(f"DELETE FROM {self.table} WHERE seq = ANY(%s)", (list(seqs),))
            return
        for start in range(0, len(seqs), 500):  # SQLite's bound-parameter limit
            chunk = seqs[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            if keep:
                conn.execute(
                    f"UPDATE {self.table} SET published_at = "
                    f"strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE seq IN ({marks})",
                    chunk,
                )
            else:
                conn.execute(f"DELETE FROM {self.table} WHERE seq IN ({marks})", chunk)

    def _sweep(self) -> None:
        """Delete published rows older than the retention (only when rows are kept)."""
        assert self.store is not None
        self.next_sweep = time.monotonic() + SWEEP_EVERY_S
        if self.spec.retention_ms <= 0:
            return
        seconds = self.spec.retention_ms / 1000
        with self.store.transaction(immediate=True) as conn:
            if self.store.dialect == "postgres":
                cursor = conn.execute(
                    f"DELETE FROM {self.table} WHERE published_at IS NOT NULL "
                    "AND published_at < now() - make_interval(secs => %s)",
                    (seconds,),
                )
            else:
                cursor = conn.execute(
                    f"DELETE FROM {self.table} WHERE published_at IS NOT NULL "
                    "AND published_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?)",
                    (f"-{seconds} seconds",),
                )
            self.stats.swept += max(0, int(cursor.rowcount))

    def _disconnect(self, lost: bool = True) -> None:
        if self.store is not None:
            self.store.close()  # ends the session: PostgreSQL releases the leader lock
        self.store = None
        if self.pg_locked and lost:
            log.info("outbox %s: connection lost, leadership released", self.spec.table)
        self.pg_locked = False

    # -- Kafka ------------------------------------------------------------------------------

    def _producer(self, compression: str | None) -> ProducerLike:
        producer = self.producers.get(compression)
        if producer is None:
            settings: dict[str, Any] = {
                "bootstrap.servers": self.config.bootstrap_servers,
                "enable.idempotence": True,
                "acks": "all",
                "partitioner": PARTITIONER,
                "linger.ms": 5,
                "message.timeout.ms": int(self.delivery_timeout_s * 1000),
                "socket.connection.setup.timeout.ms": int(self.delivery_timeout_s * 1000),
                "client.id": f"eventgen-relay-{self.spec.context}",
            }
            if (codec := librdkafka_compression(compression)) is not None:
                settings["compression.type"] = codec
            settings.update(self.config.client)
            producer = self.producers[compression] = self.transport.producer(settings)
        return producer

    def _check_broker(self) -> None:
        try:
            self._producer(None).list_topics(timeout=self.config.connect_timeout_s)
        except Exception as exc:  # noqa: BLE001 - KafkaException, or any transport's own error
            raise StartupError(
                f"outbox {self.spec.table}: Kafka at {self.config.bootstrap_servers} not "
                f"reachable within {self.config.connect_timeout_s:g} s: "
                + " ".join(str(exc).split())
            ) from None

    def _publish(self, rows: Sequence[OutboxRow]) -> None:
        """Produce every row and wait for every ack; _BatchFailed if any is missing."""
        failures: list[str] = []
        acked = [0]

        def on_delivery(error: Any, record: Any) -> None:
            if error is not None:
                failures.append(str(error))
            else:
                acked[0] += 1

        used: list[ProducerLike] = []
        for row in rows:
            producer = self._producer(self.compression.get(_type_of(row) or ""))
            if producer not in used:
                used.append(producer)
            self._produce(producer, row, on_delivery)
        deadline = time.monotonic() + self.delivery_timeout_s + 5.0
        for producer in used:
            while len(producer) > 0 and time.monotonic() < deadline:
                producer.flush(min(1.0, max(0.0, deadline - time.monotonic())))
        if failures or acked[0] != len(rows):
            detail = failures[0] if failures else "no acknowledgement in time"
            raise _BatchFailed(
                f"{acked[0]}/{len(rows)} acknowledged; {len(failures)} failed ({detail})"
            )

    def _produce(self, producer: ProducerLike, row: OutboxRow, on_delivery: Any) -> None:
        for _ in range(1000):  # a full local queue drains as the broker acknowledges
            try:
                producer.produce(row.topic, value=row.value, key=row.key, headers=row.headers,
                                 on_delivery=on_delivery)  # fmt: skip
                return
            except BufferError:
                producer.poll(0.1)
        raise _BatchFailed("the producer queue stayed full")

    def _reset_producers(self) -> None:
        """Drop the producers after a failed batch: nothing they still hold may arrive later,
        behind the batch's second sending."""
        for producer in self.producers.values():
            purge = getattr(producer, "purge", None)
            if callable(purge):
                purge()
            producer.flush(0)
        self.producers.clear()

    # -- ending -----------------------------------------------------------------------------

    def _progress(self, final: bool = False) -> None:
        self.next_log = time.monotonic() + self.config.log_interval_s
        log.info("outbox %s relay %s: %s", self.spec.table,
                 "stopped" if final else "progress", self.stats.line())  # fmt: skip

    def _close(self) -> None:
        for producer in self.producers.values():
            producer.flush(min(5.0, self.delivery_timeout_s))
        self.producers.clear()
        self._disconnect(lost=False)
        if self.lock_file is not None:
            self.lock_file.close()  # releases the flock
            self.lock_file = None


class _BatchFailed(Exception):
    pass


class _NoRoutes:
    routes: tuple[tuple[str, Any], ...] = ()


def _row(values: Sequence[Any]) -> OutboxRow:
    (seq, event_id, topic, key, payload, type_, version, occurred_at, correlation_id,
     causation_id, extra) = values  # fmt: skip
    envelope = {
        "event_id": str(event_id),
        "type": type_,
        "schema_version": str(version),
        "occurred_at": occurred_at,
        "correlation_id": correlation_id,
        "causation_id": causation_id,
    }
    headers = [(name, str(envelope[name]).encode()) for name in HEADER_FIELDS
               if envelope[name] is not None]  # fmt: skip
    headers.extend(load_headers(extra))
    return OutboxRow(
        seq=int(seq),
        topic=str(topic),
        key=None if key is None else bytes(key),
        value=None if payload is None else bytes(payload),
        headers=headers,
    )


def _type_of(row: OutboxRow) -> str | None:
    for name, data in row.headers:
        if name == "type":
            return data.decode()
    return None


def _busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc)
    return "locked" in text or "busy" in text


def _is_db_error(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.Error):
        return True
    module = type(exc).__module__
    return module.startswith("psycopg")
