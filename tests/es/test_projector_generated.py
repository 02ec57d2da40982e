"""The generated OrderSummary projection (the example's `orders_projections`) on this runtime:
its row model, columns and `project` function, fed from the generated orders event store,
read back through the generated query `get_order_summary`, rebuilt, on SQLite."""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path

from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.db import Store
from eventgen.runtime.es.projector import Projector
from tests.emit_services.helpers import EXAMPLE, build, import_fresh
from tests.es.projector_proc import Shop, shop_messages


def test_generated_order_summary_from_the_store(tmp_path: Path) -> None:
    out = tmp_path / "out"
    build(EXAMPLE, out)
    module = import_fresh(out, "shop_events", "orders_projections")
    shop = Shop(shop_messages(out))
    # The store source only: the Kafka topics of the spec are shared names on the test broker.
    spec = replace(module.ORDER_SUMMARY_SPEC, topics=(), group="")
    projector = Projector(replace(module.ORDER_SUMMARY, spec=spec), module.event_store)
    config = RuntimeConfig(sqlite_path=str(tmp_path / "shop.sqlite3"))
    store = Store.open("sqlite", config)
    try:
        orders = [uuid.uuid4() for _ in range(3)]
        with store.transaction(immediate=True) as conn:
            module.event_store.ensure_schema(conn)
            for n, order in enumerate(orders):
                events = [shop.make("OrderPlaced", order, n)]
                if n == 1:
                    events.append(shop.make("OrderConfirmed", order))
                if n == 2:
                    events.append(shop.make("OrderArchived", order))
                module.event_store.append(conn, f"Order-{order}", 0, events)
        head = module.event_store.head_position(store.connection)
        stats = projector.run(config=config, idle_exit_s=0.3)
        assert (stats.events, stats.missed, stats.rows_deleted) == (5, 0, 0)
        projector.wait_until(store.connection, head, timeout_s=5)

        first = module.get_order_summary(store.connection, order_id=orders[0])
        assert isinstance(first, module.OrderSummary)
        assert (first.status, first.total, first.currency) == ("PLACED", shop_total(0), "EUR")
        assert (first.declined_payments, first.tracking_numbers) == (0, ())
        second = module.get_order_summary(store.connection, order_id=orders[1])
        assert second is not None and second.status == "CONFIRMED"
        assert module.get_order_summary(store.connection, order_id=orders[2]) is None

        projector.rebuild(config=config)
        assert module.get_order_summary(store.connection, order_id=orders[0]) == first
        assert module.get_order_summary(store.connection, order_id=orders[1]) == second
    finally:
        store.close()


def shop_total(n: int) -> object:
    from decimal import Decimal

    return Decimal(f"{10 + n}.{n % 100:02d}")
