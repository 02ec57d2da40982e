"""The emitted SQL files run as they are: on SQLite, and on the real PostgreSQL, twice each
(`CREATE TABLE IF NOT EXISTS`: applying a file again changes nothing)."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import pytest


def _files(out: Path, dialect: str) -> list[Path]:
    found = sorted(out.glob(f"sql/*/*.{dialect}.sql"))
    assert found, f"no {dialect} files"
    return found


def test_sqlite_files_apply_twice(example_build: Path, tmp_path: Path) -> None:
    for path in _files(example_build, "sqlite"):
        with sqlite3.connect(tmp_path / f"{path.parent.name}.sqlite3") as conn:
            for _ in range(2):
                conn.executescript(path.read_text())
    with sqlite3.connect(tmp_path / "orders.sqlite3") as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert {"order_outbox", "eventgen_inbox", "eventgen_parked_keys"} <= tables


@pytest.mark.postgres
def test_postgres_files_apply_twice(example_build: Path, postgres_dsn: str) -> None:
    import psycopg

    schema = f"egsvc_{uuid.uuid4().hex[:10]}"  # the files name fixed tables: a schema per test
    with psycopg.connect(postgres_dsn, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        try:
            conn.execute(f'SET search_path TO "{schema}"')
            for path in _files(example_build, "postgres"):
                for _ in range(2):
                    conn.execute(path.read_text().encode())
            rows = conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (schema,),
            ).fetchall()
            assert {"inventory_outbox", "payment_outbox", "eventgen_inbox"} <= {r[0] for r in rows}
        finally:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
