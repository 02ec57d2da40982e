"""Publish the shop's other inputs: goods receipts, carrier callbacks, cancellations.

    python examples/shop/send.py receipt MUG-001 HAM1 20         # StockReceived (stock-ledger)
    python examples/shop/send.py callback DHL0123456789ABCDEF transit   # CarrierStatusReceived
    python examples/shop/send.py cancel ORDER_ID "changed my mind"      # OrderCancelled

Each is what another system writes in production (the warehouse management system, the
carrier webhook gateway, the Order aggregate), published with the owning context's generated
publisher. Kafka from `KAFKA_BOOTSTRAP_SERVERS`.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from datetime import UTC, datetime

from shop_events import inventory_app, orders_app, shipping_app
from shop_events.inventory import StockReceived, Warehouse
from shop_events.orders import OrderCancelled, OrderStatus
from shop_events.shipping import Carrier, CarrierStatusReceived

from eventgen.runtime.model import Message
from eventgen.runtime.publisher import Publisher


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    receipt = commands.add_parser("receipt", help="goods booked into a warehouse")
    receipt.add_argument("sku")
    receipt.add_argument("warehouse", choices=[w.value for w in Warehouse])
    receipt.add_argument("quantity", type=int)
    callback = commands.add_parser("callback", help="a carrier's tracking callback")
    callback.add_argument("tracking_number")
    callback.add_argument("status", help="label, transit, out_for_delivery, delivered, exception")
    cancel = commands.add_parser("cancel", help="the Order aggregate cancelled an order")
    cancel.add_argument("order_id", type=uuid.UUID)
    cancel.add_argument("reason", nargs="?", default="customer changed their mind")
    args = parser.parse_args(argv)

    now = datetime.now(UTC)
    message: Message
    publisher: Publisher
    if args.command == "receipt":
        message = StockReceived(
            sku=args.sku,
            warehouse=Warehouse(args.warehouse),
            quantity=args.quantity,
            purchase_order=f"PO-{now:%Y%m%d%H%M%S}",
            received_at=now,
        )
        publisher = inventory_app.publisher
    elif args.command == "callback":
        carrier = next((c for c in Carrier if args.tracking_number.startswith(c.value)), None)
        message = CarrierStatusReceived(
            tracking_number=args.tracking_number,
            carrier=carrier or Carrier.OTHER,
            status_code=args.status,
            raw=f'{{"tracking": "{args.tracking_number}", "status": "{args.status}"}}'.encode(),
            received_at=now,
        )
        publisher = shipping_app.publisher
    else:
        message = OrderCancelled(
            order_id=args.order_id,
            reason=args.reason,
            previous_status=OrderStatus.CONFIRMED,
            cancelled_at=now,
        )
        publisher = orders_app.publisher
    envelope = publisher.publish(message)
    publisher.flush(30.0)
    print(f"-> {message.TYPE} (event {envelope.event_id})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
