"""PollingRelay in-process against the real Kafka, with SQLite files and the real PostgreSQL:
publish and delete, late commits, failed deliveries, retention, bounds and start-up errors."""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import AlterConfigOpType, ConfigEntry, ConfigResource

from eventgen.runtime.avro import decode_avro, decode_key
from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.db import Store
from eventgen.runtime.headers import envelope_headers
from eventgen.runtime.outbox import OutboxWriter
from eventgen.runtime.relay import PollingRelay, RelayStats, StartupError
from tests.runtime.relay_proc import ItemAdded, consume_all, create_topic, delete_topic, outbox_spec

pytestmark = [pytest.mark.kafka]
RUN_BOUND_S = 120.0  # a relay run that has not ended by then is stopped (and the test fails)

DIALECTS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@dataclass
class Env:
    config: RuntimeConfig
    kind: Literal["sqlite", "postgres"]
    table: str
    topic: str
    store: Store  # the application's connection

    def writer(self, **changes: Any) -> OutboxWriter:
        writer = OutboxWriter(outbox_spec(self.table, self.topic, store=self.kind, **changes))
        writer.configure(self.config)
        return writer

    def relay(self, **changes: Any) -> PollingRelay:
        return PollingRelay(outbox_spec(self.table, self.topic, store=self.kind, **changes))

    def pending(self) -> int:
        row = self.store.connection.execute(
            f"SELECT count(*) FROM {self.table} WHERE published_at IS NULL"
        ).fetchone()
        return int(row[0])

    def rows(self) -> int:
        return int(
            self.store.connection.execute(f"SELECT count(*) FROM {self.table}").fetchone()[0]
        )


@pytest.fixture(params=DIALECTS)
def env(
    request: pytest.FixtureRequest, tmp_path: Path, kafka_bootstrap_servers: str
) -> Iterator[Env]:
    kind: Literal["sqlite", "postgres"] = request.param
    dsn = request.getfixturevalue("postgres_dsn") if kind == "postgres" else None
    config = RuntimeConfig(
        bootstrap_servers=kafka_bootstrap_servers,
        postgres_dsn=dsn,
        sqlite_path=str(tmp_path / "app.sqlite3"),
        connect_timeout_s=10,
        log_interval_s=1,
    )
    suffix = uuid.uuid4().hex[:12]
    table, topic = f"outbox_{suffix}", f"relay-test-{suffix}"
    create_topic(kafka_bootstrap_servers, topic, 3)
    store = Store.open(kind, config)
    store.ensure_schema({"outbox": table})
    yield Env(config, kind, table, topic, store)
    store.connection.execute(f"DROP TABLE IF EXISTS {table}")
    store.close()
    delete_topic(kafka_bootstrap_servers, topic)


def _run(relay: PollingRelay, config: RuntimeConfig, **bounds: Any) -> RelayStats:
    stop = threading.Event()
    timer = threading.Timer(RUN_BOUND_S, stop.set)
    timer.start()
    try:
        stats = relay.run(config, stop=stop, **bounds)
    finally:
        timer.cancel()
    assert not stop.is_set(), "the relay run did not end by its own bounds"
    return stats


def _add(env: Env, carts: int, per_cart: int, **extra: Any) -> list[ItemAdded]:
    writer = env.writer()
    added = []
    for n in range(per_cart):
        with env.store.transaction() as conn:
            for cart in range(carts):
                message = ItemAdded(cart_id=f"cart-{cart}", n=n)
                writer.add(conn, message, **extra)
                added.append(message)
    return added


