"""The example's generated Order aggregate behind its command consumer, on the real Kafka.

order-commands -> `order_command_handler` (handlers `order.handle_consumed`, registered by
`shop_events.orders_aggregates`) -> event store + outbox in one SQLite transaction -> the
generated relay -> order-events. Topics and the group are renamed per test run.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.model import Envelope, Message
from eventgen.runtime.serde import codec_for, encode_key
from eventgen.runtime.spec import Route
from tests.emit_services.helpers import EXAMPLE, ROOT, build, import_fresh
from tests.runtime.apps.kit import Raw, produce, read_all, topics, unique

pytestmark = pytest.mark.kafka


def _renamed_example(tmp_path: Path, base: str) -> Path:
    """The example specs with the orders topics, the command DLQ and the group renamed."""
    specs = tmp_path / "specs"
    shutil.copytree(EXAMPLE, specs)
    orders = specs / "orders.yaml"
    text = orders.read_text(encoding="utf-8")
    edits = [
        ("  order-events:\n    doc:", f"  order-events:\n    name: {base}.order-events\n    doc:"),
        (
            "  order-commands:\n    doc:",
            f"  order-commands:\n    name: {base}.order-commands\n    doc:",
        ),
        ("dlq: {name: orders.order-commands.dlq,", f"dlq: {{name: {base}.order-commands.dlq,"),
        ("group: orders.order-command-handler", f"group: {base}-order-command-handler"),
    ]
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    orders.write_text(text, encoding="utf-8")
    return specs


def _record(route: Route, config: RuntimeConfig, envelope: Envelope[Message]) -> Raw:
    value, headers = codec_for(route, config).encode(envelope, route)
    return None, encode_key(route, envelope.payload), value, headers


def _place_order(orders: ModuleType, order_id: uuid.UUID) -> Any:
    line = {"sku": "MUG-001", "quantity": 2, "unit_price": {"amount": "9.50", "currency": "EUR"}}
    command = orders.PlaceOrder.model_validate(
        {
            "order_id": str(order_id),
            "customer_id": str(uuid.uuid4()),
            "lines": [line],
            "total": {"amount": "19.00", "currency": "EUR"},
            "shipping_address": {
                "recipient": "Ada Lovelace",
                "line1": "12 St James's Square",
                "city": "London",
                "postal_code": "SW1Y 4JH",
                "country": "GB",
            },
        }
    )
    return command


def test_order_command_handler_decides_appends_and_publishes_through_the_outbox(
    kafka_bootstrap_servers: str, tmp_path: Path
) -> None:
    base = unique("agg")
    out = tmp_path / "out"
    build(_renamed_example(tmp_path, base), out)
    commands_topic, events_topic = f"{base}.order-commands", f"{base}.order-events"
    config = RuntimeConfig(
        bootstrap_servers=kafka_bootstrap_servers,
        sqlite_path=str(tmp_path / "orders.sqlite3"),
        connect_timeout_s=20.0,
    )
    wanted = {commands_topic: 2, f"{base}.order-commands.dlq": 1, events_topic: 2}
    with topics(kafka_bootstrap_servers, {**wanted, f"{events_topic}.dlq": 1}):
        aggregates = import_fresh(out, "shop_events", "orders_aggregates")
        orders = sys.modules["shop_events.orders"]
        app_module = sys.modules["shop_events.orders_app"]
        handler = aggregates.order_command_handler
        route: Route = next(r for r in handler.spec.topics if r.topic.name == commands_topic)

        order_id = uuid.uuid4()
        place = _place_order(orders, order_id).envelope(correlation_id="checkout-1")
        place_again = _place_order(orders, order_id).envelope()  # a new command: rejected
        note = orders.AddOrderNote(order_id=order_id, text="gift, no invoice").envelope()
        produce(
            kafka_bootstrap_servers,
            commands_topic,
            [
                _record(route, config, place),
                _record(route, config, place),  # redelivered: same event_id
                _record(route, config, place_again),
                _record(route, config, note),
                _record(route, config, note),  # redelivered: same event_id
            ],
        )
        stats = handler.run(config, max_messages=5, idle_exit_s=15.0)
        assert (stats.handled, stats.duplicates, stats.dead_lettered) == (3, 2, 0)

        conn = sqlite3.connect(config.sqlite_path, isolation_level=None)
        try:
            conn.execute("BEGIN")
            stored = list(aggregates.event_store.read_stream(conn, f"Order-{order_id}"))
            state, version = aggregates.order.load(conn, order_id)
            conn.execute("COMMIT")
        finally:
            conn.close()
        # The inbox kept each command to one decision: one OrderPlaced, one note.
        assert [(s.version, s.envelope.type) for s in stored] == [
            (1, "orders.OrderPlaced"),
            (2, "orders.OrderNoteAdded"),
        ]
        assert version == 2
        assert state.status == orders.OrderStatus.PLACED
        assert list(state.notes) == ["gift, no invoice"]

        published = app_module.relay.run(config, idle_exit_s=3.0)
        assert published.published == 3

        event_route: Route = next(
            r for _, r in aggregates.outbox.spec.publisher.routes if r.topic.name == events_topic
        )
        codec = codec_for(event_route, config)
        records = read_all(kafka_bootstrap_servers, events_topic, expect=3)
        got = sorted(
            (codec.decode(record, event_route) for record in records),
            key=lambda e: e.occurred_at,
        )
        by_type: dict[str, Envelope[Any]] = {e.type: e for e in got}
        assert sorted(by_type) == [
            "orders.OrderNoteAdded", "orders.OrderPlaced", "orders.OrderRejected",
        ]  # fmt: skip

        placed = by_type["orders.OrderPlaced"]
        assert placed.event_id == stored[0].envelope.event_id  # the stored event, published
        assert placed.causation_id == place.event_id
        assert placed.correlation_id == "checkout-1"
        assert placed.payload.placed_at == place.occurred_at  # $meta.occurred_at
        rejected = by_type["orders.OrderRejected"]
        assert rejected.causation_id == place_again.event_id
        assert rejected.payload.order_id == order_id
        assert "status == UNKNOWN" in rejected.payload.reason
        noted = by_type["orders.OrderNoteAdded"]
        assert noted.event_id == stored[1].envelope.event_id
        assert noted.causation_id == note.event_id


def test_the_runner_runs_the_command_handler_from_its_app_module(
    kafka_bootstrap_servers: str, tmp_path: Path
) -> None:
    """`run shop_events.orders_app:order_command_handler`: the app's spec names the aggregates
    module, whose import registers the repository's handlers; then the relay, also run."""
    base = unique("aggrun")
    out = tmp_path / "out"
    build(_renamed_example(tmp_path, base), out)
    commands_topic, events_topic = f"{base}.order-commands", f"{base}.order-events"
    config = RuntimeConfig(bootstrap_servers=kafka_bootstrap_servers)
    wanted = {commands_topic: 2, f"{base}.order-commands.dlq": 1, events_topic: 2}
    with topics(kafka_bootstrap_servers, {**wanted, f"{events_topic}.dlq": 1}):
        import_fresh(out, "shop_events", "orders_app")
        orders = sys.modules["shop_events.orders"]
        app_module = sys.modules["shop_events.orders_app"]
        route: Route = next(
            r
            for r in app_module.order_command_handler.spec.topics
            if r.topic.name == commands_topic
        )
        order_id = uuid.uuid4()
        place = _place_order(orders, order_id).envelope()
        cancel = orders.CancelOrder(order_id=order_id, reason="changed my mind").envelope()
        archive = orders.ArchiveOrder(order_id=order_id).envelope()
        address = _place_order(orders, order_id).shipping_address
        # Guard `status == PLACED and ...` false, and no failure reply: logged only.
        late = orders.ChangeShippingAddress(order_id=order_id, address=address).envelope()
        produce(
            kafka_bootstrap_servers,
            commands_topic,
            [_record(route, config, e) for e in (place, cancel, archive, late)],
        )
        env = {
            **os.environ,
            "PYTHONPATH": f"{ROOT}{os.pathsep}{out}",
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers,
            "EVENTGEN_SQLITE_PATH": str(tmp_path / "orders.sqlite3"),
            "EVENTGEN_CONNECT_TIMEOUT": "20",
        }
        for target, limit in [("order_command_handler", "4"), ("relay", "3")]:
            done = subprocess.run(
                [sys.executable, "-m", "eventgen.runtime", "run",
                 f"shop_events.orders_app:{target}", "--max-messages", limit,
                 "--idle-exit", "20"],
                cwd=out, env=env, capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            assert done.returncode == 0, done.stdout + done.stderr
            if target == "order_command_handler":
                assert "`status == PLACED and address_changes < 3` is false" in done.stderr

        event_route = app_module.ROUTE_ORDERS_ORDER_EVENTS
        assert event_route.topic.name == events_topic
        codec = codec_for(event_route, config)
        got = [
            codec.decode(r, event_route) for r in read_all(kafka_bootstrap_servers, events_topic)
        ]
        assert [e.type for e in got] == [
            "orders.OrderPlaced", "orders.OrderCancelled", "orders.OrderArchived",
        ]  # fmt: skip
        assert [e.causation_id for e in got] == [place.event_id, cancel.event_id, archive.event_id]
        cancelled: Any = got[1].payload
        assert cancelled.previous_status == orders.OrderStatus.PLACED  # $state.status
        assert cancelled.cancelled_at == cancel.occurred_at  # $meta.occurred_at
