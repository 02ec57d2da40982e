"""Place one order in the running shop and print every reply it gets.

    python examples/shop/place_order.py                      # 2 mugs, 19.00 EUR, to Berlin
    python examples/shop/place_order.py --amount 5.13        # the fake gateway declines it
    python examples/shop/place_order.py --quantity 50        # out of stock
    python examples/shop/place_order.py --country US         # no delivery slot

It sends PlaceOrder to the Order aggregate (the generated order-command-handler decides it,
appends OrderPlaced to the orders event store and, through the outbox and its relay, publishes
it), then plays PlaceOrderSaga's part, which is not generated yet: ReserveStock, then
BookDeliverySlot, then ChargeCard, each after the previous step's success reply, compensating
(ReleaseDeliverySlot, ReleaseStock) when a step fails. When the card is charged it runs the
saga's local step, ConfirmOrder, on the Order aggregate in its own transaction (the relay
publishes OrderConfirmed), and the OrderFulfilment choreography takes over by itself:
ship-confirmed-orders sends ShipOrder, shipping replies ShipmentDispatched, inventory commits
the stock (StockCommitted). At the end it asks the GetOrderSummary query, answered from the
OrderSummary read model (the order_summary projector), after waiting until the projector has
applied the aggregate's last event (read-your-writes). Every command carries the order id as
its correlation id; the apps' replies inherit it.

Kafka from `KAFKA_BOOTSTRAP_SERVERS`, the orders store from `EVENTGEN_SQLITE_PATH` (as the
runner). Exits 0 when the order reached its end (confirmed and StockCommitted, or compensated,
or rejected), 1 when a reply did not come within `--wait`.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from decimal import Decimal
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from shop_events import inventory_app, orders_app, payments_app, shipping_app
from shop_events.inventory import (
    ReleaseStock,
    ReserveStock,
    StockCommitted,
    StockReleased,
    StockReservationFailed,
    StockReserved,
)
from shop_events.orders import (
    Address,
    ConfirmOrder,
    Money,
    OrderLine,
    OrderPlaced,
    OrderRejected,
    PlaceOrder,
)
from shop_events.orders_aggregates import event_store, order
from shop_events.orders_projections import get_order_summary, order_summary
from shop_events.payments import CardCharged, CardDeclined, ChargeCard
from shop_events.shipping import (
    BookDeliverySlot,
    DeliverySlotBooked,
    DeliverySlotBookingFailed,
    DeliverySlotReleased,
    ReleaseDeliverySlot,
    ShipmentDispatched,
    ShipmentFailed,
)

from eventgen.runtime.config import RuntimeConfig, load_config
from eventgen.runtime.db import Store
from eventgen.runtime.errors import DecodeError
from eventgen.runtime.model import Envelope, Message, Record
from eventgen.runtime.serde import codec_for
from eventgen.runtime.spec import Route

REPLY_ROUTES: list[Route] = [
    orders_app.ROUTE_ORDERS_ORDER_EVENTS,
    inventory_app.ROUTE_INVENTORY_STOCK_EVENTS,
    shipping_app.ROUTE_SHIPPING_SHIPMENT_EVENTS,
    payments_app.ROUTE_PAYMENTS_PAYMENT_EVENTS,
]


class Replies:
    """Reads the reply topics from their ends as of construction, keeping one order's replies.

    The ends are read before anything is published, so no reply can slip in before the reader
    is positioned (positioning at OFFSET_END would resolve lazily, after a fast reply).
    """

    def __init__(self, config: RuntimeConfig, order_id: uuid.UUID) -> None:
        self.config = config
        self.order_id = order_id
        self.routes = {route.topic.name: route for route in REPLY_ROUTES}
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

    def wait_for(self, *types: type[Message], timeout_s: float) -> Message | None:
        """The first new reply of the order whose type is one of `types`; None on timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            records: list[Any] = self.consumer.consume(num_messages=100, timeout=0.5)
            for record in records:
                if record.error() is not None:
                    continue
                route = self.routes[record.topic()]
                try:
                    envelope = codec_for(route, self.config).decode(record, route)
                except DecodeError:
                    continue  # not a record of this platform's schemas: nobody's reply to us
                payload: Any = envelope.payload
                if getattr(payload, "order_id", None) != self.order_id:
                    continue
                self.seen.append(envelope)
                print(f"  <- {envelope.type}: {_summary(envelope.payload)}")
            for envelope in self.seen:
                if isinstance(envelope.payload, types):
                    self.seen.remove(envelope)
                    return envelope.payload
        return None

    def close(self) -> None:
        self.consumer.close()


def _summary(message: Record) -> str:
    fields = message.model_dump(mode="json", exclude={"order_id"})
    return ", ".join(f"{k}={v}" for k, v in fields.items() if v not in (None, [], {}))[:300]


