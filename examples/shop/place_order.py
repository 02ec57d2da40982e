"""Place one order in the running shop and watch PlaceOrderSaga take it to its end.

    python examples/shop/place_order.py                      # 2 mugs, 19.00 EUR, to Berlin
    python examples/shop/place_order.py --amount 5.13        # the fake gateway declines it
    python examples/shop/place_order.py --quantity 50        # out of stock
    python examples/shop/place_order.py --country US         # no delivery slot
    python examples/shop/place_order.py --amount 6.66        # the gateway is down: the charge
                                                             # times out, the saga compensates

It sends PlaceOrder to the Order aggregate (the generated order-command-handler decides it,
appends OrderPlaced to the orders event store and, through the outbox and its relay, publishes
it). From there the generated saga worker (`shop_events.orders_sagas:place_order_saga`) runs
the order: ReserveStock, BookDeliverySlot, ChargeCard (the pivot), each after the previous
step's success reply, compensating (ReleaseDeliverySlot, ReleaseStock) when a step fails, and
ConfirmOrder on the Order aggregate in its own transaction at the end (the local step). Then
the OrderFulfilment choreography takes over: ship-confirmed-orders sends ShipOrder, shipping
replies ShipmentDispatched, inventory commits the stock (StockCommitted).

This script plays no part in it: it prints every command and reply of the order as it reads
them from the topics, polls the saga's instance in the orders store until it reaches COMPLETED
or COMPENSATED (or is parked), prints the saga's log, and, for a completed order, waits for
the stock to be committed and asks the GetOrderSummary query, answered from the OrderSummary
read model once the projector has applied the aggregate's last event (read-your-writes).

Kafka from `KAFKA_BOOTSTRAP_SERVERS`, the orders store (event store, outbox, saga tables) from
`EVENTGEN_SQLITE_PATH` (as the runner). Exit codes: 0 the order reached its end (the saga
COMPLETED and the stock committed, or the saga COMPENSATED, or the aggregate rejected the
order); 1 something did not happen within `--wait` (is every app running?); 3 the saga is
parked (STUCK, or FAILED): an operator's turn (`python -m eventgen.runtime saga show ...`).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
import uuid
from decimal import Decimal
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from shop_events import inventory_app, orders_app, payments_app, shipping_app
from shop_events.inventory import StockCommitted
from shop_events.orders import Address, Money, OrderLine, OrderRejected, PlaceOrder
from shop_events.orders_aggregates import event_store
from shop_events.orders_projections import get_order_summary, order_summary
from shop_events.orders_sagas import PLACE_ORDER_SAGA, PlaceOrderSagaData
from shop_events.shipping import ShipmentDispatched, ShipmentFailed

from eventgen.runtime.config import RuntimeConfig, load_config
from eventgen.runtime.db import Store
from eventgen.runtime.errors import DecodeError
from eventgen.runtime.model import Envelope, Message, Record
from eventgen.runtime.saga.codec import load_instance
from eventgen.runtime.saga.state import SagaInstance
from eventgen.runtime.saga.store import SagaStore
from eventgen.runtime.serde import codec_for
from eventgen.runtime.spec import Route

EVENT_ROUTES: list[Route] = [
    orders_app.ROUTE_ORDERS_ORDER_EVENTS,
    inventory_app.ROUTE_INVENTORY_STOCK_EVENTS,
    shipping_app.ROUTE_SHIPPING_SHIPMENT_EVENTS,
    payments_app.ROUTE_PAYMENTS_PAYMENT_EVENTS,
]
COMMAND_ROUTES: list[Route] = [
    inventory_app.ROUTE_INVENTORY_INVENTORY_COMMANDS,
    shipping_app.ROUTE_SHIPPING_SHIPPING_COMMANDS,
    payments_app.ROUTE_PAYMENTS_PAYMENT_COMMANDS,
]
ENDS = ("COMPLETED", "COMPENSATED", "STUCK", "FAILED")  # where this script stops watching
POLL_S = 0.5


class Traffic:
    """Reads the command and event topics from their ends as of construction, printing and
    keeping one order's records (`->` a command, `<-` an event).

    The ends are read before anything is published, so no record can slip in before the
    reader is positioned (positioning at OFFSET_END would resolve lazily, after a fast reply).
    """

    def __init__(self, config: RuntimeConfig, order_id: uuid.UUID) -> None:
        self.config = config
        self.order_id = order_id
        self.routes = {route.topic.name: route for route in EVENT_ROUTES + COMMAND_ROUTES}
        self.commands = {route.topic.name for route in COMMAND_ROUTES}
        self.seen: list[Envelope[Message]] = []
        self.consumer = Consumer(
            {
                "bootstrap.servers": config.bootstrap_servers,
                "group.id": f"shop-place-order-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                **config.client,
            }
        )
        assignment = []
        for topic in self.routes:
            metadata = self.consumer.list_topics(topic, timeout=config.connect_timeout_s)
            partitions = metadata.topics[topic].partitions
            if not partitions:
                raise SystemExit(f"error: topic {topic} does not exist (eventgen topics apply)")
            for p in partitions:
                tp = TopicPartition(topic, p)
                _, high = self.consumer.get_watermark_offsets(tp, config.connect_timeout_s)
                assignment.append(TopicPartition(topic, p, high))
        self.consumer.assign(assignment)

    def poll(self, timeout_s: float) -> None:
        """Read what arrived within `timeout_s`; print and keep the order's records."""
        records: list[Any] = self.consumer.consume(num_messages=100, timeout=timeout_s)
        for record in records:
            if record.error() is not None:
                continue
            route = self.routes[record.topic()]
            try:
                envelope = codec_for(route, self.config).decode(record, route)
            except DecodeError:
                continue  # not a record of this platform's schemas: not this order's
            payload: Any = envelope.payload
            if getattr(payload, "order_id", None) != self.order_id:
                continue
            self.seen.append(envelope)
            arrow = "->" if record.topic() in self.commands else "<-"
            print(f"  {arrow} {envelope.type}: {_summary(envelope.payload)}", flush=True)

    def first(self, *types: type[Message]) -> Message | None:
        for envelope in self.seen:
            if isinstance(envelope.payload, types):
                return envelope.payload
        return None

    def wait_for(self, *types: type[Message], timeout_s: float) -> Message | None:
        """The first record of the order (seen or new) whose type is one of `types`."""
        deadline = time.monotonic() + timeout_s
        while (found := self.first(*types)) is None and time.monotonic() < deadline:
            self.poll(POLL_S)
        return found

    def close(self) -> None:
        self.consumer.close()


