"""The saga worker's timer side on SQLite and PostgreSQL (no broker): one instance whose timer
cannot be fired never holds up the others.

ShipSaga of worker_kit, whose `reserve` build raises for the orders a test names (a generated
`_present` raises SagaDataError, a command's validation another error): the failing timer's
transaction rolls back, is logged with its instance and counted, and the other instances'
timers fire in the same call; a SagaDataError (or a timer that failed at TIMER_FAILURES calls in
a row) makes the worker skip the instance, and a skipped instance's timers, however many, are
left out of the store's query and of the next-due time.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pytest

from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.db import Store
from eventgen.runtime.outbox import OutboxWriter
from eventgen.runtime.saga import worker
from eventgen.runtime.saga.errors import SagaDataError
from eventgen.runtime.saga.spec import SagaDefinition
from eventgen.runtime.saga.stats import SagaStats
from eventgen.runtime.saga.worker import TIMER_FAILURES, SagaApp, utc_now
from tests.sagas import worker_kit as kit

Kind = Literal["sqlite", "postgres"]
DIALECTS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]
TIMEOUT = timedelta(milliseconds=1500)  # the kit's reserve timeout
DEADLINE = timedelta(hours=1)  # the kit's saga deadline


class Bench:
    """A ShipSaga worker (not running: the test calls fire_due) whose reserve build raises
    `poison[order]` for the orders in `poison`."""

    def __init__(self, kind: Kind, config: RuntimeConfig) -> None:
        self.world = kit.World(kind, config)
        self.poison: dict[str, Exception] = {}
        base = self.world.app().definition
        self.app = SagaApp(
            self.definition(base),
            self.world.consumer_spec(),
            OutboxWriter(self.world.outbox_spec()),
            (kit.Begun, *kit.REPLIES),
        )
        self.app.outbox.configure(config)
        self.store = Store.open(kind, config)
        with self.store.transaction(immediate=True) as conn:
            self.app.ensure_schema(conn)
        self.order = f"o-{self.world.suffix}"

    def definition(self, base: SagaDefinition) -> SagaDefinition:
        def build(data: Any) -> kit.Reserve:
            failure = self.poison.get(data.order)
            if failure is not None:
                raise failure
            return kit.Reserve(order=data.order)

        return replace(base, steps=(replace(base.steps[0], build=build), *base.steps[1:]))

    def close(self) -> None:
        for table in self.world.all_tables():
            self.store.connection.execute(f'DROP TABLE IF EXISTS "{table}"')
        self.store.close()

    def start(self, order: str, at: datetime) -> None:
        """A started instance: reserve sent at `at`, its timeout and the deadline set."""
        app = self.app
        with self.store.transaction(immediate=True) as conn:
            decision = app.machine.start(kit.Begun(order=order), event_id=uuid.uuid4(), now=at)
            app.apply(conn, None, decision, now=at)

    def corrupt(self, order: str) -> None:
        """The instance's stored data no longer matches the spec (its data hash moved)."""
        table = self.world.tables().instances
        mark = "%s" if self.store.dialect == "postgres" else "?"
        with self.store.transaction(immediate=True) as conn:
            conn.execute(
                f'UPDATE "{table}" SET data_hash = {mark} WHERE saga_id = {mark}', ("x", order)
            )

    def row(self, order: str) -> dict[str, Any]:
        with self.store.transaction() as conn:
            found = self.app.store.load(conn, "ShipSaga", order)
        assert found is not None
        return found

    def timers(self, order: str) -> list[tuple[str, int]]:
        with self.store.transaction() as conn:
            return [(t.kind, t.attempt) for t in self.app.store.timers(conn, "ShipSaga", order)]

    def commands(self, order: str) -> int:
        """How many commands the outbox holds for the order (the rows carry its correlation)."""
        table = self.world.outbox_spec().table
        mark = "%s" if self.store.dialect == "postgres" else "?"
        found = self.store.connection.execute(
            f'SELECT COUNT(*) FROM "{table}" WHERE correlation_id = {mark}', (order,)
        ).fetchone()
        return int(found[0])


@pytest.fixture(params=DIALECTS)
def bench(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Bench]:
    kind: Kind = request.param
    dsn = request.getfixturevalue("postgres_dsn") if kind == "postgres" else None
    config = RuntimeConfig(
        sqlite_path=str(tmp_path / "timers.sqlite3"), postgres_dsn=dsn, connect_timeout_s=10
    )
    made = Bench(kind, config)
    try:
        yield made
    finally:
        made.close()


