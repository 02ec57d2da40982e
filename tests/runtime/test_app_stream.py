"""Stream processing against the real Kafka: handling, skipping, DLQ, retries, start-up errors."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from eventgen.runtime.app import ConsumerApp, Context, StartupError
from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.failures.dlq import DLQ_HEADERS, iso_from_ms
from eventgen.runtime.spec import RetryPolicy
from tests.runtime.apps.kit import (
    committed,
    encoded,
    headers_of,
    produce,
    read_all,
    topics,
    unique,
)
from tests.runtime.apps.shop import Placed, Shipped, make_app

pytestmark = pytest.mark.kafka

FAST = RetryPolicy(
    max_attempts=3, initial_ms=50, multiplier=2.0, max_interval_ms=200, jitter="none"
)


@pytest.fixture
def names(kafka_bootstrap_servers: str) -> Iterator[dict[str, str]]:
    base = unique("s")
    made = {"topic": f"{base}.in", "dlq": f"{base}.in.dlq", "group": f"{base}-g"}
    with topics(kafka_bootstrap_servers, {made["topic"]: 2, made["dlq"]: 1}):
        yield made


def config(bootstrap: str, tmp_path: Path) -> RuntimeConfig:
    return RuntimeConfig(
        bootstrap_servers=bootstrap,
        sqlite_path=str(tmp_path / "store.sqlite3"),
        connect_timeout_s=10.0,
        log_interval_s=60.0,
    )


def test_handles_skips_and_commits(
    kafka_bootstrap_servers: str, names: dict[str, str], tmp_path: Path
) -> None:
    topic = names["topic"]
    app = make_app(topic, names["group"], dlq=names["dlq"])
    seen: list[tuple[str, int, int, int]] = []

    @app.on(Placed)
    def handle(event: Placed, ctx: Context[Placed]) -> None:
        assert ctx.db is not None  # the inbox transaction's connection (SQLite by default)
        assert ctx.type == "shop.Placed" and ctx.schema_version == 1 and ctx.topic == topic
        seen.append((event.order, event.seq, ctx.partition, ctx.attempt))

    records = [encoded(topic, Placed(order=f"o{i % 3}", seq=i)) for i in range(20)]
    records.insert(5, encoded(topic, Shipped(order="o1")))
    produce(kafka_bootstrap_servers, topic, records)
    stats = app.run(config(kafka_bootstrap_servers, tmp_path), idle_exit_s=3.0)
    assert (stats.consumed, stats.handled, stats.skipped, stats.dead_lettered) == (21, 20, 1, 0)
    assert sorted(s for _, s, _, _ in seen) == list(range(20))
    assert {a for *_, a in seen} == {1}
    for order in ("o0", "o1", "o2"):  # per key: in produce order
        seqs = [s for o, s, _, _ in seen if o == order]
        assert seqs == sorted(seqs)
    # Every record, the skipped one too, is committed: the ends of both partitions.
    ends = {r.partition(): r.offset() + 1 for r in read_all(kafka_bootstrap_servers, topic)}
    got = committed(kafka_bootstrap_servers, names["group"], topic, 2)
    assert {p: got[p] for p in ends} == ends
    # A second run of the same group finds nothing new.
    again = make_app(topic, names["group"], dlq=names["dlq"])
    again.on(Placed)(lambda event, ctx: seen.append(("again", 0, 0, 0)))
    assert again.run(config(kafka_bootstrap_servers, tmp_path), idle_exit_s=2.0).consumed == 0


def test_inbox_skips_duplicates(
    kafka_bootstrap_servers: str, names: dict[str, str], tmp_path: Path
) -> None:
    topic = names["topic"]
    twice = encoded(topic, Placed(order="dup", seq=1))
    produce(
        kafka_bootstrap_servers, topic, [twice, twice, encoded(topic, Placed(order="x", seq=2))]
    )
    app = make_app(topic, names["group"], dlq=names["dlq"])
    calls: list[int] = []
    app.on(Placed)(lambda event, ctx: calls.append(event.seq))
    stats = app.run(config(kafka_bootstrap_servers, tmp_path), idle_exit_s=3.0)
    assert sorted(calls) == [1, 2]
    assert (stats.handled, stats.duplicates) == (2, 1)


def test_poison_bytes_and_failing_handler_go_to_the_dlq_with_every_header(
    kafka_bootstrap_servers: str, names: dict[str, str], tmp_path: Path
) -> None:
    topic, dlq, group = names["topic"], names["dlq"], names["group"]
    poison = (0, b"\x02k", b"\xff\xfe not avro", [("type", b"shop.Placed"),
              ("schema_version", b"1"), ("eventgen-dlq-reason", b"old")])  # fmt: skip
    bad = encoded(topic, Placed(order="bad", seq=666))
    good = [encoded(topic, Placed(order="ok", seq=i)) for i in range(3)]
    produce(
        kafka_bootstrap_servers,
        topic,
        [(0, *poison[1:]), (0, *bad[1:]), *[(0, *g[1:]) for g in good]],
    )
    app = make_app(topic, group, dlq=dlq, retry=FAST)
    handled: list[int] = []
    attempts: list[int] = []

    @app.on(Placed)
    def handle(event: Placed, ctx: Context[Placed]) -> None:
        if event.seq == 666:
            attempts.append(ctx.attempt)
            raise RuntimeError("always " + "x" * 5000)
        handled.append(event.seq)

    stats = app.run(config(kafka_bootstrap_servers, tmp_path), idle_exit_s=3.0)
    assert handled == [0, 1, 2]  # the partition went on after the dead letter, in order
    assert attempts == [1, 2, 3]
    assert (stats.dead_lettered, stats.retried, stats.handled) == (2, 2, 3)
    letters = read_all(kafka_bootstrap_servers, dlq, expect=2)
    decode, handler = letters
    assert decode.value() == poison[2] and decode.key() == poison[1]
    h = headers_of(decode)
    assert [name for name, _ in decode.headers()] == ["type", "schema_version", *DLQ_HEADERS]
    assert h["eventgen-dlq-reason"] == "decode"  # the old one replaced, not appended
    assert h["eventgen-dlq-error-class"] == "eventgen.runtime.errors.DecodeError"
    assert h["eventgen-dlq-original-topic"] == topic
    assert (h["eventgen-dlq-original-partition"], h["eventgen-dlq-original-offset"]) == ("0", "0")
    assert h["eventgen-dlq-consumer-group"] == group and h["eventgen-dlq-attempts"] == "1"
    source = read_all(kafka_bootstrap_servers, topic)
    assert h["eventgen-dlq-original-timestamp"] == iso_from_ms(source[0].timestamp()[1])
    assert h["eventgen-dlq-first-failure-at"] == h["eventgen-dlq-last-failure-at"]

    assert handler.value() == bad[2] and handler.key() == bad[1]
    h = headers_of(handler)
    original = [name for name, _ in bad[3]]
    assert [name for name, _ in handler.headers()] == [*original, *DLQ_HEADERS]
    assert h["eventgen-dlq-reason"] == "handler"
    assert h["eventgen-dlq-error-class"] == "RuntimeError"
    assert h["eventgen-dlq-error-message"].startswith("always xxx")
    assert len(h["eventgen-dlq-error-message"].encode()) <= 4096
    assert h["eventgen-dlq-original-offset"] == "1" and h["eventgen-dlq-attempts"] == "3"
    assert h["eventgen-dlq-original-topic"] == topic and h["eventgen-dlq-consumer-group"] == group
    assert h["eventgen-dlq-original-partition"] == "0"
    assert h["eventgen-dlq-original-timestamp"] == iso_from_ms(source[1].timestamp()[1])
    for name, value in bad[3]:  # the original envelope headers, unchanged
        assert h[name] == value.decode()
    assert h["eventgen-dlq-first-failure-at"] < h["eventgen-dlq-last-failure-at"]
    assert committed(kafka_bootstrap_servers, group, topic, 2)[0] == 5


def test_fails_twice_then_succeeds_while_the_other_partition_goes_on(
    kafka_bootstrap_servers: str, names: dict[str, str], tmp_path: Path
) -> None:
    topic, dlq, group = names["topic"], names["dlq"], names["group"]
    slow = RetryPolicy(max_attempts=3, initial_ms=1500, multiplier=1.0, max_interval_ms=1500,
                       jitter="none")  # fmt: skip
    flaky = encoded(topic, Placed(order="flaky", seq=0))
    after = encoded(topic, Placed(order="flaky", seq=1))
    others = [encoded(topic, Placed(order="other", seq=10 + i)) for i in range(5)]
    produce(kafka_bootstrap_servers, topic, [(0, *flaky[1:]), (0, *after[1:]),
                                             *[(1, *o[1:]) for o in others]])  # fmt: skip
    app = make_app(topic, group, dlq=dlq, retry=slow)
    order: list[tuple[int, int]] = []

    @app.on(Placed)
    def handle(event: Placed, ctx: Context[Placed]) -> None:
        if event.seq == 0 and ctx.attempt < 3:
            raise TimeoutError("not yet")
        order.append((event.seq, ctx.attempt))

    stats = app.run(config(kafka_bootstrap_servers, tmp_path), idle_exit_s=3.0)
    assert (stats.retried, stats.dead_lettered, stats.handled) == (2, 0, 7)
    # Partition 1 was handled while partition 0 waited for its backoff; then 0 in order.
    seqs = [s for s, _ in order]
    assert seqs.index(14) < seqs.index(0) < seqs.index(1)
    assert (0, 3) in order and (1, 1) in order
    assert read_all(kafka_bootstrap_servers, dlq) == []


def test_without_a_dlq_the_partition_stops_at_the_failed_record(
    kafka_bootstrap_servers: str, names: dict[str, str], tmp_path: Path
) -> None:
    topic, group = names["topic"], names["group"]
    produce(kafka_bootstrap_servers, topic, [(0, *encoded(topic, Placed(order="a", seq=i))[1:])
                                             for i in range(4)])  # fmt: skip
    app = make_app(topic, group, dlq=None)
    handled: list[int] = []

    @app.on(Placed)
    def handle(event: Placed, ctx: Context[Placed]) -> None:
        if event.seq == 1:
            raise ValueError("poison")
        handled.append(event.seq)

    stats = app.run(config(kafka_bootstrap_servers, tmp_path), idle_exit_s=2.0)
    assert handled == [0] and stats.dead_lettered == 0
    assert committed(kafka_bootstrap_servers, group, topic, 2)[0] == 1  # never past it


def test_startup_errors(
    kafka_bootstrap_servers: str, names: dict[str, str], tmp_path: Path
) -> None:
    topic, group = names["topic"], names["group"]
    cfg = config(kafka_bootstrap_servers, tmp_path)
    app = make_app(topic, group, dlq=names["dlq"])
    with pytest.raises(StartupError, match=r"no handler for shop\.Placed$"):
        app.run(cfg)
    with pytest.raises(StartupError, match="does not handle Shipped"):
        app.on(Shipped)
    app.on(Placed)(lambda event, ctx: None)
    with pytest.raises(StartupError, match="second handler"):
        app.on(Placed)
    missing_dlq = make_app(topic, group, dlq=names["dlq"] + ".nope")
    missing_dlq.on(Placed)(lambda event, ctx: None)
    with pytest.raises(StartupError, match=r"DLQ topics missing: .*\.nope$"):
        missing_dlq.run(cfg)
    with pytest.raises(StartupError, match="Kafka not reachable within 2 s"):
        app.run(RuntimeConfig(bootstrap_servers="127.0.0.1:1", connect_timeout_s=2.0))
    pg = make_app(topic, group, dlq=names["dlq"], idempotency="postgres")
    pg.on(Placed)(lambda event, ctx: None)
    bad_db = RuntimeConfig(bootstrap_servers=kafka_bootstrap_servers, connect_timeout_s=2.0,
                           postgres_dsn="postgresql://nobody@127.0.0.1:1/none")  # fmt: skip
    with pytest.raises(StartupError, match="PostgreSQL store"):
        pg.run(bad_db)


def test_stop_event_ends_the_run(
    kafka_bootstrap_servers: str,
    names: dict[str, str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="eventgen.runtime.app")
    topic = names["topic"]
    produce(kafka_bootstrap_servers, topic, [encoded(topic, Placed(order="s", seq=i))
                                             for i in range(10)])  # fmt: skip
    stop = threading.Event()
    app: ConsumerApp = make_app(topic, names["group"], dlq=names["dlq"])
    done: list[int] = []

    @app.on(Placed)
    def handle(event: Placed, ctx: Context[Placed]) -> None:
        done.append(event.seq)
        if len(done) == 4:
            stop.set()

    stats = app.run(config(kafka_bootstrap_servers, tmp_path), stop=stop)
    assert stats.handled == 4 == len(done)
    final = [r.getMessage() for r in caplog.records if "stopped:" in r.getMessage()]
    line = (
        "consumer test-consumer stopped: consumed=4 handled=4 skipped=0 duplicates=0 retried=0 "
        "dead_lettered=0 lag=6"
    )
    assert final == [line]
    assert sum(max(0, c) for c in committed(kafka_bootstrap_servers, names["group"], topic, 2)) == 4


def test_inbox_rows_past_the_retention_are_swept(
    kafka_bootstrap_servers: str, names: dict[str, str], tmp_path: Path
) -> None:
    import sqlite3

    topic = names["topic"]
    record = encoded(topic, Placed(order="r", seq=1))
    calls: list[int] = []

    def run_once() -> int:
        app = make_app(topic, names["group"], dlq=names["dlq"], idempotency_retention_ms=3_600_000)
        app.on(Placed)(lambda event, ctx: calls.append(event.seq))
        return app.run(config(kafka_bootstrap_servers, tmp_path), idle_exit_s=2.0).duplicates

    produce(kafka_bootstrap_servers, topic, [record])
    assert run_once() == 0
    produce(kafka_bootstrap_servers, topic, [record])
    assert run_once() == 1 and calls == [1]  # within the retention: a duplicate
    with sqlite3.connect(tmp_path / "store.sqlite3") as conn:
        conn.execute("UPDATE eventgen_inbox SET handled_at = '2000-01-01T00:00:00.000Z'")
    produce(kafka_bootstrap_servers, topic, [record])
    assert run_once() == 0 and calls == [1, 1]  # swept at start: handled as new
