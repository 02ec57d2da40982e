"""The at-least-once fast path (a consumed batch in one store transaction) on the real Kafka
and PostgreSQL: a handler failing mid-batch, duplicates inside one batch, a stop mid-batch;
and the one-pass envelope reader against EnvelopeHead's own validation."""

from __future__ import annotations

import pickle
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eventgen.runtime.app import Context
from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.errors import DecodeError
from eventgen.runtime.model import Envelope, EnvelopeHead
from eventgen.runtime.serde import envelope_of, read_record_head
from eventgen.runtime.spec import RetryPolicy
from tests.runtime.apps.kit import committed, encoded, produce, topics, unique
from tests.runtime.apps.shop import Placed, make_app

RETRY = RetryPolicy(
    max_attempts=3, initial_ms=50, multiplier=1.0, max_interval_ms=50, jitter="none"
)


@pytest.fixture
def names(kafka_bootstrap_servers: str) -> Iterator[dict[str, str]]:
    base = unique("fast")
    made = {"topic": f"{base}.in", "dlq": f"{base}.in.dlq", "group": f"{base}-g"}
    with topics(kafka_bootstrap_servers, {made["topic"]: 1, made["dlq"]: 1}):
        yield made


@pytest.fixture
def effects(postgres_dsn: str) -> Iterator[tuple[Any, str, str]]:
    """(connection, effects table, inbox table): the tables are dropped at the end."""
    psycopg = pytest.importorskip("psycopg")
    base = f"fast_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {base}_fx (seq int NOT NULL)")
        try:
            yield conn, f"{base}_fx", f"{base}_inbox"
        finally:
            conn.execute(f"DROP TABLE IF EXISTS {base}_fx")
            conn.execute(f"DROP TABLE IF EXISTS {base}_inbox")


def pg_config(bootstrap: str, dsn: str) -> RuntimeConfig:
    return RuntimeConfig(
        bootstrap_servers=bootstrap, postgres_dsn=dsn, connect_timeout_s=10.0, log_interval_s=60.0
    )


def rows(conn: Any, table: str) -> list[int]:
    return sorted(r[0] for r in conn.execute(f"SELECT seq FROM {table}").fetchall())


@pytest.mark.kafka
@pytest.mark.postgres
def test_a_failing_handler_mid_batch_keeps_every_effect_once(
    kafka_bootstrap_servers: str, postgres_dsn: str, names: dict[str, str], effects: Any
) -> None:
    conn, table, inbox = effects
    topic = names["topic"]
    produce(kafka_bootstrap_servers, topic,
            [encoded(topic, Placed(order="k", seq=i)) for i in range(30)])  # fmt: skip
    app = make_app(topic, names["group"], dlq=names["dlq"], idempotency="postgres",
                   inbox_table=inbox, retry=RETRY)  # fmt: skip
    calls: list[tuple[int, int]] = []

    @app.on(Placed)
    def handle(event: Placed, ctx: Context[Placed]) -> None:
        calls.append((event.seq, ctx.attempt))
        ctx.db.execute(f"INSERT INTO {table} (seq) VALUES (%s)", (event.seq,))
        if event.seq == 10 and ctx.attempt == 1:
            raise RuntimeError("transient")  # after its own statement: undone, not committed

    stats = app.run(pg_config(kafka_bootstrap_servers, postgres_dsn), idle_exit_s=2.0)
    assert rows(conn, table) == list(range(30))
    # Each handler ran once, but the failed one, which ran again as attempt 2, in key order.
    assert calls == [(i, 1) for i in range(11)] + [(10, 2)] + [(i, 1) for i in range(11, 30)]
    assert (stats.handled, stats.retried, stats.dead_lettered, stats.duplicates) == (30, 1, 0, 0)
    assert committed(kafka_bootstrap_servers, names["group"], topic, 1) == [30]
    inbox_rows = conn.execute(f"SELECT count(*) FROM {inbox}").fetchone()[0]
    assert inbox_rows == 30


