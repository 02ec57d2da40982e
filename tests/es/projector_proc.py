"""Fixtures of the projector tests, and a projector process for the kill -9 test.

A hand-written OrderSummary projection over the example's generated models (the shop's
`orders`, `payments` and `shipping` events, imported from a build), written as a build would
write one: a row model, a ProjectionSpec, a `project` function matching on the event class.
Every event also increments `events_applied`, so an event applied twice shows in the row.

`ShopEventStore` is the real event store (eventgen.runtime.es.store) with a helper that appends a
list of events of several orders in the list's order.

As a script: `python -m tests.es.projector_proc BUILD_DIR STORE_KIND TABLE EVENTS_TABLE BATCH
STALL_AT` runs the projector until killed or idle for 3 s (the kill -9 test); the STALL_AT-th
event it projects (0: none) stalls inside its batch transaction after printing IN_BATCH. The
store settings come from the environment (EVENTGEN_POSTGRES_DSN, EVENTGEN_SQLITE_PATH).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from eventgen.runtime.es.spec import (
    Column,
    EventStoreSpec,
    ProjectionDefinition,
    ProjectionSpec,
    RowOp,
    StoreKind,
)
from eventgen.runtime.es.store import EventStore
from eventgen.runtime.model import Message, Record
from eventgen.runtime.scalars import DecimalSpec, Str, Timestamp, Uuid
from eventgen.runtime.spec import Route

HANDLES = (
    "orders.OrderArchived",
    "orders.OrderCancelled",
    "orders.OrderConfirmed",
    "orders.OrderPlaced",
    "payments.CardCharged",
    "payments.CardDeclined",
    "shipping.ShipmentDelivered",
    "shipping.ShipmentDispatched",
)


class OrderSummary(Record):
    """The row model (what a query returns)."""

    order_id: Uuid
    customer_id: Uuid
    status: Annotated[str, Str(max_length=32)]
    total: Annotated[Decimal, DecimalSpec(12, 2, signed=False)]
    currency: str
    placed_at: Timestamp
    payment_id: Uuid | None = None
    declined_payments: int = 0
    tracking_numbers: tuple[str, ...] = ()
    delivered_at: Timestamp | None = None
    events_applied: int = 0


COLUMNS = (
    Column("order_id", "uuid"),
    Column("customer_id", "uuid"),
    Column("status", "string"),
    Column("total", "decimal", precision=12, scale=2),
    Column("currency", "string"),
    Column("placed_at", "timestamp"),
    Column("payment_id", "uuid", nullable=True),
    Column("declined_payments", "int", default=0, has_default=True),
    Column("tracking_numbers", "json", default=[], has_default=True),
    Column("delivered_at", "timestamp", nullable=True),
    Column("events_applied", "long", default=0, has_default=True),
)


def make_spec(
    table: str,
    *,
    store: StoreKind = "sqlite",
    store_source: bool = True,
    topics: tuple[Route, ...] = (),
    group: str = "",
    batch: int = 500,
    checkpoint_table: str = "eventgen_checkpoints",
) -> ProjectionSpec:
    return ProjectionSpec(
        name="OrderSummary",
        qualified=f"orders.OrderSummary.{table}",  # one checkpoint name per test table
        context="orders",
        table=table,
        key="order_id",
        columns=COLUMNS,
        handles=HANDLES,
        store=store,
        store_source=store_source,
        group=group,
        topics=topics,
        checkpoint_table=checkpoint_table,
        batch=batch,
    )


def project(event: Message) -> list[RowOp]:
    """Row operations of one event: the spec's `on:` block of OrderSummary, plus a counter."""
    e: Any = event
    counted = RowOp("inc", e.order_id, (("events_applied", 1),))
    match event.TYPE:
        case "orders.OrderPlaced":
            values: tuple[tuple[str, Any], ...] = (
                ("customer_id", e.customer_id),
                ("status", "PLACED"),
                ("total", e.total.amount),
                ("currency", e.total.currency),
                ("placed_at", e.placed_at),
            )
            return [RowOp("upsert", e.order_id, values), counted]
        case "orders.OrderConfirmed":
            return [RowOp("set", e.order_id, (("status", "CONFIRMED"),)), counted]
        case "orders.OrderCancelled":
            return [RowOp("set", e.order_id, (("status", "CANCELLED"),)), counted]
        case "orders.OrderArchived":
            return [RowOp("delete", e.order_id)]
        case "payments.CardCharged":
            paid = (("status", "PAID"), ("payment_id", e.payment_id))
            return [RowOp("set", e.order_id, paid), counted]
        case "payments.CardDeclined":
            return [RowOp("inc", e.order_id, (("declined_payments", 1),)), counted]
        case "shipping.ShipmentDispatched":
            return [
                RowOp("append", e.order_id, (("tracking_numbers", e.tracking_number),)),
                counted,
            ]
        case "shipping.ShipmentDelivered":
            done = (("status", "DELIVERED"), ("delivered_at", e.delivered_at))
            return [RowOp("set", e.order_id, done), counted]
    return []


def definition(spec: ProjectionSpec, messages: Sequence[type[Message]] = ()) -> Any:
    return ProjectionDefinition(spec, OrderSummary, project, tuple(messages))