def _by_cart(records: list[Any]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for record in records:
        message = decode_avro(ItemAdded, record.value())
        assert decode_key("string", record.key()) == message.cart_id
        out.setdefault(message.cart_id, []).append(message.n)
    return out


def test_relay_publishes_records_and_deletes_rows(env: Env) -> None:
    writer = env.writer()
    expected: dict[str, tuple[bytes, list[tuple[str, bytes]]]] = {}
    with env.store.transaction() as conn:
        for n in range(8):
            for cart in range(5):
                message = ItemAdded(cart_id=f"cart-{cart}", n=n)
                event_id = writer.add(
                    conn, message, correlation_id=f"c{n}", headers={"tenant": "acme"}
                )
                expected[str(event_id)] = (message.model_dump_json().encode(), [])
    stats = _run(env.relay(batch=10), env.config, idle_exit_s=1.0)
    assert (stats.published, stats.batches, stats.failed_batches) == (40, 4, 0)
    assert stats.leader and env.rows() == 0
    records = consume_all(env.config.bootstrap_servers, env.topic, 40)
    assert len(records) == 40
    assert _by_cart(records) == {f"cart-{c}": list(range(8)) for c in range(5)}
    for record in records:
        headers = record.headers()
        names = [name for name, _ in headers]
        assert names[:5] == ["event_id", "type", "schema_version", "occurred_at",
                             "correlation_id"]  # fmt: skip
        assert names[5:] == ["tenant"] and headers[5][1] == b"acme"
        head = dict(headers)
        assert head["event_id"].decode() in expected
        message = decode_avro(ItemAdded, record.value())
        rebuilt = message.envelope(
            event_id=uuid.UUID(head["event_id"].decode()),
            occurred_at=datetime.fromisoformat(head["occurred_at"].decode()),
            correlation_id=head["correlation_id"].decode(),
        )
        assert headers[:5] == envelope_headers(rebuilt)


def test_relay_max_messages_is_exact(env: Env) -> None:
    _add(env, carts=2, per_cart=20)
    stats = _run(env.relay(batch=10), env.config, max_messages=15, idle_exit_s=5)
    assert stats.published == 15 and env.rows() == 25
    stats = _run(env.relay(batch=10), env.config, idle_exit_s=1.0)
    assert stats.published == 25 and env.rows() == 0
    records = consume_all(env.config.bootstrap_servers, env.topic, 40)
    assert _by_cart(records) == {"cart-0": list(range(20)), "cart-1": list(range(20))}


def test_late_committing_transaction_is_published(env: Env, tmp_path: Path) -> None:
    """Txn A adds and stays open while B commits and the relay runs; then A commits."""
    writer = env.writer()
    if env.kind == "postgres":
        late = Store.open("postgres", env.config)
        try:
            with late.transaction() as conn_a:
                writer.add(conn_a, ItemAdded(cart_id="late", n=0))  # the lower seq
                with env.store.transaction() as conn_b:
                    writer.add(conn_b, ItemAdded(cart_id="early", n=0))
                first = _run(env.relay(), env.config, idle_exit_s=1.0)
                assert first.published == 1  # B only: A is not visible yet
            seqs = [row[0] for row in env.store.connection.execute(
                f"SELECT seq FROM {env.table}")]  # fmt: skip
            assert len(seqs) == 1  # A's row, with a seq below the one published
        finally:
            late.close()
    else:
        # SQLite has one writer at a time: B cannot insert while A is open, so a late row
        # never has a lower seq than a published one. The relay finds A's row once it commits.
        with env.store.transaction() as conn_b:
            writer.add(conn_b, ItemAdded(cart_id="early", n=0))
        first = _run(env.relay(), env.config, idle_exit_s=1.0)
        assert first.published == 1
        late = Store.open("sqlite", env.config)
        try:
            with late.transaction() as conn_a:
                writer.add(conn_a, ItemAdded(cart_id="late", n=0))
                idle = _run(env.relay(), env.config, idle_exit_s=1.0)
                assert idle.published == 0  # A is not visible yet (and the relay waits for none)
        finally:
            late.close()
    second = _run(env.relay(), env.config, idle_exit_s=1.0)
    assert second.published == 1 and env.rows() == 0
    records = consume_all(env.config.bootstrap_servers, env.topic, 2)
    assert sorted(_by_cart(records)) == ["early", "late"]


def test_failed_delivery_leaves_the_rows(env: Env) -> None:
    """The broker refuses the batch (record larger than the topic allows): nothing is
    deleted; once the topic accepts it, the next run publishes every row, in order."""
    bootstrap = env.config.bootstrap_servers
    topic = f"{env.topic}-small"
    create_topic(bootstrap, topic, 1, **{"max.message.bytes": "600"})
    try:
        writer = OutboxWriter(outbox_spec(env.table, topic, store=env.kind))
        writer.configure(env.config)
        with env.store.transaction() as conn:
            for n in range(6):
                note = "x" * (2000 if n == 3 else 10)
                writer.add(conn, ItemAdded(cart_id="big", n=n, note=note))
        config = RuntimeConfig(**{**env.config.__dict__, "connect_timeout_s": 2.0})
        relay = PollingRelay(outbox_spec(env.table, topic, store=env.kind, batch=10))
        failed = _run(relay, config, idle_exit_s=3.0)
        assert failed.published == 0 and failed.failed_batches >= 1
        assert env.rows() == 6
        admin = AdminClient({"bootstrap.servers": bootstrap})
        entry = ConfigEntry("max.message.bytes", "1000000",
                            incremental_operation=AlterConfigOpType.SET)  # fmt: skip
        resource = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[entry])
        for future in admin.incremental_alter_configs([resource]).values():
            future.result(timeout=60)
        done = _run(relay, config, idle_exit_s=1.0)
        assert done.published == 6 and env.rows() == 0
        records = consume_all(bootstrap, topic, 6)
        order = _by_cart(records)["big"]
        # The refused batch may have left nothing or a prefix: every row arrives, in order.
        first_seen = list(dict.fromkeys(order))
        assert first_seen == list(range(6)) and len(order) - 6 <= 6
    finally:
        delete_topic(bootstrap, topic)


