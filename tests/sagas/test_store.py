"""SagaStore on SQLite files and a real PostgreSQL: insert (duplicates), versioned updates
(two writers: one ConcurrencyError), the log's sequence, timers (SKIP LOCKED: two connections
never get one timer), listing with filters."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pytest

from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.db import Store
from eventgen.runtime.errors import ConcurrencyError
from eventgen.runtime.saga.spec import SagaTables
from eventgen.runtime.saga.state import LogEntry, Timer
from eventgen.runtime.saga.store import MAX_EXCLUDED, SagaStore

Kind = Literal["sqlite", "postgres"]
DIALECTS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]
T0 = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


def open_store(kind: Kind, where: str) -> Store:
    if kind == "postgres":
        return Store.open("postgres", RuntimeConfig(postgres_dsn=where, connect_timeout_s=10))
    return Store.open("sqlite", RuntimeConfig(sqlite_path=where, connect_timeout_s=10))


class Harness:
    def __init__(self, kind: Kind, where: str) -> None:
        self.kind = kind
        self.where = where
        suffix = uuid.uuid4().hex[:10]
        self.tables = SagaTables(f"si_{suffix}", f"sl_{suffix}", f"st_{suffix}")
        self.sagas = SagaStore(self.tables)
        self.stores: list[Store] = []
        self.store = self.open()
        with self.store.transaction() as conn:
            self.sagas.ensure_schema(conn)

    def open(self) -> Store:
        store = open_store(self.kind, self.where)
        self.stores.append(store)
        return store

    def close(self) -> None:
        for table in (self.tables.instances, self.tables.log, self.tables.timers):
            self.store.connection.execute(f'DROP TABLE IF EXISTS "{table}"')
        for store in self.stores:
            store.close()


@pytest.fixture(params=DIALECTS)
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    kind: Kind = request.param
    where = (
        request.getfixturevalue("postgres_dsn") if kind == "postgres" else str(tmp_path / "s.db")
    )
    opened = Harness(kind, where)
    try:
        yield opened
    finally:
        opened.close()


def row(
    saga_id: str = "o-1", *, version: int = 0, status: str = "RUNNING", **extra: Any
) -> dict[str, Any]:
    base: dict[str, Any] = {
        "saga": "PlaceOrderSaga",
        "saga_id": saga_id,
        "status": status,
        "step": "reserve_stock",
        "version": version,
        "data_hash": "h1",
        "data": '{"order_id": "o-1"}',
        "state": "{}",
        "reason": None,
        "started_at": T0,
        "updated_at": T0,
        "deadline_at": T0 + timedelta(hours=1),
    }
    base.update(extra)
    return base


def test_insert_load_and_duplicate(harness: Harness) -> None:
    with harness.store.transaction() as conn:
        assert harness.sagas.insert(conn, row()) is True
    with harness.store.transaction() as conn:
        assert harness.sagas.insert(conn, row(status="COMPLETED")) is False  # a duplicate start
    with harness.store.transaction() as conn:
        loaded = harness.sagas.load(conn, "PlaceOrderSaga", "o-1", for_update=True)
        assert harness.sagas.load(conn, "PlaceOrderSaga", "nope") is None
    assert loaded is not None
    assert loaded == row()  # datetimes back as aware UTC instants, the first insert kept
    assert loaded["started_at"].tzinfo is not None


def test_update_is_versioned(harness: Harness) -> None:
    with harness.store.transaction() as conn:
        harness.sagas.insert(conn, row())
    with harness.store.transaction() as conn:
        assert harness.sagas.update(conn, row(status="COMPENSATING", reason="r"), 0) == 1
    with harness.store.transaction() as conn, pytest.raises(ConcurrencyError) as caught:
        harness.sagas.update(conn, row(status="COMPLETED"), 0)
    assert caught.value.stream_id == "PlaceOrderSaga-o-1"
    assert (caught.value.expected, caught.value.actual) == (0, 1)
    with harness.store.transaction() as conn:
        loaded = harness.sagas.load(conn, "PlaceOrderSaga", "o-1")
    assert loaded is not None
    assert (loaded["status"], loaded["version"], loaded["reason"]) == ("COMPENSATING", 1, "r")
    with harness.store.transaction() as conn, pytest.raises(ConcurrencyError):
        harness.sagas.update(conn, row("missing"), 0)


def test_two_writers_one_conflict(harness: Harness) -> None:
    """Two connections read version 0 and both write: exactly one ConcurrencyError. On
    PostgreSQL the second reads while the first's update is uncommitted, then its update
    waits for the first's row lock and finds the version moved; on SQLite (one writer at a
    time) the second writes with the version it read before the first committed."""
    with harness.store.transaction() as conn:
        harness.sagas.insert(conn, row())
    other = harness.open()
    results: list[str] = []
    second_read = threading.Event()

    def second_writer() -> None:
        try:
            with other.transaction() as conn:
                loaded = harness.sagas.load(conn, "PlaceOrderSaga", "o-1")
                assert loaded is not None
                results.append(f"read {loaded['version']}")
                second_read.set()
                harness.sagas.update(conn, row(status="COMPENSATING"), loaded["version"])
            results.append("COMPENSATING")
        except ConcurrencyError as exc:
            results.append(f"conflict {exc.expected}->{exc.actual}")
        finally:
            second_read.set()

    if harness.kind == "postgres":
        thread = threading.Thread(target=second_writer)
        with harness.store.transaction() as conn:
            loaded = harness.sagas.load(conn, "PlaceOrderSaga", "o-1", for_update=True)
            assert loaded is not None and loaded["version"] == 0
            harness.sagas.update(conn, row(status="COMPLETED"), 0)
            thread.start()
            assert second_read.wait(20)  # it read version 0: the update is not committed
        thread.join(30)
        assert not thread.is_alive()
        assert results == ["read 0", "conflict 0->1"]
    else:
        with other.transaction() as conn:
            stale = harness.sagas.load(conn, "PlaceOrderSaga", "o-1")
        assert stale is not None and stale["version"] == 0
        with harness.store.transaction(immediate=True) as conn:
            harness.sagas.update(conn, row(status="COMPLETED"), 0)
        with other.transaction(immediate=True) as conn, pytest.raises(ConcurrencyError):
            harness.sagas.update(conn, row(status="COMPENSATING"), stale["version"])
    with harness.store.transaction() as conn:
        loaded = harness.sagas.load(conn, "PlaceOrderSaga", "o-1")
    assert loaded is not None and (loaded["status"], loaded["version"]) == ("COMPLETED", 1)


def test_log_sequence_continues(harness: Harness) -> None:
    first = [LogEntry("start", None, "RUNNING", "reserve_stock")]
    second = [
        LogEntry("reply inventory.StockReserved", "RUNNING", "RUNNING", "book", detail="ok"),
        LogEntry("operator abort", "RUNNING", "COMPENSATING", "book", actor="ann", reason="why"),
    ]
    with harness.store.transaction() as conn:
        assert harness.sagas.append_log(conn, "PlaceOrderSaga", "o-1", first, T0) == 1
        assert harness.sagas.append_log(conn, "PlaceOrderSaga", "o-2", first, T0) == 1
    with harness.store.transaction() as conn:
        later = T0 + timedelta(seconds=1)
        assert harness.sagas.append_log(conn, "PlaceOrderSaga", "o-1", second, later) == 3
        assert harness.sagas.append_log(conn, "PlaceOrderSaga", "o-1", [], later) == 3
    with harness.store.transaction() as conn:
        entries = harness.sagas.log(conn, "PlaceOrderSaga", "o-1")
    assert [(e["seq"], e["cause"], e["to_status"]) for e in entries] == [
        (1, "start", "RUNNING"),
        (2, "reply inventory.StockReserved", "RUNNING"),
        (3, "operator abort", "COMPENSATING"),
    ]
    assert entries[1]["detail"] == "ok" and entries[0]["detail"] == ""
    assert (entries[2]["actor"], entries[2]["reason"]) == ("ann", "why")
    assert entries[2]["at"] == T0 + timedelta(seconds=1)


def test_timers_replace_and_due(harness: Harness) -> None:
    sagas = harness.sagas
    with harness.store.transaction() as conn:
        for saga_id in ("o-1", "o-2"):
            sagas.insert(conn, row(saga_id))
        sagas.replace_timers(
            conn,
            "PlaceOrderSaga",
            "o-1",
            [
                Timer("timeout", "reserve_stock", 1, T0 + timedelta(seconds=5)),
                Timer("deadline", None, 0, T0 + timedelta(hours=1)),
            ],
        )
        sagas.replace_timers(
            conn, "PlaceOrderSaga", "o-2", [Timer("retry", "book", 2, T0 + timedelta(seconds=2))]
        )
    with harness.store.transaction() as conn:
        due = sagas.due_timers(conn, T0 + timedelta(seconds=10), 10)
        assert [(saga_id, t.kind, t.step, t.attempt) for _, saga_id, t in due] == [
            ("o-2", "retry", "book", 2),
            ("o-1", "timeout", "reserve_stock", 1),
        ]
        assert due[0][2].due_at == T0 + timedelta(seconds=2)
        assert len(sagas.due_timers(conn, T0 + timedelta(seconds=10), 1)) == 1
        assert sagas.due_timers(conn, T0, 10) == []
        assert sagas.next_due(conn) == T0 + timedelta(seconds=2)
    with harness.store.transaction() as conn:
        # The whole set is replaced: the timeout goes, a compensation timeout comes.
        sagas.replace_timers(
            conn,
            "PlaceOrderSaga",
            "o-1",
            [Timer("timeout", "reserve_stock", 1, T0 + timedelta(seconds=9), "compensation")],
        )
        with pytest.raises(ValueError, match="two timers of one kind"):
            sagas.replace_timers(
                conn,
                "PlaceOrderSaga",
                "o-2",
                [Timer("retry", "a", 1, T0), Timer("retry", "b", 1, T0)],
            )
    with harness.store.transaction() as conn:
        assert [(t.kind, t.phase) for t in sagas.timers(conn, "PlaceOrderSaga", "o-1")] == [
            ("timeout", "compensation")
        ]
        sagas.replace_timers(conn, "PlaceOrderSaga", "o-2", [])
        assert sagas.timers(conn, "PlaceOrderSaga", "o-2") == []


@pytest.mark.postgres
def test_due_timers_skip_locked(postgres_dsn: str) -> None:
    """Two connections, both in an open transaction, take due timers: disjoint sets, and
    together every timer once; after the first commits the fired timers, none comes back."""
    harness = Harness("postgres", postgres_dsn)
    try:
        sagas = harness.sagas
        with harness.store.transaction() as conn:
            for index in range(10):
                saga_id = f"o-{index}"
                sagas.insert(conn, row(saga_id))
                due = T0 + timedelta(milliseconds=index)
                sagas.replace_timers(
                    conn, "PlaceOrderSaga", saga_id, [Timer("timeout", "s", 1, due)]
                )
        other = harness.open()
        now = T0 + timedelta(seconds=1)
        with harness.store.transaction() as first:
            mine = sagas.due_timers(first, now, 6)
            with other.transaction() as second:
                theirs = sagas.due_timers(second, now, 100)
                assert len(mine) == 6 and len(theirs) == 4
                assert not {s for _, s, _ in mine} & {s for _, s, _ in theirs}
                for _, saga_id, _ in theirs:  # fired: the timer set is cleared
                    sagas.replace_timers(second, "PlaceOrderSaga", saga_id, [])
            for _, saga_id, _ in mine:
                sagas.replace_timers(first, "PlaceOrderSaga", saga_id, [])
        with other.transaction() as conn:
            assert sagas.due_timers(conn, now, 100) == []
    finally:
        harness.close()


def test_list_filters(harness: Harness) -> None:
    sagas = harness.sagas
    with harness.store.transaction() as conn:
        sagas.insert(conn, row("a", status="RUNNING", updated_at=T0))
        sagas.insert(conn, row("b", status="STUCK", updated_at=T0 + timedelta(minutes=5)))
        sagas.insert(conn, row("c", status="STUCK", updated_at=T0 + timedelta(minutes=10)))
        sagas.insert(conn, row("d", saga="OtherSaga", status="STUCK"))
        # Started long ago, changed just now: old but not idle.
        early = T0 - timedelta(hours=1)
        sagas.insert(
            conn, row("e", status="STUCK", started_at=early, updated_at=T0 + timedelta(hours=1))
        )
    with harness.store.transaction() as conn:
        ids = [r["saga_id"] for r in sagas.list(conn)]
        assert sorted(ids) == ["a", "b", "c", "d", "e"]
        mine = sagas.list(conn, saga="PlaceOrderSaga")
        assert [r["saga_id"] for r in mine] == ["a", "b", "c", "e"]
        assert [r["saga_id"] for r in sagas.list(conn, "PlaceOrderSaga", "STUCK")] == [
            "b", "c", "e",
        ]  # fmt: skip
        # Oldest update first, then by saga type: d (OtherSaga) and a share T0.
        two = sagas.list(conn, status=["RUNNING", "STUCK"], limit=2)
        assert [r["saga_id"] for r in two] == ["d", "a"]
        # older_than: the saga's age (started_at); updated_before: idle that long (updated_at).
        older = sagas.list(conn, "PlaceOrderSaga", older_than=T0)
        assert [r["saga_id"] for r in older] == ["e"]
        idle = sagas.list(conn, "PlaceOrderSaga", updated_before=T0 + timedelta(minutes=6))
        assert [r["saga_id"] for r in idle] == ["a", "b"]
        both = sagas.list(
            conn, older_than=T0 + timedelta(seconds=1), updated_before=T0 + timedelta(minutes=6)
        )
        assert [r["saga_id"] for r in both] == ["d", "a", "b"]
        assert sagas.list(conn, status=[]) == []


def test_due_timers_and_next_due_leave_excluded_instances_out(harness: Harness) -> None:
    """The worker's skipped instances are left out in the query itself: one with several due
    timers does not fill a small batch."""
    sagas = harness.sagas
    with harness.store.transaction() as conn:
        for saga_id in ("bad-1", "bad-2", "good"):
            sagas.insert(conn, row(saga_id))
        sagas.insert(conn, row("bad-1", saga="OtherSaga"))
        for saga_id, offset in (("bad-1", 0), ("bad-2", 1)):
            first = T0 + timedelta(seconds=offset)
            sagas.replace_timers(
                conn,
                "PlaceOrderSaga",
                saga_id,
                [Timer("timeout", "s", 1, first), Timer("deadline", None, 0, first)],
            )
        sagas.replace_timers(
            conn, "OtherSaga", "bad-1", [Timer("timeout", "s", 1, T0 + timedelta(seconds=2))]
        )
        sagas.replace_timers(
            conn, "PlaceOrderSaga", "good", [Timer("retry", "s", 2, T0 + timedelta(seconds=3))]
        )
    now = T0 + timedelta(seconds=10)
    skipped = {("PlaceOrderSaga", "bad-1"), ("PlaceOrderSaga", "bad-2")}
    with harness.store.transaction() as conn:
        assert [i for _, i, _ in sagas.due_timers(conn, now, 1)] == ["bad-1"]
        head = sagas.due_timers(conn, now, 1, exclude=skipped)
        assert [(s, i, t.kind) for s, i, t in head] == [("OtherSaga", "bad-1", "timeout")]
        mine = sagas.due_timers(conn, now, 1, saga="PlaceOrderSaga", exclude=skipped)
        assert [(s, i, t.kind) for s, i, t in mine] == [("PlaceOrderSaga", "good", "retry")]
        every = sagas.due_timers(conn, now, 10, exclude=[("PlaceOrderSaga", "bad-1")])
        assert [i for _, i, _ in every] == ["bad-2", "bad-2", "bad-1", "good"]
        assert sagas.next_due(conn, saga="PlaceOrderSaga") == T0
        assert sagas.next_due(conn, saga="PlaceOrderSaga", exclude=skipped) == T0 + timedelta(
            seconds=3
        )
        assert sagas.next_due(conn, exclude=skipped) == T0 + timedelta(seconds=2)
        assert sagas.next_due(conn, after=T0, exclude=skipped) == T0 + timedelta(seconds=2)
        too_many = {("PlaceOrderSaga", f"x-{n}") for n in range(MAX_EXCLUDED + 1)}
        with pytest.raises(ValueError, match="at most"):
            sagas.due_timers(conn, now, 1, exclude=too_many)
        with pytest.raises(ValueError, match="at most"):
            sagas.next_due(conn, exclude=too_many)
        # The bound itself works (two parameters per pair).
        bound = skipped | {("PlaceOrderSaga", f"x-{n}") for n in range(MAX_EXCLUDED - 2)}
        assert len(bound) == MAX_EXCLUDED
        assert [i for _, i, _ in sagas.due_timers(conn, now, 10, exclude=bound)] == [
            "bad-1", "good",
        ]  # fmt: skip


def test_due_timers_of_one_saga_type(harness: Harness) -> None:
    """A context's tables hold all its sagas: a worker takes only its own saga's timers."""
    sagas = harness.sagas
    with harness.store.transaction() as conn:
        sagas.insert(conn, row("a"))
        sagas.insert(conn, row("b", saga="OtherSaga"))
        sagas.replace_timers(conn, "PlaceOrderSaga", "a", [Timer("timeout", "s", 1, T0)])
        early = T0 - timedelta(seconds=1)
        sagas.replace_timers(conn, "OtherSaga", "b", [Timer("timeout", "s", 1, early)])
    with harness.store.transaction() as conn:
        mine = sagas.due_timers(conn, T0, 10, saga="PlaceOrderSaga")
        assert [(s, i) for s, i, _ in mine] == [("PlaceOrderSaga", "a")]
        assert len(sagas.due_timers(conn, T0, 10)) == 2
        assert sagas.next_due(conn, saga="PlaceOrderSaga") == T0
        assert sagas.next_due(conn) == early
        assert sagas.next_due(conn, saga="NoSuchSaga") is None
        assert sagas.next_due(conn, after=early) == T0
        assert sagas.next_due(conn, saga="PlaceOrderSaga", after=T0) is None
