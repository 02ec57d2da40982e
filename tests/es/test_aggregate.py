"""AggregateRepository on SQLite and PostgreSQL: load (snapshot + tail), handle, outbox, races.

The aggregate is the hand-written counter of fixtures_aggregate.py; the store is the real
EventStore. Every assertion reads the database back (events, snapshots, outbox rows).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventgen.runtime.db import dialect_of
from eventgen.runtime.errors import CommandRejected, ConcurrencyError
from eventgen.runtime.es.aggregate import AggregateRepository
from eventgen.runtime.es.spec import AggregateDefinition, CommandMeta, Decider
from eventgen.runtime.es.store import EventStore, StoredEvent
from eventgen.runtime.model import Message
from eventgen.runtime.outbox import OutboxWriter
from tests.es.fixtures_aggregate import (
    EVENTS,
    Add,
    Added,
    Close,
    CounterState,
    Note,
    Open,
    Opened,
    OpenRejected,
    counter,
    outbox_writer,
    replay,
    store_spec,
)


class CountingStore(EventStore):
    """The real store, counting the events `read_stream` hands out (what a load replays)."""

    read = 0

    def read_stream(
        self, conn: Any, stream_id: str, from_version: int = 1
    ) -> Iterator[StoredEvent]:
        for stored in super().read_stream(conn, stream_id, from_version):
            self.read += 1
            yield stored


class Db:
    """Connections to one database of a test (SQLite file or the shared PostgreSQL)."""

    def __init__(self, dialect: str, target: str) -> None:
        self.dialect = dialect
        self.target = target
        self.suffix = uuid.uuid4().hex[:10]
        self.conns: list[Any] = []
        self.tables: list[str] = []

    def connect(self) -> Any:
        conn: Any
        if self.dialect == "sqlite":
            conn = sqlite3.connect(self.target, isolation_level=None, timeout=30)
        else:
            import psycopg

            conn = psycopg.connect(self.target, autocommit=True, connect_timeout=10)
        self.conns.append(conn)
        return conn

    def tx(self, conn: Any) -> AbstractContextManager[Any]:
        return transaction(conn)

    def close(self) -> None:
        if self.dialect == "postgres" and self.tables:
            conn = self.connect()
            for table in self.tables:
                conn.execute(f'DROP TABLE IF EXISTS "{table}"')
        for conn in self.conns:
            conn.close()


@contextmanager
def transaction(conn: Any) -> Iterator[Any]:
    if dialect_of(conn) == "postgres":
        with conn.transaction():
            yield conn
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    if request.param == "postgres":
        dsn: str = request.getfixturevalue("postgres_dsn")
        database = Db("postgres", dsn)
    else:
        database = Db("sqlite", str(tmp_path / "es.db"))
    yield database
    database.close()


class Setup:
    """One store, outbox and repository on `db`'s tables (created here)."""

    def __init__(self, db: Db, definition: AggregateDefinition[CounterState] | None = None):
        self.db = db
        self.store = CountingStore(store_spec(db.suffix, db.dialect), EVENTS)
        self.outbox: OutboxWriter = outbox_writer(db.suffix, db.dialect)
        self.repo = self.repository(definition or counter())
        db.tables += [self.store.spec.table, self.store.spec.snapshot_table, self.outbox.spec.table]
        self.conn = db.connect()
        with db.tx(self.conn):
            self.store.ensure_schema(self.conn)
            self.outbox.ensure_schema(self.conn)

    def repository(
        self, definition: AggregateDefinition[CounterState]
    ) -> AggregateRepository[CounterState]:
        return AggregateRepository(definition, self.store, self.outbox)

    def handle(
        self, command: Message, meta: CommandMeta | None = None, conn: Any = None
    ) -> list[Message]:
        conn = conn or self.conn
        with self.db.tx(conn):
            return self.repo.handle(conn, command, meta=meta)

    def stream(self, counter_id: str) -> list[StoredEvent]:
        with self.db.tx(self.conn):
            return list(self.store.read_stream(self.conn, f"Counter-{counter_id}"))

    def outbox_rows(self) -> list[tuple[str, str, str | None, str | None]]:
        rows = self.conn.execute(
            "SELECT id, type, correlation_id, causation_id FROM "
            f'"{self.outbox.spec.table}" ORDER BY seq'
        ).fetchall()
        return [(str(i), t, c, None if k is None else str(k)) for i, t, c, k in rows]


# -- handle -----------------------------------------------------------------------------------


def test_load_of_a_new_instance_is_the_initial_state(db: Db) -> None:
    setup = Setup(db)
    with db.tx(setup.conn):
        assert setup.repo.load(setup.conn, "nobody") == (CounterState(), 0)