@pytest.mark.kafka
@pytest.mark.postgres
def test_copies_of_one_event_in_a_batch_are_handled_once(
    kafka_bootstrap_servers: str, postgres_dsn: str, names: dict[str, str], effects: Any
) -> None:
    conn, table, inbox = effects
    topic = names["topic"]
    records = [encoded(topic, Placed(order="k", seq=i)) for i in range(8)]
    records[5:5] = [records[2], records[2]]  # the same event_id (headers) twice more
    produce(kafka_bootstrap_servers, topic, records)
    app = make_app(topic, names["group"], idempotency="postgres", inbox_table=inbox)

    @app.on(Placed)
    def handle(event: Placed, ctx: Context[Placed]) -> None:
        ctx.db.execute(f"INSERT INTO {table} (seq) VALUES (%s)", (event.seq,))

    stats = app.run(pg_config(kafka_bootstrap_servers, postgres_dsn), idle_exit_s=2.0)
    assert rows(conn, table) == list(range(8))
    assert (stats.consumed, stats.handled, stats.duplicates) == (10, 8, 2)
    assert committed(kafka_bootstrap_servers, names["group"], topic, 1) == [10]


@pytest.mark.kafka
@pytest.mark.postgres
def test_a_stop_mid_batch_takes_back_the_claims_of_the_records_not_handled(
    kafka_bootstrap_servers: str, postgres_dsn: str, names: dict[str, str], effects: Any
) -> None:
    conn, table, inbox = effects
    topic = names["topic"]
    produce(kafka_bootstrap_servers, topic,
            [encoded(topic, Placed(order="k", seq=i)) for i in range(20)])  # fmt: skip
    stop = threading.Event()

    def make() -> Any:
        app = make_app(topic, names["group"], idempotency="postgres", inbox_table=inbox)

        @app.on(Placed)
        def handle(event: Placed, ctx: Context[Placed]) -> None:
            ctx.db.execute(f"INSERT INTO {table} (seq) VALUES (%s)", (event.seq,))
            if event.seq == 4:
                stop.set()

        return app

    first = make().run(pg_config(kafka_bootstrap_servers, postgres_dsn), stop=stop)
    assert first.handled == 5 and rows(conn, table) == list(range(5))
    assert conn.execute(f"SELECT count(*) FROM {inbox}").fetchone()[0] == 5
    assert committed(kafka_bootstrap_servers, names["group"], topic, 1) == [5]
    stop.clear()
    second = make().run(pg_config(kafka_bootstrap_servers, postgres_dsn), idle_exit_s=2.0)
    assert (second.handled, second.duplicates) == (15, 0)
    assert rows(conn, table) == list(range(20))


class _Rec:
    def __init__(self, headers: list[tuple[str, bytes | None]]) -> None:
        self._headers = headers

    def headers(self) -> list[tuple[str, bytes | None]]:
        return self._headers

    def topic(self) -> str:
        return "t"

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return 7

    def timestamp(self) -> tuple[int, int]:
        return (1, 1_700_000_000_000)

    def key(self) -> bytes | None:
        return None

    def error(self) -> Any:
        return None

    def value(self) -> bytes | None:
        return b""


GOOD = {
    "event_id": "0b5e0c2e-6c1f-4b0e-9a55-4bbf3e0b1a11",
    "schema_version": "1",
    "occurred_at": "2026-12-01T10:00:00.123456Z",
    "correlation_id": "corr",
    "causation_id": "9f1d4a4e-54c7-4a32-a4b6-1d1a1bb0a6f2",
}
BAD_VALUES = {
    "event_id": ["nope", "0b5e0c2e6c1f4b0e9a554bbf3e0b1a11", "{0b5e0c2e-6c1f-4b0e-9a55-4bbf3e0b1a11}",
                 " 0b5e0c2e-6c1f-4b0e-9a55-4bbf3e0b1a11", "0b5e0c2e-6c1f-4b0e-9a55-4bbf3e0b1a1_"],
    "schema_version": ["0", "two", "-1", "1.0", "2147483648", "\u0661", " 1", ""],
    "occurred_at": ["yesterday", "2026-02-30T10:00:00Z", "2026-12-01T10:00:00",
                    "2026-12-01 10:00:00Z", "2026-12-01T24:00:00Z"],
    "causation_id": ["123", ""],
}  # fmt: skip