def fold(events: Sequence[Message]) -> dict[UUID, dict[str, Any]]:
    """The expected rows of `events`, computed without SQL (the reference of the tests)."""
    rows: dict[UUID, dict[str, Any]] = {}
    for event in events:
        e: Any = event
        row = rows.get(e.order_id)
        kind = event.TYPE
        if kind == "orders.OrderPlaced":
            if row is None:
                row = rows[e.order_id] = {
                    "order_id": e.order_id,
                    "payment_id": None,
                    "declined_payments": 0,
                    "tracking_numbers": (),
                    "delivered_at": None,
                    "events_applied": 0,
                }
            row.update(
                customer_id=e.customer_id,
                status="PLACED",
                total=e.total.amount,
                currency=e.total.currency,
                placed_at=e.placed_at,
            )
        elif kind == "orders.OrderArchived":
            rows.pop(e.order_id, None)
            continue
        if row is None:
            continue
        if kind == "orders.OrderConfirmed":
            row["status"] = "CONFIRMED"
        elif kind == "orders.OrderCancelled":
            row["status"] = "CANCELLED"
        elif kind == "payments.CardCharged":
            row.update(status="PAID", payment_id=e.payment_id)
        elif kind == "payments.CardDeclined":
            row["declined_payments"] += 1
        elif kind == "shipping.ShipmentDispatched":
            row["tracking_numbers"] = (*row["tracking_numbers"], e.tracking_number)
        elif kind == "shipping.ShipmentDelivered":
            row.update(status="DELIVERED", delivered_at=e.delivered_at)
        row["events_applied"] += 1
    return rows


class ShopEventStore(EventStore):
    """The real EventStore with a helper that appends a list of events in its order."""

    def __init__(self, table: str, messages: Sequence[type[Message]], store: StoreKind) -> None:
        super().__init__(EventStoreSpec("orders", table, table + "_snapshots", store), messages)

    @property
    def tables(self) -> tuple[str, str]:
        return self.spec.table, self.spec.snapshot_table

    def add(self, conn: Any, events: Sequence[Message]) -> None:
        """Append `events` (in the open transaction): each run of consecutive events of one
        order is one append to its stream `Order-<id>`, so the store's order is the list's."""
        start = 0
        while start < len(events):
            order = getattr(events[start], "order_id")  # noqa: B009 - any shop event
            end = start
            while end < len(events) and getattr(events[end], "order_id") == order:  # noqa: B009
                end += 1
            stream = f"Order-{order}"
            self.append(conn, stream, self.stream_version(conn, stream), events[start:end])
            start = end


def shop_messages(build: Path) -> list[type[Message]]:
    """The example's generated event classes the projection handles (from a build)."""
    import importlib

    if str(build) not in sys.path:
        sys.path.insert(0, str(build))
    out = []
    for name in HANDLES:
        context, _, cls = name.partition(".")
        module = importlib.import_module(f"shop_events.{context}")
        out.append(getattr(module, cls))
    return out


class Shop:
    """Builds the example's events by short names (the classes come from a build)."""

    def __init__(self, messages: Sequence[type[Message]]) -> None:
        self.cls = {cls.TYPE.partition(".")[2]: cls for cls in messages}
        self.tick = 0

    def _at(self) -> str:
        self.tick += 1
        return f"2026-01-01T00:{self.tick // 3600 % 60:02d}:{self.tick % 60:02d}.{self.tick % 999999:06d}Z"

    def make(self, name: str, order_id: UUID, n: int = 0) -> Message:
        """Event `name` of order `order_id`; `n` varies its values."""
        at = self._at()
        money = {"amount": f"{10 + n}.{n % 100:02d}", "currency": "EUR"}
        payment = str(UUID(int=n + 1))
        values: dict[str, Any] = {"order_id": str(order_id)}
        if name == "OrderPlaced":
            values.update(
                customer_id=str(UUID(int=1000 + n)),
                lines=[{"sku": "SKU-1", "quantity": 1, "unit_price": money}],
                total=money,
                shipping_address={
                    "recipient": "A",
                    "line1": "B",
                    "city": "C",
                    "postal_code": "12345",
                    "country": "DE",
                },
                placed_at=at,
            )
        elif name == "OrderConfirmed":
            values.update(confirmed_at=at)
        elif name == "OrderCancelled":
            values.update(reason="r", previous_status="PLACED", cancelled_at=at)
        elif name == "OrderArchived":
            values.update(archived_at=at)
        elif name == "CardCharged":
            values.update(payment_id=payment, amount=money, cardholder_name="X", charged_at=at)
        elif name == "CardDeclined":
            values.update(payment_id=payment, reason="no", declined_at=at)
        elif name == "ShipmentDispatched":
            values.update(
                shipment_id=payment,
                carrier="DHL",
                tracking_number=f"TRK{n:05d}",
                weight_grams=100,
                dispatched_at=at,
            )
        elif name == "ShipmentDelivered":
            values.update(shipment_id=payment, delivered_at=at)
        else:
            raise KeyError(name)
        return self.cls[name].model_validate_json(json.dumps(values))


def main(argv: Sequence[str]) -> int:
    import logging

    from eventgen.runtime.config import load_config
    from eventgen.runtime.es.projector import Projector

    logging.basicConfig(level=logging.WARNING)
    build, store, table, events_table, batch, stall_at = argv
    messages = shop_messages(Path(build))
    spec = make_spec(table, store=store, batch=int(batch))  # type: ignore[arg-type]
    calls = 0

    def stalling(event: Message) -> list[RowOp]:
        # The `stall_at`-th event (0: never) is projected inside an open batch transaction:
        # say so and wait there, so that the test's kill -9 lands mid-batch for certain.
        nonlocal calls
        calls += 1
        if calls == int(stall_at):
            print("IN_BATCH", flush=True)
            time.sleep(60)
        return project(event)

    defn = ProjectionDefinition(spec, OrderSummary, stalling, tuple(messages))
    projector = Projector(defn, ShopEventStore(events_table, messages, spec.store))
    stats = projector.run(config=load_config(), idle_exit_s=3.0)
    print(json.dumps(vars(stats)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
