"""Inventory's handlers: stock reservations against the shop_stock table, and the stock ledger.

Run one app per process:

    python -m eventgen.runtime run inventory_service:inventory_command_handler
    python -m eventgen.runtime run inventory_service:commit_dispatched_stock
    python -m eventgen.runtime run inventory_service:release_refunded_stock
    python -m eventgen.runtime run inventory_service:stock_ledger

The three stream consumers use the `postgres` idempotency store: `ctx.db` is the psycopg
connection whose transaction also writes the inbox row, so a redelivered command never reserves
twice. commit-dispatched-stock and release-refunded-stock run the OrderFulfilment
choreography's generated Reactions (shop_events.inventory_reactions): they turn
ShipmentDispatched into CommitStock and PaymentRefunded into ReleaseStock, which
inventory-command-handler then carries out. A command sent again (a new event id, e.g. the saga retrying after a timeout) is answered
from the table with the same reservation. Replies go out through `ctx.publish`; under
at-least-once they are acknowledged by Kafka before the transaction commits, so a crash in
between repeats the command (answered from the table again), never loses the reply.

A reservation's `expires_at` (now + `hold_for`) is recorded and replied, not enforced: nothing
releases an expired hold yet (the saga releases on failure, shipping commits on dispatch).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from shop_events.inventory import (
    CommitStock,
    ReleaseStock,
    ReservedLine,
    ReserveStock,
    ShortLine,
    StockCommitted,
    StockLevelChanged,
    StockReceived,
    StockReleased,
    StockReservationFailed,
    StockReserved,
    Warehouse,
)
from shop_events.inventory_app import (
    InventoryCommandHandlerContext,
    StockLedgerBatch,
    commit_dispatched_stock,
    inventory_command_handler,
    release_refunded_stock,
    stock_ledger,
)
from shop_events.inventory_reactions import (
    commit_stock_on_shipment_dispatched,
    release_stock_on_payment_refunded,
)
from shop_events.payments import PaymentRefunded
from shop_events.shipping import ShipmentDispatched

from eventgen.runtime.app.context import Context

__all__ = [
    "NoReservation",
    "commit",
    "commit_dispatched_stock",
    "inventory_command_handler",
    "release",
    "release_refunded_stock",
    "reserve",
    "stock_ledger",
]

log = logging.getLogger("shop.inventory")

MAX_LINE_QUANTITY = 1000  # ReservedLine.quantity's maximum: larger picks are split


class NoReservation(LookupError):
    """CommitStock for an order that holds nothing: retried, then dead-lettered for a human."""


# -- the stock logic, on an open psycopg connection (the caller owns the transaction) ----------


def reserve(
    conn: Any, order_id: UUID, lines: Sequence[tuple[str, int]], hold_for_s: int
) -> StockReserved | StockReservationFailed:
    """All or nothing: every line reserved (split across warehouses if need be), or none."""
    now = datetime.now(UTC)
    held = _reservations(conn, order_id, None, "held")
    if held:  # the same command again: answer with what it reserved the first time
        reservation_id, expires_at = held[0]
        return StockReserved(
            order_id=order_id,
            reservation_id=reservation_id,
            lines=tuple(_reserved_lines(conn, reservation_id)),
            expires_at=expires_at,
        )
    wanted: dict[str, int] = {}
    for sku, quantity in lines:
        wanted[sku] = wanted.get(sku, 0) + quantity
    # Lock the rows in one order (sku, warehouse) so two reservations never deadlock.
    rows = conn.execute(
        "SELECT sku, warehouse, on_hand - reserved FROM shop_stock WHERE sku = ANY(%s)"
        " ORDER BY sku, warehouse FOR UPDATE",
        (sorted(wanted),),
    ).fetchall()
    free: dict[str, list[tuple[str, int]]] = {}
    for sku, warehouse, available in rows:
        free.setdefault(sku, []).append((warehouse, max(0, int(available))))
    short = [
        ShortLine(sku=sku, requested=quantity, available=sum(a for _, a in free.get(sku, [])))
        for sku, quantity in wanted.items()
        if sum(a for _, a in free.get(sku, [])) < quantity
    ]
    if short:
        return StockReservationFailed(order_id=order_id, short_lines=tuple(short), failed_at=now)
    picks: list[ReservedLine] = []
    for sku, quantity in wanted.items():
        need = quantity
        for warehouse, available in free[sku]:
            take = min(need, available)
            if take <= 0:
                continue
            conn.execute(
                "UPDATE shop_stock SET reserved = reserved + %s WHERE sku = %s AND warehouse = %s",
                (take, sku, warehouse),
            )
            need -= take
            while take > 0:
                part = min(take, MAX_LINE_QUANTITY)
                picks.append(ReservedLine(sku=sku, quantity=part, warehouse=Warehouse(warehouse)))
                take -= part
            if need == 0:
                break
    reservation_id = uuid4()
    expires_at = now + timedelta(seconds=hold_for_s)
    conn.execute(
        "INSERT INTO shop_reservations (reservation_id, order_id, status, expires_at)"
        " VALUES (%s, %s, 'held', %s)",
        (reservation_id, order_id, expires_at),
    )
    for number, pick in enumerate(picks):
        conn.execute(
            "INSERT INTO shop_reservation_lines (reservation_id, line, sku, warehouse, quantity)"
            " VALUES (%s, %s, %s, %s, %s)",
            (reservation_id, number, pick.sku, pick.warehouse.value, pick.quantity),
        )
    return StockReserved(
        order_id=order_id, reservation_id=reservation_id, lines=tuple(picks), expires_at=expires_at
    )


def release(conn: Any, order_id: UUID, reservation_id: UUID | None) -> StockReleased:
    """Give held stock back. Releasing what is not held (any more) is a success: nothing to do."""
    released = _settle(conn, order_id, reservation_id, "released", on_hand=False)
    return StockReleased(
        order_id=order_id,
        reservation_id=reservation_id or (released[0] if len(released) == 1 else None),
        released_at=datetime.now(UTC),
    )


def commit(conn: Any, order_id: UUID, reservation_id: UUID | None) -> StockCommitted:
    """Turn held stock into a withdrawal (on hand and reserved both drop)."""
    committed = _settle(conn, order_id, reservation_id, "committed", on_hand=True)
    if not committed:
        # Already committed (the command again): the same answer. Nothing at all: an error.
        committed = [r for r, _ in _reservations(conn, order_id, reservation_id, "committed")]
        if not committed:
            raise NoReservation(f"order {order_id} holds no reservation to commit")
    return StockCommitted(
        order_id=order_id,
        reservation_id=reservation_id or (committed[0] if len(committed) == 1 else None),
        committed_at=datetime.now(UTC),
    )


def _settle(
    conn: Any, order_id: UUID, reservation_id: UUID | None, status: str, *, on_hand: bool
) -> list[UUID]:
    held = [r for r, _ in _reservations(conn, order_id, reservation_id, "held", lock=True)]
    for rid in held:
        lines = conn.execute(
            "SELECT sku, warehouse, quantity FROM shop_reservation_lines"
            " WHERE reservation_id = %s ORDER BY sku, warehouse",
            (rid,),
        ).fetchall()
        for sku, warehouse, quantity in lines:
            conn.execute(
                "UPDATE shop_stock SET reserved = reserved - %s, on_hand = on_hand - %s"
                " WHERE sku = %s AND warehouse = %s",
                (quantity, quantity if on_hand else 0, sku, warehouse),
            )
        conn.execute(
            "UPDATE shop_reservations SET status = %s WHERE reservation_id = %s", (status, rid)
        )
    return held


def _reservations(
    conn: Any, order_id: UUID, reservation_id: UUID | None, status: str, *, lock: bool = False
) -> list[tuple[UUID, datetime]]:
    sql = (
        "SELECT reservation_id, expires_at FROM shop_reservations"
        " WHERE order_id = %s AND status = %s AND (%s::uuid IS NULL OR reservation_id = %s)"
        " ORDER BY created_at, reservation_id"
    )
    params = (order_id, status, reservation_id, reservation_id)
    return [(r, e) for r, e in conn.execute(sql + (" FOR UPDATE" if lock else ""), params)]


def _reserved_lines(conn: Any, reservation_id: UUID) -> list[ReservedLine]:
    rows = conn.execute(
        "SELECT sku, quantity, warehouse FROM shop_reservation_lines WHERE reservation_id = %s"
        " ORDER BY line",
        (reservation_id,),
    )
    return [ReservedLine(sku=s, quantity=q, warehouse=Warehouse(w)) for s, q, w in rows]


# -- inventory-command-handler --------------------------------------------------------------


@inventory_command_handler.on(ReserveStock)
def on_reserve_stock(command: ReserveStock, ctx: InventoryCommandHandlerContext) -> None:
    lines = [(line.sku, line.quantity) for line in command.lines]
    reply = reserve(ctx.db, command.order_id, lines, command.hold_for)
    log.info("order %s: %s", command.order_id, type(reply).__name__)
    ctx.publish(reply)


@inventory_command_handler.on(ReleaseStock)
def on_release_stock(command: ReleaseStock, ctx: InventoryCommandHandlerContext) -> None:
    ctx.publish(release(ctx.db, command.order_id, command.reservation_id))


@inventory_command_handler.on(CommitStock)
def on_commit_stock(command: CommitStock, ctx: InventoryCommandHandlerContext) -> None:
    ctx.publish(commit(ctx.db, command.order_id, command.reservation_id))


# -- the OrderFulfilment choreography's inventory reactions -----------------------------------


# The generated Reactions (shop_events.inventory_reactions) run these in their consumers
# (commit-dispatched-stock, release-refunded-stock) and publish the returned command with the
# flow's correlation id; inventory-command-handler then commits or releases the stock and
# replies StockCommitted / StockReleased, the choreography's outcomes.


@commit_stock_on_shipment_dispatched.handler
def on_shipment_dispatched(event: ShipmentDispatched, ctx: Context[Any]) -> CommitStock | None:
    return CommitStock(order_id=event.order_id)


@release_stock_on_payment_refunded.handler
def on_payment_refunded(event: PaymentRefunded, ctx: Context[Any]) -> ReleaseStock | None:
    return ReleaseStock(order_id=event.order_id)


# -- stock-ledger: exactly-once, batch, no idempotency store ----------------------------------

_ledger_db: Any = None


def _ledger_connection() -> Any:
    """The ledger's own connection to the stock tables (its `ctx.db` is None: store `none`)."""
    global _ledger_db
    if _ledger_db is None or _ledger_db.closed:
        import psycopg

        dsn = os.environ.get("EVENTGEN_POSTGRES_DSN")
        if not dsn:
            raise RuntimeError("stock-ledger reads shop_stock: set EVENTGEN_POSTGRES_DSN")
        _ledger_db = psycopg.connect(dsn, connect_timeout=10)
    return _ledger_db


