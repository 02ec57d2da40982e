"""The example shop (examples/shop/) on the real Kafka and PostgreSQL, as examples/README.md runs it.

specs/ is built fresh, its topics applied with `eventgen topics apply --env local` (fixed names,
as in the README; applying twice changes nothing), and each test gets a database of its own on
the PostgreSQL server (the shop tables, the inbox, the parked keys). The apps run as real
processes through the runner, bounded by --idle-exit and --max-messages; the replies are read
back from the reply topics and decoded into the generated models. The topics and the apps'
consumer groups are shared by every run, so the tests pick their records out by order id
(fresh uuids) and never count what the topic holds as a whole.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.errors import DecodeError
from eventgen.runtime.serde import codec_for, encode_key
from tests.emit_services.helpers import build, import_fresh
from tests.runtime.apps.kit import headers_of, produce, read_all

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"
EXAMPLES = ROOT / "examples" / "shop"
APP_TIMEOUT_S = 180  # an app process's whole run, start to exit


@dataclass
class Shop:
    """The built example platform and a private database for one test."""

    built: dict[str, Any]
    bootstrap: str
    dsn: str
    sqlite: Path
    work: Path

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(self.built["out"]), str(EXAMPLES)]),
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "EVENTGEN_POSTGRES_DSN": self.dsn,
            "EVENTGEN_SQLITE_PATH": str(self.sqlite),
            "EVENTGEN_CONNECT_TIMEOUT": "20",
            "EVENTGEN_LOG_INTERVAL": "5",
        }

    def module(self, name: str) -> ModuleType:
        module: ModuleType = self.built[name]
        return module

    def start(self, target: str, *args: str) -> subprocess.Popen[str]:
        """`python -m eventgen.runtime run target ...` in the background (stdout/err piped)."""
        return subprocess.Popen(
            [sys.executable, "-m", "eventgen.runtime", "run", target, *args],
            cwd=self.work,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def sql_exec(self, statement: str, *params: Any) -> None:
        import psycopg

        with psycopg.connect(self.dsn, connect_timeout=10) as conn:
            conn.execute(statement, params)

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.dsn, connect_timeout=10) as conn:
            return list(conn.execute(query, params).fetchall())


def finish(process: subprocess.Popen[str], timeout: float = APP_TIMEOUT_S) -> str:
    """Wait for a self-stopping process (kill it past `timeout`); its output."""
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate(timeout=30)
        pytest.fail(f"{process.args!r} did not stop within {timeout}s:\n{output[-4000:]}")
    return output


def stop(processes: list[subprocess.Popen[str]]) -> list[str]:
    """SIGTERM (the graceful stop) to each, then wait for each; kill and fail past 60 s."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    outputs, late = [], []
    for process in processes:
        try:
            output, _ = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate(timeout=30)
            late.append(f"{process.args!r} did not stop within 60 s of SIGTERM:\n{output[-3000:]}")
        outputs.append(output)
    if late:
        pytest.fail("\n".join(late))
    return outputs