def test_handle_appends_the_events_and_puts_the_routed_ones_in_the_outbox(db: Db) -> None:
    setup = Setup(db)
    first = CommandMeta.now("checkout-1")
    assert setup.handle(Open(counter_id="c1", name="visits"), first) == [
        Opened(counter_id="c1", name="visits")
    ]
    second = CommandMeta.now()
    setup.handle(Add(counter_id="c1", amounts=[2, 5]), second)
    setup.handle(Note(counter_id="c1", text="not routed"))

    stored = setup.stream("c1")
    assert [s.version for s in stored] == [1, 2, 3, 4]
    assert [s.envelope.type for s in stored] == [
        "counters.Opened", "counters.Added", "counters.Added", "counters.Noted",
    ]  # fmt: skip
    assert [s.envelope.causation_id for s in stored[:3]] == [
        first.event_id, second.event_id, second.event_id,
    ]  # fmt: skip
    assert stored[0].envelope.correlation_id == "checkout-1"
    # No correlation on the command: its own id correlates what it caused (as ctx.publish).
    assert stored[1].envelope.correlation_id == str(second.event_id)

    # The outbox carries the routed events with the ids they are stored under; Noted has no
    # route and stays in the store only.
    assert setup.outbox_rows() == [
        (str(s.envelope.event_id), s.envelope.type, s.envelope.correlation_id,
         str(s.envelope.causation_id))
        for s in stored[:3]
    ]  # fmt: skip
    with db.tx(setup.conn):
        state, version = setup.repo.load(setup.conn, "c1")
    assert version == 4
    assert state == CounterState(
        status="OPEN", name="visits", total=7, adds=2, notes=("not routed",)
    )


def test_a_false_guard_rejects_and_writes_nothing(db: Db) -> None:
    setup = Setup(db)
    with pytest.raises(CommandRejected) as rejected:
        setup.handle(Add(counter_id="c2", amounts=[1]))
    assert rejected.value.guard == "status == OPEN"
    assert rejected.value.state == {"status": "NEW"}
    assert rejected.value.aggregate_id == "c2"
    assert setup.stream("c2") == []
    assert setup.outbox_rows() == []

    setup.handle(Open(counter_id="c2", name="x"))
    rows = setup.outbox_rows()
    with pytest.raises(CommandRejected, match="status == NEW"):
        setup.handle(Open(counter_id="c2", name="again"))
    assert [s.envelope.type for s in setup.stream("c2")] == ["counters.Opened"]
    assert setup.outbox_rows() == rows


def test_meta_may_be_the_envelope_the_command_came_in(db: Db) -> None:
    setup = Setup(db)
    command = Open(counter_id="c3", name="x")
    envelope = command.envelope(correlation_id="order-9")
    with db.tx(setup.conn):
        setup.repo.handle(setup.conn, command, meta=envelope)
    (stored,) = setup.stream("c3")
    assert stored.envelope.causation_id == envelope.event_id
    assert stored.envelope.correlation_id == "order-9"


def test_an_unknown_command_is_a_key_error(db: Db) -> None:
    setup = Setup(db)
    with pytest.raises(KeyError, match="counters.Opened"):
        setup.handle(Opened(counter_id="c4", name="an event, not a command"))


# -- snapshots --------------------------------------------------------------------------------


def test_snapshots_are_taken_when_the_version_crosses_a_multiple(db: Db) -> None:
    setup = Setup(db, counter(snapshot_every=3))
    stream = "Counter-s1"
    setup.handle(Open(counter_id="s1", name="x"))  # v1
    setup.handle(Add(counter_id="s1", amounts=[1]))  # v2
    with db.tx(setup.conn):
        assert setup.store.load_snapshot(setup.conn, stream, "counter-state-v1") is None
    setup.handle(Add(counter_id="s1", amounts=[2, 3]))  # v3, v4: crosses 3
    with db.tx(setup.conn):
        found = setup.store.load_snapshot(setup.conn, stream, "counter-state-v1")
    assert found is not None and found[0] == 4
    assert CounterState.model_validate_json(found[1]) == replay(
        [s.envelope.payload for s in setup.stream("s1")]
    )
    setup.handle(Add(counter_id="s1", amounts=[4]))  # v5: no multiple crossed
    with db.tx(setup.conn):
        again = setup.store.load_snapshot(setup.conn, stream, "counter-state-v1")
    assert again is not None and again[0] == 4

    setup.store.read = 0
    with db.tx(setup.conn):
        state, version = setup.repo.load(setup.conn, "s1")
    assert (state.total, version) == (10, 5)
    assert setup.store.read == 1  # the snapshot at 4, then the tail: one event