@stock_ledger.on_batch
def fold_stock_levels(items: StockLedgerBatch) -> None:
    """Publish the current StockLevelChanged of every SKU the batch touched.

    shop_stock is the truth (the command handler moves `reserved`, goods receipts move
    `on_hand` here); the ledger turns it into the compacted topic. A receipt is booked once per
    event id, so a batch the Kafka transaction aborted and redelivers never counts it twice.
    The levels are read after the batch's receipts commit, so a level is never older than the
    facts in its batch (a reservation whose transaction commits after its event was read is
    covered by that order's next event).
    """
    conn = _ledger_connection()
    touched: dict[str, Any] = {}  # sku -> the ctx whose publish carries its level
    with conn.transaction():
        for message, ctx in items:
            if isinstance(message, StockReceived):
                booked = conn.execute(
                    "INSERT INTO shop_goods_receipts (event_id, sku, warehouse, quantity)"
                    " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    (ctx.event_id, message.sku, message.warehouse.value, message.quantity),
                ).rowcount
                if booked:
                    conn.execute(
                        "INSERT INTO shop_stock (sku, warehouse, on_hand) VALUES (%s, %s, %s)"
                        " ON CONFLICT (sku, warehouse) DO UPDATE"
                        " SET on_hand = shop_stock.on_hand + EXCLUDED.on_hand",
                        (message.sku, message.warehouse.value, message.quantity),
                    )
                skus: Iterable[str] = [message.sku]
            elif isinstance(message, StockReserved):
                skus = [line.sku for line in message.lines]
            else:  # released or committed: the SKUs of the order's reservations
                skus = [
                    sku
                    for (sku,) in conn.execute(
                        "SELECT DISTINCT l.sku FROM shop_reservation_lines l"
                        " JOIN shop_reservations r USING (reservation_id) WHERE r.order_id = %s",
                        (message.order_id,),
                    )
                ]
            for sku in skus:
                touched[sku] = ctx
    now = datetime.now(UTC)
    with conn.transaction():
        for sku, ctx in sorted(touched.items()):
            ctx.publish(_level(conn, sku, now))
    log.info("stock-ledger: %d records, %d levels published", len(items), len(touched))


def _level(conn: Any, sku: str, now: datetime) -> StockLevelChanged:
    rows = conn.execute(
        "SELECT warehouse, on_hand, reserved FROM shop_stock WHERE sku = %s ORDER BY warehouse",
        (sku,),
    ).fetchall()
    on_hand = sum(int(r[1]) for r in rows)
    reserved = sum(int(r[2]) for r in rows)
    return StockLevelChanged(
        sku=sku,
        on_hand=on_hand,
        reserved=reserved,
        available=on_hand - reserved,
        per_warehouse={w: int(h) - int(r) for w, h, r in rows},
        changed_at=now,
    )