def test_a_timer_whose_step_build_raises_is_rolled_back_and_the_others_fire(
    bench: Bench, caplog: pytest.LogCaptureFixture
) -> None:
    """The poison instance's retry timer (it builds the command again) is the earliest due:
    before the fix its SagaDataError left fire_due at every call and no other timer fired."""
    t0 = utc_now() - timedelta(seconds=30)
    poison, good = f"{bench.order}-poison", f"{bench.order}-good"
    bench.start(poison, t0)
    bench.start(good, t0 + timedelta(seconds=5))
    assert bench.app.fire_due(bench.store, now=t0 + timedelta(seconds=2)) == 1  # poison's timeout
    assert bench.timers(poison) == [("deadline", 0), ("retry", 1)]  # due at t0 + 2.2 s
    bench.poison[poison] = SagaDataError("ShipSaga", poison, "required field missing")
    before = bench.row(poison)
    commands = bench.commands(poison)
    bench.app.stats = SagaStats()
    now = t0 + timedelta(seconds=7)  # poison's retry, then good's timeout (t0 + 6.5 s)
    with caplog.at_level(logging.ERROR, logger="eventgen.runtime.saga"):
        assert bench.app.fire_due(bench.store, now=now) == 1  # the good one's timeout
    assert bench.row(poison) == before  # rolled back: nothing written
    assert bench.timers(poison) == [("deadline", 0), ("retry", 1)]
    assert bench.commands(poison) == commands
    assert bench.timers(good) == [("deadline", 0), ("retry", 1)]
    stats = bench.app.stats
    assert (stats.timers_fired, stats.transactions, stats.timer_errors, stats.skipped) == (
        1, 1, 1, 1,
    )  # fmt: skip
    named = [r.getMessage() for r in caplog.records if poison in r.getMessage()]
    assert named and "required field missing" in named[0] and "timer retry" in named[0]
    # Skipped from now on: later calls fire the good one's retry and never try the poison.
    later = now + timedelta(seconds=1)
    assert bench.app.fire_due(bench.store, now=later) == 1
    assert bench.app.fire_due(bench.store, now=later) == 0
    assert bench.app.stats.timer_errors == 1
    assert bench.timers(good) == [("deadline", 0), ("timeout", 2)]
    assert bench.row(poison) == before


def test_a_timer_that_keeps_failing_is_skipped_after_a_few_polls_one_that_recovers_fires(
    bench: Bench,
) -> None:
    t0 = utc_now() - timedelta(seconds=30)
    broken, flaky, good = (f"{bench.order}-{name}" for name in ("broken", "flaky", "good"))
    for index, order in enumerate((broken, flaky, good)):
        bench.start(order, t0 + timedelta(milliseconds=index))
    assert bench.app.fire_due(bench.store, now=t0 + timedelta(seconds=2)) == 3  # the timeouts
    bench.poison[broken] = ValueError("amount: input should be greater than 0")
    bench.poison[flaky] = RuntimeError("the participant's registry is down")
    bench.app.stats = SagaStats()
    now = t0 + timedelta(seconds=3)  # the retries due, the next timeouts not
    assert bench.app.fire_due(bench.store, now=now) == 1  # the good one only
    for _ in range(TIMER_FAILURES - 2):
        assert bench.app.fire_due(bench.store, now=now) == 0
    assert bench.app.stats.skipped == 0  # not given up yet: tried at each call
    del bench.poison[flaky]
    assert bench.app.fire_due(bench.store, now=now) == 1  # the flaky one recovered
    assert bench.timers(flaky) == [("deadline", 0), ("timeout", 2)]
    stats = bench.app.stats
    assert (stats.timer_errors, stats.skipped) == (2 * (TIMER_FAILURES - 1) + 1, 1)
    assert bench.app._bad == {("ShipSaga", broken)}
    assert bench.app._failures == {}
    errors = stats.timer_errors
    assert bench.app.fire_due(bench.store, now=now) == 0  # the broken one: no more tries
    assert bench.app.stats.timer_errors == errors
    assert bench.timers(broken) == [("deadline", 0), ("retry", 1)]


def test_a_skipped_instance_with_several_due_timers_holds_up_no_other(bench: Bench) -> None:
    """The skipped instance's timeout and deadline are both due before the good one's: before
    the fix they filled the store's batch of `skipped + 1` timers and the good one's deadline
    never fired, and the next-due time skipped every past-due timer."""
    t0 = utc_now() - DEADLINE - timedelta(minutes=5)
    bad, good = f"{bench.order}-bad", f"{bench.order}-good"
    bench.start(bad, t0)
    bench.start(good, t0 + timedelta(minutes=1))
    bench.corrupt(bad)
    bench.app.stats = SagaStats()
    assert bench.app.fire_due(bench.store, now=t0 + timedelta(seconds=30)) == 0  # bad tried
    assert bench.app._bad == {("ShipSaga", bad)}
    # Now (the real clock): both instances' timeouts and deadlines are due.
    bench.app._refresh_next_due(bench.store)
    assert bench.app._next_due == t0 + timedelta(minutes=1) + TIMEOUT  # the good one's
    assert bench.app.timers_pending()
    assert bench.app.fire_due(bench.store) == 2  # the good one's timeout, then its deadline
    row = bench.row(good)
    assert (row["status"], row["step"]) == ("COMPENSATING", "reserve")
    assert bench.timers(bad) == [("deadline", 0), ("timeout", 1)]
    bench.app._refresh_next_due(bench.store)
    due = bench.app._next_due
    assert due is not None and due > utc_now() - timedelta(seconds=1)  # not the bad ones'
    assert bench.app.stats.timer_errors == 1


def test_more_skipped_instances_than_one_query_excludes(
    bench: Bench, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the store's bound the worker filters the rest itself (each holds up to three
    timers), so the good instance's timers still fire."""
    monkeypatch.setattr(worker, "MAX_EXCLUDED", 1)
    t0 = utc_now() - DEADLINE - timedelta(minutes=5)
    bad = [f"{bench.order}-bad{index}" for index in range(3)]
    good = f"{bench.order}-good"
    for index, order in enumerate(bad):
        bench.start(order, t0 + timedelta(seconds=index))
        bench.corrupt(order)
    bench.start(good, t0 + timedelta(minutes=1))
    bench.app.stats = SagaStats()
    assert bench.app.fire_due(bench.store) == 2  # the three bad ones tried once, good fired
    assert bench.app._bad == {("ShipSaga", order) for order in bad}
    assert bench.app.stats.skipped == 3
    assert bench.row(good)["status"] == "COMPENSATING"
    assert bench.app.fire_due(bench.store) == 0
    assert bench.app.stats.timer_errors == 3
