"""Store: SQLite files and a real PostgreSQL; DDL text; bounded, one-line connection errors."""

from __future__ import annotations

import socket
import sqlite3
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.db import Store, StoreError, dialect_of
from eventgen.runtime.sql import SqlNameError, quote, statements, table_ddl

KINDS = ("outbox", "inbox", "parked")


def _unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def _open_bounded(kind: Any, config: RuntimeConfig, bound_s: float = 60.0) -> BaseException:
    """Store.open in a thread; the exception it raised (fails if it hangs past `bound_s`)."""
    outcome: list[BaseException | Store] = []

    def attempt() -> None:
        try:
            outcome.append(Store.open(kind, config))
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome.append(exc)

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(bound_s)
    assert not thread.is_alive(), f"Store.open did not return within {bound_s} s"
    result = outcome[0]
    if isinstance(result, Store):
        result.close()
        pytest.fail("Store.open succeeded where it should have failed")
    return result


def test_ddl_is_deterministic_and_complete() -> None:
    for dialect in ("sqlite", "postgres"):
        for kind in KINDS:
            text = table_ddl(dialect, kind, "orders_outbox")  # type: ignore[arg-type]
            assert text == table_ddl(dialect, kind, "orders_outbox")  # type: ignore[arg-type]
            assert text.startswith('CREATE TABLE IF NOT EXISTS "orders_outbox" (')
            assert text.endswith(";\n")
            assert all("IF NOT EXISTS" in statement for statement in statements(text))
    outbox = table_ddl("postgres", "outbox", "t")
    for column in ("seq bigserial", "id uuid", "aggregatetype", "aggregateid", "type text",
                   "payload bytea", "key bytea", "schema_version", "occurred_at",
                   "correlation_id", "causation_id", "headers", "created_at"):  # fmt: skip
        assert column in outbox
    assert "INTEGER PRIMARY KEY AUTOINCREMENT" in table_ddl("sqlite", "outbox", "t")
    assert "PRIMARY KEY (consumer_group, event_id)" in table_ddl("sqlite", "inbox", "t")
    assert "PRIMARY KEY (consumer_group, topic, key)" in table_ddl("postgres", "parked", "t")


@pytest.mark.parametrize(
    "name", ["Orders", "1st", "a-b", 'x"; DROP TABLE y; --', "", "a b", "é", "a" * 49]
)
def test_bad_table_names_are_refused(name: str) -> None:
    with pytest.raises(SqlNameError):
        quote(name)
    with pytest.raises(SqlNameError):
        table_ddl("sqlite", "inbox", name)


