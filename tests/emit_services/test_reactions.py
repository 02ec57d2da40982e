"""The generated `<service>_reactions.py` of the example: one Reaction per reaction bound to the
service's spec consumer, typed so mypy checks the user's handler (event in, `do` command or
None out), the flow tracker of the choreography, and the manifest entries."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from eventgen.emit.services.reactions import choreography_entries
from eventgen.ir.model import Project
from eventgen.pipeline import load_project
from eventgen.runtime.saga.flows import FlowTracker
from eventgen.runtime.saga.reaction import Reaction
from tests.emit_services.helpers import EXAMPLE, import_fresh, run_mypy

PACKAGE = "shop_events"


@pytest.fixture(scope="module")
def shipping(example_build: Path) -> ModuleType:
    return import_fresh(example_build, PACKAGE, "shipping_reactions")


def _project() -> Project:
    project, found = load_project(EXAMPLE)
    assert project is not None, found
    return project


def test_reactions_are_bound_to_their_consumers(example_build: Path) -> None:
    expected = {
        "shipping_reactions": {"ship_order_on_order_confirmed": "ship-confirmed-orders"},
        "inventory_reactions": {
            "commit_stock_on_shipment_dispatched": "commit-dispatched-stock",
            "release_stock_on_payment_refunded": "release-refunded-stock",
        },
        "payments_reactions": {"refund_payment_on_shipment_failed": "refund-orders"},
    }
    import_fresh(example_build, PACKAGE, "shipping_reactions")
    import importlib

    for module_name, reactions in expected.items():
        module = importlib.import_module(f"{PACKAGE}.{module_name}")
        for attr, consumer in reactions.items():
            reaction = getattr(module, attr)
            assert isinstance(reaction, Reaction)
            assert reaction.app.spec.name == consumer
            assert reaction.on.TYPE in reaction.app.spec.handles
            assert reaction.choreography == "shipping.OrderFulfilment"
            assert reaction.correlation == "order_id"
    payments = importlib.import_module(f"{PACKAGE}.payments_reactions")
    refund = payments.refund_payment_on_shipment_failed
    assert refund.on.TYPE == "shipping.ShipmentFailed"
    assert refund.do.TYPE == "payments.RefundPayment"


def test_tracker(shipping: ModuleType) -> None:
    tracker = shipping.order_fulfilment_tracker
    assert isinstance(tracker, FlowTracker)
    spec = tracker.spec
    assert spec.table == "shipping_flows"
    assert spec.deadline_ms == 30 * 60 * 1000  # `deadline: 30m` in specs/shipping.yaml
    assert spec.success == ("inventory.StockCommitted",)
    assert set(spec.failure) == {"inventory.StockReleased", "payments.RefundFailed"}
    assert spec.started_by == "orders.OrderConfirmed"
    consumer = tracker.consumer_spec
    assert consumer.group == "shipping.order-fulfilment-tracker"
    assert set(consumer.handles) == set(spec.messages)
    assert "shipping.ShipOrder" not in consumer.handles  # commands are the participants'
    topics = {route.topic.name for route in consumer.topics}
    assert {"orders.order-events", "shipping.shipment-events"} <= topics
    assert tracker.app.missing() == []  # every handled message has the tracker's handler


def test_choreography_entries() -> None:
    (entry,) = choreography_entries(_project())
    assert entry["name"] == "OrderFulfilment"
    assert entry["tracker"] == "shop_events.shipping_reactions:order_fulfilment_tracker"
    assert entry["table"] == "shipping_flows"
    assert entry["deadline_ms"] == 1_800_000
    assert entry["diagram"] == "docs/choreographies/OrderFulfilment.md"
    by_python = {r["python"]: r["consumer"] for r in entry["reactions"]}
    assert by_python == {
        "shop_events.shipping_reactions:ship_order_on_order_confirmed": "ship-confirmed-orders",
        "shop_events.inventory_reactions:commit_stock_on_shipment_dispatched": (
            "commit-dispatched-stock"
        ),
        "shop_events.payments_reactions:refund_payment_on_shipment_failed": "refund-orders",
        "shop_events.inventory_reactions:release_stock_on_payment_refunded": (
            "release-refunded-stock"
        ),
    }


CORRECT = """\
from typing import Any

from eventgen.runtime.app import Context
from shop_events.orders import OrderConfirmed
from shop_events.shipping import ShipOrder
from shop_events.shipping_reactions import ship_order_on_order_confirmed


@ship_order_on_order_confirmed.handler
def ship(event: OrderConfirmed, ctx: Context[Any]) -> ShipOrder | None:
    return None
"""

WRONG_RETURN = """\
from typing import Any

from eventgen.runtime.app import Context
from shop_events.orders import OrderConfirmed
from shop_events.shipping_reactions import ship_order_on_order_confirmed


@ship_order_on_order_confirmed.handler
def ship(event: OrderConfirmed, ctx: Context[Any]) -> OrderConfirmed:
    return event
"""

WRONG_EVENT = """\
from typing import Any

from eventgen.runtime.app import Context
from shop_events.shipping import ShipmentDispatched, ShipOrder
from shop_events.shipping_reactions import ship_order_on_order_confirmed


@ship_order_on_order_confirmed.handler
def ship(event: ShipmentDispatched, ctx: Context[Any]) -> ShipOrder | None:
    return None
"""


def test_typed_handler_passes_mypy(example_build: Path) -> None:
    (example_build / "reactions_ok.py").write_text(CORRECT, encoding="utf-8")
    done = run_mypy(example_build, "reactions_ok.py")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("name", ["return", "event"])
def test_wrong_handler_is_a_mypy_error(example_build: Path, name: str) -> None:
    text = WRONG_RETURN if name == "return" else WRONG_EVENT
    module = f"reactions_wrong_{name}.py"
    (example_build / module).write_text(text, encoding="utf-8")
    done = run_mypy(example_build, module)
    assert done.returncode == 1, done.stdout + done.stderr
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert errors and all(e.startswith(f"{module}:8: error:") for e in errors), done.stdout
    assert any("arg-type" in e for e in errors), done.stdout


def test_tracker_is_runnable_by_the_runner(shipping: ModuleType) -> None:
    from eventgen.runtime import runner

    target = "shop_events.shipping_reactions:order_fulfilment_tracker"
    assert runner.resolve(target) is shipping.order_fulfilment_tracker
