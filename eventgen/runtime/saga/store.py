"""Saga persistence: instances (optimistic versions), the log and the timers.

`SagaStore(tables)` works on the caller's connection and inside the caller's transaction
(`sqlite3.Connection` after an explicit BEGIN, or a `psycopg.Connection`), so the saga's new
state, its log rows, its timers and its outgoing commands (the outbox) commit together.

Rows are plain dicts with the instances table's columns (eventgen.runtime.saga.codec turns
them into a `SagaInstance` and back). Times: `timestamptz` on PostgreSQL, `iso_utc` text on
SQLite; rows read back always carry timezone-aware datetimes.

Concurrency: every `update` is `... WHERE version = <read>`; a row whose version moved raises
ConcurrencyError (stream id `<saga>-<saga_id>`). On PostgreSQL `load(for_update=True)` locks
the row, and `due_timers` locks the due timers and their instances with `FOR UPDATE SKIP
LOCKED`, so two workers never fire one timer and a worker never waits on another's timer.
"""

from __future__ import annotations

import builtins
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from eventgen.runtime.db import dialect_of, ensure_tables, has_tables
from eventgen.runtime.errors import ConcurrencyError
from eventgen.runtime.saga.spec import SagaTables
from eventgen.runtime.saga.state import LogEntry, Timer
from eventgen.runtime.sql import iso_utc, quote

INSTANCE_COLUMNS = (
    "saga", "saga_id", "status", "step", "version", "data_hash", "data", "state", "reason",
    "started_at", "updated_at", "deadline_at",
)  # fmt: skip
TIME_COLUMNS = frozenset({"started_at", "updated_at", "deadline_at"})
LOG_COLUMNS = (
    "seq", "at", "cause", "from_status", "to_status", "step", "detail", "actor", "reason",
)  # fmt: skip
DEFAULT_LIST_LIMIT = 100
# At most this many (saga, saga_id) pairs in one `exclude` of due_timers / next_due (two
# parameters each): the worker passes the instances it skips; more is its business.
MAX_EXCLUDED = 200


def stream_id(saga: str, saga_id: str) -> str:
    """The name a ConcurrencyError gives an instance."""
    return f"{saga}-{saga_id}"


