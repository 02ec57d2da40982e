"""The saga worker (SagaApp) on the real Kafka, with SQLite and PostgreSQL stores: a hand-built
two-step saga (tests/sagas/worker_kit.py), its commands relayed from the outbox by the polling
relay, participants in a thread replying through Kafka.

Flows: start -> COMPLETED (and the exact transaction count: 2 steps -> 3 handler
transactions); a failure -> COMPENSATED; a timeout -> retry -> success; a timer due while no
worker ran fires after the restart; a duplicate start is ignored and counted; an undecodable
reply is dead-lettered with its reason and the saga goes on; stored data whose hash no longer
matches -> the reply is dead-lettered with a SagaDataError naming the instance, the instance is
untouched.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest

from eventgen.runtime import runner
from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.db import Store
from eventgen.runtime.model import Envelope, Message
from eventgen.runtime.relay import PollingRelay
from eventgen.runtime.saga.engine import request_id
from eventgen.runtime.saga.store import SagaStore
from eventgen.runtime.saga.worker import utc_now
from tests.runtime.apps.kit import headers_of, read_all, topics
from tests.sagas import worker_kit as kit
from tests.sagas.worker_kit import WAIT_S, World, wait_for

pytestmark = pytest.mark.kafka

Kind = Literal["sqlite", "postgres"]
DIALECTS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=DIALECTS)
def world(
    request: pytest.FixtureRequest, tmp_path: Path, kafka_bootstrap_servers: str
) -> Iterator[World]:
    yield from _world(request.param, request, tmp_path, kafka_bootstrap_servers)


@pytest.fixture
def sqlite_world(
    request: pytest.FixtureRequest, tmp_path: Path, kafka_bootstrap_servers: str
) -> Iterator[World]:
    yield from _world("sqlite", request, tmp_path, kafka_bootstrap_servers)


def _world(
    kind: Kind, request: pytest.FixtureRequest, tmp_path: Path, bootstrap: str
) -> Iterator[World]:
    dsn = request.getfixturevalue("postgres_dsn") if kind == "postgres" else None
    config = RuntimeConfig(
        bootstrap_servers=bootstrap,
        sqlite_path=str(tmp_path / "saga.sqlite3"),
        postgres_dsn=dsn,
        connect_timeout_s=20.0,
    )
    made = World(kind, config)
    with topics(bootstrap, made.topics()):
        try:
            yield made
        finally:
            if kind == "postgres":
                store = Store.open("postgres", config)
                try:
                    for table in made.all_tables():
                        store.connection.execute(f'DROP TABLE IF EXISTS "{table}"')
                finally:
                    store.close()


class Reader:
    """Reads the saga tables on its own connection."""

    def __init__(self, world: World) -> None:
        self.store = Store.open(world.kind, world.config)
        self.sagas = SagaStore(world.tables())

    def row(self, order: str) -> dict[str, Any] | None:
        try:
            with self.store.transaction() as conn:
                return self.sagas.load(conn, "ShipSaga", order)
        except Exception:  # noqa: BLE001 - the worker has not created the tables yet
            return None

    def status(self, order: str) -> str | None:
        found = self.row(order)
        return None if found is None else str(found["status"])

    def log(self, order: str) -> list[dict[str, Any]]:
        with self.store.transaction() as conn:
            return self.sagas.log(conn, "ShipSaga", order)

    def execute(self, sql: str, params: tuple[Any, ...]) -> None:
        mark = "%s" if self.store.dialect == "postgres" else "?"
        with self.store.transaction() as conn:
            conn.execute(sql.replace("?", mark), params)


@pytest.fixture
def reader(world: World) -> Iterator[Reader]:
    opened = Reader(world)
    yield opened
    opened.store.close()


def settle(reader: Reader, order: str, status: str, run: kit.Running) -> None:
    def check() -> bool:
        assert run.errors == [], run.errors
        return reader.status(order) == status

    wait_for(check, f"saga {order} {status} (now {reader.status(order)})")


def stats_of(run: kit.Running) -> Any:
    assert run.errors == [], run.errors
    assert len(run.result) == 1
    return run.result[0]


def order_id() -> str:
    return f"o-{uuid.uuid4().hex[:8]}"


def test_start_to_completed_counts_one_transaction_per_input(
    world: World, reader: Reader, kafka_bootstrap_servers: str
) -> None:
    order = order_id()
    app = world.app()
    with (
        kit.participants(world, kafka_bootstrap_servers, kit.happy) as people,
        kit.running(world, app) as run,
    ):
        kit.begin(world, kafka_bootstrap_servers, order)
        settle(reader, order, "COMPLETED", run)
        run.stop.set()
        run.thread.join(60)
        stats = stats_of(run)
    assert people.types(order) == ["kit.Reserve", "kit.Charge"]
    # Each command's event_id is its step's request id (the reply's causation_id matches it).
    sent = [e.event_id for e in people.seen if e.payload.order == order]  # type: ignore[attr-defined]
    assert sent == [
        request_id("ShipSaga", order, "reserve", "step", 1),
        request_id("ShipSaga", order, "charge", "step", 1),
    ]
    assert all(e.correlation_id == order for e in people.seen)
    # Two steps: the start and one reply per step, each one committed transaction.
    assert (stats.started, stats.replies, stats.completed) == (1, 2, 1)
    assert stats.transactions == 3
    assert (stats.timers_fired, stats.duplicate_starts, sum(stats.ignored.values())) == (0, 0, 0)
    assert stats.consumer is not None and stats.consumer.handled == 3
    assert "transactions=3" in stats.line()
    log = reader.log(order)
    assert [entry["seq"] for entry in log] == list(range(1, len(log) + 1))
    assert log[0]["cause"] == "start" and log[-1]["to_status"] == "COMPLETED"
    final = reader.row(order)
    assert final is not None and final["version"] == 2  # inserted, then two updates
    with reader.store.transaction() as conn:
        assert reader.sagas.timers(conn, "ShipSaga", order) == []  # COMPLETED: none left


def test_a_failure_compensates(world: World, reader: Reader, kafka_bootstrap_servers: str) -> None:
    order = order_id()

    def declining(envelope: Envelope[Message], seen: int) -> Message | None:
        if envelope.type == kit.Charge.TYPE:
            return kit.ChargeFailed(order=order)
        return kit.happy(envelope, seen)

    with (
        kit.participants(world, kafka_bootstrap_servers, declining) as people,
        kit.running(world, world.app()) as run,
    ):
        kit.begin(world, kafka_bootstrap_servers, order)
        settle(reader, order, "COMPENSATED", run)
        run.stop.set()
        run.thread.join(60)
        stats = stats_of(run)
    assert people.types(order) == ["kit.Reserve", "kit.Charge", "kit.Release"]
    release = people.seen[-1]
    assert release.event_id == request_id("ShipSaga", order, "reserve", "compensation", 1)
    assert (stats.started, stats.replies, stats.compensated, stats.completed) == (1, 3, 1, 0)
    assert stats.transactions == 4  # start + Reserved + ChargeFailed + Released
    statuses = [entry["to_status"] for entry in reader.log(order)]
    assert "COMPENSATING" in statuses and statuses[-1] == "COMPENSATED"


def test_timeout_retry_success(sqlite_world: World, kafka_bootstrap_servers: str) -> None:
    world = sqlite_world
    reader = Reader(world)
    order = order_id()

    def late(envelope: Envelope[Message], seen: int) -> Message | None:
        if envelope.type == kit.Reserve.TYPE and seen == 1:
            return None  # the first attempt gets no answer: its timeout fires
        return kit.happy(envelope, seen)

    try:
        with (
            kit.participants(world, kafka_bootstrap_servers, late) as people,
            kit.running(world, world.app(reserve_timeout_ms=1000)) as run,
        ):
            kit.begin(world, kafka_bootstrap_servers, order)
            settle(reader, order, "COMPLETED", run)
            run.stop.set()
            run.thread.join(60)
            stats = stats_of(run)
    finally:
        reader.store.close()
    assert people.types(order) == ["kit.Reserve", "kit.Reserve", "kit.Charge"]
    assert [e.event_id for e in people.seen[:2]] == [
        request_id("ShipSaga", order, "reserve", "step", 1),
        request_id("ShipSaga", order, "reserve", "step", 2),
    ]
    # The timeout timer, then the retry timer: two timer transactions.
    assert stats.timers_fired == 2
    assert stats.transactions == 3 + 2
    assert stats.completed == 1


def test_a_timer_due_while_no_worker_ran_fires_after_the_restart(
    sqlite_world: World, kafka_bootstrap_servers: str
) -> None:
    world = sqlite_world
    reader = Reader(world)
    order = order_id()

    def late(envelope: Envelope[Message], seen: int) -> Message | None:
        if envelope.type == kit.Reserve.TYPE and seen == 1:
            return None
        return kit.happy(envelope, seen)

    try:
        with kit.participants(world, kafka_bootstrap_servers, late) as people:
            with kit.running(world, world.app(reserve_timeout_ms=3000)) as first:
                kit.begin(world, kafka_bootstrap_servers, order)
                wait_for(lambda: people.types(order) == ["kit.Reserve"], "the first Reserve")
                first.stop.set()
                first.thread.join(60)
                before = stats_of(first)
            assert before.timers_fired == 0 and reader.status(order) == "RUNNING"
            with reader.store.transaction() as conn:
                (timeout,) = [
                    t for t in reader.sagas.timers(conn, "ShipSaga", order) if t.kind == "timeout"
                ]
            # No worker runs while the timeout passes.
            wait_for(lambda: utc_now() > timeout.due_at, "the timeout to pass", timeout_s=10)
            with kit.running(world, world.app(reserve_timeout_ms=3000)) as second:
                settle(reader, order, "COMPLETED", second)
                second.stop.set()
                second.thread.join(60)
                after = stats_of(second)
    finally:
        reader.store.close()
    assert after.timers_fired == 2  # the timeout due since the stop, then the retry
    assert after.completed == 1
    assert people.types(order) == ["kit.Reserve", "kit.Reserve", "kit.Charge"]


def test_a_duplicate_start_is_ignored_and_counted(
    sqlite_world: World, kafka_bootstrap_servers: str
) -> None:
    world = sqlite_world
    reader = Reader(world)
    order = order_id()
    try:
        with (
            kit.participants(world, kafka_bootstrap_servers, kit.happy) as people,
            kit.running(world, world.app()) as run,
        ):
            # Two distinct start events for one order (not a redelivery: new event ids),
            # and one redelivery (the same event id: the inbox's duplicate).
            first, second = kit.begin(world, kafka_bootstrap_servers, order, order)
            kit.produce(
                kafka_bootstrap_servers,
                world.begin_topic,
                [kit.encode(world.begin_route(), first)],
            )
            settle(reader, order, "COMPLETED", run)
            wait_for(
                lambda: run.app.stats.duplicate_starts == 1, "the duplicate start to be counted"
            )
            run.stop.set()
            run.thread.join(60)
            stats = stats_of(run)
    finally:
        reader.store.close()
    assert first.event_id != second.event_id
    assert (stats.started, stats.duplicate_starts) == (1, 1)
    assert stats.consumer is not None and stats.consumer.duplicates == 1
    assert people.types(order) == ["kit.Reserve", "kit.Charge"]  # started once


def test_an_undecodable_reply_is_dead_lettered_and_the_saga_goes_on(
    sqlite_world: World, kafka_bootstrap_servers: str
) -> None:
    world = sqlite_world
    reader = Reader(world)
    order = order_id()
    garbage = [("type", b"kit.Reserved"), ("event_id", str(uuid.uuid4()).encode())]
    try:
        with (
            kit.participants(world, kafka_bootstrap_servers, kit.happy),
            kit.running(world, world.app()) as run,
        ):
            kit.produce(
                kafka_bootstrap_servers,
                world.replies_topic,
                [(order.encode(), b"{not json", garbage)],
            )
            kit.begin(world, kafka_bootstrap_servers, order)
            settle(reader, order, "COMPLETED", run)
            run.stop.set()
            run.thread.join(60)
            stats = stats_of(run)
    finally:
        reader.store.close()
    (letter,) = read_all(kafka_bootstrap_servers, world.replies_dlq, expect=1)
    headers = headers_of(letter)
    assert headers["eventgen-dlq-reason"] == "decode"
    assert headers["eventgen-dlq-original-topic"] == world.replies_topic
    assert letter.value() == b"{not json"
    assert stats.consumer is not None and stats.consumer.dead_lettered == 1
    assert (stats.started, stats.replies, stats.completed, stats.transactions) == (1, 2, 1, 3)


def test_stored_data_that_no_longer_matches_names_the_instance(
    sqlite_world: World, kafka_bootstrap_servers: str
) -> None:
    world = sqlite_world
    reader = Reader(world)
    order = order_id()

    def silent(envelope: Envelope[Message], seen: int) -> Message | None:
        return None  # the test answers itself

    try:
        with (
            kit.participants(world, kafka_bootstrap_servers, silent) as people,
            kit.running(world, world.app(reserve_timeout_ms=120_000)) as run,
        ):
            kit.begin(world, kafka_bootstrap_servers, order)
            wait_for(lambda: people.types(order) == ["kit.Reserve"], "the Reserve command")
            tables = world.tables()
            reader.execute(
                f'UPDATE "{tables.instances}" SET data_hash = ? WHERE saga_id = ?',
                ("an-older-schema", order),
            )
            before = reader.row(order)
            reserve = people.seen[0]
            reply = kit.Reserved(order=order).envelope(
                correlation_id=order, causation_id=reserve.event_id
            )
            kit.produce(
                kafka_bootstrap_servers,
                world.replies_topic,
                [kit.encode(world.replies_route(), reply)],
            )
            (letter,) = wait_for(
                lambda: read_all(kafka_bootstrap_servers, world.replies_dlq) or None,
                "the dead letter",
            )
            run.stop.set()
            run.thread.join(60)
            stats = stats_of(run)
    finally:
        after = reader.row(order)
        reader.store.close()
    headers = headers_of(letter)
    assert headers["eventgen-dlq-reason"] == "handler"
    assert headers["eventgen-dlq-error-class"].endswith("SagaDataError")
    message = headers["eventgen-dlq-error-message"]
    assert f"stored data of ShipSaga {order} no longer matches the spec" in message
    assert "Migrating saga data" in message
    assert after == before  # the instance is untouched
    assert after is not None and after["status"] == "RUNNING"
    assert stats.replies == 0 and stats.consumer is not None
    assert stats.consumer.dead_lettered == 1


def test_the_runner_runs_it_and_an_idle_exit_waits_for_a_due_timer(
    sqlite_world: World, kafka_bootstrap_servers: str
) -> None:
    """`run(app, idle_exit_s=2)` as `python -m eventgen.runtime run MODULE:ATTR --idle-exit 2`
    does: no record comes while the first Reserve waits for its 3 s timeout, yet the worker
    does not exit; the timeout, the retry and the rest of the saga happen first."""
    world = sqlite_world
    app = world.app(reserve_timeout_ms=3000)
    runner.check_runnable(app, "kit:app")
    reader = Reader(world)
    order = order_id()

    def late(envelope: Envelope[Message], seen: int) -> Message | None:
        if envelope.type == kit.Reserve.TYPE and seen == 1:
            return None
        return kit.happy(envelope, seen)

    relay_stop = threading.Event()
    relay = threading.Thread(
        target=PollingRelay(world.outbox_spec()).run,
        kwargs={"config": world.config, "stop": relay_stop},
        daemon=True,
    )
    relay.start()
    stop = threading.Event()
    timer = threading.Timer(WAIT_S, stop.set)  # bounds the run if the idle exit never comes
    timer.start()
    try:
        with kit.participants(world, kafka_bootstrap_servers, late) as people:
            kit.begin(world, kafka_bootstrap_servers, order)
            code = runner.run(
                app,
                idle_exit_s=2.0,
                stop=stop,
                handle_signals=False,
                bootstrap_servers=kafka_bootstrap_servers,
                sqlite_path=world.config.sqlite_path,
                connect_timeout_s=20.0,
            )
        status = reader.status(order)
    finally:
        timer.cancel()
        relay_stop.set()
        relay.join(60)
        reader.store.close()
    assert code == 0
    assert not stop.is_set(), "the run ended by the bound, not by the idle exit"
    assert status == "COMPLETED"
    assert people.types(order) == ["kit.Reserve", "kit.Reserve", "kit.Charge"]
    assert app.stats.timers_fired == 2


@pytest.mark.postgres
def test_two_workers_on_postgres_fire_each_timer_once(
    request: pytest.FixtureRequest, tmp_path: Path, kafka_bootstrap_servers: str
) -> None:
    """Two workers of one group (partitions split between them, both timer threads polling
    the same tables): 12 sagas whose first Reserve goes unanswered all complete, each with
    exactly one timeout and one retry (a timer fired twice would send a third Reserve)."""
    for world in _world("postgres", request, tmp_path, kafka_bootstrap_servers):
        reader = Reader(world)
        orders = [order_id() for _ in range(12)]

        def late(envelope: Envelope[Message], seen: int) -> Message | None:
            if envelope.type == kit.Reserve.TYPE and seen == 1:
                return None
            return kit.happy(envelope, seen)

        try:
            with (
                kit.participants(world, kafka_bootstrap_servers, late) as people,
                kit.running(world, world.app(reserve_timeout_ms=1000)) as one,
                kit.running(world, world.app(reserve_timeout_ms=1000)) as two,
            ):
                kit.begin(world, kafka_bootstrap_servers, *orders)
                for order in orders:
                    settle(reader, order, "COMPLETED", one)
                for run in (one, two):
                    run.stop.set()
                    run.thread.join(60)
                first, second = stats_of(one), stats_of(two)
        finally:
            reader.store.close()
        for order in orders:
            assert people.types(order) == ["kit.Reserve", "kit.Reserve", "kit.Charge"], order
        assert first.timers_fired + second.timers_fired == 2 * len(orders)
        assert first.started + second.started == len(orders)
        assert first.completed + second.completed == len(orders)


def test_duplicate_and_unknown_replies_are_ignored_and_counted(
    sqlite_world: World, kafka_bootstrap_servers: str
) -> None:
    world = sqlite_world
    reader = Reader(world)
    order = order_id()
    try:
        with (
            kit.participants(world, kafka_bootstrap_servers, kit.happy) as people,
            kit.running(world, world.app()) as run,
        ):
            kit.begin(world, kafka_bootstrap_servers, order)
            settle(reader, order, "COMPLETED", run)
            done = reader.row(order)
            reserve = people.seen[0]
            again = kit.Reserved(order=order).envelope(
                correlation_id=order, causation_id=reserve.event_id
            )  # the participant answers the same command twice (a new event id)
            nobody = kit.Reserved(order="o-nobody").envelope(
                correlation_id="o-nobody", causation_id=uuid.uuid4()
            )  # a reply for an instance that does not exist
            r = world.replies_route()
            kit.produce(
                kafka_bootstrap_servers,
                world.replies_topic,
                [kit.encode(r, again), kit.encode(r, nobody)],
            )
            wait_for(lambda: sum(run.app.stats.ignored.values()) == 2, "two ignored replies")
            run.stop.set()
            run.thread.join(60)
            stats = stats_of(run)
        after = reader.row(order)
    finally:
        reader.store.close()
    assert stats.ignored["unknown reply"] == 1
    assert sum(stats.ignored.values()) == 2  # the engine says duplicate or stale: both ignored
    assert stats.replies == 2
    # Ignored inputs commit too (their inbox rows); the two late replies may arrive in one
    # consumed batch, which the loop handles in one transaction: counted where it commits.
    assert stats.transactions in (4, 5)
    assert after == done  # nothing changed
    assert "ignored=2" in stats.line()
