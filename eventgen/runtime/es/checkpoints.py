"""Projection checkpoints and the per-projection lock, on the caller's transaction.

A checkpoint row (projection, source) holds the last store position or topic-partition
offset whose event is reflected in the projection's table; it is written in the transaction
that writes the rows, so the two never disagree (a crash loses both or neither).

The per-projection lock serialises the projector's batches with a rebuild's swap:
PostgreSQL takes `pg_advisory_xact_lock` on a key derived from the projection's table (held
to the end of the transaction); SQLite's transactions are opened with `BEGIN IMMEDIATE`
(one writer per database file), which is the same lock for every projection there.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from eventgen.runtime.db import dialect_of
from eventgen.runtime.sql import iso_utc, quote

STORE_SOURCE = "store"
LOCK_PREFIX = "eventgen.projection:"


def source_of(topic: str, partition: int) -> str:
    """The checkpoint source of a topic partition: `<topic>:<partition>`."""
    return f"{topic}:{partition}"


def parse_source(source: str) -> tuple[str, int] | None:
    """(topic, partition) of a topic source; None for the store."""
    if source == STORE_SOURCE:
        return None
    topic, sep, partition = source.rpartition(":")
    if not sep or not partition.isdigit():
        return None
    return topic, int(partition)


def lock(conn: Any, table: str) -> None:
    """Take the projection's lock in the open transaction (PostgreSQL; SQLite: a no-op, the
    transaction began IMMEDIATE)."""
    if dialect_of(conn) == "postgres":
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (LOCK_PREFIX + table,))


def exists(conn: Any, checkpoint_table: str) -> bool:
    """True when the checkpoints table exists (a projector created it)."""
    if dialect_of(conn) == "postgres":
        row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (quote(checkpoint_table),))
    else:
        row = conn.execute(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?",
            (checkpoint_table,),
        )
    return bool(row.fetchone()[0])


def read(conn: Any, checkpoint_table: str, projection: str) -> dict[str, int]:
    """Every checkpoint of `projection`: {source: position}."""
    mark = "%s" if dialect_of(conn) == "postgres" else "?"
    rows = conn.execute(
        f"SELECT source, position FROM {quote(checkpoint_table)} WHERE projection = {mark}",
        (projection,),
    ).fetchall()
    return {str(source): int(position) for source, position in rows}


def write(conn: Any, checkpoint_table: str, projection: str, positions: Mapping[str, int]) -> None:
    """Upsert the checkpoints `positions` of `projection` (in the caller's transaction)."""
    if not positions:
        return
    pg = dialect_of(conn) == "postgres"
    mark = "%s" if pg else "?"
    now: Any = datetime.now(UTC) if pg else iso_utc(datetime.now(UTC))
    sql = (
        f"INSERT INTO {quote(checkpoint_table)} (projection, source, position, updated_at) "
        f"VALUES ({mark}, {mark}, {mark}, {mark}) ON CONFLICT (projection, source) "
        "DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at"
    )
    rows = [(projection, source, int(position), now) for source, position in positions.items()]
    cursor = conn.cursor()
    try:
        cursor.executemany(sql, rows)
    finally:
        cursor.close()


def replace_all(
    conn: Any, checkpoint_table: str, projection: str, positions: Mapping[str, int]
) -> None:
    """Make `positions` the only checkpoints of `projection` (a rebuild's swap)."""
    mark = "%s" if dialect_of(conn) == "postgres" else "?"
    conn.execute(f"DELETE FROM {quote(checkpoint_table)} WHERE projection = {mark}", (projection,))
    write(conn, checkpoint_table, projection, positions)
