"""The pieces of a rebuild (eventgen.runtime.es.projector.Projector.rebuild): the rebuild lock
that keeps a second rebuild out, the shadow table's identity, and the rebuild's own Kafka reader
(manual assignment from the beginning, nothing committed)."""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.db import Store, dialect_of
from eventgen.runtime.errors import DecodeError, StoreError
from eventgen.runtime.es import checkpoints
from eventgen.runtime.es.feed import ProjectorStats
from eventgen.runtime.model import Message
from eventgen.runtime.sql import quote

if TYPE_CHECKING:
    from eventgen.runtime.es.projector import Projector

log = logging.getLogger("eventgen.runtime.es.projector")


class RebuildRunning(StoreError):
    """Another rebuild of the projection holds its rebuild lock (raised at once, no wait)."""


REBUILD_LOCK_PREFIX = "eventgen.rebuild:"


class _RebuildLock:
    """One rebuild per projection table at a time, held for the whole rebuild.

    PostgreSQL: a session advisory lock (`pg_try_advisory_lock`) on the key
    `eventgen.rebuild:<table>`, on the rebuild's own connection (released at the end, or by
    the server when the connection ends: a killed rebuild leaves no lock behind). SQLite: an
    exclusive `flock` on the file `<database>.<table>.rebuild-lock` beside the database
    (released by the OS when the process ends; the file itself stays, it is only a handle).
    """

    def __init__(self, store: Store, table: str, config: RuntimeConfig) -> None:
        self.store = store
        self.key = REBUILD_LOCK_PREFIX + table
        self.path = f"{config.sqlite_path}.{table}.rebuild-lock"
        self.fd: int | None = None
        self.held = False

    def acquire(self, name: str) -> None:
        if self.store.dialect == "postgres":
            row = self.store.connection.execute(
                "SELECT pg_try_advisory_lock(hashtext(%s))", (self.key,)
            ).fetchone()
            if not row[0]:
                raise RebuildRunning(
                    f"rebuild {name}: another rebuild of this projection is running (it holds "
                    f"the PostgreSQL advisory lock {self.key!r}); wait for it to end"
                )
            self.held = True
            return
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RebuildRunning(
                f"rebuild {name}: another rebuild of this projection is running (it holds "
                f"the lock file {self.path}); wait for it to end"
            ) from None
        self.fd = fd
        self.held = True

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor releases the flock
            self.fd = None
            return
        try:
            self.store.connection.execute("SELECT pg_advisory_unlock(hashtext(%s))", (self.key,))
        except Exception:  # the connection is gone: the server released the lock with it
            log.debug("rebuild lock release failed", exc_info=True)


def _table_identity(conn: Any, table: str) -> str | None:
    """What tells this table from a recreated one of the same name: its oid (PostgreSQL) or
    its `CREATE` text (SQLite: the shadow's carries a per-rebuild token); None if absent."""
    if dialect_of(conn) == "postgres":
        row = conn.execute("SELECT to_regclass(%s)::oid::text", (quote(table),)).fetchone()
    else:
        row = conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()
    return None if row is None or row[0] is None else str(row[0])


class _Interrupted(Exception):
    """`stop` was set during a rebuild."""


def _positions_line(positions: Mapping[str, int]) -> str:
    if not positions:
        return "no sources read"
    return ", ".join(f"{source}@{position}" for source, position in sorted(positions.items()))


