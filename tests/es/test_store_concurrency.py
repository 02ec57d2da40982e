"""Concurrent appends on a real PostgreSQL (and SQLite files): one winner per version, and a
reader tailing the global position that never skips an event committed late."""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventgen.runtime.db import Store
from eventgen.runtime.errors import ConcurrencyError
from eventgen.runtime.es.store import EventStore, StoredEvent
from tests.es.test_store import Deposited, drop_tables, new_event_store, open_store

JOIN_TIMEOUT_S = 60.0


def run_threads(targets: list[Callable[[], None]]) -> None:
    """Run each target in a thread; re-raise the first failure; bounded."""
    failures: list[BaseException] = []

    def guarded(target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=guarded, args=(t,), daemon=True) for t in targets]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + JOIN_TIMEOUT_S
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    assert not any(thread.is_alive() for thread in threads), "a writer thread hung"
    if failures:
        raise failures[0]


@pytest.mark.parametrize(
    "kind",
    [pytest.param("postgres", marks=pytest.mark.postgres), pytest.param("sqlite")],
)
def test_two_writers_one_winner_per_version(
    kind: Literal["sqlite", "postgres"], request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    where = (
        request.getfixturevalue("postgres_dsn")
        if kind == "postgres"
        else str(tmp_path / "race.sqlite3")
    )
    rounds = 25
    events = new_event_store(store=kind)
    stores = [open_store(kind, where) for _ in range(2)]
    events.ensure_schema(stores[0].connection)
    barrier = threading.Barrier(2, timeout=30)
    outcome: dict[tuple[int, int], Any] = {}  # (round, writer) -> version or ConcurrencyError
    rng = random.Random(1234)
    pauses = [[rng.random() * 0.01 for _ in range(2)] for _ in range(rounds)]

    def writer(index: int) -> Callable[[], None]:
        def run() -> None:
            db = stores[index]
            for version in range(rounds):
                barrier.wait()
                try:
                    with db.transaction() as conn:
                        event = Deposited(account=f"writer-{index}", amount=version)
                        outcome[version, index] = events.append(conn, "race", version, [event])
                        time.sleep(pauses[version][index])  # keep the transaction open a bit
                except ConcurrencyError as exc:
                    outcome[version, index] = exc

        return run

    try:
        run_threads([writer(0), writer(1)])
        winners: dict[int, int] = {}
        for version in range(rounds):
            results = [outcome[version, 0], outcome[version, 1]]
            won = [i for i, result in enumerate(results) if result == version + 1]
            lost = [r for r in results if isinstance(r, ConcurrencyError)]
            assert len(won) == 1 and len(lost) == 1, (version, results)
            winners[version + 1] = won[0]
            assert (lost[0].stream_id, lost[0].expected, lost[0].actual) == (
                "race",
                version,
                version + 1,
            )
        stored = list(events.read_stream(stores[0].connection, "race"))
        assert [e.version for e in stored] == list(range(1, rounds + 1))  # no gap, no duplicate
        assert [e.message for e in stored] == [
            Deposited(account=f"writer-{winners[v]}", amount=v - 1) for v in range(1, rounds + 1)
        ]
        count = (
            stores[0]
            .connection.execute(f'SELECT count(*) FROM "{events.spec.table}"')
            .fetchone()[0]
        )
        assert count == rounds
    finally:
        drop_tables(stores[0], events)
        for db in stores:
            db.close()


WRITERS = 20
# Per writer: (pause before the append, pause after it, events in the append), in ms / count.
writer_plans = st.lists(
    st.tuples(st.integers(0, 25), st.integers(0, 25), st.integers(1, 3)),
    min_size=WRITERS,
    max_size=WRITERS,
)


@pytest.mark.postgres
@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plans=writer_plans, order=st.randoms(use_true_random=False))
def test_tailing_reader_sees_every_event_once_in_position_order(
    postgres_dsn: str, plans: list[tuple[int, int, int]], order: random.Random
) -> None:
    events = new_event_store(store="postgres")
    reader_db = open_store("postgres", postgres_dsn)
    events.ensure_schema(reader_db.connection)
    writers = [open_store("postgres", postgres_dsn) for _ in range(WRITERS)]
    try:
        seen = _tail_while_writing(events, reader_db, writers, plans, order)
        expected = sum(count for _, _, count in plans)
        assert len(seen) == expected  # count equality: a skipped or repeated event shows
        positions = [e.position for e in seen]
        assert all(a < b for a, b in itertools.pairwise(positions))
        ids = Counter(e.envelope.event_id for e in seen)
        assert len(ids) == expected and set(ids.values()) == {1}
        per_stream = Counter(e.stream_id for e in seen)
        assert per_stream == Counter({f"w-{i}": plan[2] for i, plan in enumerate(plans)})
        # And what the reader saw is what the table holds, in the same order.
        assert [e.position for e in events.read_all(reader_db.connection, 0, 10_000)] == (positions)
    finally:
        drop_tables(reader_db, events)
        for db in [reader_db, *writers]:
            db.close()


