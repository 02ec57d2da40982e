"""Inbox claim, duplicate and sweep on SQLite files and a real PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Literal

import pytest

from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.db import Store
from eventgen.runtime.inbox import Inbox

DIALECTS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=DIALECTS)
def config(request: pytest.FixtureRequest, tmp_path: Path) -> RuntimeConfig:
    if request.param == "postgres":
        dsn = request.getfixturevalue("postgres_dsn")
        return RuntimeConfig(postgres_dsn=dsn, connect_timeout_s=5)
    return RuntimeConfig(sqlite_path=str(tmp_path / "inbox.sqlite3"), connect_timeout_s=5)


@pytest.fixture
def store(config: RuntimeConfig) -> Iterator[Store]:
    store = Store.open(_kind(config), config)
    yield store
    store.close()


@pytest.fixture
def table(store: Store) -> Iterator[str]:
    name = f"inbox_{uuid.uuid4().hex[:12]}"
    store.ensure_schema({"inbox": name})
    yield name
    store.connection.execute(f"DROP TABLE IF EXISTS {name}")


def _kind(config: RuntimeConfig) -> Literal["sqlite", "postgres"]:
    return "postgres" if config.postgres_dsn else "sqlite"


def _count(store: Store, table: str) -> int:
    return int(store.connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_claim_then_duplicate(store: Store, table: str) -> None:
    inbox = Inbox(table, "group-a", retention_ms=None)
    event = uuid.uuid4()
    with store.transaction() as conn:
        assert inbox.claim(conn, event) is True
        assert inbox.seen(conn, event)
    with store.transaction() as conn:
        assert inbox.claim(conn, event) is False
    # Another group handles the same event independently.
    with store.transaction() as conn:
        assert Inbox(table, "group-b", None).claim(conn, event) is True
    assert _count(store, table) == 2


def test_claim_rolls_back_with_the_handler(store: Store, table: str) -> None:
    inbox = Inbox(table, "g", retention_ms=None)
    event = uuid.uuid4()
    with pytest.raises(RuntimeError), store.transaction() as conn:
        assert inbox.claim(conn, event)
        raise RuntimeError("handler failed after the claim")
    assert _count(store, table) == 0
    with store.transaction() as conn:  # the retry is a first delivery again
        assert inbox.claim(conn, event) is True


def test_sweep_deletes_only_old_rows_of_its_group(store: Store, table: str) -> None:
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    inbox = Inbox(table, "g", retention_ms=3_600_000)
    other = Inbox(table, "other", retention_ms=3_600_000)
    old, fresh, foreign = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with store.transaction() as conn:
        inbox.claim(conn, old, now=now - timedelta(hours=2))
        inbox.claim(conn, fresh, now=now - timedelta(minutes=30))
        other.claim(conn, foreign, now=now - timedelta(hours=5))
    with store.transaction() as conn:
        assert inbox.sweep(conn, now=now) == 1
        assert inbox.sweep(conn, now=now) == 0
    with store.transaction() as conn:
        assert not inbox.seen(conn, old) and inbox.seen(conn, fresh)
        assert other.seen(conn, foreign)
        # Swept: a (very late) redelivery of the old event counts as new again.
        assert inbox.claim(conn, old, now=now) is True
    with store.transaction() as conn:
        assert Inbox(table, "g", retention_ms=None).sweep(conn, now=now + timedelta(days=999)) == 0


def test_sweep_across_timezones(store: Store, table: str) -> None:
    """Instants, not wall-clock text, decide (a +02:00 time is 2 h earlier in UTC)."""
    inbox = Inbox(table, "g", retention_ms=60_000)
    plus_two = datetime(2026, 6, 1, 13, 0, tzinfo=UTC).astimezone(timezone(timedelta(hours=2)))
    with store.transaction() as conn:
        inbox.claim(conn, uuid.uuid4(), now=plus_two)  # 13:00 UTC
    with store.transaction() as conn:
        assert inbox.sweep(conn, now=datetime(2026, 6, 1, 13, 0, 30, tzinfo=UTC)) == 0
        assert inbox.sweep(conn, now=datetime(2026, 6, 1, 13, 1, 1, tzinfo=UTC)) == 1


def test_racing_claims_one_winner(config: RuntimeConfig, store: Store, table: str) -> None:
    """Two connections claim one event; the second waits for the first and loses."""
    rival = Store.open(_kind(config), config)
    inbox = Inbox(table, "g", None)
    event = uuid.uuid4()
    result: list[bool | BaseException] = []

    def claim_in_rival() -> None:
        try:
            with rival.transaction() as conn:
                result.append(inbox.claim(conn, event))
        except BaseException as exc:  # noqa: BLE001 - inspected below
            result.append(exc)

    try:
        with store.transaction() as conn:
            assert inbox.claim(conn, event) is True
            thread = threading.Thread(target=claim_in_rival, daemon=True)
            thread.start()
            thread.join(0.5)  # it must still be waiting: the winner has not committed
            assert result == []
        thread.join(30)
        assert not thread.is_alive()
        assert result == [False]
    finally:
        rival.close()
