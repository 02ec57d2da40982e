"""The runtime's database connection: embedded SQLite or PostgreSQL through psycopg 3.

A `Store` is one connection, owned by one app or relay process and used from one thread at a
time. `transaction()` yields the plain DB-API connection (`sqlite3.Connection` or
`psycopg.Connection`), so a handler's own statements (`ctx.db.execute(...)`) and the runtime's
rows (inbox, outbox) commit or roll back together.

psycopg is imported only when a PostgreSQL store opens: a service on SQLite does not need it.
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Literal, cast, get_args

from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.errors import StoreError as StoreError  # noqa: PLC0414 - its old home
from eventgen.runtime.sql import TableKind, statements, table_ddl

Dialect = Literal["sqlite", "postgres"]
# Serialises concurrent `CREATE TABLE IF NOT EXISTS` of several processes starting at once
# (PostgreSQL would otherwise fail one of them on a unique violation in pg_type).
_SCHEMA_LOCK = "eventgen.schema"


def dialect_of(conn: Any) -> Dialect:
    """Which dialect a caller's connection speaks (sqlite3 or psycopg)."""
    if isinstance(conn, sqlite3.Connection):
        return "sqlite"
    if type(conn).__module__.startswith("psycopg"):
        return "postgres"
    raise TypeError(
        f"expected a sqlite3.Connection or a psycopg.Connection, got {type(conn).__name__}"
    )


class Store:
    """One open database connection and the transactions on it."""

    def __init__(self, dialect: Dialect, conn: Any, where: str, timeout_s: float = 30.0) -> None:
        self.dialect: Dialect = dialect
        self.timeout_s = timeout_s
        self.where = where  # the file or the DSN without its password, for messages
        self._conn = conn
        self._in_transaction = False

    @classmethod
    def open(cls, kind: Literal["sqlite", "postgres"], config: RuntimeConfig) -> Store:
        """Connect within `config.connect_timeout_s`, or raise StoreError with one clear line."""
        if kind == "sqlite":
            return cls._open_sqlite(config.sqlite_path, config.connect_timeout_s)
        if kind == "postgres":
            if not config.postgres_dsn:
                raise StoreError(
                    "PostgreSQL store: no DSN (set EVENTGEN_POSTGRES_DSN or --postgres-dsn)"
                )
            return cls._open_postgres(config.postgres_dsn, config.connect_timeout_s)
        raise StoreError(f"store {kind!r}: expected 'sqlite' or 'postgres'")

    @classmethod
    def _open_sqlite(cls, path: str, timeout_s: float) -> Store:
        try:
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: the module issues no implicit BEGIN; `transaction()` writes
            # BEGIN/COMMIT itself, so the transaction's extent is exactly the `with` block.
            conn = sqlite3.connect(
                path, timeout=timeout_s, isolation_level=None, check_same_thread=False
            )
            conn.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
            conn.execute("PRAGMA foreign_keys = ON")
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"SQLite store {path}: {_one_line(exc)}") from None
        if path != ":memory:" and (mode is None or str(mode[0]).lower() != "wal"):
            conn.close()
            raise StoreError(f"SQLite store {path}: cannot switch to WAL mode (got {mode})")
        return cls("sqlite", conn, path, timeout_s)

    @classmethod
    def _open_postgres(cls, dsn: str, timeout_s: float) -> Store:
        try:
            import psycopg
        except ImportError:
            raise StoreError(
                "PostgreSQL store: psycopg is not installed (pip install 'psycopg[binary]')"
            ) from None
        where = _safe_dsn(dsn)
        try:
            # connect_timeout bounds each attempt (psycopg 3 enforces it itself, also when the
            # server accepts the connection and never answers); autocommit so that a session
            # advisory lock or a read outside `transaction()` does not leave one open.
            conn = psycopg.connect(
                dsn, connect_timeout=max(1, math.ceil(timeout_s)), autocommit=True
            )
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL store {where}: {_scrubbed(exc, dsn)}") from None
        except (ValueError, TypeError) as exc:  # a DSN psycopg cannot even parse
            raise StoreError(f"PostgreSQL store {where}: {_scrubbed(exc, dsn)}") from None
        return cls("postgres", conn, where, timeout_s)

    @property
    def connection(self) -> Any:
        """The raw connection (outside a transaction: autocommit)."""
        return self._conn

    @contextmanager
    def transaction(self, *, immediate: bool = False) -> Iterator[Any]:
        """A transaction: yields the connection, commits on exit, rolls back on an exception.

        `immediate` (SQLite): take the write lock at BEGIN (`BEGIN IMMEDIATE`), so that the
        transaction never fails later on a lock upgrade and two relays serialise whole batches.
        """
        if self._in_transaction:
            raise StoreError("nested Store.transaction() on one connection")
        self._in_transaction = True
        try:
            if self.dialect == "sqlite":
                conn = cast(sqlite3.Connection, self._conn)
                conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
                try:
                    yield conn
                except BaseException:
                    if conn.in_transaction:
                        conn.rollback()
                    raise
                if conn.in_transaction:  # a handler may have ended it itself
                    conn.commit()
            else:
                with self._conn.transaction():
                    yield self._conn
        finally:
            self._in_transaction = False

    def ensure_schema(self, kinds: Mapping[str, str]) -> None:
        """Create the tables `{kind: table}` (outbox, inbox, parked) if they do not exist.

        Tables that all exist already are left alone without taking any lock: the DDL's
        `CREATE INDEX IF NOT EXISTS` would otherwise wait for every open transaction that
        wrote the table (PostgreSQL) or for the write lock (SQLite).
        """
        if self._has_tables(kinds.values()):
            return
        with self.transaction(immediate=True) as conn:
            if self.dialect == "postgres":
                # Bounded: a table locked by a long transaction is an error, never a hang.
                conn.execute(f"SET LOCAL lock_timeout = {int(self.timeout_s * 1000)}")
            ensure_tables(conn, kinds)

    def _has_tables(self, tables: Iterable[str]) -> bool:
        return has_tables(self._conn, tables)

    def close(self) -> None:
        with suppress(Exception):  # closing a broken connection is not an error
            self._conn.close()


