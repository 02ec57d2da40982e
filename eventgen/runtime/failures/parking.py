"""Per-key parking (`on_failure: park-key`): a key whose record was dead-lettered stays parked.

While a key is parked, every later record with that key goes to the DLQ too (reason
`parked`), so the key's records are never handled out of order. Replaying the key's dead
letters (`eventgen dlq replay`) releases it: the replayed records carry
`eventgen-replay-count`, and `admit` releases the key on the first of them.

The rows live in the app's Store (table `spec.parked_table`, DDL from
`eventgen.runtime.sql.table_ddl(dialect, "parked", table)`), in the caller's open
transaction. The consumer loop inserts the park row in a store transaction inside which the
DLQ record is produced and acknowledged; the store commits, and only then is the record's
offset marked done. A failure at any step marks nothing done: the record is dead-lettered
again (possibly twice), and a park is never lost.

Rules:
- keys compare as bytes; an unkeyed record (key None) has no order to keep: parking it parks
  nothing and it is always admitted;
- the first parking of a key wins (a later `park` of a parked key keeps the first offset);
- a replayed record releases the key unless the key was parked by a record of that same
  replay run (header `eventgen-replay-id`): when a replayed record fails again, the run's later
  records of that key stay parked until the next replay.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eventgen.runtime.db import dialect_of, ensure_tables
from eventgen.runtime.failures.dlq import REPLAY_HEADER, REPLAY_ID_HEADER
from eventgen.runtime.sql import iso_utc, quote

_REPLAY_MARK = " replay="  # the `reason` column: "handler" or "handler replay=<run id>"


@dataclass(frozen=True)
class ParkedKey:
    """A parked key's row."""

    topic: str
    key: bytes
    offset: int
    reason: str
    parked_at: datetime
    replay_id: str | None  # the replay run whose record parked it, if any


class ParkedKeys:
    """The parked keys of one consumer group in `table`."""

    def __init__(self, table: str, group: str) -> None:
        self._table = quote(table)
        self.table = table
        self.group = group

    def ensure_schema(self, conn: Any) -> None:
        """Create the table if it does not exist (in the caller's transaction)."""
        ensure_tables(conn, {"parked": self.table})

    def is_parked(self, conn: Any, topic: str, key: bytes | None) -> bool:
        return key is not None and self.get(conn, topic, key) is not None

    def get(self, conn: Any, topic: str, key: bytes | None) -> ParkedKey | None:
        if key is None:
            return None
        mark = _mark(conn)
        row = conn.execute(
            f'SELECT topic, key, "offset", reason, parked_at FROM {self._table} '
            f"WHERE consumer_group = {mark} AND topic = {mark} AND key = {mark}",
            (self.group, topic, bytes(key)),
        ).fetchone()
        return None if row is None else _parked(row)

    def park(
        self,
        conn: Any,
        topic: str,
        key: bytes | None,
        *,
        offset: int,
        reason: str,
        replay_id: str | None = None,
        now: datetime | None = None,
    ) -> None:
        """Park `key` on `topic` (no-op for None); a key already parked keeps its first row.

        `offset` is the dead-lettered record's; `replay_id` the run id of a replayed record
        (its `eventgen-replay-id` header), so the same run's later records do not release it.
        """
        if key is None:
            return
        text = reason if replay_id is None else f"{reason}{_REPLAY_MARK}{replay_id}"
        moment = now or datetime.now(UTC)
        mark = _mark(conn)
        at: Any = moment if mark == "%s" else iso_utc(moment)
        conn.execute(
            f'INSERT INTO {self._table} (consumer_group, topic, key, parked_at, reason, "offset") '
            f"VALUES ({mark}, {mark}, {mark}, {mark}, {mark}, {mark}) ON CONFLICT DO NOTHING",
            (self.group, topic, bytes(key), at, text, offset),
        )

    def release(self, conn: Any, topic: str, key: bytes | None) -> bool:
        """Release `key` on `topic`; True if it was parked."""
        if key is None:
            return False
        mark = _mark(conn)
        cursor = conn.execute(
            f"DELETE FROM {self._table} "
            f"WHERE consumer_group = {mark} AND topic = {mark} AND key = {mark}",
            (self.group, topic, bytes(key)),
        )
        return bool(cursor.rowcount)

    def admit(
        self,
        conn: Any,
        topic: str,
        key: bytes | None,
        headers: Sequence[tuple[str, bytes | None]] | None,
    ) -> bool:
        """Whether a consumed record may be handled (False: dead-letter it, reason `parked`).

        The rule of the module docstring, in one place for the consumer loop: unkeyed and
        unparked records are admitted; a replayed record releases its key (and is admitted)
        unless a record of its own replay run parked the key.
        """
        parked = self.get(conn, topic, key)
        if parked is None:
            return True
        names = dict(headers or ())
        if REPLAY_HEADER not in names:
            return False
        run = names.get(REPLAY_ID_HEADER)
        run_id = None if run is None else run.decode("utf-8", errors="replace")
        if parked.replay_id is not None and parked.replay_id == run_id:
            return False
        self.release(conn, topic, key)
        return True

    def keys(self, conn: Any, topic: str | None = None) -> list[ParkedKey]:
        """This group's parked keys (of `topic`, or all), by topic and offset."""
        mark = _mark(conn)
        where, args = f"consumer_group = {mark}", [self.group]
        if topic is not None:
            where, args = f"{where} AND topic = {mark}", [self.group, topic]
        rows = conn.execute(
            f'SELECT topic, key, "offset", reason, parked_at FROM {self._table} WHERE {where} '
            'ORDER BY topic, "offset", key',
            tuple(args),
        ).fetchall()
        return [_parked(row) for row in rows]


def _mark(conn: Any) -> str:
    return "%s" if dialect_of(conn) == "postgres" else "?"


def _parked(row: Sequence[Any]) -> ParkedKey:
    topic, key, offset, reason, parked_at = row
    text = str(reason)
    replay_id = None
    if _REPLAY_MARK in text:
        text, _, replay_id = text.partition(_REPLAY_MARK)
    if isinstance(parked_at, str):
        moment = datetime.fromisoformat(parked_at)
    else:
        moment = parked_at
    return ParkedKey(str(topic), bytes(key), int(offset), text, moment, replay_id)
