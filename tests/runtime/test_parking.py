"""Per-key parking on a real SQLite file and on the shared PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.db import Store
from eventgen.runtime.failures.dlq import REPLAY_HEADER, REPLAY_ID_HEADER
from eventgen.runtime.failures.parking import ParkedKeys

T0 = datetime(2026, 5, 6, 7, 8, 9, 123_456, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, str]]:
    table = f"parked_{uuid.uuid4().hex[:10]}"
    if request.param == "sqlite":
        opened = Store.open("sqlite", RuntimeConfig(sqlite_path=str(tmp_path / "app.sqlite3")))
    else:
        dsn = request.getfixturevalue("postgres_dsn")
        opened = Store.open("postgres", RuntimeConfig(postgres_dsn=dsn, connect_timeout_s=10))
    try:
        yield opened, table
    finally:
        if request.param == "postgres":
            opened.connection.execute(f'DROP TABLE IF EXISTS "{table}"')
        opened.close()


def test_park_is_parked_release(store: tuple[Store, str]) -> None:
    db, table = store
    parked = ParkedKeys(table, "g1")
    other_group = ParkedKeys(table, "g2")
    with db.transaction() as conn:
        parked.ensure_schema(conn)
        assert not parked.is_parked(conn, "orders", b"k1")
        parked.park(conn, "orders", b"k1", offset=10, reason="handler", now=T0)
        parked.park(conn, "orders", b"k1", offset=11, reason="parked")  # first parking wins
    with db.transaction() as conn:
        assert parked.is_parked(conn, "orders", b"k1")
        assert not parked.is_parked(conn, "orders", b"k2")
        assert not parked.is_parked(conn, "payments", b"k1")  # per topic
        assert not other_group.is_parked(conn, "orders", b"k1")  # per group
        row = parked.get(conn, "orders", b"k1")
        assert row is not None
        assert (row.topic, row.key, row.offset, row.reason) == ("orders", b"k1", 10, "handler")
        assert row.parked_at == T0 and row.replay_id is None
    with db.transaction() as conn:
        assert parked.release(conn, "orders", b"k1")
        assert not parked.release(conn, "orders", b"k1")
        assert not parked.is_parked(conn, "orders", b"k1")


def test_keys_compare_as_bytes_and_unkeyed_parks_nothing(store: tuple[Store, str]) -> None:
    db, table = store
    parked = ParkedKeys(table, "g")
    with db.transaction() as conn:
        parked.ensure_schema(conn)
        parked.park(conn, "t", b"\x00\xffA", offset=1, reason="decode")
        parked.park(conn, "t", None, offset=2, reason="handler")
        assert parked.is_parked(conn, "t", b"\x00\xffA")
        assert not parked.is_parked(conn, "t", b"\x00\xffa")
        assert not parked.is_parked(conn, "t", b"\x00\xff")
        assert not parked.is_parked(conn, "t", None)
        assert parked.admit(conn, "t", None, [])
        assert not parked.release(conn, "t", None)
        assert [(k.key, k.offset) for k in parked.keys(conn)] == [(b"\x00\xffA", 1)]


def test_rolled_back_parking_is_not_kept(store: tuple[Store, str]) -> None:
    db, table = store
    parked = ParkedKeys(table, "g")
    with db.transaction() as conn:
        parked.ensure_schema(conn)
    with pytest.raises(RuntimeError), db.transaction() as conn:
        parked.park(conn, "t", b"k", offset=1, reason="handler")
        raise RuntimeError("DLQ write failed")
    with db.transaction() as conn:
        assert not parked.is_parked(conn, "t", b"k")


def test_admit_releases_on_a_replayed_record(store: tuple[Store, str]) -> None:
    db, table = store
    parked = ParkedKeys(table, "g")
    with db.transaction() as conn:
        parked.ensure_schema(conn)
        parked.park(conn, "t", b"k", offset=5, reason="handler")
        assert parked.admit(conn, "t", b"other", [])
        assert not parked.admit(conn, "t", b"k", [("type", b"x")])
        assert parked.is_parked(conn, "t", b"k")
        replayed = [(REPLAY_HEADER, b"1"), (REPLAY_ID_HEADER, b"run-1")]
        assert parked.admit(conn, "t", b"k", replayed)
        assert not parked.is_parked(conn, "t", b"k")


def test_record_of_the_same_replay_run_does_not_release(store: tuple[Store, str]) -> None:
    db, table = store
    parked = ParkedKeys(table, "g")
    run1 = [(REPLAY_HEADER, b"1"), (REPLAY_ID_HEADER, b"run-1")]
    run2 = [(REPLAY_HEADER, b"2"), (REPLAY_ID_HEADER, b"run-2")]
    with db.transaction() as conn:
        parked.ensure_schema(conn)
        # The first replayed record of run-1 failed again and parked the key once more.
        parked.park(conn, "t", b"k", offset=100, reason="handler", replay_id="run-1")
        row = parked.get(conn, "t", b"k")
        assert row is not None and (row.reason, row.replay_id) == ("handler", "run-1")
        assert not parked.admit(conn, "t", b"k", run1)  # run-1's next record stays parked
        assert parked.is_parked(conn, "t", b"k")
        assert parked.admit(conn, "t", b"k", run2)  # the next replay releases it
        assert not parked.is_parked(conn, "t", b"k")


def test_keys_lists_by_topic_and_offset(store: tuple[Store, str]) -> None:
    db, table = store
    parked = ParkedKeys(table, "g")
    with db.transaction() as conn:
        parked.ensure_schema(conn)
        for topic, key, offset in (("b", b"1", 3), ("a", b"2", 9), ("a", b"3", 4)):
            parked.park(conn, topic, key, offset=offset, reason="handler")
        assert [(k.topic, k.offset) for k in parked.keys(conn)] == [("a", 4), ("a", 9), ("b", 3)]
        assert [k.key for k in parked.keys(conn, "a")] == [b"3", b"2"]
