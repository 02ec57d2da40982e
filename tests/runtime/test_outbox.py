"""OutboxWriter.add on SQLite files and a real PostgreSQL: the row, the caller's transaction,
the per-aggregate lock (commit order = seq order), Debezium's insert-then-delete."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pytest

from eventgen.runtime.avro import decode_avro, decode_key
from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.db import Store
from eventgen.runtime.headers import envelope_headers
from eventgen.runtime.model import Envelope, Message
from eventgen.runtime.outbox import OutboxError, OutboxWriter, dump_headers, load_headers
from eventgen.runtime.serde import codec_for
from tests.runtime.relay_proc import ItemAdded, outbox_spec

DIALECTS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=DIALECTS)
def config(request: pytest.FixtureRequest, tmp_path: Path) -> RuntimeConfig:
    if request.param == "postgres":
        dsn = request.getfixturevalue("postgres_dsn")
        return RuntimeConfig(postgres_dsn=dsn, connect_timeout_s=5)
    return RuntimeConfig(sqlite_path=str(tmp_path / "outbox.sqlite3"), connect_timeout_s=5)


def _kind(config: RuntimeConfig) -> Literal["sqlite", "postgres"]:
    return "postgres" if config.postgres_dsn else "sqlite"


@pytest.fixture
def store(config: RuntimeConfig) -> Iterator[Store]:
    store = Store.open(_kind(config), config)
    yield store
    store.close()


@pytest.fixture
def table(store: Store) -> Iterator[str]:
    name = f"outbox_{uuid.uuid4().hex[:12]}"
    store.ensure_schema({"outbox": name})
    yield name
    store.connection.execute(f"DROP TABLE IF EXISTS {name}")


def _writer(store: Store, table: str, **changes: Any) -> OutboxWriter:
    writer = OutboxWriter(outbox_spec(table, "carts.items", store=store.dialect, **changes))
    writer.configure(RuntimeConfig())
    return writer


def _rows(store: Store, table: str) -> list[Any]:
    return list(store.connection.execute(
        f"SELECT seq, id, aggregatetype, aggregateid, type, payload, key, schema_version, "
        f"occurred_at, correlation_id, causation_id, headers FROM {table} ORDER BY seq"
    ).fetchall())  # fmt: skip


def test_add_writes_the_record_as_the_publisher_would(store: Store, table: str) -> None:
    writer = _writer(store, table)
    message = ItemAdded(cart_id="cart-7", n=3, note="größe")
    when = datetime(2026, 5, 1, 9, 30, 15, 250_000, tzinfo=UTC)
    event_id, cause = uuid.uuid4(), uuid.uuid4()
    with store.transaction() as conn:
        returned = writer.add(
            conn, message, correlation_id="corr-1", causation_id=cause, event_id=event_id,
            occurred_at=when, headers={"tenant": "acme", "raw": b"\xff\x00"},
        )  # fmt: skip
    assert returned == event_id
    [row] = _rows(store, table)
    _seq, id_, topic, aggregate, type_, payload, key, version, occurred, corr, causation, extra = (
        row
    )
    assert str(id_) == str(event_id)
    assert (topic, aggregate, type_, version) == ("carts.items", "cart-7", ItemAdded.TYPE, 1)
    envelope: Envelope[Message] = message.envelope(  # type: ignore[assignment]
        event_id=event_id, occurred_at=when, correlation_id="corr-1", causation_id=cause
    )
    route = writer.spec.publisher.route(ItemAdded.TYPE)  # type: ignore[union-attr]
    value, headers = codec_for(route, RuntimeConfig()).encode(envelope, route)
    assert bytes(payload) == value
    assert decode_avro(ItemAdded, bytes(payload)) == message
    assert decode_key("string", bytes(key)) == "cart-7"
    wire = dict(envelope_headers(envelope))
    assert occurred == wire["occurred_at"].decode() and corr == "corr-1"
    assert causation == str(cause) and dict(headers) == wire
    assert load_headers(extra) == [("tenant", b"acme"), ("raw", b"\xff\x00")]


def test_add_rolls_back_with_the_callers_transaction(store: Store, table: str) -> None:
    writer = _writer(store, table)
    with pytest.raises(RuntimeError), store.transaction() as conn:
        writer.add(conn, ItemAdded(cart_id="c", n=0))
        writer.add(conn, ItemAdded(cart_id="c", n=1))
        raise RuntimeError("the business write failed")
    assert _rows(store, table) == []
    with store.transaction() as conn:
        writer.add(conn, ItemAdded(cart_id="c", n=2))
    assert [row[3] for row in _rows(store, table)] == ["c"]


def test_add_refuses_an_autocommit_connection(store: Store, table: str) -> None:
    writer = _writer(store, table)
    with pytest.raises(OutboxError, match="open transaction"):
        writer.add(store.connection, ItemAdded(cart_id="c", n=0))
    assert _rows(store, table) == []


def test_add_refuses_unrouted_messages_and_envelope_headers(store: Store, table: str) -> None:
    writer = OutboxWriter(outbox_spec(table, "t", store=store.dialect))
    bare = OutboxWriter(
        type(writer.spec)(context="carts", table=table, relay="polling", store=store.dialect)
    )
    with store.transaction() as conn:
        with pytest.raises(OutboxError, match="no route for carts.ItemAdded"):
            bare.add(conn, ItemAdded(cart_id="c", n=0))
        with pytest.raises(OutboxError, match="envelope header"):
            writer.add(conn, ItemAdded(cart_id="c", n=0), headers=[("event_id", "x")])
    assert _rows(store, table) == []


def test_caller_with_sqlite_default_isolation(tmp_path: Path) -> None:
    """A plain sqlite3.connect() connection (implicit BEGIN) works; rollback discards."""
    path = tmp_path / "plain.sqlite3"
    store = Store.open("sqlite", RuntimeConfig(sqlite_path=str(path)))
    store.ensure_schema({"outbox": "ob"})
    store.close()
    conn = sqlite3.connect(path)
    try:
        writer = OutboxWriter(outbox_spec("ob", "t"))
        writer.configure(RuntimeConfig())
        writer.add(conn, ItemAdded(cart_id="c", n=0))
        conn.rollback()
        writer.add(conn, ItemAdded(cart_id="c", n=1))
        conn.commit()
        assert conn.execute("SELECT count(*) FROM ob").fetchone() == (1,)
    finally:
        conn.close()


def test_headers_json_round_trip() -> None:
    pairs = [("a", b"text"), ("b", b"\x00\xff"), ("c", "é".encode())]
    assert load_headers(dump_headers(pairs)) == pairs
    assert load_headers(None) == []


@pytest.mark.postgres
def test_postgres_same_aggregate_commits_in_seq_order(postgres_dsn: str) -> None:
    """Txn A adds to cart X and stays open; txn B adding to X waits for A's commit (so B's
    seq is higher), txn C adding to cart Y does not wait."""
    config = RuntimeConfig(postgres_dsn=postgres_dsn, connect_timeout_s=5)
    a, b, c = (Store.open("postgres", config) for _ in range(3))
    table = f"outbox_{uuid.uuid4().hex[:12]}"
    a.ensure_schema({"outbox": table})
    writer = _writer(a, table)
    done: dict[str, BaseException | None] = {}

    def add_in(store: Store, name: str, cart: str) -> None:
        try:
            with store.transaction() as conn:
                writer.add(conn, ItemAdded(cart_id=cart, n=0, note=name))
            done[name] = None
        except BaseException as exc:  # noqa: BLE001 - inspected below
            done[name] = exc

    try:
        with a.transaction() as conn:
            writer.add(conn, ItemAdded(cart_id="X", n=0, note="A"))
            tb = threading.Thread(target=add_in, args=(b, "B", "X"), daemon=True)
            tc = threading.Thread(target=add_in, args=(c, "C", "Y"), daemon=True)
            tb.start()
            tc.start()
            tc.join(30)
            assert done == {"C": None}, "another aggregate must not wait for A"
            tb.join(1.0)
            assert "B" not in done, "the same aggregate must wait for A's commit"
        tb.join(30)
        assert done["B"] is None
        rows = a.connection.execute(f"SELECT seq, aggregateid FROM {table} ORDER BY seq").fetchall()
        by_cart = [cart for _, cart in rows]
        assert by_cart.count("X") == 2
        notes = [decode_avro(ItemAdded, bytes(p)).note for (p,) in a.connection.execute(
            f"SELECT payload FROM {table} WHERE aggregateid = 'X' ORDER BY seq")]  # fmt: skip
        assert notes == ["A", "B"]
    finally:
        a.connection.execute(f"DROP TABLE IF EXISTS {table}")
        for store in (a, b, c):
            store.close()


@pytest.mark.postgres
def test_postgres_debezium_inserts_and_deletes(postgres_dsn: str) -> None:
    store = Store.open("postgres", RuntimeConfig(postgres_dsn=postgres_dsn, connect_timeout_s=5))
    table = f"outbox_{uuid.uuid4().hex[:12]}"
    try:
        store.ensure_schema({"outbox": table})
        writer = _writer(store, table, relay="debezium")
        with store.transaction() as conn:
            writer.add(conn, ItemAdded(cart_id="c", n=0))
            # The insert happened (Debezium reads it from the WAL): seq advanced.
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
        last = store.connection.execute(f"SELECT last_value FROM {table}_seq_seq").fetchone()
        assert last == (1,)
    finally:
        store.connection.execute(f"DROP TABLE IF EXISTS {table}")
        store.close()


def test_sqlite_debezium_is_refused(tmp_path: Path) -> None:
    store = Store.open("sqlite", RuntimeConfig(sqlite_path=str(tmp_path / "d.sqlite3")))
    try:
        store.ensure_schema({"outbox": "ob"})
        writer = _writer(store, "ob", relay="debezium")
        with store.transaction() as conn, pytest.raises(OutboxError, match="postgres"):
            writer.add(conn, ItemAdded(cart_id="c", n=0))
    finally:
        store.close()