def test_retention_keeps_published_rows_until_swept(env: Env) -> None:
    _add(env, carts=2, per_cart=3)
    relay = env.relay(retention_ms=1)
    stats = _run(relay, env.config, idle_exit_s=1.0)
    assert stats.published == 6 and env.rows() == 6 and env.pending() == 0
    again = _run(relay, env.config, idle_exit_s=0.5)  # sweeps when it starts
    assert again.published == 0 and again.swept == 6 and env.rows() == 0
    assert len(consume_all(env.config.bootstrap_servers, env.topic, 6)) == 6


def test_compressed_route(env: Env) -> None:
    _add(env, carts=3, per_cart=4)
    stats = _run(env.relay(compression="zstd"), env.config, idle_exit_s=1.0)
    assert stats.published == 12
    records = consume_all(env.config.bootstrap_servers, env.topic, 12)
    assert _by_cart(records) == {f"cart-{c}": list(range(4)) for c in range(3)}


def test_unreachable_broker_is_a_startup_error(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = RuntimeConfig(
        bootstrap_servers=f"127.0.0.1:{port}",
        sqlite_path=str(tmp_path / "x.sqlite3"),
        connect_timeout_s=2,
    )
    with pytest.raises(StartupError) as caught:
        _run(PollingRelay(outbox_spec("ob", "t")), config, idle_exit_s=1)
    assert "\n" not in str(caught.value) and f"127.0.0.1:{port}" in str(caught.value)


def test_debezium_outbox_has_no_polling_relay(tmp_path: Path) -> None:
    with pytest.raises(StartupError, match="debezium"):
        PollingRelay(outbox_spec("ob", "t", relay="debezium")).run(
            RuntimeConfig(sqlite_path=str(tmp_path / "x.sqlite3")), idle_exit_s=1
        )


@pytest.mark.parametrize(
    "env", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_postgres_leader_session_killed_then_reconnects(env: Env) -> None:
    """The server ends the relay's session (pg_terminate_backend): the relay drops the lost
    leadership, reconnects, takes the lock again and publishes everything, in order."""
    relay = env.relay(batch=5)
    stop = threading.Event()
    result: list[RelayStats | BaseException] = []

    def run() -> None:
        try:
            result.append(relay.run(env.config, stop=stop, max_messages=40, idle_exit_s=60))
        except BaseException as exc:  # noqa: BLE001 - inspected below
            result.append(exc)

    def leader_pids() -> list[int]:
        rows = env.store.connection.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2 "
            "AND classid = (hashtext(%s)::bigint & 4294967295)::text::oid "
            "AND objid = (hashtext(%s)::bigint & 4294967295)::text::oid",
            ("eventgen.outbox.relay", env.table),
        ).fetchall()
        return [int(row[0]) for row in rows]

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    timer = threading.Timer(RUN_BOUND_S, stop.set)
    timer.start()
    try:
        _add(env, carts=2, per_cart=10)
        deadline = time.monotonic() + 60
        while (env.pending() or not leader_pids()) and time.monotonic() < deadline:
            time.sleep(0.1)
        [pid] = leader_pids()
        assert env.pending() == 0
        env.store.connection.execute("SELECT pg_terminate_backend(%s)", (pid,))
        writer = env.writer()
        for n in range(10, 20):
            with env.store.transaction() as conn:
                for cart in range(2):
                    writer.add(conn, ItemAdded(cart_id=f"cart-{cart}", n=n))
        thread.join(RUN_BOUND_S)
    finally:
        timer.cancel()
        stop.set()
        thread.join(30)
    [stats] = result
    assert isinstance(stats, RelayStats) and stats.published == 40, stats
    assert env.rows() == 0 and leader_pids() == []
    records = consume_all(env.config.bootstrap_servers, env.topic, 40)
    assert _by_cart(records) == {"cart-0": list(range(20)), "cart-1": list(range(20))}


def test_batch_larger_than_sqlite_parameter_chunks(env: Env) -> None:
    """A batch of 1,200 rows: the delete goes in chunks on SQLite, ANY() on PostgreSQL."""
    _add(env, carts=60, per_cart=21)
    stats = _run(env.relay(batch=1200), env.config, idle_exit_s=1.0)
    assert (stats.published, stats.batches) == (1260, 2) and env.rows() == 0
    records = consume_all(env.config.bootstrap_servers, env.topic, 1260)
    assert _by_cart(records) == {f"cart-{c}": list(range(21)) for c in range(60)}


@pytest.mark.parametrize("env", [pytest.param("sqlite")], indirect=True)
def test_sqlite_app_holding_the_write_lock_delays_without_duplicates(env: Env) -> None:
    """An application transaction holds SQLite's write lock longer than the relay's busy
    timeout: the relay produces the committed rows meanwhile (it holds no lock while it
    produces), waits for the lock to delete them, and publishes every row once (the delete
    never gives up and re-sends the batch)."""
    _add(env, carts=2, per_cart=5)
    config = RuntimeConfig(**{**env.config.__dict__, "connect_timeout_s": 1.0})
    result: list[RelayStats | BaseException] = []
    stop = threading.Event()

    def run() -> None:
        try:
            result.append(env.relay().run(config, stop=stop, idle_exit_s=6.0))
        except BaseException as exc:  # noqa: BLE001 - inspected below
            result.append(exc)

    app = Store.open("sqlite", env.config)
    thread = threading.Thread(target=run, daemon=True)
    try:
        with app.transaction(immediate=True) as conn:
            env.writer().add(conn, ItemAdded(cart_id="cart-0", n=5))
            thread.start()
            time.sleep(2.5)  # longer than the relay's busy timeout (1 s)
            assert env.pending() == 10  # nothing deleted while locked
        thread.join(RUN_BOUND_S)
    finally:
        stop.set()
        thread.join(30)
        app.close()
    [stats] = result
    assert isinstance(stats, RelayStats) and stats.published == 11 and env.rows() == 0
    records = consume_all(env.config.bootstrap_servers, env.topic, 11)
    assert _by_cart(records) == {"cart-0": list(range(6)), "cart-1": list(range(5))}


class _ProducesNowhere:
    """Real producers that reach Kafka for metadata at start-up, but send every record to a
    broker that is not there: a Kafka outage that begins after the relay started."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap

    def consumer(self, config: dict[str, Any]) -> Any:
        raise AssertionError("the relay makes no consumer")

    def producer(self, config: dict[str, Any]) -> Any:
        from confluent_kafka import Producer

        real = Producer(config)
        dead = Producer({**config, "bootstrap.servers": "127.0.0.1:1"})

        class Split:
            def list_topics(self, *args: Any, **kwargs: Any) -> Any:
                return real.list_topics(*args, **kwargs)

            def __getattr__(self, name: str) -> Any:
                return getattr(dead, name)

            def __len__(self) -> int:
                return len(dead)

        return Split()


@pytest.mark.parametrize("env", [pytest.param("sqlite")], indirect=True)
def test_sqlite_app_writes_while_kafka_does_not_acknowledge(env: Env) -> None:
    """The relay holds no SQLite lock while it waits for acks, so the application's own outbox
    writes go on during a Kafka outage (the outbox decouples the app from Kafka)."""
    _add(env, carts=1, per_cart=3)
    config = RuntimeConfig(**{**env.config.__dict__, "connect_timeout_s": 5.0})
    stop = threading.Event()
    relay = threading.Thread(
        target=lambda: env.relay().run(config, transport=_ProducesNowhere(""), stop=stop),
        daemon=True,
    )
    relay.start()
    try:
        time.sleep(2.0)  # the relay has read the batch and waits for acks that never come
        app = sqlite3.connect(env.config.sqlite_path, timeout=1.0, isolation_level=None)
        try:
            app.execute("BEGIN IMMEDIATE")  # fails with "database is locked" if it holds it
            env.writer().add(app, ItemAdded(cart_id="cart-9", n=0))
            app.execute("COMMIT")
        finally:
            app.close()
        assert env.pending() == 4
    finally:
        stop.set()
        relay.join(60)
    assert not relay.is_alive()
