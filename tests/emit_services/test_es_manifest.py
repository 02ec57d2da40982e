"""The manifest's event-sourcing sections and the `eventgen projections` command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from eventgen.emit import layout
from tests.emit_services.helpers import ROOT, import_fresh

PACKAGE = "shop_events"


def _manifest(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "eventgen-manifest.json").read_text())
    return data


def _one(entries: list[dict[str, Any]], name: str) -> dict[str, Any]:
    found = [e for e in entries if e["name"] == name]
    assert len(found) == 1, [e["name"] for e in entries]
    return found[0]


def test_aggregates_section(example_build: Path) -> None:
    manifest = _manifest(example_build)
    assert [a["qualified"] for a in manifest["aggregates"]] == ["orders.Order"]
    order = _one(manifest["aggregates"], "Order")
    assert order["python"] == f"{PACKAGE}.orders_aggregates:order"
    assert order["event_store"] == f"{PACKAGE}.orders_aggregates:event_store"
    assert order["tables"] == {"events": "orders_events", "snapshots": "orders_snapshots"}
    assert order["snapshot_every"] == 100
    assert order["command_consumers"] == ["order-command-handler"]
    assert order["commands"] == sorted(order["commands"])
    assert "orders.PlaceOrder" in order["commands"] and "orders.ConfirmOrder" in order["commands"]
    assert order["events"].count("orders.OrderPlaced") == 1


def test_command_consumer_points_at_the_aggregates_module(example_build: Path) -> None:
    consumers = _manifest(example_build)["consumers"]
    handler = _one(consumers, "order-command-handler")
    assert handler["python"] == f"{PACKAGE}.orders_aggregates:order_command_handler"
    # Every other consumer keeps its app module (user-written handlers).
    metrics = _one(consumers, "order-metrics")
    assert metrics["python"] == f"{PACKAGE}.orders_app:order_metrics"
    app = import_fresh(example_build, PACKAGE, "orders_app")
    assert app.order_command_handler.spec.handlers_module == f"{PACKAGE}.orders_aggregates"
    assert app.order_metrics.spec.handlers_module is None


def test_projections_section_sources(example_build: Path) -> None:
    projections = _manifest(example_build)["projections"]
    summary = _one(projections, "OrderSummary")
    assert summary["python"] == f"{PACKAGE}.orders_projections:order_summary"
    assert summary["table"] == "order_summary"
    assert summary["group"] == "orders.order-summary-projector"
    # Order events come from the store; the other contexts' events from their topics.
    assert summary["sources"] == {
        "store": True,
        "topics": ["inventory.stock-events", "payments.payment-events", "shipping.shipment-events"],
    }
    assert len(summary["handles"]) == 11  # from all four contexts
    level = _one(projections, "StockLevel")
    assert level["sources"] == {"store": False, "topics": ["inventory.stock-levels"]}


def test_queries_section(example_build: Path) -> None:
    queries = _manifest(example_build)["queries"]
    summary = _one(queries, "GetOrderSummary")
    assert summary["python"] == f"{PACKAGE}.orders_projections:get_order_summary"
    assert summary["projection"] == "orders.OrderSummary"
    assert summary["table"] == "order_summary"
    assert summary["params"] == ["order_id"]
    payment = _one(queries, "GetPayment")  # returns a type, not a projection
    assert payment["projection"] is None and payment["table"] is None
    assert payment["returns"] == "payments.PaymentView"


def test_layout_names() -> None:
    assert layout.aggregate_attr("Order") == "order"
    assert layout.projector_attr("OrderSummary") == "order_summary"
    assert layout.query_attr("GetOrderSummary") == "get_order_summary"
    assert layout.projection_table("HTTPRequestLog") == "http_request_log"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eventgen", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_projections_list(example_build: Path) -> None:
    done = _cli("projections", "list", "--manifest", str(example_build / "eventgen-manifest.json"))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 3
    assert lines[1].split("\t")[:2] == ["orders.OrderSummary", "order_summary"]


def test_projections_rebuild_unknown_name_fails(example_build: Path) -> None:
    manifest = str(example_build / "eventgen-manifest.json")
    done = _cli("projections", "rebuild", "Nope", "--manifest", manifest)
    assert done.returncode == 2  # a usage error, as the CLI's other ClickExceptions
    assert "Nope is not a projection of this build" in done.stderr
    assert "orders.OrderSummary" in done.stderr
    missing = _cli("projections", "list", "--manifest", str(example_build / "absent.json"))
    assert missing.returncode == 2
    assert "cannot read the build manifest" in missing.stderr
