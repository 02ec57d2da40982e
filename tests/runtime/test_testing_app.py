"""A consumer app on the in-memory broker, end to end: retries, DLQ, skips, offsets, EOS.

The same ConsumerApp, codecs and idempotency store as in production, on InMemoryBroker (the
way users unit-test their handlers, docs/running.md); the apps' own guarantees are tested
against Kafka in the app tests.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from eventgen.runtime import runner
from eventgen.runtime.app import Context, StartupError
from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.spec import RetryPolicy
from eventgen.runtime.testing import InMemoryBroker, headers_of
from tests.runtime.apps.kit import encoded
from tests.runtime.apps.shop import Billed, Placed, Shipped, make_app

IDLE_S = 0.5  # --idle-exit of the runs: the loop ends this long after the last record


def _load(broker: InMemoryBroker, topic: str, *messages: Any) -> None:
    for message in messages:
        _, key, value, headers = encoded(topic, message)
        broker.produce(topic, value, key, headers=headers)


def test_retry_then_dead_letter_and_skip(tmp_path: Path) -> None:
    broker = InMemoryBroker({"orders": 2, "orders.dlq": 1})
    _load(
        broker,
        "orders",
        Placed(order="a", seq=1),  # fails once, then succeeds
        Shipped(order="a"),  # not handled: skipped, offset committed
        Placed(order="b", seq=2),  # fails every attempt: dead-lettered
    )
    app = make_app(
        "orders",
        "g-mem",
        dlq="orders.dlq",
        retry=RetryPolicy(max_attempts=3, initial_ms=10, max_interval_ms=20, jitter="none"),
    )
    attempts: dict[str, list[int]] = {}

    @app.on(Placed)
    def handle(event: Placed, ctx: Context[Placed]) -> None:
        attempts.setdefault(event.order, []).append(ctx.attempt)
        if event.order == "b" or ctx.attempt == 1:
            raise TimeoutError(f"order {event.order} attempt {ctx.attempt}")

    config = RuntimeConfig(sqlite_path=str(tmp_path / "inbox.sqlite3"))
    stats = app.run(config, transport=broker, idle_exit_s=IDLE_S)
    assert attempts == {"a": [1, 2], "b": [1, 2, 3]}
    assert (stats.handled, stats.skipped, stats.dead_lettered, stats.retried) == (1, 1, 1, 3)
    (dead,) = broker.records("orders.dlq")
    (original,) = [r for r in broker.records("orders") if r.key() == dead.key()]
    assert dead.value() == original.value()
    headers = headers_of(dead)
    assert headers["eventgen-dlq-reason"] == "handler"
    assert headers["eventgen-dlq-error-class"].endswith("TimeoutError")
    assert headers["eventgen-dlq-attempts"] == "3"
    assert headers["eventgen-dlq-original-topic"] == "orders"
    assert headers["eventgen-dlq-original-offset"] == str(original.offset())
    assert headers["eventgen-dlq-consumer-group"] == "g-mem"
    assert headers["type"] == "shop.Placed"  # the original envelope headers stay
    # Every record's offset is committed: a second run of the group finds nothing to do.
    ends = {p: len(broker.records("orders", p)) for p in range(2)}
    assert {p: broker.committed_offset("g-mem", "orders", p) for p in ends if ends[p]} == {
        p: n for p, n in ends.items() if n
    }
    again = app.run(config, transport=broker, idle_exit_s=IDLE_S)
    assert again.consumed == 0


def test_a_missing_dlq_topic_fails_at_start_as_on_kafka(tmp_path: Path) -> None:
    broker = InMemoryBroker({"orders": 1})
    app = make_app("orders", "g", dlq="orders.dlq")
    app.on(Placed)(lambda event, ctx: None)
    with pytest.raises(StartupError, match="orders.dlq"):
        app.run(RuntimeConfig(sqlite_path=str(tmp_path / "s.sqlite3")), transport=broker)


def test_duplicates_are_skipped_by_the_inbox(tmp_path: Path) -> None:
    broker = InMemoryBroker({"orders": 1})
    placed = Placed(order="a", seq=1)
    _, key, value, headers = encoded("orders", placed)
    for _ in range(2):  # the same envelope (same event_id) twice, as after a producer retry
        broker.produce("orders", value, key, headers=headers)
    app = make_app("orders", "g-dup")
    seen: list[int] = []
    app.on(Placed)(lambda event, ctx: seen.append(event.seq))
    config = RuntimeConfig(sqlite_path=str(tmp_path / "inbox.sqlite3"))
    stats = app.run(config, transport=broker, idle_exit_s=IDLE_S)
    assert seen == [1] and stats.duplicates == 1


def test_exactly_once_outputs_and_offsets_commit_together(tmp_path: Path) -> None:
    broker = InMemoryBroker({"orders": 1, "billing": 1})
    _load(broker, "orders", Placed(order="a", seq=1), Placed(order="b", seq=2))
    app = make_app("orders", "g-eos", output="billing", delivery="exactly-once")

    @app.on(Placed)
    def bill(event: Placed, ctx: Context[Placed]) -> None:
        ctx.publish(Billed(order=event.order, seq=event.seq))

    config = RuntimeConfig(sqlite_path=str(tmp_path / "eos.sqlite3"), instance_id="t1")
    stats = app.run(config, transport=broker, max_messages=2, idle_exit_s=IDLE_S)
    assert stats.handled == 2
    assert [r.key() for r in broker.records("billing")] == [b"\x02a", b"\x02b"]
    assert broker.committed_offset("g-eos", "orders", 0) == 2


def test_the_runner_runs_an_app_on_the_in_memory_broker(tmp_path: Path) -> None:
    broker = InMemoryBroker({"orders": 1})
    _load(broker, "orders", Placed(order="a", seq=1))
    app = make_app("orders", "g-run")
    seen: list[str] = []
    app.on(Placed)(lambda event, ctx: seen.append(event.order))
    code = runner.run(
        app,
        transport=broker,
        max_messages=1,
        idle_exit_s=5,
        stop=threading.Event(),
        environ={},
        sqlite_path=str(tmp_path / "r.sqlite3"),
    )
    assert code == 0 and seen == ["a"]


def test_two_instances_of_a_group_share_the_partitions(tmp_path: Path) -> None:
    """Two app instances in threads: the second joins while the first is busy with its first
    batch; half of the partitions move (revoke, commit, assign) at the first one's next
    consume, so the records produced meanwhile are shared; each record is handled once."""
    broker = InMemoryBroker({"orders": 4})
    _load(broker, "orders", *(Placed(order=f"o{i}", seq=i) for i in range(40)))
    seen: list[tuple[int, int]] = []
    lock = threading.Lock()
    busy, joined = threading.Event(), threading.Event()
    apps = []
    for n in range(2):
        app = make_app("orders", "g-two", idempotency="none")

        def handle(event: Placed, ctx: Context[Placed], n: int = n) -> None:
            if n == 0 and not busy.is_set():
                busy.set()
                assert joined.wait(30), "the second instance never joined"
            with lock:
                seen.append((n, event.seq))

        app.on(Placed)(handle)
        apps.append(app)
    config = RuntimeConfig(sqlite_path=str(tmp_path / "unused.sqlite3"))
    results: dict[int, Any] = {}

    def run(n: int) -> None:
        results[n] = apps[n].run(config, transport=broker, idle_exit_s=1.0)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    threads[0].start()
    assert busy.wait(30), "the first instance never handled a record"
    threads[1].start()
    for _ in range(600):  # bounded: 30 s
        if len(broker.group_members("g-two")) == 2:
            break
        time.sleep(0.05)
    # Fetched after the first instance gives up half of its partitions (at its next consume).
    _load(broker, "orders", *(Placed(order=f"o{i}", seq=i) for i in range(40, 80)))
    joined.set()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert sorted(seq for _, seq in seen) == list(range(80))  # each once: no crash, no repeat
    assert {n for n, _ in seen} == {0, 1}  # both instances handled records
    assert sum(r.handled for r in results.values()) == 80
    ends = {p: len(broker.records("orders", p)) for p in range(4)}
    assert {p: broker.committed_offset("g-two", "orders", p) for p in ends if ends[p]} == {
        p: n for p, n in ends.items() if n
    }


def test_exactly_once_a_failed_attempt_leaves_no_output(tmp_path: Path) -> None:
    """The failed attempt's ctx.publish output never becomes visible (the app keeps it back
    or aborts it with its transaction); the retry's output is the only one a read_committed
    reader sees, and the offsets commit with it."""
    broker = InMemoryBroker({"orders": 1, "billing": 1})
    _load(broker, "orders", Placed(order="a", seq=1), Placed(order="b", seq=2))
    app = make_app(
        "orders",
        "g-eos-retry",
        output="billing",
        delivery="exactly-once",
        retry=RetryPolicy(max_attempts=2, initial_ms=10, jitter="none"),
    )

    @app.on(Placed)
    def bill(event: Placed, ctx: Context[Placed]) -> None:
        ctx.publish(Billed(order=event.order, seq=event.seq * 10 + ctx.attempt))
        if event.order == "a" and ctx.attempt == 1:
            raise TimeoutError("after publishing")

    config = RuntimeConfig(sqlite_path=str(tmp_path / "eos.sqlite3"), instance_id="t2")
    stats = app.run(config, transport=broker, idle_exit_s=IDLE_S)
    assert stats.handled == 2
    billed = [Billed.model_validate(_decode_billed(r)) for r in broker.records("billing")]
    assert sorted((b.order, b.seq) for b in billed) == [("a", 12), ("b", 21)]
    assert broker.committed_offset("g-eos-retry", "orders", 0) == 2


def _decode_billed(record: Any) -> dict[str, Any]:
    from eventgen.runtime.serde import codec_for
    from tests.runtime.apps.shop import output_route

    route = output_route(record.topic())
    return codec_for(route, RuntimeConfig()).decode(record, route).payload.model_dump()


def test_dead_letter_then_replay_on_the_in_memory_broker(tmp_path: Path) -> None:
    """The DLQ replay reads the DLQ (manual assignment) and re-publishes to the original topic;
    the app then handles the replayed record."""
    from eventgen.runtime.failures.replay import REPLAY_HEADER, replay

    broker = InMemoryBroker({"orders": 1, "orders.dlq": 1})
    _load(broker, "orders", Placed(order="a", seq=1))
    app = make_app("orders", "g-replay", dlq="orders.dlq")
    broken = [True]
    handled: list[int] = []

    @app.on(Placed)
    def handle(event: Placed, ctx: Context[Placed]) -> None:
        if broken[0]:
            raise ValueError("not yet")
        handled.append(event.seq)

    config = RuntimeConfig(sqlite_path=str(tmp_path / "inbox.sqlite3"))
    assert app.run(config, transport=broker, idle_exit_s=IDLE_S).dead_lettered == 1
    dry = replay("orders.dlq", config=config, transport=broker, dry_run=True, out=None)
    assert (dry.matched, dry.sent) == (1, 0) and len(broker.records("orders")) == 1
    report = replay("orders.dlq", config=config, transport=broker, out=None)
    assert report.sent == 1
    replayed = broker.records("orders")[-1]
    assert headers_of(replayed)[REPLAY_HEADER] == "1"
    assert replayed.value() == broker.records("orders")[0].value()
    broken[0] = False
    stats = app.run(config, transport=broker, idle_exit_s=IDLE_S)
    # The replayed record carries the original event_id: the inbox must not drop it as a
    # duplicate (the failed attempt's inbox row was rolled back with its transaction).
    assert handled == [1] and stats.handled == 1


def test_outbox_rows_reach_the_topic_through_the_polling_relay(tmp_path: Path) -> None:
    from eventgen.runtime.db import Store
    from eventgen.runtime.outbox import OutboxWriter
    from eventgen.runtime.relay import PollingRelay
    from eventgen.runtime.spec import OutboxSpec, PublisherSpec
    from tests.runtime.apps.shop import input_route

    broker = InMemoryBroker({"orders": 3})
    publisher = PublisherSpec("shop", (("shop.Placed", input_route("orders", None)),))
    spec = OutboxSpec("shop", "shop_outbox", "polling", publisher=publisher)
    config = RuntimeConfig(sqlite_path=str(tmp_path / "outbox.sqlite3"))
    writer = OutboxWriter(spec)
    store = Store.open("sqlite", config)
    try:
        with store.transaction() as conn:
            writer.ensure_schema(conn)
            for i in range(5):
                writer.add(conn, Placed(order=f"o{i % 2}", seq=i))
    finally:
        store.close()
    stats = PollingRelay(spec).run(config, transport=broker, max_messages=5, idle_exit_s=IDLE_S)
    assert stats.published == 5
    by_key: dict[Any, list[str]] = {}
    for record in broker.records("orders"):
        by_key.setdefault(record.key(), []).append(headers_of(record)["type"])
    assert sorted(len(v) for v in by_key.values()) == [2, 3]  # keys o0 (3) and o1 (2)
    # Per aggregate order holds: each key's records sit in one partition in insertion order.
    from eventgen.runtime.serde import codec_for

    route = input_route("orders", None)
    for key in by_key:
        mine = [r for r in broker.records("orders") if r.key() == key]
        assert len({r.partition() for r in mine}) == 1
        seqs = [codec_for(route, config).decode(r, route).payload.model_dump()["seq"] for r in mine]
        assert seqs == sorted(seqs) and len(seqs) in (2, 3)


def test_injected_delivery_failures_surface_from_the_publisher_flush() -> None:
    from eventgen.runtime.errors import DeliveryError
    from eventgen.runtime.publisher import Publisher
    from eventgen.runtime.spec import PublisherSpec
    from tests.runtime.apps.shop import input_route

    broker = InMemoryBroker({"orders": 2})
    publisher = Publisher(PublisherSpec("shop", (("shop.Placed", input_route("orders", None)),)))
    publisher.configure(RuntimeConfig(), transport=broker)
    broker.fail_deliveries("orders", count=1)
    publisher.publish(Placed(order="a", seq=1))
    publisher.publish(Placed(order="b", seq=2))
    with pytest.raises(DeliveryError) as raised:
        publisher.flush()
    assert "_MSG_TIMED_OUT" in str(raised.value) or "timed out" in str(raised.value).lower()
    assert len(broker.records("orders")) == 1  # the second one went through
    publisher.publish(Placed(order="c", seq=3))
    publisher.flush()  # the fault was used up
    assert len(broker.records("orders")) == 2


def test_a_dlq_write_that_fails_is_retried_before_the_offset_commits(tmp_path: Path) -> None:
    broker = InMemoryBroker({"orders": 1, "orders.dlq": 1})
    _load(broker, "orders", Placed(order="a", seq=1))
    app = make_app("orders", "g-dlq-fail", dlq="orders.dlq")

    @app.on(Placed)
    def handle(event: Placed, ctx: Context[Placed]) -> None:
        raise ValueError("always")

    broker.fail_deliveries("orders.dlq", count=1)
    config = RuntimeConfig(sqlite_path=str(tmp_path / "inbox.sqlite3"))
    stats = app.run(config, transport=broker, idle_exit_s=IDLE_S)
    assert stats.dead_lettered == 1
    assert len(broker.records("orders.dlq")) == 1  # written once, on the second try
    assert broker.committed_offset("g-dlq-fail", "orders", 0) == 1
