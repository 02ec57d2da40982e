"""Orders' handlers: the sales dashboard feed (order-metrics).

    python -m eventgen.runtime run orders_service:order_metrics

order-metrics is at-most-once with no store: offsets are committed before the batch is handled,
so a crash loses a sample and never counts one twice, as its spec asks. The "dashboard" is this
process's log and the `METRICS` counters.

The context's other consumer, order-command-handler (PlaceOrder, CancelOrder, ... on the Order
aggregate), is not here: its handlers are generated from the spec's `aggregates:`
(`python -m eventgen.runtime run shop_events.orders_aggregates:order_command_handler`). See
examples/README.md and docs/event-sourcing.md.
"""

from __future__ import annotations

import logging
from collections import Counter
from decimal import Decimal

from shop_events.orders import OrderCancelled, OrderPlaced
from shop_events.orders_app import OrderMetricsBatch, order_metrics
from shop_events.payments import CardCharged

__all__ = ["METRICS", "REVENUE", "order_metrics"]

log = logging.getLogger("shop.orders")

METRICS: Counter[str] = Counter()  # placed, cancelled, charged, and by sales channel
REVENUE: dict[str, Decimal] = {}  # charged amounts by currency


@order_metrics.on_batch
def record(items: OrderMetricsBatch) -> None:
    for message, _ctx in items:
        if isinstance(message, OrderPlaced):
            METRICS["placed"] += 1
            METRICS[f"channel:{message.channel.value}"] += 1
        elif isinstance(message, OrderCancelled):
            METRICS["cancelled"] += 1
        elif isinstance(message, CardCharged):
            METRICS["charged"] += 1
            currency = message.amount.currency
            REVENUE[currency] = REVENUE.get(currency, Decimal(0)) + message.amount.amount
    revenue = ", ".join(f"{amount} {currency}" for currency, amount in sorted(REVENUE.items()))
    log.info("order metrics: %s; revenue %s", dict(sorted(METRICS.items())), revenue or "none")