def test_a_changed_state_hash_ignores_old_snapshots_and_replays_fully(db: Db) -> None:
    setup = Setup(db, counter(snapshot_every=3, state_hash="hash-old"))
    setup.handle(Open(counter_id="h1", name="x"))
    for amount in range(1, 7):
        setup.handle(Add(counter_id="h1", amounts=[amount]))  # v2..v7, snapshot at 3 and 6
    events = [s.envelope.payload for s in setup.stream("h1")]
    truth = replay(events)

    old = setup.repository(counter(snapshot_every=3, state_hash="hash-old"))
    new = setup.repository(counter(snapshot_every=3, state_hash="hash-new"))
    setup.store.read = 0
    with db.tx(setup.conn):
        assert old.load(setup.conn, "h1") == (truth, 7)
    assert setup.store.read == 1
    setup.store.read = 0
    with db.tx(setup.conn):
        assert new.load(setup.conn, "h1") == (truth, 7)
    assert setup.store.read == 7  # no snapshot under the new hash: the whole stream

    # A snapshot whose state differs from the replay shows which one each load used.
    forged = truth.model_copy(update={"total": 999})
    with db.tx(setup.conn):
        setup.store.save_snapshot(
            setup.conn, "Counter-h1", 7, "hash-old", forged.model_dump_json().encode()
        )
    with db.tx(setup.conn):
        assert old.load(setup.conn, "h1") == (forged, 7)
        assert new.load(setup.conn, "h1") == (truth, 7)

    # The next snapshot the new schema takes is stored under the new hash.
    setup.repo = new
    setup.handle(Add(counter_id="h1", amounts=[1, 1]))  # v8, v9: crosses 9
    with db.tx(setup.conn):
        taken = setup.store.load_snapshot(setup.conn, "Counter-h1", "hash-new")
    assert taken is not None and taken[0] == 9
    assert CounterState.model_validate_json(taken[1]).total == truth.total + 2


@pytest.mark.parametrize(
    "data",
    [b"{not json", b'{"total": "many"}', b'{"status": "OPEN", "colour": "red"}', b"\xff\xfe"],
)
def test_an_undecodable_snapshot_is_logged_and_ignored(
    db: Db, data: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    setup = Setup(db, counter(snapshot_every=100))  # none taken: the test writes one
    setup.handle(Open(counter_id="u1", name="x"))
    setup.handle(Add(counter_id="u1", amounts=[3, 4]))
    truth = replay([s.envelope.payload for s in setup.stream("u1")])
    with db.tx(setup.conn):
        setup.store.save_snapshot(setup.conn, "Counter-u1", 3, "counter-state-v1", data)
    setup.store.read = 0
    with caplog.at_level(logging.WARNING, logger="eventgen.runtime.es"), db.tx(setup.conn):
        assert setup.repo.load(setup.conn, "u1") == (truth, 3)
    assert setup.store.read == 3
    (record,) = [r for r in caplog.records if r.name == "eventgen.runtime.es"]
    assert record.levelno == logging.WARNING
    assert "'Counter-u1'" in record.getMessage()
    assert "does not decode" in record.getMessage()


Step = tuple[str, list[int]]
steps = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.lists(st.integers(-50, 50), min_size=1, max_size=5)),
        st.tuples(st.just("note"), st.just([0])),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(every=st.integers(1, 7), plan=steps)
def test_snapshot_plus_tail_equals_full_replay(every: int, plan: list[Step]) -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        _snapshot_property(conn, every, plan)
    finally:
        conn.close()


@pytest.mark.postgres
def test_snapshot_plus_tail_equals_full_replay_on_postgres(postgres_dsn: str) -> None:
    database = Db("postgres", postgres_dsn)
    try:
        for every, plan in [
            (1, [("add", [1])]),
            (4, [("add", [1, 2, 3]), ("note", [0]), ("add", [4, 5, 6, 7, 8]), ("add", [9])]),
            (7, [("add", [n]) for n in range(15)]),
        ]:
            database.suffix = uuid.uuid4().hex[:10]
            conn = database.connect()
            database.tables += [f"counters_events_{database.suffix}",
                                f"counters_snapshots_{database.suffix}"]  # fmt: skip
            _snapshot_property(conn, every, plan, database.suffix)
    finally:
        database.close()


