"""SagaApp.apply with a `local` step on SQLite and PostgreSQL (no broker): the aggregate
command runs in the saga's transaction inside a savepoint; a rejection rolls back to it and
the machine's REJECTED row decides (here: compensate the earlier step), all in one write.

CountSaga: reserve (send Reserve -> Reserved; compensation Release) then open (local: the
counter aggregate of tests/es/fixtures_aggregate.py, command Open).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import pytest

from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.db import Store
from eventgen.runtime.es.aggregate import AggregateRepository
from eventgen.runtime.es.spec import CommandMeta
from eventgen.runtime.es.store import EventStore
from eventgen.runtime.outbox import OutboxWriter
from eventgen.runtime.saga.codec import load_instance, schema_hash
from eventgen.runtime.saga.errors import OperatorRefused
from eventgen.runtime.saga.spec import (
    COMPENSATE,
    COMPLETED,
    DONE,
    NEXT_COMPENSATION,
    REJECTED,
    CompensationSpec,
    SagaDefinition,
    SagaTables,
    StepSpec,
    Transition,
)
from eventgen.runtime.saga.stats import SagaStats, Tally
from eventgen.runtime.saga.worker import NoInstance, SagaApp, utc_now
from tests.es import fixtures_aggregate as counters
from tests.sagas import worker_kit as kit

Kind = Literal["sqlite", "postgres"]
DIALECTS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


def count_saga(tables: SagaTables) -> SagaDefinition:
    steps = (
        StepSpec(
            "reserve",
            "send",
            kit.Reserve.TYPE,
            lambda data: kit.Reserve(order=data.order),
            timeout_ms=5000,
            compensation=CompensationSpec(
                kit.Release.TYPE, lambda data: kit.Release(order=data.order), (kit.Released.TYPE,)
            ),
        ),
        StepSpec(
            "open",
            "local",
            counters.Open.TYPE,
            lambda data: counters.Open(counter_id=data.order, name="from the saga"),
        ),
    )
    rows = (
        Transition("RUNNING", "reserve", kit.Reserved.TYPE, "success", "open"),
        Transition("RUNNING", "open", DONE, "success", COMPLETED),
        Transition("RUNNING", "open", REJECTED, "failure", COMPENSATE),
        Transition("COMPENSATING", "reserve", kit.Released.TYPE, "compensated", NEXT_COMPENSATION),
    )
    return SagaDefinition(
        name="CountSaga",
        context="kit",
        data_model=kit.ShipData,
        data_hash=schema_hash(kit.ShipData),
        correlation="order",
        started_by=kit.Begun.TYPE,
        init=lambda event: kit.ShipData(order=event.order, amount=event.amount),
        steps=steps,
        transitions=rows,
        tables=tables,
    )


class Setup:
    def __init__(self, kind: Kind, config: RuntimeConfig) -> None:
        self.world = kit.World(kind, config)
        suffix = self.world.suffix
        self.events = EventStore(counters.store_spec(suffix, kind), counters.EVENTS)
        self.repository = AggregateRepository(counters.COUNTER, self.events)
        self.app = SagaApp(
            count_saga(self.world.tables()),
            self.world.consumer_spec(),
            OutboxWriter(self.world.outbox_spec()),
            (kit.Begun, *kit.REPLIES),
            {counters.Open.TYPE: self.repository},
        )
        self.app.outbox.configure(config)
        self.store = Store.open(kind, config)
        with self.store.transaction() as conn:
            self.app.ensure_schema(conn)

    def close(self) -> None:
        spec = self.events.spec
        for table in [*self.world.all_tables(), spec.table, spec.snapshot_table]:
            self.store.connection.execute(f'DROP TABLE IF EXISTS "{table}"')
        self.store.close()

    def outbox_types(self) -> list[str]:
        table = self.world.outbox_spec().table
        rows = self.store.connection.execute(f'SELECT type FROM "{table}" ORDER BY seq').fetchall()
        return [str(found[0]) for found in rows]


@pytest.fixture(params=DIALECTS)
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    kind: Kind = request.param
    dsn = request.getfixturevalue("postgres_dsn") if kind == "postgres" else None
    config = RuntimeConfig(
        sqlite_path=str(tmp_path / "local.sqlite3"), postgres_dsn=dsn, connect_timeout_s=10
    )
    made = Setup(kind, config)
    try:
        yield made
    finally:
        made.close()


def start_and_reserve(setup: Setup, order: str) -> Tally:
    """Start (reserve sent), then the Reserved reply: the local step runs in that write."""
    app = setup.app
    tally = Tally()
    now = utc_now()
    with setup.store.transaction() as conn:
        decision = app.machine.start(kit.Begun(order=order), event_id=uuid.uuid4(), now=now)
        app.apply(conn, None, decision, now=now, tally=tally)
    with setup.store.transaction() as conn:
        row = app.store.load(conn, "CountSaga", order, for_update=True)
        assert row is not None
        instance = load_instance(app.definition, row)
        request = instance.step_state("reserve").request_ids[0]
        decision = app.machine.on_reply(
            instance, kit.Reserved(order=order), causation_id=uuid.UUID(request), now=now
        )
        assert decision.local is not None and decision.local.step == "open"
        app.apply(conn, instance, decision, now=now, tally=tally)
    return tally


def stored(setup: Setup, order: str) -> dict[str, Any]:
    with setup.store.transaction() as conn:
        row = setup.app.store.load(conn, "CountSaga", order)
    assert row is not None
    return row


def stream(setup: Setup, order: str) -> list[str]:
    with setup.store.transaction() as conn:
        return [s.envelope.type for s in setup.events.read_stream(conn, f"Counter-{order}")]


def test_a_local_step_runs_in_the_saga_transaction(setup: Setup) -> None:
    order = f"c-{uuid.uuid4().hex[:8]}"
    tally = start_and_reserve(setup, order)
    row = stored(setup, order)
    assert (row["status"], row["version"]) == ("COMPLETED", 1)  # one write for both decisions
    assert stream(setup, order) == ["counters.Opened"]
    assert tally.completed == 1
    with setup.store.transaction() as conn:
        causes = [entry["cause"] for entry in setup.app.store.log(conn, "CountSaga", order)]
    assert "local done" in causes


def test_a_rejected_local_command_rolls_back_to_its_savepoint_and_compensates(
    setup: Setup,
) -> None:
    order = f"c-{uuid.uuid4().hex[:8]}"
    with setup.store.transaction() as conn:  # already open: the saga's Open is rejected
        setup.repository.handle(
            conn, counters.Open(counter_id=order, name="first"), meta=CommandMeta.now()
        )
    tally = start_and_reserve(setup, order)
    row = stored(setup, order)
    assert row["status"] == "COMPENSATING" and row["step"] == "reserve"
    assert stream(setup, order) == ["counters.Opened"]  # the first one only
    assert setup.outbox_types() == ["kit.Reserve", "kit.Release"]
    assert tally.completed == 0
    with setup.store.transaction() as conn:
        log = setup.app.store.log(conn, "CountSaga", order)
    rejected = [entry for entry in log if entry["cause"] == "local rejected"]
    assert rejected and "status == NEW" in " ".join(str(e["detail"]) for e in rejected)


def test_operator_commands_apply_in_one_counted_transaction(setup: Setup) -> None:
    app = setup.app
    running, done = f"c-{uuid.uuid4().hex[:8]}", f"c-{uuid.uuid4().hex[:8]}"
    now = utc_now()
    with setup.store.transaction() as conn:
        decision = app.machine.start(kit.Begun(order=running), event_id=uuid.uuid4(), now=now)
        app.apply(conn, None, decision, now=now)
    start_and_reserve(setup, done)  # COMPLETED
    app.stats = SagaStats()
    aborted = app.act(setup.store, running, "abort", actor="ann", reason="customer called")
    assert (aborted.before.status, aborted.instance.status) == ("RUNNING", "COMPENSATING")
    assert aborted.instance.version == 1
    # The decision's commands, as sent: the compensation of reserve, through the outbox.
    assert [(c.message.TYPE, c.step, c.phase) for c in aborted.commands] == [
        (kit.Release.TYPE, "reserve", "compensation")
    ]
    assert setup.outbox_types()[-1] == kit.Release.TYPE
    assert stored(setup, running)["version"] == 1
    with pytest.raises(OperatorRefused) as refused:
        app.act(setup.store, done, "abort", actor="ann", reason="too late")
    assert refused.value.status == "COMPLETED"
    with pytest.raises(NoInstance):
        app.act(setup.store, "nobody", "resume", actor="ann", reason="?")
    assert (app.stats.transactions, app.stats.operator) == (1, 1)  # the refused ones rolled back
    with setup.store.transaction() as conn:
        log = app.store.log(conn, "CountSaga", running)
    entry = next(e for e in log if e["cause"] == "operator abort")
    assert (entry["actor"], entry["reason"]) == ("ann", "customer called")
    assert stored(setup, done)["status"] == "COMPLETED"


def test_the_timer_side_skips_an_instance_whose_data_no_longer_loads(setup: Setup) -> None:
    app = setup.app
    bad, good = f"c-{uuid.uuid4().hex[:8]}", f"c-{uuid.uuid4().hex[:8]}"
    now = utc_now()
    with setup.store.transaction() as conn:
        for order in (bad, good):
            decision = app.machine.start(kit.Begun(order=order), event_id=uuid.uuid4(), now=now)
            app.apply(conn, None, decision, now=now)  # reserve sent, its 5 s timeout set
        table = setup.world.tables().instances
        mark = "%s" if setup.store.dialect == "postgres" else "?"
        conn.execute(f'UPDATE "{table}" SET data_hash = {mark} WHERE saga_id = {mark}', ("x", bad))
    before = stored(setup, bad)
    app.stats = SagaStats()
    later = now + timedelta(seconds=10)
    assert app.fire_due(setup.store, now=later) == 1  # the good one's timeout
    assert app.fire_due(setup.store, now=later) == 0  # the bad one stays skipped
    assert (app.stats.timers_fired, app.stats.transactions) == (1, 1)
    assert stored(setup, bad) == before
    assert stored(setup, good)["version"] == 1
    with setup.store.transaction() as conn:
        assert [t.kind for t in app.store.timers(conn, "CountSaga", bad)] == ["timeout"]