def _summary(message: Record) -> str:
    fields = message.model_dump(mode="json", exclude={"order_id"})
    return ", ".join(f"{k}={v}" for k, v in fields.items() if v not in (None, [], {}))[:300]


class SagaWatch:
    """The order's PlaceOrderSaga instance, read from the orders store (the saga worker's
    tables: `PLACE_ORDER_SAGA.tables`) with the saga runtime's own SagaStore."""

    def __init__(self, store: Store, order_id: uuid.UUID) -> None:
        self.store = store
        self.saga_store = SagaStore(PLACE_ORDER_SAGA.tables)
        self.saga_id = str(order_id)

    def instance(self) -> SagaInstance | None:
        """The instance as the saga runtime decodes it (typed data), or None before it exists."""
        try:
            with self.store.transaction() as conn:
                row = self.saga_store.load(conn, PLACE_ORDER_SAGA.name, self.saga_id)
            return None if row is None else load_instance(PLACE_ORDER_SAGA, row)
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return None  # the saga worker has not created its tables yet
            raise

    def log(self) -> list[dict[str, Any]]:
        with self.store.transaction() as conn:
            return self.saga_store.log(conn, PLACE_ORDER_SAGA.name, self.saga_id)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sku", default="MUG-001")
    parser.add_argument("--quantity", type=int, default=2)
    parser.add_argument("--amount", type=Decimal, default=Decimal("19.00"), help="order total")
    parser.add_argument("--country", default="DE", help="ISO country of the address")
    parser.add_argument(
        "--wait", type=float, default=90.0, help="seconds for the saga to end, and for each event"
    )
    args = parser.parse_args(argv)

    config = load_config()
    order_id = uuid.uuid4()
    total = Money(amount=args.amount, currency="EUR")
    unit = Money(amount=(args.amount / args.quantity).quantize(Decimal("0.01")), currency="EUR")
    command = PlaceOrder(
        order_id=order_id,
        customer_id=uuid.uuid4(),
        lines=(OrderLine(sku=args.sku, quantity=args.quantity, unit_price=unit),),
        total=total,
        shipping_address=Address(
            recipient="Grace Hopper",
            line1="Hauptstrasse 5",
            city="Berlin",
            postal_code="10115",
            country=args.country,
        ),
    )
    print(f"order {order_id}")
    traffic = Traffic(config, order_id)
    store = Store.open("sqlite", config)
    try:
        orders_app.publisher.publish(command, correlation_id=str(order_id))
        orders_app.publisher.flush(30.0)
        print(f"-> {command.TYPE}", flush=True)
        return _watch(args, traffic, SagaWatch(store, order_id), store, order_id)
    finally:
        store.close()
        traffic.close()


