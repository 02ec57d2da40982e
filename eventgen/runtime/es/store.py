"""The event store: streams of events keyed by (stream id, version), and a global position.

Every method works on the caller's connection (`sqlite3.Connection` opened with
`isolation_level=None`, or `psycopg.Connection`), inside the caller's transaction, so that an
append and the outbox rows of the same command commit or roll back together.

Ordering: `position` is handed out in commit order, so a reader tailing `read_all` never skips
an event that commits late. On PostgreSQL `append` first takes a transaction-scoped advisory
lock on the store (namespace + table), held until the appending transaction ends; the next
appender's `position` values are drawn from the sequence only after that commit (or rollback).
SQLite has one writer at a time, which gives the same order without a lock.

Stored payloads are the message's wire JSON in the version it was written in; reading lifts an
older version with the message's upcaster chain and validates it strictly (as the JSON codec
does), and anything the current build cannot read is a `StoredEventError` naming the stream,
version and position: never skipped. docs/event-sourcing.md has the rest.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from pydantic import ValidationError
from pydantic_core import from_json, to_json

from eventgen.runtime.db import Dialect, dialect_of, ensure_tables, has_tables
from eventgen.runtime.errors import ConcurrencyError, DecodeError, StoredEventError
from eventgen.runtime.es.spec import EventStoreSpec
from eventgen.runtime.model import Envelope, Message
from eventgen.runtime.serde import _construct, upcast_for
from eventgen.runtime.sql import iso_utc, quote

# The classid half of the store's two-key advisory lock (the objid half is the table), apart
# from the outbox's per-aggregate locks and the application's own advisory locks.
LOCK_NAMESPACE = "eventgen.es"
# sqlite3's extended result code of a write refused to a transaction whose snapshot is stale.
_SQLITE_BUSY_SNAPSHOT = 517
# SQLite: rows per INSERT statement (9 bound values each, under SQLite's 32,766 variables).
_SQLITE_CHUNK = 500
_COLUMNS = (
    "position, stream_id, version, event_id, type, schema_version, occurred_at, "
    "correlation_id, causation_id, payload"
)
# "Key (stream_id, version)=(Order-1, 3) already exists." (PostgreSQL's detail, C locale)
_KEY_VERSION = re.compile(r",\s*(\d+)\)\s+already exists")

# (payload JSON) -> the current model; raises DecodeError / ValidationError
Decoder = Callable[[str], Message]


class EventStoreError(ValueError):
    """An append this store refuses: no open transaction, a message type the store does not
    hold (it could not be read back), a bad expected version, or an event id stored already."""


@dataclass(frozen=True)
class StoredEvent:
    position: int  # global, commit-ordered: a reader tailing it never skips a late commit
    stream_id: str
    version: int  # 1-based within the stream
    envelope: Envelope[Message]  # payload upcast to the current version
    stored_version: int  # the schema version the event was written in

    @property
    def message(self) -> Message:
        return self.envelope.payload


class EventStore:
    """`append`, `read_stream`, `read_all` and snapshots on the caller's connection."""

    def __init__(self, spec: EventStoreSpec, messages: Sequence[type[Message]]) -> None:
        self.spec = spec
        self.messages = tuple(messages)
        self._classes: dict[str, type[Message]] = {}
        for cls in self.messages:
            if self._classes.setdefault(cls.TYPE, cls) is not cls:
                raise ValueError(f"event store {spec.table}: duplicate message type {cls.TYPE}")
        # Checked (and quoted) at the first use, so importing a generated module never fails
        # on a name; the names come from the build, which checks them too.
        self._sql: _Statements | None = None
        self._decoders: dict[tuple[str, int], Decoder] = {}

    # -- schema -----------------------------------------------------------------------------

    def ensure_schema(self, conn: Any) -> None:
        """Create the events and snapshots tables if missing (idempotent DDL of runtime.sql).

        In the caller's transaction if one is open, else in one of its own. Tables that exist
        already are left alone without taking a lock (as `Store.ensure_schema` does).
        """
        kinds = {"events": self.spec.table, "snapshots": self.spec.snapshot_table}
        if has_tables(conn, kinds.values()):
            return
        if dialect_of(conn) == "postgres":
            with conn.transaction():  # a savepoint inside the caller's transaction
                ensure_tables(conn, kinds)
            return
        own = not conn.in_transaction
        if own:
            conn.execute("BEGIN IMMEDIATE")
        try:
            ensure_tables(conn, kinds)
        except BaseException:
            if own and conn.in_transaction:
                conn.rollback()
            raise
        if own:
            conn.commit()

    # -- append -----------------------------------------------------------------------------

    def append(
        self,
        conn: Any,
        stream_id: str,
        expected_version: int,
        events: Sequence[Message | Envelope[Message]],
        *,
        correlation_id: str | None = None,
        causation_id: UUID | None = None,
        occurred_at: datetime | None = None,
    ) -> int:
        """Append `events` as versions `expected_version + 1 ...` of the stream; the last one.

        All or nothing, in the caller's open transaction (nothing commits here). The stream
        must be at `expected_version` (0: a new stream), else `ConcurrencyError(expected,
        actual)`. A Message gets a fresh event id and `occurred_at` (default: now); an
        Envelope keeps its own event id and occurred_at, and its own correlation and causation
        ids when it has them (else the keyword ones). No events: nothing is written and
        `expected_version` is returned.
        """
        dialect = dialect_of(conn)
        _require_transaction(conn, dialect)
        if type(expected_version) is not int or expected_version < 0:
            raise EventStoreError(f"expected_version {expected_version!r}: expected an int >= 0")
        if not isinstance(stream_id, str) or not stream_id:
            raise EventStoreError(f"stream_id {stream_id!r}: expected a non-empty string")
        if not events:
            return expected_version
        if occurred_at is not None and occurred_at.tzinfo is None:
            raise EventStoreError("occurred_at: naive datetime, give a timezone-aware one")
        rows = self._rows(events, correlation_id, causation_id, occurred_at or datetime.now(UTC))
        sql = self._statements()
        if dialect == "postgres":
            return self._append_postgres(conn, sql, stream_id, expected_version, rows)
        return self._append_sqlite(conn, sql, stream_id, expected_version, rows)

    def _rows(
        self,
        events: Sequence[Message | Envelope[Message]],
        correlation_id: str | None,
        causation_id: UUID | None,
        now: datetime,
    ) -> list[tuple[UUID, str, int, datetime, str | None, UUID | None, str]]:
        """(event_id, type, schema_version, occurred_at, correlation, causation, payload)."""
        classes = self._classes
        rows = []
        for event in events:
            if isinstance(event, Envelope):
                payload = event.payload
                row = (
                    event.event_id,
                    payload.TYPE,
                    payload.VERSION,
                    event.occurred_at,
                    event.correlation_id if event.correlation_id is not None else correlation_id,
                    event.causation_id if event.causation_id is not None else causation_id,
                    payload.model_dump_json(),
                )
            else:
                payload = event
                row = (
                    uuid4(),
                    event.TYPE,
                    event.VERSION,
                    now,
                    correlation_id,
                    causation_id,
                    event.model_dump_json(),
                )
            if classes.get(payload.TYPE) is not type(payload):
                raise EventStoreError(
                    f"event store {self.spec.table} does not hold {type(payload).__name__} "
                    f"({getattr(payload, 'TYPE', '?')}): it could not be read back"
                )
            rows.append(row)
        return rows

    def _append_postgres(
        self,
        conn: Any,
        sql: _Statements,
        stream_id: str,
        expected: int,
        rows: list[tuple[UUID, str, int, datetime, str | None, UUID | None, str]],
    ) -> int:
        import psycopg

        if len(rows) == 1:
            query = sql.insert_one_pg
            params: tuple[Any, ...] = (stream_id, expected + 1, *rows[0], stream_id, expected)
        else:
            query = sql.insert_many_pg
            columns = (list(column) for column in zip(*rows, strict=True))
            params = (stream_id, expected, *columns, stream_id, expected)
        try:
            # One statement, one round trip: the store lock (a CTE the rows are joined to, so
            # it is held before `position` is drawn) and the conditional insert.
            if conn.info.pipeline_status != psycopg.pq.PipelineStatus.OFF:
                # The caller's pipeline would leave rowcount unknown (-1) until its next sync;
                # a nested pipeline syncs on exit, so the count (or the violation) is here.
                with conn.pipeline():
                    cursor = conn.execute(query, params)
            else:
                cursor = conn.execute(query, params)
        except psycopg.errors.UniqueViolation as exc:
            self._conflict_postgres(exc, stream_id, expected)
            raise  # pragma: no cover - _conflict_postgres always raises
        if cursor.rowcount != len(rows):
            actual = self.stream_version(conn, stream_id)
            raise ConcurrencyError(stream_id, expected, actual)
        return expected + len(rows)

    def _conflict_postgres(self, exc: Any, stream_id: str, expected: int) -> None:
        """A unique violation. The version check runs on the statement's snapshot, taken
        before the lock was granted: a writer that waited for the lock while another one
        appended to the same stream passes the check and is stopped here by the unique
        (stream_id, version) index. The transaction is aborted, so `actual` cannot be read:
        it is the version the violation names (the stream holds at least that one)."""
        constraint = exc.diag.constraint_name or ""
        if constraint == f"{self.spec.table}_event_id_key":
            raise EventStoreError(
                f"stream {stream_id!r}: an event id is stored already ({exc.diag.message_detail})"
            ) from exc
        found = _KEY_VERSION.search(exc.diag.message_detail or "")
        actual = int(found.group(1)) if found else expected + 1
        raise ConcurrencyError(stream_id, expected, max(actual, expected + 1)) from exc

    def _append_sqlite(
        self,
        conn: sqlite3.Connection,
        sql: _Statements,
        stream_id: str,
        expected: int,
        rows: list[tuple[UUID, str, int, datetime, str | None, UUID | None, str]],
    ) -> int:
        values: list[Any] = []
        for offset, (event_id, kind, schema, moment, corr, caus, payload) in enumerate(rows, 1):
            values += (
                stream_id, expected + offset, str(event_id), kind, schema, iso_utc(moment),
                corr, None if caus is None else str(caus), payload,
            )  # fmt: skip
        first = min(len(rows), _SQLITE_CHUNK)
        try:
            # The first chunk carries the version check; the statement takes the write lock,
            # so later chunks (one append of more than _SQLITE_CHUNK events) need none.
            cursor = conn.execute(
                sql.insert_sqlite(first, conditional=True),
                [*values[: first * 9], stream_id, expected],
            )
            if cursor.rowcount != first:
                raise ConcurrencyError(stream_id, expected, self.stream_version(conn, stream_id))
            for start in range(first, len(rows), _SQLITE_CHUNK):
                count = min(_SQLITE_CHUNK, len(rows) - start)
                conn.execute(
                    sql.insert_sqlite(count, conditional=False),
                    values[start * 9 : (start + count) * 9],
                )
        except sqlite3.OperationalError as exc:
            # SQLITE_BUSY_SNAPSHOT: this transaction read (loaded the stream) before another
            # one committed a write, so it cannot become the writer: another writer won. The
            # stream cannot be re-read in this snapshot; `actual` is a lower bound, as on
            # PostgreSQL's waiting path. Roll back and decide again (or open the transaction
            # with BEGIN IMMEDIATE, `Store.transaction(immediate=True)`, to wait instead).
            if getattr(exc, "sqlite_errorcode", None) != _SQLITE_BUSY_SNAPSHOT:
                raise
            raise ConcurrencyError(stream_id, expected, expected + 1) from exc
        except sqlite3.IntegrityError as exc:
            if "event_id" in str(exc):
                raise EventStoreError(
                    f"stream {stream_id!r}: an event id is stored already ({exc})"
                ) from exc
            raise ConcurrencyError(
                stream_id, expected, self.stream_version(conn, stream_id)
            ) from exc
        return expected + len(rows)

    # -- reads ------------------------------------------------------------------------------

    def read_stream(
        self, conn: Any, stream_id: str, from_version: int = 1
    ) -> Iterator[StoredEvent]:
        """The stream's events from `from_version` on, by version.

        The query runs now (on the caller's transaction); events are decoded as the iterator
        is consumed, and one the build cannot read raises StoredEventError there.
        """
        dialect = dialect_of(conn)
        sql = self._statements()
        query = sql.read_stream_pg if dialect == "postgres" else sql.read_stream_sqlite
        rows = conn.execute(query, (stream_id, from_version)).fetchall()
        return self._decoded(rows, dialect == "sqlite")

    def read_all(self, conn: Any, after_position: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Up to `limit` events with a position above `after_position`, by position.

        Positions are commit-ordered but may have gaps (a rolled-back append consumes its
        sequence values): tail with `after_position = last.position`, never by counting.
        """
        if type(limit) is not int or limit < 0:
            raise ValueError(f"limit {limit!r}: expected an int >= 0")
        dialect = dialect_of(conn)
        sql = self._statements()
        query = sql.read_all_pg if dialect == "postgres" else sql.read_all_sqlite
        rows = conn.execute(query, (after_position, limit)).fetchall()
        return list(self._decoded(rows, dialect == "sqlite"))

    def head_position(self, conn: Any) -> int:
        """The highest committed position (0: an empty store)."""
        row = conn.execute(self._statements().head).fetchone()
        return int(row[0])

    def stream_version(self, conn: Any, stream_id: str) -> int:
        """The stream's last version (0: no such stream)."""
        sql = self._statements()
        query = sql.version_pg if dialect_of(conn) == "postgres" else sql.version_sqlite
        return int(conn.execute(query, (stream_id,)).fetchone()[0])

    def _decoded(self, rows: list[Any], sqlite: bool) -> Iterator[StoredEvent]:
        decoders = self._decoders
        for position, stream_id, version, event_id, kind, schema, moment, corr, caus, data in rows:
            decode = decoders.get((kind, schema))
            try:
                if decode is None:
                    decode = self._decoder(kind, schema)
                message = decode(data)
                if sqlite:
                    event_id = UUID(event_id)
                    moment = datetime.fromisoformat(moment)
                    if caus is not None:
                        caus = UUID(caus)
                if moment.tzinfo is not UTC:
                    if moment.tzinfo is None:  # a row written by hand, not by iso_utc
                        raise ValueError(f"occurred_at {moment.isoformat()} has no timezone")
                    moment = moment.astimezone(UTC)
            except DecodeError as exc:
                raise StoredEventError(stream_id, version, position, exc.detail) from exc
            except ValidationError as exc:
                detail = f"{kind} v{schema} payload no longer decodes: {_first_error(exc)}"
                raise StoredEventError(stream_id, version, position, detail) from exc
            except (ValueError, TypeError) as exc:  # a malformed id or time written by hand
                raise StoredEventError(stream_id, version, position, f"bad row: {exc}") from exc
            envelope = _construct(
                Envelope,
                {
                    "event_id": event_id,
                    "type": kind,
                    "schema_version": message.VERSION,
                    "occurred_at": moment,
                    "correlation_id": corr,
                    "causation_id": caus,
                    "payload": message,
                },
            )
            yield StoredEvent(position, stream_id, version, envelope, schema)

    def _decoder(self, kind: str, schema: int) -> Decoder:
        """The payload decoder of one (type, stored version): strict JSON validation of the
        current model, after the upcaster chain for an older version."""
        cls = self._classes.get(kind)
        if cls is None:
            raise DecodeError("unknown_type", f"unknown event type {kind!r} (not in this build)")
        if type(schema) is not int or schema < 1:
            raise DecodeError("unsupported_version", f"{kind}: schema_version {schema!r}", kind)
        try:
            upcast = upcast_for(cls, schema)
        except DecodeError as exc:
            raise DecodeError(exc.reason, f"{kind}: {exc.detail}", kind) from exc
        validate = cls.model_validate_json
        if upcast is None:

            def decode(data: str) -> Message:
                return validate(data, strict=True)

        else:
            lift = upcast

            def decode(data: str) -> Message:
                payload = from_json(data)
                if not isinstance(payload, dict):
                    raise DecodeError("invalid_payload", f"{kind} v{schema}: not an object", kind)
                # pydantic's serializer: several times json.dumps' speed, same JSON values
                return validate(to_json(lift(kind, schema, payload)), strict=True)

        self._decoders[(kind, schema)] = decode
        return decode

    # -- snapshots --------------------------------------------------------------------------

    def load_snapshot(self, conn: Any, stream_id: str, state_hash: str) -> tuple[int, bytes] | None:
        """(version, state bytes) of the stream's snapshot, or None when there is none or it
        was taken under another state schema (`state_hash`)."""
        sql = self._statements()
        pg = dialect_of(conn) == "postgres"
        row = conn.execute(
            sql.load_snapshot_pg if pg else sql.load_snapshot_sqlite, (stream_id,)
        ).fetchone()
        if row is None or row[1] != state_hash:
            return None
        return int(row[0]), bytes(row[2])

    def save_snapshot(
        self, conn: Any, stream_id: str, version: int, state_hash: str, state: bytes
    ) -> None:
        """Keep `state` as the stream's snapshot at `version`, unless a newer one under the
        same `state_hash` is stored already (one taken under another hash is replaced)."""
        sql = self._statements()
        if dialect_of(conn) == "postgres":
            conn.execute(sql.save_snapshot_pg, (stream_id, version, state_hash, state))
        else:
            now = iso_utc(datetime.now(UTC))
            conn.execute(sql.save_snapshot_sqlite, (stream_id, version, state_hash, state, now))

    # -- SQL --------------------------------------------------------------------------------

    def _statements(self) -> _Statements:
        if self._sql is None:
            self._sql = _Statements(self.spec.table, self.spec.snapshot_table)
        return self._sql


class _Statements:
    """The store's SQL text, built once per store (fixed text: psycopg prepares it)."""

    def __init__(self, table: str, snapshot_table: str) -> None:
        events = quote(table)
        snapshots = quote(snapshot_table)
        self.table = table
        # Literal keys (the table name is checked by `quote`): no parameters to send. A
        # MATERIALIZED CTE the inserted rows are joined to: the lock is granted before any
        # row (and its `position`) is produced; a false version check skips it altogether.
        lock = (
            "WITH store_lock AS MATERIALIZED (SELECT pg_advisory_xact_lock("
            f"hashtext('{LOCK_NAMESPACE}'), hashtext('{table}'))) "
        )
        insert = (
            f"INSERT INTO {events} (stream_id, version, event_id, type, schema_version, "
            "occurred_at, correlation_id, causation_id, payload)"
        )
        check = f"WHERE (SELECT coalesce(max(version), 0) FROM {events} WHERE stream_id = %s) = %s"
        # Fixed text for every call (psycopg prepares it after a few runs): one event as
        # scalars, several as arrays unnested in order (`ORDER BY n`: positions in order).
        self.insert_one_pg = (
            f"{lock}{insert} SELECT %s, %s, %s::uuid, %s, %s::int, %s::timestamptz, %s, "
            f"%s::uuid, %s FROM store_lock {check}"
        )
        self.insert_many_pg = (
            f"{lock}{insert} SELECT %s, %s + e.n, e.event_id, e.type, e.schema_version, "
            "e.occurred_at, e.correlation_id, e.causation_id, e.payload "
            "FROM store_lock, unnest(%s::uuid[], %s::text[], %s::int[], %s::timestamptz[], "
            "%s::text[], %s::uuid[], %s::text[]) WITH ORDINALITY "
            "AS e(event_id, type, schema_version, occurred_at, correlation_id, causation_id, "
            f"payload, n) {check} ORDER BY e.n"
        )
        self._insert_sqlite = insert
        self._insert_cache: dict[tuple[int, bool], str] = {}
        self._check_sqlite = (
            f" WHERE (SELECT coalesce(max(version), 0) FROM {events} WHERE stream_id = ?) = ?"
        )
        select = f"SELECT {_COLUMNS} FROM {events}"
        self.read_stream_pg = f"{select} WHERE stream_id = %s AND version >= %s ORDER BY version"
        self.read_stream_sqlite = f"{select} WHERE stream_id = ? AND version >= ? ORDER BY version"
        self.read_all_pg = f"{select} WHERE position > %s ORDER BY position LIMIT %s"
        self.read_all_sqlite = f"{select} WHERE position > ? ORDER BY position LIMIT ?"
        self.head = f"SELECT coalesce(max(position), 0) FROM {events}"
        self.version_pg = f"SELECT coalesce(max(version), 0) FROM {events} WHERE stream_id = %s"
        self.version_sqlite = f"SELECT coalesce(max(version), 0) FROM {events} WHERE stream_id = ?"
        load = f"SELECT version, state_hash, state FROM {snapshots} WHERE stream_id = "
        self.load_snapshot_pg = load + "%s"
        self.load_snapshot_sqlite = load + "?"
        upsert = (
            "ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, "
            "state_hash = excluded.state_hash, state = excluded.state, "
            "taken_at = excluded.taken_at "
            f"WHERE {snapshots}.version <= excluded.version "
            f"OR {snapshots}.state_hash <> excluded.state_hash"
        )
        self.save_snapshot_pg = (
            f"INSERT INTO {snapshots} (stream_id, version, state_hash, state, taken_at) "
            f"VALUES (%s, %s, %s, %s, now()) {upsert}"
        )
        self.save_snapshot_sqlite = (
            f"INSERT INTO {snapshots} (stream_id, version, state_hash, state, taken_at) "
            f"VALUES (?, ?, ?, ?, ?) {upsert}"
        )

    def insert_sqlite(self, count: int, *, conditional: bool) -> str:
        """`count` rows in one INSERT ... SELECT; `conditional`: only at the expected version.

        SQLite runs the SELECT to its end before it inserts (it reads the target table), so
        the version check holds for every row of the statement.
        """
        text = self._insert_cache.get((count, conditional))
        if text is None:
            values = ", ".join("(?, ?, ?, ?, ?, ?, ?, ?, ?)" for _ in range(count))
            text = f"{self._insert_sqlite} SELECT * FROM (VALUES {values})"
            if conditional:
                text += self._check_sqlite
            self._insert_cache[(count, conditional)] = text
        return text


_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE (libpq's PQTRANS_IDLE), without the import


def _require_transaction(conn: Any, dialect: Dialect) -> None:
    """Refuse an autocommit connection outside a transaction: the events would commit alone
    (and on PostgreSQL the store lock would end with the statement)."""
    if dialect == "sqlite":
        if not conn.in_transaction and conn.isolation_level is None:
            raise EventStoreError(
                "EventStore.append() needs an open transaction on the sqlite3 connection (BEGIN)"
            )
        return
    if conn.autocommit and conn.info.transaction_status == _IDLE:
        raise EventStoreError(
            "EventStore.append() needs an open transaction (conn.transaction()) on the psycopg "
            "connection: in autocommit mode the events would commit on their own"
        )


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return str(exc)
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "(payload)"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"
