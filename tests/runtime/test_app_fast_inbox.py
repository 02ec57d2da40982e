"""Inbox.claim_many / release_many (the fast path's batch claim) on both dialects."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
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
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    kind: Literal["sqlite", "postgres"] = request.param
    if kind == "postgres":
        config = RuntimeConfig(
            postgres_dsn=request.getfixturevalue("postgres_dsn"), connect_timeout_s=5
        )
    else:
        config = RuntimeConfig(sqlite_path=str(tmp_path / "inbox.sqlite3"), connect_timeout_s=5)
    opened = Store.open(kind, config)
    yield opened
    opened.close()


@pytest.fixture
def table(store: Store) -> Iterator[str]:
    name = f"inbox_{uuid.uuid4().hex[:12]}"
    store.ensure_schema({"inbox": name})
    yield name
    store.connection.execute(f"DROP TABLE IF EXISTS {name}")


def _count(store: Store, table: str) -> int:
    return int(store.connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_claim_many_returns_the_first_deliveries_only(store: Store, table: str) -> None:
    inbox = Inbox(table, "g", retention_ms=None)
    old = [uuid.uuid4() for _ in range(3)]
    with store.transaction() as conn:
        assert inbox.claim(conn, old[0])
    fresh = [uuid.uuid4() for _ in range(700)]  # more than one SQLite chunk
    with store.transaction() as conn:
        got = inbox.claim_many(conn, [*old, *fresh, fresh[5]])
        assert got == {*old[1:], *fresh}
        assert inbox.claim_many(conn, []) == set()
    with store.transaction() as conn:
        assert inbox.claim_many(conn, [old[0], fresh[0]]) == set()
        assert Inbox(table, "other", None).claim_many(conn, [old[0]]) == {old[0]}
    assert _count(store, table) == 704


def test_release_many_and_rollback_take_claims_back(store: Store, table: str) -> None:
    inbox = Inbox(table, "g", retention_ms=None)
    ids = [uuid.uuid4() for _ in range(400)]
    with store.transaction() as conn:
        assert inbox.claim_many(conn, ids) == set(ids)
        inbox.release_many(conn, ids[100:])
        inbox.release_many(conn, [])
    assert _count(store, table) == 100
    with pytest.raises(RuntimeError), store.transaction() as conn:
        assert inbox.claim_many(conn, ids[100:]) == set(ids[100:])
        raise RuntimeError("handler")
    assert _count(store, table) == 100
    with store.transaction() as conn:
        assert inbox.claim_many(conn, ids) == set(ids[100:])