def has_tables(conn: Any, tables: Iterable[str]) -> bool:
    """True when every one of `tables` exists (a read: no lock taken)."""
    wanted = sorted(set(tables))
    if dialect_of(conn) == "postgres":
        rows = conn.execute(
            "SELECT to_regclass(quote_ident(name)) IS NOT NULL FROM unnest(%s::text[]) name",
            (wanted,),
        ).fetchall()
        return all(row[0] for row in rows)
    marks = ", ".join("?" for _ in wanted)
    found = conn.execute(
        f"SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ({marks})",
        wanted,
    ).fetchall()
    return len(found) == len(wanted)


def lock_schema(conn: Any) -> None:
    """PostgreSQL: serialise the runtime's `CREATE TABLE IF NOT EXISTS` runs (two creators of
    one table at once can fail on the catalog's unique index); held until the transaction ends.
    SQLite has one writer at a time anyway."""
    if dialect_of(conn) == "postgres":
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (_SCHEMA_LOCK,))


def ensure_tables(conn: Any, kinds: Mapping[str, str]) -> None:
    """Run the DDL of `{kind: table}` on a caller's connection, inside its transaction."""
    dialect = dialect_of(conn)
    lock_schema(conn)
    for kind, table in sorted(kinds.items()):
        if kind not in get_args(TableKind):
            raise ValueError(
                f"table kind {kind!r}: expected one of {', '.join(get_args(TableKind))}"
            )
        for statement in statements(table_ddl(dialect, kind, table)):  # type: ignore[arg-type]
            conn.execute(statement)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _scrubbed(exc: BaseException, dsn: str) -> str:
    """`exc` in one line without the DSN or its password: psycopg's parse errors quote the
    whole DSN (`missing "=" after "mysql://root:secret@..."`), so neither may appear."""
    text = _one_line(exc)
    if dsn:
        text = text.replace(dsn, "(dsn)")
    for secret in _passwords(dsn):
        text = text.replace(secret, "***")
    return text


def _passwords(dsn: str) -> set[str]:
    """Every spelling of a password the DSN may hold (URL userinfo, key=value, parsed)."""
    from urllib.parse import unquote, urlsplit

    found: set[str] = set()
    try:
        password = urlsplit(dsn).password
    except ValueError:
        password = None
    if password:
        found |= {password, unquote(password)}
    for match in re.finditer(r"password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", dsn):
        value = match.group(1)
        found |= {value, value.strip("'")}
    try:
        from psycopg.conninfo import conninfo_to_dict

        parsed = conninfo_to_dict(dsn).get("password")
    except Exception:  # noqa: BLE001 - unparsable or no psycopg: the spellings above remain
        parsed = None
    if parsed:
        found.add(str(parsed))
    return {value for value in found if value}


def _safe_dsn(dsn: str) -> str:
    """The DSN without a password, for messages."""
    try:
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:  # pragma: no cover - psycopg is there when this runs
        return "(dsn)"
    try:
        parts = conninfo_to_dict(dsn)
    except Exception:  # noqa: BLE001 - unparsable: say so without echoing it
        return "(unparsable DSN)"
    host = parts.get("host") or "localhost"
    port = parts.get("port") or 5432
    return f"{parts.get('user') or ''}@{host}:{port}/{parts.get('dbname') or ''}"