def test_sqlite_store_wal_transactions_and_schema(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "app.sqlite3"
    store = Store.open("sqlite", RuntimeConfig(sqlite_path=str(path), connect_timeout_s=2))
    try:
        assert store.dialect == "sqlite" and path.is_file()
        assert store.connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.connection.execute("PRAGMA busy_timeout").fetchone()[0] == 2000
        store.ensure_schema({"outbox": "ob", "inbox": "ib", "parked": "pk"})
        store.ensure_schema({"outbox": "ob", "inbox": "ib", "parked": "pk"})  # idempotent
        names = {row[0] for row in store.connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}  # fmt: skip
        assert {"ob", "ib", "pk"} <= names
        with store.transaction() as conn:
            assert dialect_of(conn) == "sqlite" and conn.in_transaction
            conn.execute("INSERT INTO pk VALUES ('g', 't', x'01', 'now', 'r', 1)")
        with pytest.raises(RuntimeError), store.transaction() as conn:
            conn.execute("INSERT INTO pk VALUES ('g', 't', x'02', 'now', 'r', 2)")
            raise RuntimeError("handler failed")
        assert store.connection.execute("SELECT key FROM pk").fetchall() == [(b"\x01",)]
    finally:
        store.close()


def test_sqlite_write_lock_wait_is_bounded(tmp_path: Path) -> None:
    config = RuntimeConfig(sqlite_path=str(tmp_path / "db.sqlite3"), connect_timeout_s=0.2)
    first, second = Store.open("sqlite", config), Store.open("sqlite", config)
    try:
        with (
            first.transaction(immediate=True),
            pytest.raises(sqlite3.OperationalError, match="locked"),
            second.transaction(immediate=True),
        ):
            pass
        with second.transaction(immediate=True):  # free again once the first committed
            pass
    finally:
        first.close()
        second.close()


def test_sqlite_unopenable_path_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    error = _open_bounded("sqlite", RuntimeConfig(sqlite_path=str(blocker / "x.sqlite3")))
    assert isinstance(error, StoreError) and "\n" not in str(error)
    assert str(blocker) in str(error)


def test_missing_postgres_dsn() -> None:
    error = _open_bounded("postgres", RuntimeConfig(postgres_dsn=None))
    assert isinstance(error, StoreError) and "EVENTGEN_POSTGRES_DSN" in str(error)


def test_missing_psycopg_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # `import psycopg` raises ImportError
    error = _open_bounded("postgres", RuntimeConfig(postgres_dsn="postgresql://x@127.0.0.1/x"))
    assert isinstance(error, StoreError) and "psycopg is not installed" in str(error)


@pytest.fixture
def pg_store(postgres_dsn: str) -> Iterator[Store]:
    store = Store.open("postgres", RuntimeConfig(postgres_dsn=postgres_dsn, connect_timeout_s=5))
    yield store
    store.close()


@pytest.mark.postgres
def test_postgres_store_transactions_and_schema(pg_store: Store) -> None:
    tables = {"outbox": _unique("ob"), "inbox": _unique("ib"), "parked": _unique("pk")}
    try:
        pg_store.ensure_schema(tables)
        pg_store.ensure_schema(tables)  # idempotent
        with pg_store.transaction() as conn:
            assert dialect_of(conn) == "postgres"
            conn.execute(
                f"INSERT INTO {tables['parked']} VALUES ('g', 't', %s, now(), 'r', 1)", (b"\x01",)
            )
        with pytest.raises(RuntimeError), pg_store.transaction() as conn:
            conn.execute(
                f"INSERT INTO {tables['parked']} VALUES ('g', 't', %s, now(), 'r', 2)", (b"\x02",)
            )
            raise RuntimeError("handler failed")
        rows = pg_store.connection.execute(f"SELECT key FROM {tables['parked']}").fetchall()
        assert rows == [(b"\x01",)]
    finally:
        for table in tables.values():
            pg_store.connection.execute(f"DROP TABLE IF EXISTS {table}")


@pytest.mark.postgres
def test_postgres_concurrent_ensure_schema(postgres_dsn: str) -> None:
    """Several processes creating the same tables at once all succeed (schema lock)."""
    tables = {"outbox": _unique("ob"), "inbox": _unique("ib")}
    config = RuntimeConfig(postgres_dsn=postgres_dsn, connect_timeout_s=5)
    stores = [Store.open("postgres", config) for _ in range(4)]
    errors: list[BaseException] = []

    def create(store: Store) -> None:
        try:
            store.ensure_schema(tables)
        except BaseException as exc:  # noqa: BLE001 - collected for the assert
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(store,)) for store in stores]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not any(thread.is_alive() for thread in threads)
        assert errors == []
    finally:
        for table in tables.values():
            stores[0].connection.execute(f"DROP TABLE IF EXISTS {table}")
        for store in stores:
            store.close()


@pytest.mark.postgres
def test_postgres_wrong_database_is_one_line(postgres_dsn: str) -> None:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    dbname = _unique("no_such_db")
    parts = {key: str(value) for key, value in conninfo_to_dict(postgres_dsn).items()}
    parts.update(dbname=dbname, password="secret-password")
    error = _open_bounded(
        "postgres", RuntimeConfig(postgres_dsn=make_conninfo("", **parts), connect_timeout_s=5)
    )
    assert isinstance(error, StoreError)
    assert "\n" not in str(error) and dbname in str(error)
    assert "secret-password" not in str(error)


def test_postgres_refused_port_is_one_line() -> None:
    with socket.socket() as sock:  # a port nobody listens on: bind, then close
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    error = _open_bounded(
        "postgres",
        RuntimeConfig(postgres_dsn=f"postgresql://u@127.0.0.1:{port}/db", connect_timeout_s=2),
    )
    assert isinstance(error, StoreError) and "\n" not in str(error)
    assert f"127.0.0.1:{port}" in str(error)


def test_postgres_silent_server_times_out() -> None:
    """A server that accepts TCP and never answers: StoreError after the connect timeout."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)  # never accept(): the handshake completes in the kernel, then silence
        port = listener.getsockname()[1]
        error = _open_bounded(
            "postgres",
            RuntimeConfig(postgres_dsn=f"postgresql://u@127.0.0.1:{port}/db", connect_timeout_s=1),
            bound_s=30,
        )
    assert isinstance(error, StoreError) and "\n" not in str(error)


def test_unparsable_dsn_is_one_line() -> None:
    error = _open_bounded("postgres", RuntimeConfig(postgres_dsn="host=x port=notaport ='"))
    assert isinstance(error, StoreError) and "\n" not in str(error)