@pytest.fixture(scope="module")
def shop_build(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """specs/ built once for the module: the output folder and its service modules."""
    out = tmp_path_factory.mktemp("shop") / "out"
    build(SPECS, out)
    built: dict[str, Any] = {"out": out}
    import_fresh(out, "shop_events", "orders")  # drops any other build's shop_events first
    for name in ("orders", "inventory", "payments", "shipping"):
        built[name] = importlib.import_module(f"shop_events.{name}")
        built[f"{name}_app"] = importlib.import_module(f"shop_events.{name}_app")
    return built


@pytest.fixture(scope="module")
def shop_topics(kafka_bootstrap_servers: str) -> None:
    """The example's topics on the broker, as the README creates them."""
    applied = subprocess.run(
        [sys.executable, "-m", "eventgen", "topics", "apply", str(SPECS), "--env", "local",
         "--bootstrap-servers", kafka_bootstrap_servers, "--timeout", "30"],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert applied.returncode == 0, applied.stdout + applied.stderr


@pytest.fixture
def shop(
    shop_build: dict[str, Any],
    shop_topics: None,
    kafka_bootstrap_servers: str,
    postgres_dsn: str,
    tmp_path: Path,
) -> Iterator[Shop]:
    import psycopg

    database = f"shop_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_dsn, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f"CREATE DATABASE {database}")
    base, _, _ = postgres_dsn.partition("?")
    dsn = base.rsplit("/", 1)[0] + "/" + database
    sqlite = tmp_path / "shipping.sqlite3"
    shop = Shop(shop_build, kafka_bootstrap_servers, dsn, sqlite, tmp_path)
    try:
        created = subprocess.run(
            [sys.executable, str(EXAMPLES / "shop_db.py")],
            cwd=tmp_path, env=shop.env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert created.returncode == 0, created.stdout + created.stderr
        yield shop
    finally:
        with psycopg.connect(postgres_dsn, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def publisher(shop: Shop, context: str) -> Any:
    pub = shop.module(f"{context}_app").publisher
    pub.configure(RuntimeConfig(bootstrap_servers=shop.bootstrap))
    return pub


def replies(shop: Shop, route: Any, orders: set[uuid.UUID]) -> dict[uuid.UUID, list[Any]]:
    """Every envelope on `route`'s topic of one of `orders`, in offset order per order."""
    codec = codec_for(route, RuntimeConfig())
    found: dict[uuid.UUID, list[Any]] = {order: [] for order in orders}
    for record in read_all(shop.bootstrap, route.topic.name):
        try:
            envelope = codec.decode(record, route)
        except DecodeError:
            continue  # a record of another spec version left by someone else: not ours
        order = getattr(envelope.payload, "order_id", None)
        if order in found:
            found[order].append(envelope)
    return found


def types_of(envelopes: list[Any]) -> list[str]:
    return [type(e.payload).__name__ for e in envelopes]


@pytest.mark.kafka
@pytest.mark.postgres
def test_inventory_command_handler_reserves_commits_and_releases(shop: Shop) -> None:
    inv = shop.module("inventory")
    orders = shop.module("orders")
    app = shop.module("inventory_app")
    pub = publisher(shop, "inventory")
    eur = orders.Money(amount=Decimal("9.50"), currency="EUR")

    def line(sku: str, quantity: int) -> Any:
        return orders.OrderLine(sku=sku, quantity=quantity, unit_price=eur)

    split, short, resent, duplicate = (uuid.uuid4() for _ in range(4))
    sent: dict[uuid.UUID, list[Any]] = {}
    for order, message in [
        # 6 mugs: BER1 has 5, HAM1 3 (shop_db.SEED_STOCK), so the reservation spans both.
        (split, inv.ReserveStock(order_id=split, lines=(line("MUG-001", 6),))),
        (split, inv.CommitStock(order_id=split)),
        (short, inv.ReserveStock(order_id=short, lines=(line("POSTER-A2", 2),))),
        # The saga sending its command again (a new event id): the same reservation back.
        (resent, inv.ReserveStock(order_id=resent, lines=(line("TEE-BLK-M", 3),))),
        (resent, inv.ReserveStock(order_id=resent, lines=(line("TEE-BLK-M", 3),))),
        (resent, inv.ReleaseStock(order_id=resent)),
    ]:
        sent.setdefault(order, []).append(pub.publish(message, correlation_id=f"c-{order}"))
    pub.flush(30.0)
    # A redelivery: the very same record (same event id) twice. The inbox lets one through.
    command = inv.ReserveStock(order_id=duplicate, lines=(line("TEE-BLK-M", 1),))
    route = app.ROUTE_INVENTORY_INVENTORY_COMMANDS
    envelope = command.envelope(correlation_id=f"c-{duplicate}")
    value, headers = codec_for(route, RuntimeConfig()).encode(envelope, route)
    record = (None, encode_key(route, command), value, headers)
    produce(shop.bootstrap, route.topic.name, [record, record])

    process = shop.start(
        "inventory_service:inventory_command_handler", "--idle-exit", "8", "--max-messages", "500"
    )
    output = finish(process)
    assert process.returncode == 0, output

    got = replies(shop, app.ROUTE_INVENTORY_STOCK_EVENTS, {split, short, resent, duplicate})
    assert types_of(got[split]) == ["StockReserved", "StockCommitted"], output
    reserved, committed = (e.payload for e in got[split])
    assert sorted((p.sku, p.quantity, p.warehouse.value) for p in reserved.lines) == [
        ("MUG-001", 1, "HAM1"),
        ("MUG-001", 5, "BER1"),
    ]
    assert committed.reservation_id == reserved.reservation_id
    # Replies carry the command's correlation id and name the command as their cause.
    assert [e.correlation_id for e in got[split]] == [f"c-{split}"] * 2
    assert [e.causation_id for e in got[split]] == [e.event_id for e in sent[split]]

    (failed,) = got[short]
    assert type(failed.payload).__name__ == "StockReservationFailed"
    assert [(s.sku, s.requested, s.available) for s in failed.payload.short_lines] == [
        ("POSTER-A2", 2, 1)
    ]

    assert types_of(got[resent]) == ["StockReserved", "StockReserved", "StockReleased"]
    first, again, released = (e.payload for e in got[resent])
    assert again.reservation_id == first.reservation_id
    assert released.reservation_id == first.reservation_id  # what the order held

    assert types_of(got[duplicate]) == ["StockReserved"]  # one reply for the two records

    stock = {(s, w): (h, r) for s, w, h, r in shop.sql("SELECT * FROM shop_stock")}
    assert stock[("MUG-001", "BER1")] == (0, 0)  # committed: gone from the shelf
    assert stock[("MUG-001", "HAM1")] == (2, 0)
    assert stock[("POSTER-A2", "HAM1")] == (1, 0)  # nothing reserved for the short order
    tee = [stock[k] for k in stock if k[0] == "TEE-BLK-M"]
    assert sum(r for _, r in tee) == 1  # the released 3 are back; the duplicate's 1 is held once
    statuses = shop.sql(
        "SELECT order_id, status FROM shop_reservations WHERE order_id = ANY(%s)",
        [split, resent, duplicate],
    )
    assert sorted((str(o), s) for o, s in statuses) == sorted(
        [(str(split), "committed"), (str(resent), "released"), (str(duplicate), "held")]
    )


@pytest.mark.kafka
@pytest.mark.postgres
def test_payment_command_handler_charges_declines_refunds_and_parks(shop: Shop) -> None:
    pay = shop.module("payments")
    orders = shop.module("orders")
    app = shop.module("payments_app")
    pub = publisher(shop, "payments")

    def money(amount: str) -> Any:
        return orders.Money(amount=Decimal(amount), currency="EUR")

    charged, declined, limit, down = (uuid.uuid4() for _ in range(4))
    customer = uuid.uuid4()

    def charge(order: uuid.UUID, amount: str, descriptor: str = "SHOP") -> Any:
        return pay.ChargeCard(
            order_id=order,
            customer_id=customer,
            amount=money(amount),
            statement_descriptor=descriptor,
        )

    for message in [
        charge(charged, "19.00"),
        charge(charged, "19.00"),  # sent again: the recorded charge, not a second one
        pay.RefundPayment(order_id=charged, reason="customer changed their mind"),
        charge(declined, "5.13"),  # the fake gateway declines cents .13
        pay.RefundPayment(order_id=declined, reason="cancelled"),
        charge(limit, "7000.00"),
        charge(down, "12.00", "GATEWAY DOWN"),  # retried 3 times, then dead-lettered
        pay.RefundPayment(order_id=down, reason="cancelled"),  # parked behind it
    ]:
        pub.publish(message)
    pub.flush(30.0)

    process = shop.start(
        "payments_service:payment_command_handler", "--idle-exit", "8", "--max-messages", "500"
    )
    output = finish(process)
    assert process.returncode == 0, output

    got = replies(shop, app.ROUTE_PAYMENTS_PAYMENT_EVENTS, {charged, declined, limit, down})
    assert types_of(got[charged]) == ["CardCharged", "CardCharged", "PaymentRefunded"], output
    first, again, refunded = (e.payload for e in got[charged])
    assert again == first  # the same payment, the same card, the same time
    assert first.amount == money("19.00") and first.card is not None
    assert (refunded.payment_id, refunded.amount) == (first.payment_id, money("19.00"))

    assert types_of(got[declined]) == ["CardDeclined", "RefundFailed"]
    decline, refund_failed = (e.payload for e in got[declined])
    assert decline.decline_code.value == "INSUFFICIENT_FUNDS"
    assert refund_failed.payment_id == decline.payment_id
    assert [e.payload.decline_code.value for e in got[limit]] == ["LIMIT_EXCEEDED"]
    assert got[down] == []

    dlq_route = app.ROUTE_PAYMENTS_PAYMENT_COMMANDS
    assert dlq_route.dlq == "payments.payment-commands.dlq"
    codec = codec_for(dlq_route, RuntimeConfig())
    dead = []
    for record in read_all(shop.bootstrap, dlq_route.dlq):
        try:
            envelope = codec.decode(record, dlq_route)
        except DecodeError:
            continue
        if getattr(envelope.payload, "order_id", None) == down:
            dead.append((type(envelope.payload).__name__, headers_of(record)))
    assert [(name, h["eventgen-dlq-reason"]) for name, h in dead] == [
        ("ChargeCard", "handler"),
        ("RefundPayment", "parked"),
    ]
    assert dead[0][1]["eventgen-dlq-attempts"] == "3"  # the consumer's retry.max_attempts
    assert dead[0][1]["eventgen-dlq-error-class"].endswith("GatewayUnavailable")

    rows = shop.sql("SELECT order_id, status FROM shop_payments")
    assert sorted((str(o), s) for o, s in rows) == sorted(
        [(str(charged), "refunded"), (str(declined), "declined"), (str(limit), "declined")]
    )


@pytest.mark.kafka
@pytest.mark.postgres
def test_stock_ledger_publishes_levels_exactly_once(shop: Shop) -> None:
    """The exactly-once batch app: receipts booked once per event id, levels on stock-levels."""
    inv = shop.module("inventory")
    app = shop.module("inventory_app")
    pub = publisher(shop, "inventory")
    sku = f"T-{uuid.uuid4().hex[:10].upper()}"  # a SKU of this test alone
    # What the command handler would have done already: 4 of MUC1's 10 held for an order.
    shop.sql_exec("INSERT INTO shop_stock VALUES (%s, 'MUC1', 10, 4)", sku)
    now = datetime.now(UTC)

    def receipt(warehouse: str, quantity: int) -> Any:
        return inv.StockReceived(
            sku=sku,
            warehouse=inv.Warehouse(warehouse),
            quantity=quantity,
            purchase_order="PO-1",
            received_at=now,
        )

    pub.publish(receipt("BER1", 7))
    pub.publish(receipt("HAM1", 3))
    line = inv.ReservedLine(sku=sku, quantity=4, warehouse=inv.Warehouse.MUC1)
    order = uuid.uuid4()
    pub.publish(
        inv.StockReserved(
            order_id=order, reservation_id=uuid.uuid4(), lines=(line,), expires_at=now
        )
    )
    pub.flush(30.0)
    # One receipt delivered twice (same event id): the ledger has no inbox, the receipts
    # table's key on the event id books it once.
    route = app.ROUTE_INVENTORY_GOODS_RECEIPTS
    twice = receipt("BER1", 5)
    value, headers = codec_for(route, RuntimeConfig()).encode(twice.envelope(), route)
    record = (None, encode_key(route, twice), value, headers)
    produce(shop.bootstrap, route.topic.name, [record, record])

    process = shop.start("inventory_service:stock_ledger", "--idle-exit", "8")
    output = finish(process)
    assert process.returncode == 0, output

    levels = app.ROUTE_INVENTORY_STOCK_LEVELS
    codec = codec_for(levels, RuntimeConfig())
    mine: list[Any] = []
    for level_record in read_all(shop.bootstrap, levels.topic.name):  # read_committed
        try:
            envelope = codec.decode(level_record, levels)
        except DecodeError:
            continue
        if getattr(envelope.payload, "sku", None) == sku:
            mine.append(envelope.payload)
    assert mine, output
    last = mine[-1]  # one key, one partition: the newest level is the last
    assert (last.on_hand, last.reserved, last.available) == (25, 4, 21), mine
    assert last.per_warehouse == {"BER1": 12, "HAM1": 3, "MUC1": 6}
    booked = shop.sql("SELECT warehouse, quantity FROM shop_goods_receipts WHERE sku = %s", sku)
    assert sorted(booked) == [("BER1", 5), ("BER1", 7), ("HAM1", 3)]


@pytest.mark.kafka
@pytest.mark.postgres
def test_cancelled_order_is_refunded_and_its_stock_released(shop: Shop) -> None:
    """OrderFulfilment's failure path across four apps: refund-orders turns OrderCancelled
    into RefundPayment, payments refunds (PaymentRefunded), release-refunded-stock's generated
    Reaction turns that into ReleaseStock, and inventory-command-handler gives the reservation
    back (StockReleased)."""
    inv, pay, orders = (shop.module(n) for n in ("inventory", "payments", "orders"))
    eur = orders.Money(amount=Decimal("19.00"), currency="EUR")
    order, never_charged = uuid.uuid4(), uuid.uuid4()
    line = orders.OrderLine(sku="TEE-BLK-M", quantity=2, unit_price=eur)
    inventory_pub, payments_pub = publisher(shop, "inventory"), publisher(shop, "payments")
    inventory_pub.publish(inv.ReserveStock(order_id=order, lines=(line,)))
    inventory_pub.flush(30.0)
    payments_pub.publish(pay.ChargeCard(order_id=order, customer_id=uuid.uuid4(), amount=eur))
    payments_pub.flush(30.0)
    first = [
        shop.start("inventory_service:inventory_command_handler", "--idle-exit", "8"),
        shop.start("payments_service:payment_command_handler", "--idle-exit", "8"),
    ]
    outputs = [finish(p) for p in first]
    assert [p.returncode for p in first] == [0, 0], "\n".join(outputs)
    assert shop.sql("SELECT status FROM shop_payments WHERE order_id = %s", order) == [
        ("captured",)
    ]

    orders_pub = publisher(shop, "orders")
    for cancelled in (order, never_charged):
        orders_pub.publish(
            orders.OrderCancelled(
                order_id=cancelled,
                reason="customer changed their mind",
                previous_status=orders.OrderStatus.CONFIRMED,
                cancelled_at=datetime.now(UTC),
            )
        )
    orders_pub.flush(30.0)
    # Each app exits 20 s after its last record: longer than a hop of the chain takes.
    chain = [
        shop.start("payments_service:refund_orders", "--idle-exit", "20"),
        shop.start("payments_service:payment_command_handler", "--idle-exit", "20"),
        shop.start("inventory_service:release_refunded_stock", "--idle-exit", "20"),
        shop.start("inventory_service:inventory_command_handler", "--idle-exit", "20"),
    ]
    outputs = [finish(p) for p in chain]
    logs = "\n".join(o[-2000:] for o in outputs)
    assert [p.returncode for p in chain] == [0, 0, 0, 0], logs

    payments = replies(shop, shop.module("payments_app").ROUTE_PAYMENTS_PAYMENT_EVENTS,
                       {order, never_charged})  # fmt: skip
    assert types_of(payments[order]) == ["CardCharged", "PaymentRefunded"], logs
    charged, refunded = (e.payload for e in payments[order])
    assert refunded.payment_id == charged.payment_id
    assert payments[never_charged] == []  # nothing captured: no refund asked for
    stock = replies(shop, shop.module("inventory_app").ROUTE_INVENTORY_STOCK_EVENTS, {order})
    assert types_of(stock[order]) == ["StockReserved", "StockReleased"], logs
    reserved, released = (e.payload for e in stock[order])
    assert released.reservation_id == reserved.reservation_id
    # The release's cause chain: the reaction's ReleaseStock caused it (with the flow's
    # correlation id, the order id), PaymentRefunded caused that.
    commands = replies(shop, shop.module("inventory_app").ROUTE_INVENTORY_INVENTORY_COMMANDS,
                       {order})  # fmt: skip
    release = [e for e in commands[order] if type(e.payload).__name__ == "ReleaseStock"]
    assert len(release) == 1, types_of(commands[order])
    assert release[0].causation_id == payments[order][1].event_id
    assert release[0].correlation_id == str(order)
    assert stock[order][1].causation_id == release[0].event_id
    assert shop.sql("SELECT sum(reserved) FROM shop_stock WHERE sku = 'TEE-BLK-M'") == [(0,)]
    assert shop.sql("SELECT status FROM shop_payments WHERE order_id = %s", order) == [
        ("refunded",)
    ]


def address(orders: ModuleType, country: str) -> Any:
    return orders.Address(
        recipient="Ada Lovelace", line1="Hauptstrasse 5", city="Berlin", postal_code="10115",
        country=country,
    )  # fmt: skip


@pytest.mark.kafka
@pytest.mark.postgres
def test_shipping_command_handler_books_slots_and_ships(shop: Shop) -> None:
    """The SQLite store: slots three to a window, a resent booking, shipping, refusals."""
    ship, orders = shop.module("shipping"), shop.module("orders")
    pub = publisher(shop, "shipping")
    day = date.today() + timedelta(days=28)
    day += timedelta(days=-day.weekday())  # a Monday four weeks ahead: no slot taken yet
    a, b, c, d, e, abroad, unbooked = (uuid.uuid4() for _ in range(7))
    for order in (a, b, c, d):
        pub.publish(ship.BookDeliverySlot(order_id=order, address=address(orders, "DE"),
                                          preferred_date=day))  # fmt: skip
    pub.publish(ship.BookDeliverySlot(order_id=abroad, address=address(orders, "US")))
    pub.publish(ship.BookDeliverySlot(order_id=a, address=address(orders, "DE"),
                                      preferred_date=day))  # fmt: skip
    pub.publish(ship.ShipOrder(order_id=a))
    # Released on another day (tomorrow): the four above compete for `day` alone.
    pub.publish(ship.BookDeliverySlot(order_id=e, address=address(orders, "DE")))
    pub.publish(ship.ReleaseDeliverySlot(order_id=e))
    pub.publish(ship.ShipOrder(order_id=unbooked))
    pub.flush(30.0)

    process = shop.start("shipping_service:shipping_command_handler", "--idle-exit", "8")
    output = finish(process)
    assert process.returncode == 0, output

    route = shop.module("shipping_app").ROUTE_SHIPPING_SHIPMENT_EVENTS
    got = replies(shop, route, {a, b, c, d, e, abroad, unbooked})
    assert types_of(got[a]) == ["DeliverySlotBooked", "DeliverySlotBooked", "ShipmentDispatched"]
    booked, again, dispatched = (e.payload for e in got[a])
    assert again == booked  # the booking sent again: the slot it holds
    assert (dispatched.carrier.value, dispatched.tracking_number[:3]) == ("DHL", "DHL")
    slots = [got[o][0].payload.slot for o in (a, b, c, d)]
    assert {slot.day for slot in slots} == {day}
    assert sorted(slot.starts_at.isoformat() for slot in slots) == [
        "08:00:00", "08:00:00", "08:00:00", "10:00:00"  # three orders per window
    ]  # fmt: skip
    assert types_of(got[e]) == ["DeliverySlotBooked", "DeliverySlotReleased"]
    assert got[e][1].payload.slot_id == got[e][0].payload.slot.slot_id
    assert got[e][0].payload.slot.day < day  # the earliest free slot: tomorrow or so
    assert [e.payload.reason for e in got[abroad]] == ["we do not deliver to US"]
    assert [(type(e.payload).__name__, e.payload.reason) for e in got[unbooked]] == [
        ("ShipmentFailed", "no delivery slot booked")
    ]
    with sqlite3.connect(shop.sqlite) as conn:
        rows = sorted(conn.execute("SELECT order_id, status FROM shop_slots"))
    conn.close()
    assert rows == sorted([(str(a), "shipped"), (str(b), "held"), (str(c), "held"),
                           (str(d), "held"), (str(e), "released")])  # fmt: skip


@pytest.mark.kafka
@pytest.mark.postgres
def test_carrier_callbacks_become_tracking_updates_and_pushes(shop: Shop) -> None:
    """carrier-webhook-normaliser (exactly-once batch) and tracking-push-notifications
    (at-most-once). The callbacks go through the generated publisher, on a topic with
    `compression: producer` (which sets no producer compression)."""
    ship = shop.module("shipping")
    app = shop.module("shipping_app")
    order, shipment = uuid.uuid4(), uuid.uuid4()
    tracking = f"DHL{uuid.uuid4().hex[:12].upper()}"
    with sqlite3.connect(shop.sqlite) as conn:  # what ShipOrder wrote (see the test above)
        conn.execute(
            "INSERT INTO shop_shipments VALUES (?, ?, 'DHL', ?, 1000, ?)",
            (str(order), str(shipment), tracking, datetime.now(UTC).isoformat()),
        )
    conn.close()
    assert app.ROUTE_SHIPPING_CARRIER_WEBHOOKS.compression == "producer"
    pub = publisher(shop, "shipping")
    for number, status in [(tracking, "transit"), ("UNKNOWN-0001", "transit"),
                           (tracking, "delivered")]:  # fmt: skip
        pub.publish(ship.CarrierStatusReceived(
            tracking_number=number, carrier=ship.Carrier.DHL, status_code=status,
            raw=b"{}", received_at=datetime.now(UTC),
        ))  # fmt: skip
    pub.flush(30)

    normaliser = shop.start("shipping_service:carrier_webhook_normaliser", "--idle-exit", "8")
    pushes = shop.start("shipping_service:tracking_push_notifications", "--idle-exit", "15")
    outputs = [finish(normaliser), finish(pushes)]
    assert [normaliser.returncode, pushes.returncode] == [0, 0], "\n".join(outputs)

    got = replies(shop, app.ROUTE_SHIPPING_SHIPMENT_TRACKING, {order})
    updates = [e.payload for e in got[order]]
    assert [(u.shipment_id, u.status.value) for u in updates] == [
        (shipment, "IN_TRANSIT"), (shipment, "DELIVERED")
    ], outputs[0]  # fmt: skip
    assert "unknown tracking number UNKNOWN-0001: dropped" in outputs[0]
    assert f"push to the customer of order {order}: parcel IN_TRANSIT" in outputs[1]
    assert f"push to the customer of order {order}: parcel DELIVERED" in outputs[1]


README_APPS = [  # examples/README.md, "Run the shop locally", in its order
    "shop_events.orders_aggregates:order_command_handler",
    "shop_events.orders_app:relay",
    "shop_events.orders_projections:order_summary",
    "shop_events.orders_sagas:place_order_saga",
    "inventory_service:inventory_command_handler",
    "inventory_service:commit_dispatched_stock",
    "payments_service:payment_command_handler",
    "shipping_service:shipping_command_handler",
    "shipping_service:ship_confirmed_orders",
    "shop_events.shipping_reactions:order_fulfilment_tracker",
]
SAGA = "shop_events.orders_sagas:place_order_saga"
TRACKER = "shop_events.shipping_reactions:order_fulfilment_tracker"


def place_order(shop: Shop, *args: str) -> tuple[subprocess.CompletedProcess[str], uuid.UUID]:
    """examples/shop/place_order.py with `args`; its run and the order id it printed."""
    placed = subprocess.run(
        [sys.executable, str(EXAMPLES / "place_order.py"), "--wait", "120", *args],
        cwd=shop.work, env=shop.env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    first = placed.stdout.splitlines()[:1]
    assert first and first[0].startswith("order "), placed.stdout + placed.stderr
    return placed, uuid.UUID(first[0].split()[1])


def runtime_json(shop: Shop, *args: str) -> Any:
    """`python -m eventgen.runtime <args> --format json`, parsed (exit 0 required)."""
    done = subprocess.run(
        [sys.executable, "-m", "eventgen.runtime", *args, "--format", "json"],
        cwd=shop.work, env=shop.env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def received(stdout: str) -> list[str]:
    """The record types place_order.py printed (`<-` events, `->` commands), in order."""
    return [
        line.split(maxsplit=1)[1].split(":")[0]
        for line in stdout.splitlines()
        if line.startswith(("  <- ", "  -> "))
    ]


def replies_logged(shown: dict[str, Any]) -> list[str]:
    """The reply types named by the causes of a saga's log (`saga show` JSON: "reply
    inventory.StockReserved"), in order, each once per reply (a reply may log several
    transitions)."""
    found: list[str] = []
    for entry in shown["log"]:
        words = str(entry["cause"]).split()
        reply = len(words) == 2 and words[0] == "reply" and words[1].split(".")[0] in CONTEXTS
        if reply and (not found or found[-1] != words[1]):
            found.append(words[1])
    return found


CONTEXTS = ("orders", "inventory", "payments", "shipping")


@pytest.mark.kafka
@pytest.mark.postgres
def test_place_order_runs_the_readme_flow(shop: Shop) -> None:
    """The README's demo: its apps (the generated PlaceOrderSaga worker and the OrderFulfilment
    flow tracker among them), place_order.py twice: an order the saga COMPLETES (confirmed on
    the Order aggregate by its local step, shipped, its stock committed, its summary read back
    from the OrderSummary projection, its flow SUCCEEDED) and a declined one it COMPENSATES
    (slot and stock released)."""
    # --idle-exit only as a backstop: the test stops them with SIGTERM once the orders are done.
    processes = [shop.start(a, "--idle-exit", "300", "--max-messages", "5000") for a in README_APPS]
    try:
        happy, happy_id = place_order(shop)
        declined, declined_id = place_order(shop, "--amount", "5.13")
        saga_happy = runtime_json(shop, "saga", "show", SAGA, str(happy_id))
        saga_declined = runtime_json(shop, "saga", "show", SAGA, str(declined_id))
        flows = runtime_json(shop, "flows", "list", TRACKER)
        refused = subprocess.run(
            [sys.executable, "-m", "eventgen.runtime", "saga", "abort", SAGA, str(happy_id),
             "--reason", "too late"],
            cwd=shop.work, env=shop.env, capture_output=True, text=True, timeout=120,
            check=False,
        )  # fmt: skip
    finally:
        outputs = stop(processes)
    logs = "\n".join(f"== {a}\n{o[-2000:]}" for a, o in zip(README_APPS, outputs, strict=True))
    assert happy.returncode == 0, happy.stdout + happy.stderr + logs
    assert declined.returncode == 0, declined.stdout + declined.stderr + logs

    # The saga's commands and the participants' replies, as place_order.py read them from
    # their topics (in no order across topics), and, in order, as the saga's log recorded them.
    seen = received(happy.stdout)
    for kind in ("orders.OrderPlaced", "inventory.ReserveStock", "inventory.StockReserved",
                 "shipping.BookDeliverySlot", "shipping.DeliverySlotBooked", "payments.ChargeCard",
                 "payments.CardCharged", "orders.OrderConfirmed", "shipping.ShipOrder",
                 "shipping.ShipmentDispatched", "inventory.StockCommitted"):  # fmt: skip
        assert seen.count(kind) == 1, (kind, happy.stdout)
    assert replies_logged(saga_happy) == [
        "inventory.StockReserved",
        "shipping.DeliverySlotBooked",
        "payments.CardCharged",
    ], saga_happy["log"]
    lines = happy.stdout.splitlines()
    assert f"   saga PlaceOrderSaga {happy_id}: COMPLETED" in lines, happy.stdout
    assert lines[-1].startswith("shipped with DHL DHL"), happy.stdout
    summary = [line for line in lines if "GetOrderSummary:" in line]
    assert len(summary) == 1, happy.stdout
    assert "status=CONFIRMED" in summary[0] or "status=PAID" in summary[0], summary
    assert "total=19.00" in summary[0] and "currency=EUR" in summary[0], summary

    # The declined card: the pivot failed, so the slot and the stock are given back, latest
    # step first; nothing is confirmed or shipped.
    seen = received(declined.stdout)
    assert "payments.CardDeclined" in seen, declined.stdout
    after = seen[seen.index("payments.CardDeclined") :]
    assert [t for t in after if t.startswith(("shipping.Release", "inventory.Release"))] == [
        "shipping.ReleaseDeliverySlot",
        "inventory.ReleaseStock",
    ], declined.stdout
    assert "orders.OrderConfirmed" not in seen and "shipping.ShipOrder" not in seen
    assert replies_logged(saga_declined) == [
        "inventory.StockReserved",
        "shipping.DeliverySlotBooked",
        "payments.CardDeclined",
        "shipping.DeliverySlotReleased",
        "inventory.StockReleased",
    ], saga_declined["log"]
    assert f"   saga PlaceOrderSaga {declined_id}: COMPENSATED" in declined.stdout.splitlines()

    # The operator command's view of both instances, and the flow tracker's of the shipment.
    assert (saga_happy["id"], saga_happy["status"]) == (str(happy_id), "COMPLETED"), saga_happy
    assert saga_happy["data"]["payment_id"], saga_happy
    assert [e["to"] for e in saga_happy["log"]][-1] == "COMPLETED", saga_happy
    assert (saga_declined["id"], saga_declined["status"]) == (str(declined_id), "COMPENSATED")
    # An operator command on a saga in a final status: refused with the status, nothing done.
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "is COMPLETED" in refused.stderr, refused.stderr
    mine = {f["correlation_id"]: f for f in flows}
    assert mine[str(happy_id)]["status"] == "SUCCEEDED", flows
    assert {step["type"] for step in mine[str(happy_id)]["steps"]} >= {
        "orders.OrderConfirmed", "shipping.ShipmentDispatched", "inventory.StockCommitted"
    }, mine[str(happy_id)]  # fmt: skip
    # The declined order was never confirmed, so OrderFulfilment never started for it: no
    # visible flow. (The saga's compensation reply StockReleased is also an outcome of the
    # choreography; the tracker keeps it in a PENDING row, which `flows list` leaves out.)
    assert str(declined_id) not in mine, flows

    assert all(p.returncode == 0 for p in processes), logs
    # How the saga matched the replies: each command's event id is its request id, and the
    # participant's reply (ctx.publish) names it as its causation; all carry the order id as
    # correlation id, and the commands are keyed by it.
    inv, ship, pay = (shop.module(f"{c}_app") for c in ("inventory", "shipping", "payments"))
    pairs = [
        (inv.ROUTE_INVENTORY_INVENTORY_COMMANDS, "ReserveStock",
         inv.ROUTE_INVENTORY_STOCK_EVENTS, "StockReserved"),
        (ship.ROUTE_SHIPPING_SHIPPING_COMMANDS, "BookDeliverySlot",
         ship.ROUTE_SHIPPING_SHIPMENT_EVENTS, "DeliverySlotBooked"),
        (pay.ROUTE_PAYMENTS_PAYMENT_COMMANDS, "ChargeCard",
         pay.ROUTE_PAYMENTS_PAYMENT_EVENTS, "CardCharged"),
    ]  # fmt: skip
    for command_route, command_type, reply_route, reply_type in pairs:
        (command,) = [e for e in replies(shop, command_route, {happy_id})[happy_id]
                      if type(e.payload).__name__ == command_type]  # fmt: skip
        (reply,) = [e for e in replies(shop, reply_route, {happy_id})[happy_id]
                    if type(e.payload).__name__ == reply_type]  # fmt: skip
        assert reply.causation_id == command.event_id, (command_type, reply_type)
        assert command.correlation_id == reply.correlation_id == str(happy_id)
    # The happy order's two mugs left BER1 (committed), the declined order's came back
    # (released). Per order: the groups are shared by every run, so a record another run left
    # behind may move other stock in this database.
    held = shop.sql(
        "SELECT r.order_id, r.status, l.sku, l.warehouse, l.quantity FROM shop_reservations r"
        " JOIN shop_reservation_lines l USING (reservation_id) WHERE r.order_id = ANY(%s)",
        [happy_id, declined_id],
    )
    assert sorted((str(o), st, sku, w, q) for o, st, sku, w, q in held) == sorted([
        (str(happy_id), "committed", "MUG-001", "BER1", 2),
        (str(declined_id), "released", "MUG-001", "BER1", 2),
    ])  # fmt: skip
    with sqlite3.connect(shop.sqlite) as conn:
        slots = sorted(conn.execute("SELECT order_id, status FROM shop_slots WHERE order_id IN"
                                    " (?, ?)", (str(happy_id), str(declined_id))))  # fmt: skip
    conn.close()
    assert slots == sorted([(str(happy_id), "shipped"), (str(declined_id), "released")])


def test_examples_pass_mypy_strict(shop_build: dict[str, Any]) -> None:
    """Every handler module type-checks against the generated apps' typed `on(...)`."""
    env = {**os.environ, "MYPYPATH": str(shop_build["out"])}
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(EXAMPLES)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success: no issues found in" in done.stdout