def _snapshot_property(conn: Any, every: int, plan: list[Step], suffix: str = "p") -> None:
    """Drive commands through a repository snapshotting every `every` events, then compare
    its load with a load that finds no snapshot, and with a replay outside any store."""
    dialect = dialect_of(conn)
    store = CountingStore(store_spec(suffix, dialect), EVENTS)
    with transaction(conn):
        store.ensure_schema(conn)
    snapshotting = AggregateRepository(counter(snapshot_every=every), store)
    with transaction(conn):
        snapshotting.handle(conn, Open(counter_id="p", name="prop"))
    expected_snapshot: int | None = 1 if every == 1 else None
    version = 1
    for kind, amounts in plan:
        command: Message = (
            Add(counter_id="p", amounts=amounts)
            if kind == "add"
            else Note(counter_id="p", text=f"note at {version}")
        )
        with transaction(conn):
            events = snapshotting.handle(conn, command)
        if (version + len(events)) // every > version // every:
            expected_snapshot = version + len(events)
        version += len(events)

    with transaction(conn):
        taken = store.load_snapshot(conn, "Counter-p", "counter-state-v1")
        assert (taken and taken[0]) == expected_snapshot
        truth = replay([s.envelope.payload for s in store.read_stream(conn, "Counter-p")])
        store.read = 0
        assert snapshotting.load(conn, "p") == (truth, version)
        assert store.read == version - (expected_snapshot or 0)
        full = AggregateRepository(counter(state_hash="no-snapshot-under-this"), store)
        store.read = 0
        assert full.load(conn, "p") == (truth, version)
        assert store.read == version


def test_an_aggregate_without_snapshots_never_reads_one(db: Db) -> None:
    setup = Setup(db, counter(snapshot_every=None))
    setup.handle(Open(counter_id="n1", name="x"))
    forged = CounterState(status="OPEN", total=999)
    with db.tx(setup.conn):
        setup.store.save_snapshot(
            setup.conn, "Counter-n1", 1, "counter-state-v1", forged.model_dump_json().encode()
        )
    setup.handle(Add(counter_id="n1", amounts=[1, 2, 3]))
    with db.tx(setup.conn):
        assert setup.repo.load(setup.conn, "n1")[0].total == 6
        # The forged snapshot is still the stored one: none was written.
        assert setup.store.load_snapshot(setup.conn, "Counter-n1", "counter-state-v1") == (
            1,
            forged.model_dump_json().encode(),
        )


# -- concurrency ------------------------------------------------------------------------------


def _racing(definition: AggregateDefinition[CounterState], barrier: threading.Barrier) -> Any:
    """`definition` whose Add decider waits for the other writer: both decide on one state."""

    def decide(state: Any, command: Any, meta: CommandMeta) -> list[Message]:
        barrier.wait(timeout=30)
        return [Added(counter_id=command.counter_id, amount=a) for a in command.amounts]

    commands: tuple[tuple[type[Message], Decider], ...] = tuple(
        (cls, decide if cls is Add else d) for cls, d in definition.commands
    )
    return replace(definition, commands=commands)