def _watch(
    args: argparse.Namespace,
    traffic: Traffic,
    saga: SagaWatch,
    store: Store,
    order_id: uuid.UUID,
) -> int:
    deadline = time.monotonic() + args.wait
    status: str | None = None
    instance: SagaInstance | None = None
    while time.monotonic() < deadline:
        traffic.poll(POLL_S)
        rejected = traffic.first(OrderRejected)
        if rejected is not None:
            print("rejected by the Order aggregate: no saga started")
            return 0
        instance = saga.instance()
        if instance is not None and instance.status != status:
            status = instance.status
            print(f"   saga {PLACE_ORDER_SAGA.name} {saga.saga_id}: {status}", flush=True)
        if status in ENDS:
            break
    else:
        print(
            f"the saga did not end within {args.wait:g}s (status {status or 'not started'}):"
            " is every app running? (see examples/README.md)",
            file=sys.stderr,
        )
        return 1
    assert instance is not None
    data: PlaceOrderSagaData = instance.data
    for entry in saga.log():
        step = f" {entry['step']}" if entry.get("step") else ""
        detail = f" ({entry['detail']})" if entry.get("detail") else ""
        print(f"   log {entry['seq']}: {entry['cause']}: -> {entry['to_status']}{step}{detail}")
    if status in ("STUCK", "FAILED"):
        print(f"saga {status}: {instance.reason}", file=sys.stderr)
        return 3
    if status == "COMPENSATED":
        traffic.poll(POLL_S)  # the last compensation's reply, if it is not printed yet
        print(f"compensated: {data.failure_reason or instance.reason}")
        return 0
    return _fulfilment(args, traffic, store, order_id)


def _fulfilment(
    args: argparse.Namespace, traffic: Traffic, store: Store, order_id: uuid.UUID
) -> int:
    """After COMPLETED: OrderFulfilment ships the order and commits its stock."""
    shipped = traffic.wait_for(ShipmentDispatched, ShipmentFailed, timeout_s=args.wait)
    if shipped is None:
        print("no shipment event in time: is ship-confirmed-orders running?", file=sys.stderr)
        return 1
    if not isinstance(shipped, ShipmentDispatched):
        print("not shipped (refund-orders refunds it)")
        return 0
    if traffic.wait_for(StockCommitted, timeout_s=args.wait) is None:
        print("no StockCommitted in time: is commit-dispatched-stock running?", file=sys.stderr)
        return 1
    with store.transaction() as conn:
        position = event_store.head_position(conn)  # ConfirmOrder's event is in the store
    order_summary.wait_until(store.connection, position, timeout_s=args.wait)
    summary = get_order_summary(store.connection, order_id=order_id)
    if summary is None:
        print("   GetOrderSummary: no row yet", file=sys.stderr)
        return 1
    print(f"   GetOrderSummary: {_summary(summary)}")
    print(f"shipped with {shipped.carrier.value} {shipped.tracking_number}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