class SagaStore:
    """The saga tables of one definition (`SagaDefinition.tables`) on a caller's connection."""

    def __init__(self, tables: SagaTables) -> None:
        self.tables = tables
        self._instances = quote(tables.instances)
        self._log = quote(tables.log)
        self._timers = quote(tables.timers)

    # ------------------------------------------------------------------ schema

    def kinds(self) -> dict[str, str]:
        return {
            "saga_instances": self.tables.instances,
            "saga_log": self.tables.log,
            "saga_timers": self.tables.timers,
        }

    def ensure_schema(self, conn: Any) -> None:
        """Create the three tables if they do not exist, in the caller's transaction."""
        kinds = self.kinds()
        if not has_tables(conn, kinds.values()):
            ensure_tables(conn, kinds)

    # ------------------------------------------------------------------ instances

    def insert(self, conn: Any, row: Mapping[str, Any]) -> bool:
        """Insert a new instance; False (nothing written) when (saga, saga_id) exists."""
        pg = dialect_of(conn) == "postgres"
        values = _values(row, pg)
        names = ", ".join(INSTANCE_COLUMNS)
        marks = ", ".join(_mark(pg) for _ in INSTANCE_COLUMNS)
        cursor = conn.execute(
            f"INSERT INTO {self._instances} ({names}) VALUES ({marks}) "
            "ON CONFLICT (saga, saga_id) DO NOTHING",
            values,
        )
        return bool(cursor.rowcount == 1)

    def load(
        self, conn: Any, saga: str, saga_id: str, *, for_update: bool = False
    ) -> dict[str, Any] | None:
        """The instance row, or None; `for_update` locks it until the transaction ends (PG)."""
        pg = dialect_of(conn) == "postgres"
        mark = _mark(pg)
        lock = " FOR UPDATE" if for_update and pg else ""
        found = conn.execute(
            f"SELECT {', '.join(INSTANCE_COLUMNS)} FROM {self._instances} "
            f"WHERE saga = {mark} AND saga_id = {mark}{lock}",
            (saga, saga_id),
        ).fetchone()
        return None if found is None else _instance(found)

    def update(self, conn: Any, row: Mapping[str, Any], expected_version: int) -> int:
        """Write `row` over the stored instance whose version is `expected_version`; the new
        version (expected + 1). ConcurrencyError when the stored version moved (or the row
        is gone)."""
        pg = dialect_of(conn) == "postgres"
        mark = _mark(pg)
        new_version = expected_version + 1
        values = dict(zip(INSTANCE_COLUMNS, _values(row, pg), strict=True))
        values["version"] = new_version
        changed = [name for name in INSTANCE_COLUMNS if name not in ("saga", "saga_id")]
        assignments = ", ".join(f"{name} = {mark}" for name in changed)
        cursor = conn.execute(
            f"UPDATE {self._instances} SET {assignments} "
            f"WHERE saga = {mark} AND saga_id = {mark} AND version = {mark}",
            (*(values[name] for name in changed), row["saga"], row["saga_id"], expected_version),
        )
        if cursor.rowcount != 1:
            found = conn.execute(
                f"SELECT version FROM {self._instances} WHERE saga = {mark} AND saga_id = {mark}",
                (row["saga"], row["saga_id"]),
            ).fetchone()
            actual = -1 if found is None else int(found[0])
            raise ConcurrencyError(
                stream_id(str(row["saga"]), str(row["saga_id"])), expected_version, actual
            )
        return new_version

    def list(
        self,
        conn: Any,
        saga: str | None = None,
        status: str | Sequence[str] | None = None,
        older_than: datetime | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        *,
        updated_before: datetime | None = None,
    ) -> builtins.list[dict[str, Any]]:
        """Instances, oldest update first: of one saga type, in a status (or any of several),
        started before `older_than` (the saga's age), last updated before `updated_before`
        (idle that long); at most `limit`."""
        pg = dialect_of(conn) == "postgres"
        mark = _mark(pg)
        where: builtins.list[str] = []
        params: builtins.list[Any] = []
        if saga is not None:
            where.append(f"saga = {mark}")
            params.append(saga)
        if status is not None:
            wanted = [status] if isinstance(status, str) else builtins.list(status)
            if not wanted:
                return []
            where.append(f"status IN ({', '.join(mark for _ in wanted)})")
            params.extend(wanted)
        if older_than is not None:
            where.append(f"started_at < {mark}")
            params.append(_moment(older_than, pg))
        if updated_before is not None:
            where.append(f"updated_at < {mark}")
            params.append(_moment(updated_before, pg))
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        params.append(int(limit))
        rows = conn.execute(
            f"SELECT {', '.join(INSTANCE_COLUMNS)} FROM {self._instances}{clause} "
            f"ORDER BY updated_at, saga, saga_id LIMIT {mark}",
            params,
        ).fetchall()
        return [_instance(found) for found in rows]

    # ------------------------------------------------------------------ log

    def append_log(
        self, conn: Any, saga: str, saga_id: str, entries: Sequence[LogEntry], at: datetime
    ) -> int:
        """Append `entries` after the instance's last log row; the last seq written (0: none)."""
        pg = dialect_of(conn) == "postgres"
        mark = _mark(pg)
        found = conn.execute(
            f"SELECT COALESCE(MAX(seq), 0) FROM {self._log} WHERE saga = {mark} AND saga_id = {mark}",
            (saga, saga_id),
        ).fetchone()
        seq = int(found[0])
        if not entries:
            return seq
        names = ("saga", "saga_id", *LOG_COLUMNS)
        marks = ", ".join(mark for _ in names)
        rows = []
        moment = _moment(at, pg)
        for entry in entries:
            seq += 1
            rows.append(
                (
                    saga,
                    saga_id,
                    seq,
                    moment,
                    entry.cause,
                    entry.from_status,
                    entry.to_status,
                    entry.step,
                    entry.detail or "",
                    entry.actor,
                    entry.reason,
                )
            )
        _executemany(conn, f"INSERT INTO {self._log} ({', '.join(names)}) VALUES ({marks})", rows)
        return seq

    def log(self, conn: Any, saga: str, saga_id: str) -> builtins.list[dict[str, Any]]:
        """The instance's log rows in order (seq, at, cause, from_status, to_status, ...)."""
        pg = dialect_of(conn) == "postgres"
        mark = _mark(pg)
        rows = conn.execute(
            f"SELECT {', '.join(LOG_COLUMNS)} FROM {self._log} "
            f"WHERE saga = {mark} AND saga_id = {mark} ORDER BY seq",
            (saga, saga_id),
        ).fetchall()
        out = []
        for found in rows:
            item = dict(zip(LOG_COLUMNS, found, strict=True))
            item["at"] = _read_moment(item["at"])
            out.append(item)
        return out

    # ------------------------------------------------------------------ timers

    def replace_timers(self, conn: Any, saga: str, saga_id: str, timers: Sequence[Timer]) -> None:
        """Make `timers` the instance's whole timer set (at most one per kind)."""
        pg = dialect_of(conn) == "postgres"
        mark = _mark(pg)
        kinds = [timer.kind for timer in timers]
        if len(set(kinds)) != len(kinds):
            raise ValueError(f"saga {saga} {saga_id}: two timers of one kind in {kinds}")
        conn.execute(
            f"DELETE FROM {self._timers} WHERE saga = {mark} AND saga_id = {mark}", (saga, saga_id)
        )
        if not timers:
            return
        names = ("saga", "saga_id", "kind", "phase", "step", "attempt", "due_at")
        marks = ", ".join(mark for _ in names)
        rows = [
            (saga, saga_id, t.kind, t.phase, t.step, t.attempt, _moment(t.due_at, pg))
            for t in timers
        ]
        _executemany(
            conn, f"INSERT INTO {self._timers} ({', '.join(names)}) VALUES ({marks})", rows
        )

    def delete_timer(self, conn: Any, saga: str, saga_id: str, kind: str) -> None:
        """Remove one timer of the instance (a stale or orphan timer the worker dropped)."""
        mark = _mark(dialect_of(conn) == "postgres")
        conn.execute(
            f"DELETE FROM {self._timers} WHERE saga = {mark} AND saga_id = {mark} AND kind = {mark}",
            (saga, saga_id, kind),
        )

    def timers(self, conn: Any, saga: str, saga_id: str) -> builtins.list[Timer]:
        """The instance's stored timers, by kind."""
        mark = _mark(dialect_of(conn) == "postgres")
        rows = conn.execute(
            f"SELECT kind, step, attempt, due_at, phase FROM {self._timers} "
            f"WHERE saga = {mark} AND saga_id = {mark} ORDER BY kind",
            (saga, saga_id),
        ).fetchall()
        return [_timer(found) for found in rows]

    def due_timers(
        self,
        conn: Any,
        now: datetime,
        limit: int,
        *,
        saga: str | None = None,
        exclude: Collection[tuple[str, str]] = (),
    ) -> builtins.list[tuple[str, str, Timer]]:
        """Timers due at `now` (earliest first, at most `limit`) as (saga, saga_id, timer).

        PostgreSQL: the timer rows and their instances are locked `FOR UPDATE SKIP LOCKED`
        until the caller's transaction ends, so another worker's call skips them (and a
        handler holding an instance is never waited on); the caller fires them in this
        transaction. SQLite has one writer at a time: call it in a `BEGIN IMMEDIATE`.
        `saga`: only that saga type's timers (the tables of a context hold all its sagas).
        `exclude`: (saga, saga_id) pairs whose timers are left out (instances the caller
        skips), at most MAX_EXCLUDED (ValueError beyond).
        """
        pg = dialect_of(conn) == "postgres"
        mark = _mark(pg)
        prefix = "t." if pg else ""
        params: builtins.list[Any] = [_moment(now, pg)]
        only = ""
        if saga is not None:
            only = f" AND {prefix}saga = {mark}"
            params.append(saga)
        only += "".join(f" AND {term}" for term in _excluding(exclude, prefix, mark, params))
        params.append(int(limit))
        if pg:
            sql = (
                f"SELECT t.saga, t.saga_id, t.kind, t.step, t.attempt, t.due_at, t.phase "
                f"FROM {self._timers} t JOIN {self._instances} i "
                "ON i.saga = t.saga AND i.saga_id = t.saga_id "
                f"WHERE t.due_at <= {mark}{only} ORDER BY t.due_at LIMIT {mark} "
                "FOR UPDATE SKIP LOCKED"
            )
        else:
            sql = (
                f"SELECT saga, saga_id, kind, step, attempt, due_at, phase FROM {self._timers} "
                f"WHERE due_at <= {mark}{only} ORDER BY due_at LIMIT {mark}"
            )
        rows = conn.execute(sql, params).fetchall()
        return [(str(found[0]), str(found[1]), _timer(found[2:])) for found in rows]

    def next_due(
        self,
        conn: Any,
        *,
        saga: str | None = None,
        after: datetime | None = None,
        exclude: Collection[tuple[str, str]] = (),
    ) -> datetime | None:
        """The earliest due_at of the timers (of one saga type, due after `after`, not of
        the `exclude`d (saga, saga_id) pairs: at most MAX_EXCLUDED), or None (a read, no
        lock)."""
        pg = dialect_of(conn) == "postgres"
        mark = _mark(pg)
        where: builtins.list[str] = []
        params: builtins.list[Any] = []
        if saga is not None:
            where.append(f"saga = {mark}")
            params.append(saga)
        if after is not None:
            where.append(f"due_at > {mark}")
            params.append(_moment(after, pg))
        where.extend(_excluding(exclude, "", mark, params))
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        found = conn.execute(f"SELECT MIN(due_at) FROM {self._timers}{clause}", params).fetchone()
        return None if found is None or found[0] is None else _read_moment(found[0])