def send(message: Message, order_id: uuid.UUID) -> None:
    publisher = {
        "orders": orders_app.publisher,
        "inventory": inventory_app.publisher,
        "shipping": shipping_app.publisher,
        "payments": payments_app.publisher,
    }[message.TYPE.split(".")[0]]
    publisher.publish(message, correlation_id=str(order_id))
    publisher.flush(30.0)
    print(f"-> {message.TYPE}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sku", default="MUG-001")
    parser.add_argument("--quantity", type=int, default=2)
    parser.add_argument("--amount", type=Decimal, default=Decimal("19.00"), help="order total")
    parser.add_argument("--country", default="DE", help="ISO country of the address")
    parser.add_argument("--descriptor", default="SHOP", help="GATEWAY DOWN: the PSP fails")
    parser.add_argument("--wait", type=float, default=30.0, help="seconds per reply")
    args = parser.parse_args(argv)

    config = load_config()
    order_id, customer_id = uuid.uuid4(), uuid.uuid4()
    total = Money(amount=args.amount, currency="EUR")
    unit = Money(amount=(args.amount / args.quantity).quantize(Decimal("0.01")), currency="EUR")
    lines = (OrderLine(sku=args.sku, quantity=args.quantity, unit_price=unit),)
    address = Address(
        recipient="Grace Hopper",
        line1="Hauptstrasse 5",
        city="Berlin",
        postal_code="10115",
        country=args.country,
    )
    print(f"order {order_id}")
    replies = Replies(config, order_id)
    try:
        return _place(args, replies, order_id, customer_id, total, lines, address)
    finally:
        replies.close()


def _place(
    args: argparse.Namespace,
    replies: Replies,
    order_id: uuid.UUID,
    customer_id: uuid.UUID,
    total: Money,
    lines: tuple[OrderLine, ...],
    address: Address,
) -> int:
    send(
        PlaceOrder(
            order_id=order_id,
            customer_id=customer_id,
            lines=lines,
            total=total,
            shipping_address=address,
        ),
        order_id,
    )
    placed = replies.wait_for(OrderPlaced, OrderRejected, timeout_s=args.wait)
    if not isinstance(placed, OrderPlaced):
        return _end(placed, "rejected by the Order aggregate")

    send(ReserveStock(order_id=order_id, lines=lines), order_id)
    stock = replies.wait_for(StockReserved, StockReservationFailed, timeout_s=args.wait)
    if not isinstance(stock, StockReserved):
        return _end(stock, "no stock: the order ends here")

    send(BookDeliverySlot(order_id=order_id, address=address), order_id)
    slot = replies.wait_for(DeliverySlotBooked, DeliverySlotBookingFailed, timeout_s=args.wait)
    if not isinstance(slot, DeliverySlotBooked):
        _compensate(replies, order_id, stock, None, args.wait)
        return _end(slot, "no delivery slot: stock released")

    charge = ChargeCard(
        order_id=order_id,
        customer_id=customer_id,
        amount=total,
        statement_descriptor=args.descriptor,
    )
    send(charge, order_id)
    paid = replies.wait_for(CardCharged, CardDeclined, timeout_s=args.wait)
    if not isinstance(paid, CardCharged):
        # Declined, or no answer in time (as the saga's step timeout: a charge that was
        # dead-lettered never answers): compensate either way.
        _compensate(replies, order_id, stock, slot, args.wait)
        if paid is None:
            print("no payment reply in time: slot and stock released", file=sys.stderr)
            return 1
        return _end(paid, "card declined: slot and stock released")

    # The pivot succeeded: the saga's last step is local, ConfirmOrder on the Order aggregate,
    # in one transaction with the outbox rows the relay then publishes (OrderConfirmed).
    store = Store.open("sqlite", load_config())
    try:
        with store.transaction(immediate=True) as conn:
            order.handle(conn, ConfirmOrder(order_id=order_id, payment_id=paid.payment_id))
            position = event_store.head_position(conn)
        print(f"   ConfirmOrder on the Order aggregate (store position {position})")
        shipped = replies.wait_for(ShipmentDispatched, ShipmentFailed, timeout_s=args.wait)
        if not isinstance(shipped, ShipmentDispatched):
            return _end(shipped, "not shipped (refund-orders refunds it)")
        committed = replies.wait_for(StockCommitted, timeout_s=args.wait)
        if committed is not None:
            _summary_of(store, order_id, position, args.wait)
    finally:
        store.close()
    return _end(committed, f"shipped with {shipped.carrier.value} {shipped.tracking_number}")


def _summary_of(store: Store, order_id: uuid.UUID, position: int, wait: float) -> None:
    """GetOrderSummary once the projector applied the order's events up to `position`."""
    order_summary.wait_until(store.connection, position, timeout_s=wait)
    summary = get_order_summary(store.connection, order_id=order_id)
    if summary is None:
        print("   GetOrderSummary: no row yet", file=sys.stderr)
        return
    print(f"   GetOrderSummary: {_summary(summary)}")


def _compensate(
    replies: Replies,
    order_id: uuid.UUID,
    stock: StockReserved,
    slot: DeliverySlotBooked | None,
    wait: float,
) -> None:
    if slot is not None:
        send(ReleaseDeliverySlot(order_id=order_id, slot_id=slot.slot.slot_id), order_id)
        replies.wait_for(DeliverySlotReleased, timeout_s=wait)
    send(ReleaseStock(order_id=order_id, reservation_id=stock.reservation_id), order_id)
    replies.wait_for(StockReleased, timeout_s=wait)


def _end(reply: Message | None, outcome: str) -> int:
    if reply is None:
        print("no reply in time: is every app running? (see examples/README.md)", file=sys.stderr)
        return 1
    print(outcome)
    return 0


if __name__ == "__main__":
    sys.exit(main())
