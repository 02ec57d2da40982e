"""The example shop's own tables (stock, reservations, payments, slots, shipments) and seed data.

The runtime creates its tables itself (inbox, parked keys) when an app starts; these are the
services' business tables, which a real service would manage with its migrations. Inventory and
payments keep theirs in PostgreSQL (their consumers' idempotency store is `postgres`, so the
handlers write them through `ctx.db`, in the inbox row's transaction); shipping keeps its own in
the embedded SQLite store (`store: sqlite`).

    python examples/shop/shop_db.py             # create the tables, seed the stock
    python examples/shop/shop_db.py --reset     # drop them first (a clean demo)

PostgreSQL from `EVENTGEN_POSTGRES_DSN`, SQLite from `EVENTGEN_SQLITE_PATH` (default
`eventgen.sqlite3`, as for the runner).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from typing import Any

POSTGRES_TABLES = {
    "shop_stock": """
        CREATE TABLE IF NOT EXISTS shop_stock (
            sku text NOT NULL,
            warehouse text NOT NULL,
            on_hand bigint NOT NULL CHECK (on_hand >= 0),
            reserved bigint NOT NULL DEFAULT 0 CHECK (reserved >= 0),
            PRIMARY KEY (sku, warehouse)
        )""",
    "shop_reservations": """
        CREATE TABLE IF NOT EXISTS shop_reservations (
            reservation_id uuid PRIMARY KEY,
            order_id uuid NOT NULL,
            status text NOT NULL,
            expires_at timestamptz NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        )""",
    "shop_reservation_lines": """
        CREATE TABLE IF NOT EXISTS shop_reservation_lines (
            reservation_id uuid NOT NULL REFERENCES shop_reservations,
            line integer NOT NULL,
            sku text NOT NULL,
            warehouse text NOT NULL,
            quantity integer NOT NULL,
            PRIMARY KEY (reservation_id, line)
        )""",
    "shop_goods_receipts": """
        CREATE TABLE IF NOT EXISTS shop_goods_receipts (
            event_id uuid PRIMARY KEY,
            sku text NOT NULL,
            warehouse text NOT NULL,
            quantity bigint NOT NULL
        )""",
    "shop_payments": """
        CREATE TABLE IF NOT EXISTS shop_payments (
            order_id uuid PRIMARY KEY,
            payment_id uuid NOT NULL,
            customer_id uuid NOT NULL,
            amount numeric(12, 2) NOT NULL,
            currency text NOT NULL,
            status text NOT NULL,
            decline_code text,
            reason text,
            cardholder text NOT NULL,
            charged_at timestamptz NOT NULL,
            refunded_at timestamptz
        )""",
}
POSTGRES_INDEXES = [
    "CREATE INDEX IF NOT EXISTS shop_reservations_order ON shop_reservations (order_id)",
]

SQLITE_TABLES = {
    "shop_slots": """
        CREATE TABLE IF NOT EXISTS shop_slots (
            order_id TEXT PRIMARY KEY,
            slot_id TEXT NOT NULL,
            day TEXT NOT NULL,
            starts_at TEXT NOT NULL,
            ends_at TEXT NOT NULL,
            carrier TEXT NOT NULL,
            status TEXT NOT NULL
        )""",
    "shop_shipments": """
        CREATE TABLE IF NOT EXISTS shop_shipments (
            order_id TEXT PRIMARY KEY,
            shipment_id TEXT NOT NULL UNIQUE,
            carrier TEXT NOT NULL,
            tracking_number TEXT NOT NULL UNIQUE,
            weight_grams INTEGER NOT NULL,
            dispatched_at TEXT NOT NULL
        )""",
}

# (sku, warehouse, on hand): what the demo order and the tests reserve against.
SEED_STOCK = [
    ("MUG-001", "BER1", 5),
    ("MUG-001", "HAM1", 3),
    ("TEE-BLK-M", "BER1", 40),
    ("TEE-BLK-M", "MUC1", 12),
    ("POSTER-A2", "HAM1", 1),
]


def create_postgres(conn: Any, *, reset: bool = False, seed: bool = True) -> None:
    """Create (or with `reset`, recreate) the PostgreSQL tables; seed the stock table."""
    if reset:
        conn.execute("DROP TABLE IF EXISTS " + ", ".join(reversed(POSTGRES_TABLES)))
    for ddl in POSTGRES_TABLES.values():
        conn.execute(ddl)
    for ddl in POSTGRES_INDEXES:
        conn.execute(ddl)
    if seed:
        for sku, warehouse, on_hand in SEED_STOCK:
            conn.execute(
                "INSERT INTO shop_stock (sku, warehouse, on_hand) VALUES (%s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                (sku, warehouse, on_hand),
            )


def create_sqlite(conn: sqlite3.Connection, *, reset: bool = False) -> None:
    if reset:
        for table in SQLITE_TABLES:
            conn.execute(f"DROP TABLE IF EXISTS {table}")
    for ddl in SQLITE_TABLES.values():
        conn.execute(ddl)


def postgres_dsn() -> str:
    dsn = os.environ.get("EVENTGEN_POSTGRES_DSN")
    if not dsn:
        raise SystemExit(
            'error: EVENTGEN_POSTGRES_DSN is not set (eval "$(scripts/services start)")'
        )
    return dsn


def sqlite_path() -> str:
    return os.environ.get("EVENTGEN_SQLITE_PATH") or "eventgen.sqlite3"


def main(argv: list[str] | None = None) -> int:
    import psycopg

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--reset", action="store_true", help="drop the shop tables first")
    args = parser.parse_args(argv)
    with psycopg.connect(postgres_dsn(), connect_timeout=10) as conn:
        create_postgres(conn, reset=args.reset)
    with sqlite3.connect(sqlite_path()) as lite:
        create_sqlite(lite, reset=args.reset)
    lite.close()
    print(f"shop tables ready (PostgreSQL, SQLite {sqlite_path()})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