def _excluding(
    exclude: Collection[tuple[str, str]], prefix: str, mark: str, params: builtins.list[Any]
) -> builtins.list[str]:
    """`NOT (saga = ? AND saga_id = ?)` for each pair (its values appended to `params`)."""
    pairs = sorted(set(exclude))
    if len(pairs) > MAX_EXCLUDED:
        raise ValueError(f"{len(pairs)} excluded instances: at most {MAX_EXCLUDED}")
    terms = []
    for saga, saga_id in pairs:
        terms.append(f"NOT ({prefix}saga = {mark} AND {prefix}saga_id = {mark})")
        params.extend((saga, saga_id))
    return terms


# ---------------------------------------------------------------------- values


def _executemany(conn: Any, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
    if dialect_of(conn) == "postgres":
        with conn.cursor() as cursor:
            cursor.executemany(sql, rows)
    else:
        conn.executemany(sql, rows)


def _mark(pg: bool) -> str:
    return "%s" if pg else "?"


def _moment(value: datetime, pg: bool) -> Any:
    if value.tzinfo is None:
        raise ValueError("naive datetime: give a timezone-aware one")
    return value if pg else iso_utc(value)


def _read_moment(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value))


def _values(row: Mapping[str, Any], pg: bool) -> tuple[Any, ...]:
    missing = [name for name in INSTANCE_COLUMNS if name not in row and name != "reason"]
    missing = [name for name in missing if name != "deadline_at" and name != "step"]
    if missing:
        raise ValueError(f"saga instance row without {', '.join(missing)}")
    out: builtins.list[Any] = []
    for name in INSTANCE_COLUMNS:
        value = row.get(name)
        if name in TIME_COLUMNS and value is not None:
            value = _moment(value, pg)
        elif name == "version":
            value = int(row["version"])
        out.append(value)
    return tuple(out)


def _instance(found: Sequence[Any]) -> dict[str, Any]:
    row = dict(zip(INSTANCE_COLUMNS, found, strict=True))
    for name in TIME_COLUMNS:
        row[name] = _read_moment(row[name])
    row["version"] = int(row["version"])
    return row


def _timer(found: Sequence[Any]) -> Timer:
    kind, step, attempt, due_at, phase = found
    moment = _read_moment(due_at)
    assert moment is not None
    return Timer(kind=kind, step=step, attempt=int(attempt), due_at=moment, phase=phase)