class _TopicReader:
    """A rebuild's own Kafka consumer: every partition of the projection's topics from the
    beginning, by manual assignment (no group membership, nothing committed)."""

    def __init__(self, projector: Projector[Any], config: RuntimeConfig, stop: threading.Event):
        from confluent_kafka import OFFSET_BEGINNING, TopicPartition

        from eventgen.runtime.transport import KafkaTransport

        self.projector = projector
        self.stop = stop
        self.timeout_s = max(10.0, config.connect_timeout_s)
        spec = projector.definition.spec
        settings = projector._client_settings(config, f"{spec.group}.rebuild-{uuid.uuid4().hex}")
        self.consumer: Any = KafkaTransport().consumer(settings)
        self.decoders = projector._decoders(config)
        partitions = []
        for route in spec.topics:
            name = route.topic.name
            metadata = self.consumer.list_topics(name, timeout=self.timeout_s)
            topic = metadata.topics.get(name)
            if topic is None or topic.error is not None:
                raise StoreError(f"rebuild {spec.name}: topic {name} is not available")
            for partition in sorted(topic.partitions):
                partitions.append(TopicPartition(name, partition, OFFSET_BEGINNING))
        self.consumer.assign(partitions)
        self.partitions = partitions
        self.by_source = {checkpoints.source_of(tp.topic, tp.partition): tp for tp in partitions}
        self.held: list[tuple[str, int, Message | None]] = []  # beyond the last ceiling
        self.paused: dict[str, Any] = {}  # partitions paused while they hold records
        self.stats = ProjectorStats()

    def last_offsets(self) -> dict[str, int]:
        """{source: high watermark - 1} of every partition holding records, asked now."""
        from confluent_kafka import TopicPartition

        out: dict[str, int] = {}
        for tp in self.partitions:
            low, high = self.consumer.get_watermark_offsets(
                TopicPartition(tp.topic, tp.partition), timeout=self.timeout_s, cached=False
            )
            if high > low:
                out[checkpoints.source_of(tp.topic, tp.partition)] = high - 1
        return out

    def read(
        self, positions: Mapping[str, int], ceiling: Mapping[str, int], limit: int
    ) -> list[tuple[str, int, Message | None]]:
        """Up to `limit` records after `positions` and at or below `ceiling`; waits (bounded)
        while a partition has not reached its ceiling. A record beyond its partition's
        ceiling is held (and the partition paused) until a later call's ceiling admits it."""
        out: list[tuple[str, int, Message | None]] = []
        held, self.held = self.held, []
        for item in held:
            (out if item[1] <= ceiling.get(item[0], -1) else self.held).append(item)
        waiting = {source for source, _, _ in self.held}
        resume = [tp for source, tp in self.paused.items() if source not in waiting]
        if resume:
            self.consumer.resume(resume)
            for tp in resume:
                del self.paused[checkpoints.source_of(tp.topic, tp.partition)]
        deadline = time.monotonic() + self.timeout_s
        name = self.projector.definition.spec.name
        while len(out) < limit:
            reached = dict(positions)
            for source, offset, _ in out:
                reached[source] = max(reached.get(source, -1), offset)
            behind = [
                s for s, p in ceiling.items()
                if s != checkpoints.STORE_SOURCE and reached.get(s, -1) < p
                and s not in self.paused and not self._past(s, p)
            ]  # fmt: skip
            if not behind:
                break
            records = self.consumer.consume(limit - len(out), 0.2)
            for record in records:
                if record.error() is not None:
                    continue
                source = checkpoints.source_of(record.topic(), record.partition())
                offset = record.offset()
                if offset <= positions.get(source, -1):
                    continue
                try:
                    envelope = self.decoders[record.topic()](record)
                except DecodeError as exc:
                    log.warning("rebuild %s: skipping undecodable record %s@%s: %s",
                                name, source, offset, exc)  # fmt: skip
                    envelope = None
                item = (source, offset, None if envelope is None else envelope.payload)
                if offset <= ceiling.get(source, -1):
                    out.append(item)
                    continue
                self.held.append(item)
                if source not in self.paused:
                    tp = self.by_source[source]
                    self.consumer.pause([tp])
                    self.paused[source] = tp
            if not records and (time.monotonic() > deadline or self.stop.is_set()):
                break
        return out

    def _past(self, source: str, last: int) -> bool:
        """The consumer's position is beyond `last` (a transaction marker may end a
        partition: its offset is never delivered as a record)."""
        tp = self.by_source[source]
        position = self.consumer.position([tp])[0].offset
        return bool(position > last)

    def close(self) -> None:
        try:
            self.consumer.close()
        except Exception:
            log.debug("rebuild consumer close failed", exc_info=True)