def _tail_while_writing(
    events: EventStore,
    reader_db: Store,
    writers: list[Store],
    plans: list[tuple[int, int, int]],
    order: random.Random,
) -> list[StoredEvent]:
    start = threading.Event()
    done = threading.Event()
    finished = Counter[str]()
    lock = threading.Lock()
    starts = list(range(len(writers)))
    order.shuffle(starts)  # writers begin in a random order, staggered
    stagger = {index: rank * 0.002 for rank, index in enumerate(starts)}

    def writer(index: int) -> Callable[[], None]:
        before, after, count = plans[index]

        def run() -> None:
            assert start.wait(30)
            time.sleep(stagger[index])
            with writers[index].transaction() as conn:
                time.sleep(before / 1000)
                batch = [Deposited(account=f"w-{index}", amount=n) for n in range(count)]
                events.append(conn, f"w-{index}", 0, batch)
                time.sleep(after / 1000)  # commit late, after later appends were asked for
            with lock:
                finished["writers"] += 1
                if finished["writers"] == len(writers):
                    done.set()

        return run

    seen: list[StoredEvent] = []

    def reader() -> None:
        after_position = 0
        start.set()
        deadline = time.monotonic() + JOIN_TIMEOUT_S
        quiet_reads = 0
        while time.monotonic() < deadline:
            page = events.read_all(reader_db.connection, after_position, limit=7)
            seen.extend(page)
            if page:
                after_position = page[-1].position
                continue
            if done.is_set():
                quiet_reads += 1
                if quiet_reads >= 2:  # one full read after every writer committed
                    return
            time.sleep(0.001)

    run_threads([reader, *(writer(i) for i in range(len(writers)))])
    return seen


@pytest.mark.postgres
def test_a_writer_that_waited_for_the_lock_gets_the_conflict(postgres_dsn: str) -> None:
    """B asks to append while A holds the store lock; A commits; B's check ran on a snapshot
    from before the wait, so the unique index stops it: still a ConcurrencyError."""
    events = new_event_store(store="postgres")
    first, second = open_store("postgres", postgres_dsn), open_store("postgres", postgres_dsn)
    events.ensure_schema(first.connection)
    outcome: list[BaseException] = []
    try:
        with first.transaction() as conn:
            events.append(conn, "s", 0, [Deposited(account="a", amount=1)])
            blocked = threading.Thread(
                target=_append_expecting_conflict,
                args=(second, events, outcome),
                daemon=True,
            )
            blocked.start()
            # Bounded wait until B's statement is waiting for the advisory lock.
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not _waiting_for_lock(first, second):
                time.sleep(0.01)
            assert _waiting_for_lock(first, second), "the second append never waited"
        blocked.join(30)
        assert not blocked.is_alive()
        assert len(outcome) == 1 and isinstance(outcome[0], ConcurrencyError), outcome
        assert (outcome[0].expected, outcome[0].actual) == (0, 1)
        stored = list(events.read_stream(first.connection, "s"))
        assert [(e.version, e.message) for e in stored] == [(1, Deposited(account="a", amount=1))]
    finally:
        drop_tables(first, events)
        first.close()
        second.close()


def _append_expecting_conflict(db: Store, events: EventStore, outcome: list[BaseException]) -> None:
    try:
        with db.transaction() as conn:
            events.append(conn, "s", 0, [Deposited(account="b", amount=2)])
    except BaseException as exc:  # noqa: BLE001 - the test inspects it
        outcome.append(exc)


def _waiting_for_lock(observer: Store, waiter: Store) -> bool:
    pid = waiter.connection.info.backend_pid
    # Inside a transaction the backend statuses are cached: drop the cache first.
    observer.connection.execute("SELECT pg_stat_clear_snapshot()")
    row = observer.connection.execute(
        "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)
    ).fetchone()
    return row is not None and row[0] == "Lock"


@pytest.mark.parametrize(
    "kind",
    [pytest.param("postgres", marks=pytest.mark.postgres), pytest.param("sqlite")],
)
def test_a_conflict_found_without_waiting_leaves_the_transaction_usable(
    kind: Literal["sqlite", "postgres"], request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    where = (
        request.getfixturevalue("postgres_dsn")
        if kind == "postgres"
        else str(tmp_path / "usable.sqlite3")
    )
    events = new_event_store(store=kind)
    db = open_store(kind, where)
    events.ensure_schema(db.connection)
    try:
        with db.transaction() as conn:
            events.append(conn, "s", 0, [Deposited(account="a", amount=1)])
        with db.transaction() as conn:
            with pytest.raises(ConcurrencyError) as caught:
                events.append(conn, "s", 0, [Deposited(account="a", amount=2)])
            assert caught.value.actual == 1
            # Reload and append again in the same transaction.
            version = events.stream_version(conn, "s")
            assert events.append(conn, "s", version, [Deposited(account="a", amount=3)]) == 2
        assert [e.message.amount for e in events.read_stream(db.connection, "s")] == [1, 3]  # type: ignore[attr-defined]
    finally:
        drop_tables(db, events)
        db.close()


def test_sqlite_writer_with_a_stale_snapshot_gets_the_conflict(tmp_path: Path) -> None:
    """A deferred SQLite transaction that loaded the stream before another writer committed
    cannot write any more (SQLITE_BUSY_SNAPSHOT): the append is a ConcurrencyError, not a bare
    `database is locked`, so a command app retries it by class."""
    path = str(tmp_path / "race.sqlite3")
    events = new_event_store(store="sqlite")
    first, second = open_store("sqlite", path), open_store("sqlite", path)
    try:
        events.ensure_schema(first.connection)
        with first.transaction() as conn:
            events.append(conn, "s", 0, [Deposited(account="x", amount=1)])
        stale = first.connection
        stale.execute("BEGIN")
        version = events.stream_version(stale, "s")  # the load: a read snapshot at version 1
        with second.transaction() as conn:
            events.append(conn, "s", version, [Deposited(account="b", amount=2)])
        with pytest.raises(ConcurrencyError) as caught:
            events.append(stale, "s", version, [Deposited(account="a", amount=3)])
        stale.rollback()
        assert (caught.value.expected, caught.value.actual) == (1, 2)
        stored = list(events.read_stream(first.connection, "s"))
        assert [(e.version, e.message) for e in stored] == [
            (1, Deposited(account="x", amount=1)),
            (2, Deposited(account="b", amount=2)),
        ]
    finally:
        drop_tables(first, events)
        first.close()
        second.close()