@pytest.mark.postgres
def test_two_handles_racing_on_one_aggregate_one_conflicts_none_is_lost(
    postgres_dsn: str,
) -> None:
    database = Db("postgres", postgres_dsn)
    try:
        setup = Setup(database)
        setup.handle(Open(counter_id="r1", name="race"))
        rounds = 5
        for round_no in range(rounds):
            barrier = threading.Barrier(2)
            racing = setup.repository(_racing(counter(snapshot_every=2), barrier))
            outcomes: list[str] = []
            threads = [
                threading.Thread(
                    target=_race_write,
                    args=(database, racing, setup.repo, 10 * round_no + n, outcomes),
                )
                for n in (1, 2)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            assert not any(thread.is_alive() for thread in threads)
            version = 1 + 2 * round_no
            assert sorted(outcomes) == [f"conflict {version} {version + 1}", "won"]

        stored = setup.stream("r1")
        assert [s.version for s in stored] == list(range(1, 2 + 2 * rounds))
        amounts = sorted(s.envelope.payload.amount for s in stored[1:])  # type: ignore[attr-defined]
        assert amounts == sorted(10 * r + n for r in range(rounds) for n in (1, 2))
        # Only the winners' and the retries' transactions committed outbox rows: one per event.
        assert [row[0] for row in setup.outbox_rows()] == [str(s.envelope.event_id) for s in stored]
    finally:
        database.close()


def _race_write(
    database: Db,
    racing: AggregateRepository[CounterState],
    plain: AggregateRepository[CounterState],
    amount: int,
    outcomes: list[str],
) -> None:
    conn = database.connect()
    try:
        with transaction(conn):
            racing.handle(conn, Add(counter_id="r1", amounts=[amount]))
        outcome = "won"
    except ConcurrencyError as exc:
        outcome = f"conflict {exc.expected} {exc.actual}"
        # The retry reloads and decides again, now alone.
        with transaction(conn):
            plain.handle(conn, Add(counter_id="r1", amounts=[amount]))
    outcomes.append(outcome)  # list.append is atomic


# -- handle_consumed (the command consumer app's handler) -------------------------------------


class Ctx:
    """What handle_consumed reads of the app's Context: db, envelope, publish."""

    def __init__(self, db: Any, envelope: Any) -> None:
        self.db = db
        self.envelope = envelope
        self.published: list[Message] = []

    def publish(self, message: Message, **_: Any) -> None:
        self.published.append(message)


def test_handle_consumed_replies_a_rejection_through_the_outbox(
    db: Db, caplog: pytest.LogCaptureFixture
) -> None:
    setup = Setup(db)
    consume: Callable[[Message], Any] = lambda command: _consume(setup, command)
    placed = consume(Open(counter_id="k1", name="first"))
    again = consume(Open(counter_id="k1", name="second"))
    rows = setup.outbox_rows()
    assert [row[1] for row in rows] == ["counters.Opened", "counters.OpenRejected"]
    assert rows[0][3] == str(placed.event_id)
    assert rows[1][3] == str(again.event_id)  # the reply is caused by the rejected command
    assert rows[1][2] == "corr-k1"
    assert [s.envelope.type for s in setup.stream("k1")] == ["counters.Opened"]
    payload = setup.conn.execute(
        f'SELECT payload FROM "{setup.outbox.spec.table}" WHERE type = %s'.replace(
            "%s", "?" if db.dialect == "sqlite" else "%s"
        ),
        ("counters.OpenRejected",),
    ).fetchone()[0]
    reply = OpenRejected.model_validate_json(bytes(payload))
    assert "status == NEW" in reply.reason and "'OPEN'" in reply.reason

    # A command without a failure reply: logged, nothing written, the handler returns.
    with caplog.at_level(logging.WARNING, logger="eventgen.runtime.es"):
        consume(Add(counter_id="k2", amounts=[1]))
    assert any("status == OPEN" in r.getMessage() for r in caplog.records)
    assert len(setup.outbox_rows()) == 2
    assert setup.stream("k2") == []


def test_handle_consumed_creates_the_tables_on_a_fresh_database(tmp_path: Path) -> None:
    database = Db("sqlite", str(tmp_path / "fresh.db"))
    try:
        store = EventStore(store_spec(database.suffix), EVENTS)
        outbox = outbox_writer(database.suffix)
        repo = AggregateRepository(counter(), store, outbox)
        conn = database.connect()
        command = Open(counter_id="f1", name="x")
        with transaction(conn):
            repo.handle_consumed(command, Ctx(conn, command.envelope()))
        with transaction(conn):
            assert repo.load(conn, "f1")[1] == 1
        # Without an outbox, the failure reply goes out through ctx.publish.
        bare = AggregateRepository(counter(), store)
        ctx = Ctx(conn, command.envelope())
        with transaction(conn):
            bare.handle_consumed(command, ctx)
        assert [type(m) for m in ctx.published] == [OpenRejected]
    finally:
        database.close()


def test_handle_consumed_lets_conflicts_propagate(db: Db) -> None:
    setup = Setup(db)
    setup.handle(Open(counter_id="x1", name="x"))

    def stale_close(state: Any, command: Any, meta: CommandMeta) -> list[Message]:
        # Another append lands between this decision's load and its append.
        setup.store.append(setup.conn, "Counter-x1", 1, [Added(counter_id="x1", amount=1)])
        return [Added(counter_id=command.counter_id, amount=2)]

    stale = setup.repository(replace(counter(), commands=((Close, stale_close),)))
    command = Close(counter_id="x1")
    with pytest.raises(ConcurrencyError) as conflict, db.tx(setup.conn):
        stale.handle_consumed(command, Ctx(setup.conn, command.envelope()))
    assert (conflict.value.expected, conflict.value.actual) == (1, 2)
    assert [s.version for s in setup.stream("x1")] == [1]
    assert [row[1] for row in setup.outbox_rows()] == ["counters.Opened"]


def _consume(setup: Setup, command: Message) -> Any:
    assert isinstance(command, Open | Add)
    envelope = command.envelope(correlation_id=f"corr-{command.counter_id}")
    with setup.db.tx(setup.conn):
        setup.repo.handle_consumed(command, Ctx(setup.conn, envelope))
    return envelope
