"""EventStore on SQLite files and a real PostgreSQL: append (optimistic concurrency, atomic
multi-event appends, envelopes keep their ids), read_stream / read_all, snapshots."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Literal

import pytest

from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.db import Store
from eventgen.runtime.errors import ConcurrencyError
from eventgen.runtime.es.spec import EventStoreSpec
from eventgen.runtime.es.store import EventStore, EventStoreError, StoredEvent
from eventgen.runtime.model import Message

DIALECTS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


class Deposited(Message):
    TYPE: ClassVar[str] = "bank.Deposited"
    VERSION: ClassVar[int] = 1
    SCHEMAS: ClassVar[str] = "tests.es.no_schemas"

    account: str
    amount: int


class Withdrawn(Message):
    TYPE: ClassVar[str] = "bank.Withdrawn"
    VERSION: ClassVar[int] = 1
    SCHEMAS: ClassVar[str] = "tests.es.no_schemas"

    account: str
    amount: int


class NotStored(Message):
    TYPE: ClassVar[str] = "bank.NotStored"
    VERSION: ClassVar[int] = 1
    SCHEMAS: ClassVar[str] = "tests.es.no_schemas"


def open_store(kind: Literal["sqlite", "postgres"], where: str) -> Store:
    """A runtime Store (one connection): `where` is the SQLite file or the DSN."""
    if kind == "postgres":
        return Store.open("postgres", RuntimeConfig(postgres_dsn=where, connect_timeout_s=10))
    return Store.open("sqlite", RuntimeConfig(sqlite_path=where, connect_timeout_s=10))


def new_event_store(
    messages: tuple[type[Message], ...] = (Deposited, Withdrawn),
    store: Literal["sqlite", "postgres"] = "sqlite",
) -> EventStore:
    suffix = uuid.uuid4().hex[:12]
    spec = EventStoreSpec("bank", f"events_{suffix}", f"snapshots_{suffix}", store)
    return EventStore(spec, messages)


def drop_tables(store: Store, events: EventStore) -> None:
    for table in (events.spec.table, events.spec.snapshot_table):
        store.connection.execute(f'DROP TABLE IF EXISTS "{table}"')


def deposits(*amounts: int, account: str = "a") -> list[Message]:
    return [Deposited(account=account, amount=amount) for amount in amounts]


class Harness:
    """One Store connection and one EventStore with fresh tables."""

    def __init__(self, kind: Literal["sqlite", "postgres"], where: str) -> None:
        self.kind = kind
        self.where = where
        self.db = open_store(kind, where)
        self.events = new_event_store(store=kind)
        self.events.ensure_schema(self.db.connection)

    def append(self, stream: str, expected: int, events: list[Any], **kwargs: Any) -> int:
        with self.db.transaction() as conn:
            return self.events.append(conn, stream, expected, events, **kwargs)

    def stream(self, stream: str, from_version: int = 1) -> list[StoredEvent]:
        return list(self.events.read_stream(self.db.connection, stream, from_version))

    def rows(self) -> list[Any]:
        return list(
            self.db.connection.execute(
                f'SELECT position, stream_id, version FROM "{self.events.spec.table}" '
                "ORDER BY position"
            ).fetchall()
        )


@pytest.fixture(params=DIALECTS)
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    if request.param == "postgres":
        where = request.getfixturevalue("postgres_dsn")
    else:
        where = str(tmp_path / "events.sqlite3")
    h = Harness(request.param, where)
    yield h
    drop_tables(h.db, h.events)
    h.db.close()


def test_append_and_read_stream(harness: Harness) -> None:
    assert harness.append("acct-1", 0, deposits(10, 20), correlation_id="corr-1") == 2
    cause = uuid.uuid4()
    assert harness.append("acct-1", 2, deposits(30), causation_id=cause) == 3
    assert harness.append("acct-2", 0, deposits(5, account="b")) == 1

    stored = harness.stream("acct-1")
    assert [e.version for e in stored] == [1, 2, 3]
    assert [e.message for e in stored] == deposits(10, 20, 30)
    assert [e.envelope.correlation_id for e in stored] == ["corr-1", "corr-1", None]
    assert [e.envelope.causation_id for e in stored] == [None, None, cause]
    assert all(e.stored_version == 1 and e.envelope.schema_version == 1 for e in stored)
    assert all(e.envelope.type == "bank.Deposited" for e in stored)
    assert all(e.envelope.occurred_at.tzinfo is UTC for e in stored)
    assert len({e.envelope.event_id for e in stored}) == 3
    positions = [e.position for e in stored]
    assert positions == sorted(positions)

    assert [e.version for e in harness.stream("acct-1", from_version=2)] == [2, 3]
    assert harness.stream("acct-1", from_version=4) == []
    assert harness.stream("no-such-stream") == []
    conn = harness.db.connection
    assert harness.events.stream_version(conn, "acct-1") == 3
    assert harness.events.stream_version(conn, "acct-2") == 1
    assert harness.events.stream_version(conn, "no-such-stream") == 0
    assert harness.events.head_position(conn) == max(row[0] for row in harness.rows())


def test_envelope_inputs_keep_their_ids_and_times(harness: Harness) -> None:
    when = datetime(2024, 5, 1, 10, 15, 0, 123456, tzinfo=UTC)
    own_cause = uuid.uuid4()
    first = Deposited(account="a", amount=1).envelope(occurred_at=when, correlation_id="own")
    second = Withdrawn(account="a", amount=2).envelope(
        occurred_at=when + timedelta(seconds=1), causation_id=own_cause
    )
    keyword_cause = uuid.uuid4()
    default_time = datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    harness.append(
        "acct-1", 0, [first, second, Deposited(account="a", amount=3)],
        correlation_id="kw", causation_id=keyword_cause, occurred_at=default_time,
    )  # fmt: skip
    stored = harness.stream("acct-1")
    assert [e.envelope.event_id for e in stored[:2]] == [first.event_id, second.event_id]
    assert [e.envelope.occurred_at for e in stored] == [
        when,
        when + timedelta(seconds=1),
        default_time,
    ]
    # The envelope's own correlation/causation wins; the keyword fills what it lacks.
    assert [e.envelope.correlation_id for e in stored] == ["own", "kw", "kw"]
    assert [e.envelope.causation_id for e in stored] == [keyword_cause, own_cause, keyword_cause]
    assert [type(e.message) for e in stored] == [Deposited, Withdrawn, Deposited]


def test_occurred_at_in_another_zone_reads_back_as_the_same_instant(harness: Harness) -> None:
    moment = datetime(2024, 1, 1, 12, 0, tzinfo=UTC).astimezone(
        __import__("zoneinfo").ZoneInfo("Asia/Kolkata")
    )
    harness.append("acct-1", 0, deposits(1), occurred_at=moment)
    (event,) = harness.stream("acct-1")
    assert event.envelope.occurred_at == moment
    assert event.envelope.occurred_at.tzinfo is UTC


def test_wrong_expected_version_is_a_concurrency_error_with_expected_and_actual(
    harness: Harness,
) -> None:
    harness.append("acct-1", 0, deposits(1, 2))
    for expected in (0, 1, 3, 7):
        with pytest.raises(ConcurrencyError) as caught:
            harness.append("acct-1", expected, deposits(3))
        assert (caught.value.stream_id, caught.value.expected, caught.value.actual) == (
            "acct-1",
            expected,
            2,
        )
    with pytest.raises(ConcurrencyError) as caught:
        harness.append("new-stream", 1, deposits(3))
    assert (caught.value.expected, caught.value.actual) == (1, 0)
    assert [e.version for e in harness.stream("acct-1")] == [1, 2]
    assert harness.stream("new-stream") == []


def test_multi_event_append_is_all_or_nothing(harness: Harness) -> None:
    harness.append("acct-1", 0, deposits(1))
    # A conflicting batch writes none of its events (not even the ones past the stream's end).
    with pytest.raises(ConcurrencyError):
        harness.append("acct-1", 0, deposits(2, 3, 4))
    assert [e.message for e in harness.stream("acct-1")] == deposits(1)

    # A batch whose transaction rolls back leaves nothing either.
    with pytest.raises(RuntimeError), harness.db.transaction() as conn:
        assert harness.events.append(conn, "acct-1", 1, deposits(5, 6, 7)) == 4
        assert harness.events.stream_version(conn, "acct-1") == 4  # visible inside
        raise RuntimeError("handler failed after the append")
    assert [e.message for e in harness.stream("acct-1")] == deposits(1)
    assert harness.events.stream_version(harness.db.connection, "acct-1") == 1

    # A big batch (more rows than one SQLite statement takes) is still one append.
    amounts = list(range(1, 1201))
    assert harness.append("acct-1", 1, deposits(*amounts)) == 1201
    stored = harness.stream("acct-1")
    assert [e.version for e in stored] == list(range(1, 1202))
    assert [e.message for e in stored[1:]] == deposits(*amounts)
    with pytest.raises(ConcurrencyError):
        harness.append("acct-1", 1200, deposits(*amounts))
    assert len(harness.rows()) == 1201


def test_append_needs_a_transaction(harness: Harness) -> None:
    with pytest.raises(EventStoreError, match="transaction"):
        harness.events.append(harness.db.connection, "acct-1", 0, deposits(1))
    assert harness.rows() == []


def test_append_refuses_what_the_store_could_not_read_back(harness: Harness) -> None:
    with pytest.raises(EventStoreError, match="NotStored"):
        harness.append("acct-1", 0, [*deposits(1), NotStored()])
    with pytest.raises(EventStoreError, match="expected_version"):
        harness.append("acct-1", -1, deposits(1))
    with pytest.raises(EventStoreError, match="naive"):
        harness.append("acct-1", 0, deposits(1), occurred_at=datetime(2024, 1, 1))
    assert harness.rows() == []
    # No events: nothing written, the expected version returned (not checked).
    assert harness.append("acct-1", 5, []) == 5
    assert harness.rows() == []


def test_an_event_id_stored_twice_is_refused(harness: Harness) -> None:
    envelope = Deposited(account="a", amount=1).envelope()
    harness.append("acct-1", 0, [envelope])
    with pytest.raises(EventStoreError, match="event id"):
        harness.append("acct-2", 0, [envelope])
    assert [row[1:] for row in harness.rows()] == [("acct-1", 1)]


def test_read_all_after_position_and_limit(harness: Harness) -> None:
    for index in range(7):
        harness.append(f"acct-{index % 3}", 2 * (index // 3), deposits(index, 100 + index))
    conn = harness.db.connection
    everything = harness.events.read_all(conn, 0, limit=1000)
    assert len(everything) == 14
    positions = [e.position for e in everything]
    assert positions == sorted(positions) and len(set(positions)) == 14
    assert [e.message.amount for e in everything] == [  # type: ignore[attr-defined]
        value for index in range(7) for value in (index, 100 + index)
    ]
    # Paging by the last position seen returns the same events, in the same order.
    paged: list[StoredEvent] = []
    after = 0
    for _ in range(20):
        page = harness.events.read_all(conn, after, limit=3)
        assert len(page) <= 3
        if not page:
            break
        paged.extend(page)
        after = page[-1].position
    assert [e.position for e in paged] == positions
    assert harness.events.read_all(conn, positions[-1]) == []
    assert [e.position for e in harness.events.read_all(conn, positions[5], limit=2)] == (
        positions[6:8]
    )
    assert harness.events.head_position(conn) == positions[-1]
    assert harness.events.read_all(conn, 0, limit=0) == []
    with pytest.raises(ValueError, match="limit"):
        harness.events.read_all(conn, 0, limit=-1)


def test_snapshots_newest_wins_and_other_hash_is_none(harness: Harness) -> None:
    conn = harness.db.connection
    events = harness.events
    assert events.load_snapshot(conn, "acct-1", "h1") is None
    events.save_snapshot(conn, "acct-1", 10, "h1", b'{"balance":10}')
    assert events.load_snapshot(conn, "acct-1", "h1") == (10, b'{"balance":10}')
    assert events.load_snapshot(conn, "acct-1", "h2") is None  # another state schema
    assert events.load_snapshot(conn, "acct-2", "h1") is None
    events.save_snapshot(conn, "acct-1", 20, "h1", b'{"balance":20}')
    assert events.load_snapshot(conn, "acct-1", "h1") == (20, b'{"balance":20}')
    # An older snapshot (a slow writer) does not replace a newer one.
    events.save_snapshot(conn, "acct-1", 15, "h1", b'{"balance":15}')
    assert events.load_snapshot(conn, "acct-1", "h1") == (20, b'{"balance":20}')
    # A snapshot under a new state schema replaces the old schema's, whatever its version.
    events.save_snapshot(conn, "acct-1", 5, "h2", b"\x00\xffbinary")
    assert events.load_snapshot(conn, "acct-1", "h2") == (5, b"\x00\xffbinary")
    assert events.load_snapshot(conn, "acct-1", "h1") is None
    # In a transaction that rolls back, nothing changes.
    with pytest.raises(RuntimeError), harness.db.transaction() as tx:
        events.save_snapshot(tx, "acct-1", 50, "h2", b"rolled back")
        raise RuntimeError
    assert events.load_snapshot(conn, "acct-1", "h2") == (5, b"\x00\xffbinary")


def test_ensure_schema_is_idempotent_inside_and_outside_a_transaction(harness: Harness) -> None:
    harness.append("acct-1", 0, deposits(1))
    harness.events.ensure_schema(harness.db.connection)
    with harness.db.transaction() as conn:
        harness.events.ensure_schema(conn)
        harness.events.append(conn, "acct-1", 1, deposits(2))
    assert [e.version for e in harness.stream("acct-1")] == [1, 2]
    # A missing table (here the snapshots') is created again, the other one kept.
    harness.db.connection.execute(f'DROP TABLE "{harness.events.spec.snapshot_table}"')
    harness.events.ensure_schema(harness.db.connection)
    harness.events.save_snapshot(harness.db.connection, "acct-1", 2, "h", b"s")
    assert harness.events.load_snapshot(harness.db.connection, "acct-1", "h") == (2, b"s")
    assert [e.version for e in harness.stream("acct-1")] == [1, 2]


def test_sqlite_positions_follow_commit_order_across_connections(tmp_path: Path) -> None:
    path = str(tmp_path / "two.sqlite3")
    first, second = open_store("sqlite", path), open_store("sqlite", path)
    events = new_event_store()
    events.ensure_schema(first.connection)
    try:
        with first.transaction() as conn:
            events.append(conn, "s-1", 0, deposits(1))
        with second.transaction() as conn:
            events.append(conn, "s-2", 0, deposits(2))
        with first.transaction() as conn:
            events.append(conn, "s-1", 1, deposits(3))
        read = events.read_all(second.connection)
        assert [(e.stream_id, e.version) for e in read] == [("s-1", 1), ("s-2", 1), ("s-1", 2)]
    finally:
        first.close()
        second.close()


def test_a_plain_sqlite_connection_in_a_transaction_works(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "plain.sqlite3", isolation_level=None)
    try:
        events = new_event_store()
        events.ensure_schema(conn)
        assert not conn.in_transaction
        conn.execute("BEGIN")
        events.append(conn, "s", 0, deposits(1, 2))
        conn.commit()
        assert [e.version for e in events.read_stream(conn, "s")] == [1, 2]
    finally:
        conn.close()


@pytest.mark.postgres
def test_append_inside_a_psycopg_pipeline(postgres_dsn: str) -> None:
    """In pipeline mode the insert's row count arrives only at a sync: append syncs its own
    statement, so a good append is no false conflict and a stale one is still a conflict."""
    h = Harness("postgres", postgres_dsn)
    try:
        conn = h.db.connection
        with conn.pipeline(), conn.transaction():
            assert h.events.append(conn, "acct-p", 0, deposits(1, 2)) == 2
            assert h.events.append(conn, "acct-p", 2, deposits(3)) == 3
        with pytest.raises(ConcurrencyError) as caught, conn.pipeline(), conn.transaction():
            h.events.append(conn, "acct-p", 1, deposits(9))
        assert (caught.value.expected, caught.value.actual) == (1, 3)
        assert [e.message for e in h.stream("acct-p")] == deposits(1, 2, 3)
    finally:
        drop_tables(h.db, h.events)
        h.db.close()
