"""Projectors: apply row operations with the checkpoint in the same transaction; rebuilds.

A `Projector` is a runner target (`python -m eventgen.runtime run MODULE:ATTR`). Each batch
is one database transaction that takes the projection's lock (eventgen.runtime.es.checkpoints),
reads the checkpoints, reads the store's events after the store checkpoint, drops Kafka
records at or below their partition's checkpoint, applies the row operations and writes the
new checkpoints. A crash (even `kill -9`) therefore loses a whole batch or none of it, and a
restart resumes after the last committed checkpoint: no row op is applied twice or missed.

Kafka offsets are never committed to Kafka (`enable.auto.commit=false`, no commit calls): on
every assignment the consumer seeks to the stored offset + 1 (the beginning without one).

Row operations of a batch are applied in memory over the batch's rows, read under the lock,
then written back as one `INSERT .. ON CONFLICT (key) DO UPDATE` per changed row and one
`DELETE` per deleted row: the same result as applying them one by one, in a few round trips.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic

from eventgen.runtime.config import RuntimeConfig, load_config
from eventgen.runtime.db import Store, dialect_of
from eventgen.runtime.errors import DecodeError, StoreError
from eventgen.runtime.es import checkpoints
from eventgen.runtime.es.feed import ProjectorStats, _DeadLetters, _Feed, _Pending
from eventgen.runtime.es.rebuilding import (
    REBUILD_LOCK_PREFIX,
    RebuildRunning,
    _Interrupted,
    _positions_line,
    _RebuildLock,
    _table_identity,
    _TopicReader,
)
from eventgen.runtime.es.rows import SHADOW_SUFFIX, placeholder
from eventgen.runtime.es.spec import ProjectionDefinition, R
from eventgen.runtime.es.store import EventStore
from eventgen.runtime.es.table import BatchResult, ProjectionTable
from eventgen.runtime.spec import ConsumerSpec
from eventgen.runtime.sql import Dialect, quote, statements

__all__ = [
    "REBUILD_LOCK_PREFIX",
    "BatchResult",
    "ProjectionTable",
    "Projector",
    "ProjectorStats",
    "RebuildRunning",
]

log = logging.getLogger("eventgen.runtime.es.projector")

POLL_TIMEOUT_S = 0.5  # longest wait for Kafka records or new store events: stop is seen as often
MIXED_POLL_S = 0.1  # the wait for records of a projection that also tails the store
DLQ_FLUSH_S = 30.0  # the longest wait for the broker to acknowledge a batch's dead letters
_SQLITE_IN = 500  # keys per `IN (...)` on SQLite (its parameter limit is far higher)


class Projector(Generic[R]):
    """A runnable for the runner (`python -m eventgen.runtime run MODULE:ATTR`)."""

    def __init__(
        self, definition: ProjectionDefinition[R], event_store: EventStore | None = None
    ) -> None:
        self.definition = definition
        self.event_store = event_store
        self.table = ProjectionTable(definition)
        spec = definition.spec
        if spec.store_source and event_store is None:
            raise ValueError(f"projection {spec.name} reads the event store: pass event_store")

    @property
    def checkpoint_name(self) -> str:
        """The projection's name in the checkpoints table."""
        return self.definition.spec.qualified

    # -- the live projector -----------------------------------------------------------

    def run(
        self,
        *,
        config: RuntimeConfig | None = None,
        transport: Any = None,
        max_messages: int | None = None,
        idle_exit_s: float | None = None,
        stop: threading.Event | None = None,
    ) -> ProjectorStats:
        config = config if config is not None else load_config()
        stop = stop if stop is not None else threading.Event()
        spec = self.definition.spec
        stats = ProjectorStats()
        store = Store.open(spec.store, config)
        consumer: Any = None
        feed: _Feed | None = None
        try:
            self._ensure(store)
            if spec.topics:
                feed = _Feed()
                consumer = feed.consumer = self._consumer(store, config, transport, feed.reset)
            decoders = self._decoders(config)
            dead = self._dead_letters(config, transport)
            last_event = time.monotonic()
            last_log = time.monotonic()
            seen = 0
            stored = 0
            # With both sources, a quiet topic must not slow the store's backlog down: no wait
            # for records while the store had events, a short one when both were quiet.
            idle_wait = MIXED_POLL_S if spec.store_source else POLL_TIMEOUT_S
            while not stop.is_set():
                want = spec.batch if max_messages is None else min(spec.batch, max_messages - seen)
                if feed is not None:
                    feed.fill(want, 0 if stored or feed.records else idle_wait)
                records = feed.records if feed is not None else []
                stored, applied = self._batch(store, stats, records, decoders, want, dead)
                if applied:
                    records.clear()
                seen += stored + applied
                if stored or applied:
                    last_event = time.monotonic()
                if max_messages is not None and seen >= max_messages:
                    break
                if idle_exit_s is not None and time.monotonic() - last_event >= idle_exit_s:
                    break
                if time.monotonic() - last_log >= config.log_interval_s:
                    last_log = time.monotonic()
                    log.info("projection %s: %s", spec.name, stats.line())
                if consumer is None and not stored:
                    stop.wait(min(POLL_TIMEOUT_S, idle_exit_s or POLL_TIMEOUT_S))
        finally:
            if consumer is not None:
                try:
                    consumer.close()
                except Exception:
                    log.warning("projection %s: consumer close failed", spec.name, exc_info=True)
            store.close()
        return stats

    def _batch(
        self,
        store: Store,
        stats: ProjectorStats,
        records: Sequence[Any],
        decoders: Mapping[str, Callable[[Any], Any]],
        want: int,
        dead: _DeadLetters | None = None,
    ) -> tuple[int, int]:
        """One transaction: lock, checkpoints, store tail, records, rows, checkpoints.

        The Kafka `records` are applied only when the store source is drained to its head in
        this transaction (it returned fewer than `want` events): a record about a row whose
        creating store event is still in the backlog would otherwise find no row (`missed`).
        Returns (store events read, records applied: 0 or len(records)); records not applied
        stay with the caller, who stops fetching while they wait.
        """
        spec = self.definition.spec
        applied = 0
        with store.transaction(immediate=True) as conn:
            checkpoints.lock(conn, spec.table)
            positions = checkpoints.read(conn, spec.checkpoint_table, self.checkpoint_name)
            pending = _Pending()
            stored = 0
            if self.event_store is not None and spec.store_source:
                after = positions.get(checkpoints.STORE_SOURCE, 0)
                for event in self.event_store.read_all(conn, after_position=after, limit=want):
                    pending.add(checkpoints.STORE_SOURCE, event.position, event.message)
                    stored += 1
            if stored < want:  # the store is at its head (or not a source): records may follow
                self._add_records(pending, stats, records, decoders, positions, dead)
                applied = len(records)
            stats.events += len(pending.events)
            if pending.events:
                result = self.table.apply(conn, [message for _, _, message in pending.events])
                stats.missed += result.missed
                stats.rows_written += result.written
                stats.rows_deleted += result.deleted
            if dead is not None:  # acknowledged before the checkpoints that pass them commit
                dead.flush(DLQ_FLUSH_S)
            checkpoints.write(conn, spec.checkpoint_table, self.checkpoint_name, pending.positions)
        if stored or applied:
            stats.batches += 1
        return stored, applied

    def _add_records(
        self,
        pending: _Pending,
        stats: ProjectorStats,
        records: Sequence[Any],
        decoders: Mapping[str, Callable[[Any], Any]],
        positions: Mapping[str, int],
        dead: _DeadLetters | None = None,
    ) -> None:
        name = self.definition.spec.name
        dlqs = {route.topic.name: route.dlq for route in self.definition.spec.topics}
        for record in records:
            error = record.error()
            if error is not None:
                log.warning("projection %s: consumer error %s", name, error)
                continue
            topic, partition, offset = record.topic(), record.partition(), record.offset()
            source = checkpoints.source_of(topic, partition)
            if offset <= positions.get(source, -1):
                stats.skipped += 1
                continue
            try:
                envelope = decoders[topic](record)
            except DecodeError as exc:
                # Skipped (its offset still moves the checkpoint, so it is not read again); a
                # topic with a DLQ gets a copy there with the reason, as the consumer apps do.
                stats.undecodable += 1
                dlq = dlqs.get(topic)
                log.warning(
                    "projection %s: skipping undecodable record %s offset %s%s: %s",
                    name,
                    source,
                    offset,
                    f" (to {dlq})" if dlq and dead is not None else "",
                    exc,
                )
                if dlq and dead is not None:
                    dead.add(record, dlq, exc)
                    stats.dead_lettered += 1
                pending.add(source, offset, None)
                continue
            if envelope is None:
                stats.ignored += 1
                pending.add(source, offset, None)
            else:
                pending.add(source, offset, envelope.payload)

    def _dead_letters(self, config: RuntimeConfig, transport: Any) -> _DeadLetters | None:
        """The DLQ producer of the live projector, when a topic source has a DLQ."""
        from eventgen.runtime.app.startup import producer_config
        from eventgen.runtime.transport import KafkaTransport

        spec = self.definition.spec
        if not any(route.dlq for route in spec.topics):
            return None
        settings = producer_config(self._consumer_spec(spec.group), config)
        return _DeadLetters(transport or KafkaTransport(), settings, spec.group)

    def _consumer_spec(self, group: str) -> ConsumerSpec:
        """The projector's topic sources as a ConsumerSpec, for the apps' client settings."""
        spec = self.definition.spec
        return ConsumerSpec(
            name=f"{spec.name}-projector", context=spec.context, group=group,
            topics=spec.topics, handles=spec.handles, idempotency="none",
        )  # fmt: skip

    def _decoders(self, config: RuntimeConfig) -> dict[str, Callable[[Any], Any]]:
        from eventgen.runtime.serde import codec_for, decoder_for

        handles = frozenset(self.definition.spec.handles)
        return {
            route.topic.name: decoder_for(codec_for(route, config), route, handles)
            for route in self.definition.spec.topics
        }

    def _client_settings(self, config: RuntimeConfig, group: str) -> dict[str, Any]:
        from eventgen.runtime.app.startup import consumer_config

        settings = consumer_config(self._consumer_spec(group), config)
        # The seek-on-assignment below assigns whole partition sets (eager protocol); offsets
        # are never committed to Kafka, they live in the checkpoints table.
        settings["partition.assignment.strategy"] = "range"
        settings["enable.auto.commit"] = False
        return settings

    def _consumer(
        self,
        store: Store,
        config: RuntimeConfig,
        transport: Any,
        on_rebalance: Callable[[], None] | None = None,
    ) -> Any:
        from confluent_kafka import OFFSET_BEGINNING

        from eventgen.runtime.transport import KafkaTransport

        spec = self.definition.spec
        transport = transport if transport is not None else KafkaTransport()
        consumer = transport.consumer(self._client_settings(config, spec.group))

        def on_assign(client: Any, partitions: list[Any]) -> None:
            if on_rebalance is not None:
                on_rebalance()
            positions = checkpoints.read(
                store.connection, spec.checkpoint_table, self.checkpoint_name
            )
            for tp in partitions:
                stored = positions.get(checkpoints.source_of(tp.topic, tp.partition))
                tp.offset = OFFSET_BEGINNING if stored is None else stored + 1
            client.assign(partitions)
            log.info(
                "projection %s: assigned %s",
                spec.name,
                ", ".join(f"{tp.topic}:{tp.partition}@{tp.offset}" for tp in partitions),
            )

        def on_revoke(client: Any, partitions: list[Any]) -> None:
            if on_rebalance is not None:
                on_rebalance()  # buffered records are read again after the next assignment
            client.unassign()

        consumer.subscribe(
            [route.topic.name for route in spec.topics], on_assign=on_assign, on_revoke=on_revoke
        )
        return consumer

    def _ensure(self, store: Store, table: str | None = None) -> None:
        with store.transaction(immediate=True) as conn:
            if store.dialect == "postgres":
                conn.execute(f"SET LOCAL lock_timeout = {int(store.timeout_s * 1000)}")
            self.table.ensure_schema(conn, table)
            if self.event_store is not None and self.definition.spec.store_source:
                self.event_store.ensure_schema(conn)

    # -- rebuild ----------------------------------------------------------------------

    def rebuild(
        self,
        *,
        config: RuntimeConfig | None = None,
        progress: Callable[[str], None] | None = None,
        stop: threading.Event | None = None,
    ) -> ProjectorStats:
        """Rebuild the table from the start of every source, then swap it in atomically.

        The live table keeps serving (and the live projector keeps applying) while the
        shadow `<table>__rebuild` is filled; the last catch-up runs under the projection's
        lock, up to at least the live checkpoints, and the swap (drop the live table, rename
        the shadow, move the checkpoints) commits in that same transaction.
        """
        config = config if config is not None else load_config()
        stop = stop if stop is not None else threading.Event()
        say = progress if progress is not None else (lambda line: log.info("%s", line))
        spec = self.definition.spec
        shadow = spec.table + SHADOW_SUFFIX
        quote(shadow)
        stats = ProjectorStats()
        store = Store.open(spec.store, config)
        reader: _TopicReader | None = None
        rebuild_lock = _RebuildLock(store, spec.table, config)
        try:
            rebuild_lock.acquire(spec.name)  # RebuildRunning at once when another one holds it
            self._ensure(store)
            token = uuid.uuid4().hex
            with store.transaction(immediate=True) as conn:
                conn.execute(f"DROP TABLE IF EXISTS {quote(shadow)}")
                for statement in statements(self._shadow_ddl(store.dialect, shadow, token)):
                    conn.execute(statement)
                identity = _table_identity(conn, shadow)
            say(f"rebuild {spec.name}: shadow table {shadow} created")
            if spec.topics:
                reader = _TopicReader(self, config, stop)
            shadow_positions: dict[str, int] = {}
            deadline = time.monotonic() + max(60.0, config.connect_timeout_s * 4)
            passes = 0
            while True:
                if stop.is_set():
                    raise _Interrupted
                ceiling = self._ceiling(store.connection, reader)
                moved = self._catch_up(
                    store, None, shadow, shadow_positions, ceiling, reader, stats
                )
                passes += 1
                say(
                    f"rebuild {spec.name}: pass {passes}: {stats.events} events replayed "
                    f"({_positions_line(shadow_positions)})"
                )
                if moved < spec.batch or passes >= 50 or time.monotonic() > deadline:
                    break
            with store.transaction(immediate=True) as conn:
                if store.dialect == "postgres":
                    conn.execute(f"SET LOCAL lock_timeout = {int(store.timeout_s * 1000)}")
                checkpoints.lock(conn, spec.table)
                live = checkpoints.read(conn, spec.checkpoint_table, self.checkpoint_name)
                # Up to the store head and the partitions' high watermarks as of the lock
                # (at or above `live`, which cannot move now): writers that keep appending
                # meanwhile do not keep the swap from happening.
                ceiling = self._ceiling(conn, reader)
                self._catch_up(store, conn, shadow, shadow_positions, ceiling, reader, stats)
                behind = {
                    source: (shadow_positions.get(source, -1), position)
                    for source, position in live.items()
                    if shadow_positions.get(source, -1) < position
                }
                if behind:
                    raise StoreError(
                        f"rebuild {spec.name}: the shadow table could not catch up with the "
                        f"live checkpoints {behind} (shadow, live); the live table is unchanged"
                    )
                if _table_identity(conn, shadow) != identity:
                    raise StoreError(
                        f"rebuild {spec.name}: the shadow table {shadow} was dropped or "
                        "recreated by someone else during the rebuild (not this rebuild's "
                        "table any more); nothing swapped, the live table is unchanged"
                    )
                self._swap(conn, shadow)
                final = {**live, **shadow_positions}
                checkpoints.replace_all(conn, spec.checkpoint_table, self.checkpoint_name, final)
            say(
                f"rebuild {spec.name}: swapped {shadow} -> {spec.table}: {stats.events} events, "
                f"{stats.rows_written} row writes ({_positions_line(final)})"
            )
        except _Interrupted:
            say(f"rebuild {spec.name}: stopped before the swap; the live table is unchanged")
        finally:
            if reader is not None:
                reader.close()
            rebuild_lock.release()
            store.close()
        return stats

    def _shadow_ddl(self, dialect: Dialect, shadow: str, token: str) -> str:
        """The shadow's DDL; on SQLite it carries this rebuild's token in a comment, which
        `sqlite_master.sql` keeps (its identity there; PostgreSQL's is the table's oid)."""
        ddl = self.table.ddl(dialect, shadow)
        if dialect == "sqlite":
            ddl = ddl.replace(" (\n", f" ( /* eventgen rebuild {token} */\n", 1)
        return ddl

    def _ceiling(self, conn: Any, reader: _TopicReader | None) -> dict[str, int]:
        """Where a catch-up stops: the store head and each partition's last offset (its high
        watermark - 1), read now."""
        ceiling: dict[str, int] = {}
        if self.event_store is not None and self.definition.spec.store_source:
            ceiling[checkpoints.STORE_SOURCE] = self.event_store.head_position(conn)
        if reader is not None:
            ceiling.update(reader.last_offsets())
        return ceiling

    def _catch_up(
        self,
        store: Store,
        conn: Any,
        shadow: str,
        positions: dict[str, int],
        ceiling: Mapping[str, int],
        reader: _TopicReader | None,
        stats: ProjectorStats,
    ) -> int:
        """Apply events to the shadow until every source reaches its `ceiling` (nothing
        beyond it); one transaction per batch, or all in `conn` (the swap's) when given."""
        spec = self.definition.spec
        moved = 0
        head = ceiling.get(checkpoints.STORE_SOURCE, 0)
        while True:
            pending = _Pending()
            drained = True
            after = positions.get(checkpoints.STORE_SOURCE, 0)
            if self.event_store is not None and spec.store_source and after < head:
                read_conn = conn if conn is not None else store.connection
                events = self.event_store.read_all(read_conn, after, spec.batch)
                kept = [event for event in events if event.position <= head]
                for event in kept:
                    pending.add(checkpoints.STORE_SOURCE, event.position, event.message)
                drained = len(kept) < spec.batch or kept[-1].position >= head
            # Records only once the store is at its head, as the live projector does.
            if reader is not None and drained:
                for source, offset, message in reader.read(positions, ceiling, spec.batch):
                    pending.add(source, offset, message)
            if not pending.positions:
                return moved
            moved += pending.read
            if conn is not None:
                self._apply_shadow(conn, shadow, pending, stats)
            else:
                with store.transaction(immediate=True) as tx:
                    self._apply_shadow(tx, shadow, pending, stats)
            positions.update(pending.positions)

    def _apply_shadow(
        self, conn: Any, shadow: str, pending: _Pending, stats: ProjectorStats
    ) -> None:
        stats.events += len(pending.events)
        stats.batches += 1
        if pending.events:
            result = self.table.apply(conn, [message for _, _, message in pending.events], shadow)
            stats.missed += result.missed
            stats.rows_written += result.written
            stats.rows_deleted += result.deleted

    def _swap(self, conn: Any, shadow: str) -> None:
        table = self.definition.spec.table
        conn.execute(f"DROP TABLE IF EXISTS {quote(table)}")
        conn.execute(f"ALTER TABLE {quote(shadow)} RENAME TO {quote(table)}")
        if dialect_of(conn) == "postgres":
            conn.execute(
                f'ALTER TABLE {quote(table)} RENAME CONSTRAINT "{shadow}_pkey" TO "{table}_pkey"'
            )

    # -- read-your-writes -------------------------------------------------------------

    def wait_until(self, conn: Any, position: int, timeout_s: float = 10.0) -> None:
        """Return once the projection has applied the store up to `position`.

        `position` is a store position (the last event a command appended, or
        `EventStore.head_position`). Polls the checkpoint on `conn`, which must not be inside
        a transaction (an SQLite reader in one would never see the projector's commits).
        TimeoutError after `timeout_s`. ValueError at once for a projection that does not read
        the event store (it has no store position to reach: fed from Kafka only).
        """
        spec = self.definition.spec
        if not spec.store_source or self.event_store is None:
            raise ValueError(
                f"projection {spec.name} does not read the event store (its sources are Kafka "
                "topics only): wait_until waits for a store position and would never return"
            )
        mark = placeholder(dialect_of(conn))
        sql = (
            f"SELECT position FROM {quote(spec.checkpoint_table)} "
            f"WHERE projection = {mark} AND source = {mark}"
        )
        deadline = time.monotonic() + timeout_s
        delay = 0.005
        while True:
            row = None
            if checkpoints.exists(conn, spec.checkpoint_table):  # not yet: no projector ran
                row = conn.execute(sql, (self.checkpoint_name, checkpoints.STORE_SOURCE)).fetchone()
            reached = 0 if row is None else int(row[0])  # positions start at 1
            if reached >= position:
                return
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(
                    f"projection {spec.name}: store position {reached} after {timeout_s}s, "
                    f"waiting for {position}"
                )
            time.sleep(min(delay, left))
            delay = min(delay * 2, 0.1)