def _head(fields: dict[str, str]) -> EnvelopeHead:
    headers: list[tuple[str, bytes | None]] = [(k, v.encode()) for k, v in fields.items()]
    return read_record_head(_Rec(headers), "shop.Placed")


def test_the_envelope_reader_matches_envelope_head_validation() -> None:
    head = _head(GOOD)
    assert head == EnvelopeHead.model_validate({**GOOD, "type": "shop.Placed", "schema_version": 1})
    assert head.model_fields_set == set(EnvelopeHead.model_fields)
    assert head.event_id == uuid.UUID(GOOD["event_id"]) and head.event_id.version == 4
    upper = _head({**GOOD, "event_id": GOOD["event_id"].upper()}).event_id
    assert upper == head.event_id and hash(upper) == hash(head.event_id)
    assert pickle.loads(pickle.dumps(head.event_id)) == head.event_id
    payload = Placed(order="k", seq=1)
    built = envelope_of(head, payload)
    checked = Envelope[Placed](**dict(head), payload=payload)
    assert built == checked and built.model_dump() == checked.model_dump()
    assert built.model_fields_set == checked.model_fields_set and hash(built) == hash(checked)
    assert pickle.loads(pickle.dumps(built)) == checked
    assert built.model_copy(update={"correlation_id": "x"}).correlation_id == "x"
    for name, values in BAD_VALUES.items():
        for value in values:
            with pytest.raises(DecodeError) as info:
                _head({**GOOD, name: value})
            assert info.value.reason == "bad_envelope", (name, value)
    with pytest.raises(DecodeError, match="bad_envelope"):
        read_record_head(_Rec([*[(k, v.encode()) for k, v in GOOD.items()],
                               ("correlation_id", b"\xff")]), "shop.Placed")  # fmt: skip
    # The last non-null value of a header wins; a missing event_id / occurred_at falls back.
    later = read_record_head(
        _Rec([("schema_version", b"3"), ("schema_version", b"1"), ("schema_version", None)]),
        "shop.Placed",
    )
    assert later.schema_version == 1 and later.occurred_at.year == 2023
    assert later.event_id == uuid.uuid5(uuid.NAMESPACE_URL, "kafka:t/0/7")


def test_an_empty_headers_list_needs_a_version() -> None:
    with pytest.raises(DecodeError, match="bad_envelope"):
        read_record_head(_Rec([]), "shop.Placed")


@pytest.mark.kafka
def test_a_failing_handler_mid_batch_on_sqlite_keeps_every_effect_once(
    kafka_bootstrap_servers: str, names: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "store.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE fx (seq INTEGER NOT NULL)")
    topic = names["topic"]
    records = [encoded(topic, Placed(order="k", seq=i)) for i in range(30)]
    records[20:20] = [records[3]]  # a copy of an event handled earlier in the batch
    produce(kafka_bootstrap_servers, topic, records)
    app = make_app(topic, names["group"], dlq=names["dlq"], retry=RETRY)  # SQLite inbox
    calls: list[tuple[int, int]] = []

    @app.on(Placed)
    def handle(event: Placed, ctx: Context[Placed]) -> None:
        calls.append((event.seq, ctx.attempt))
        ctx.db.execute("INSERT INTO fx (seq) VALUES (?)", (event.seq,))
        if event.seq == 12 and ctx.attempt == 1:
            raise RuntimeError("transient")

    cfg = RuntimeConfig(bootstrap_servers=kafka_bootstrap_servers, sqlite_path=str(path),
                        connect_timeout_s=10.0, log_interval_s=60.0)  # fmt: skip
    stats = app.run(cfg, idle_exit_s=2.0)
    with sqlite3.connect(path) as db:
        assert sorted(r[0] for r in db.execute("SELECT seq FROM fx")) == list(range(30))
    assert calls == [(i, 1) for i in range(13)] + [(12, 2)] + [(i, 1) for i in range(13, 30)]
    assert (stats.handled, stats.retried, stats.duplicates) == (30, 1, 1)
    assert committed(kafka_bootstrap_servers, names["group"], topic, 1) == [31]
