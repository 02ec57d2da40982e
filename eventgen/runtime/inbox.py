"""The idempotency store (inbox): one row per (consumer group, event_id) handled.

`claim` inserts the row in the caller's open transaction, before the handler runs; the
handler's own statements follow on the same connection, so the row and the handler's effects
commit together or not at all. A second delivery of the same event finds the row (the insert
touches nothing) and is skipped. `sweep` deletes rows older than the retention.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from eventgen.runtime.db import dialect_of
from eventgen.runtime.sql import iso_utc, quote

_SQLITE_CHUNK = 300  # rows per multi-row INSERT (3 parameters each; SQLite's limit is 32,766)


class Inbox:
    """Dedupe rows of one consumer group in `table` (DDL: `table_ddl(..., "inbox", table)`)."""

    def __init__(self, table: str, group: str, retention_ms: int | None) -> None:
        self._table = quote(table)
        self.table = table
        self.group = group
        if retention_ms is not None and retention_ms < 0:
            raise ValueError(f"inbox retention {retention_ms} ms: expected >= 0 or None")
        self.retention_ms = retention_ms

    def claim(self, conn: Any, event_id: UUID, now: datetime | None = None) -> bool:
        """True: first delivery (row inserted in the caller's transaction); False: duplicate.

        The row count of `INSERT ... ON CONFLICT DO NOTHING` decides, so two consumers racing
        on the same event cannot both win: the loser's insert waits for the winner's
        transaction (PostgreSQL: unique index; SQLite: the write lock) and then counts 0.
        """
        moment = now or datetime.now(UTC)
        if dialect_of(conn) == "postgres":
            cursor = conn.execute(
                f"INSERT INTO {self._table} (consumer_group, event_id, handled_at) "
                "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                (self.group, event_id, moment),
            )
        else:
            cursor = conn.execute(
                f"INSERT INTO {self._table} (consumer_group, event_id, handled_at) "
                "VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (self.group, str(event_id), iso_utc(moment)),
            )
        return bool(cursor.rowcount == 1)

    def claim_many(
        self, conn: Any, event_ids: Iterable[UUID], now: datetime | None = None
    ) -> set[UUID]:
        """`claim` for many events in one statement: the ids claimed now (first deliveries).

        The ids absent from the result are duplicates. The ids are inserted in sorted order,
        so two consumers claiming overlapping batches lock the rows in one order (they wait
        for each other, never deadlock).
        """
        moment = now or datetime.now(UTC)
        wanted = sorted(set(event_ids))
        if not wanted:
            return set()
        if dialect_of(conn) == "postgres":
            rows = conn.execute(
                f"INSERT INTO {self._table} (consumer_group, event_id, handled_at) "
                "SELECT %s, id, %s FROM unnest(%s::uuid[]) WITH ORDINALITY AS t(id, n) "
                "ORDER BY n ON CONFLICT DO NOTHING RETURNING event_id",
                (self.group, moment, wanted),
            ).fetchall()
            return {row[0] if isinstance(row[0], UUID) else UUID(str(row[0])) for row in rows}
        claimed: set[UUID] = set()
        at = iso_utc(moment)
        for start in range(0, len(wanted), _SQLITE_CHUNK):
            chunk = wanted[start : start + _SQLITE_CHUNK]
            if sqlite3.sqlite_version_info < (3, 35):  # no RETURNING: one row at a time
                claimed.update(i for i in chunk if self.claim(conn, i, moment))
                continue
            values = ", ".join("(?, ?, ?)" for _ in chunk)
            params: list[Any] = []
            for event_id in chunk:
                params += (self.group, str(event_id), at)
            rows = conn.execute(
                f"INSERT INTO {self._table} (consumer_group, event_id, handled_at) "
                f"VALUES {values} ON CONFLICT DO NOTHING RETURNING event_id",
                params,
            ).fetchall()
            claimed.update(UUID(row[0]) for row in rows)
        return claimed

    def release_many(self, conn: Any, event_ids: Iterable[UUID]) -> None:
        """Take back claims made in the caller's open transaction (records left unhandled)."""
        ids = sorted(set(event_ids))
        if not ids:
            return
        if dialect_of(conn) == "postgres":
            conn.execute(
                f"DELETE FROM {self._table} WHERE consumer_group = %s "
                "AND event_id = ANY(%s::uuid[])",
                (self.group, ids),
            )
            return
        for start in range(0, len(ids), _SQLITE_CHUNK):
            chunk = ids[start : start + _SQLITE_CHUNK]
            marks = ", ".join("?" for _ in chunk)
            conn.execute(
                f"DELETE FROM {self._table} WHERE consumer_group = ? AND event_id IN ({marks})",
                [self.group, *(str(i) for i in chunk)],
            )

    def seen(self, conn: Any, event_id: UUID) -> bool:
        """Whether the group already handled `event_id` (a read; `claim` is the decision)."""
        mark = "%s" if dialect_of(conn) == "postgres" else "?"
        value: Any = event_id if mark == "%s" else str(event_id)
        row = conn.execute(
            f"SELECT 1 FROM {self._table} WHERE consumer_group = {mark} AND event_id = {mark}",
            (self.group, value),
        ).fetchone()
        return row is not None

    def sweep(self, conn: Any, now: datetime | None = None) -> int:
        """Delete this group's rows handled more than the retention ago; the count deleted.

        No retention (None): rows are kept forever and nothing is deleted.
        """
        if self.retention_ms is None:
            return 0
        cutoff = (now or datetime.now(UTC)) - timedelta(milliseconds=self.retention_ms)
        if dialect_of(conn) == "postgres":
            cursor = conn.execute(
                f"DELETE FROM {self._table} WHERE consumer_group = %s AND handled_at < %s",
                (self.group, cutoff),
            )
        else:
            cursor = conn.execute(
                f"DELETE FROM {self._table} WHERE consumer_group = ? AND handled_at < ?",
                (self.group, iso_utc(cutoff)),
            )
        return int(cursor.rowcount)
