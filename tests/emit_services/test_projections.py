"""The generated `<context>_projections.py` modules: row models, specs, row ops and queries.

The example platform is built with the real CLI; its modules must import, pass ruff and
mypy --strict, and `project_<name>` must turn real example events into the row operations the
spec says. A spec of hostile names and docs (keyword and builtin fields, parameters named like
the generated locals, nullable nested paths, typed literals, a handler op, a hooked query)
must give safe code; two builds give the same bytes.
"""

from __future__ import annotations

import importlib
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any
from uuid import UUID, uuid4

import pytest

from eventgen.emit.format import LINE_LENGTH, ruff_bin
from eventgen.runtime.es.spec import Column, RowOp
from tests.emit_services.helpers import build, import_fresh, run_mypy, write_specs

MODULES = ("orders", "inventory", "shipping", "payments")
RULES = "--select=E,F,W,I,B,UP,SIM,C4,RUF"

ORDER = UUID("0d7a3c5e-8b1f-4f8e-9a51-3e2b7c9d4f60")
CUSTOMER = UUID("1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed")
PAYMENT = UUID("6f1c1c38-2d5e-4d47-9d0a-0c6f8f1b2a11")
SHIPMENT = UUID("9a0b9c8d-1e2f-4a3b-8c4d-5e6f7a8b9c0d")
WHEN = datetime(2024, 5, 1, 10, 15, tzinfo=UTC)


def _ruff_check(out: Path, *paths: str) -> None:
    argv = [ruff_bin(), "check", "--isolated", f"--line-length={LINE_LENGTH}", RULES, *paths]
    done = subprocess.run(argv, cwd=out, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    argv = [ruff_bin(), "format", "--isolated", f"--line-length={LINE_LENGTH}", "--check", *paths]
    done = subprocess.run(argv, cwd=out, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def _module(out: Path, context: str) -> ModuleType:
    return import_fresh(out, "shop_events", f"{context}_projections")


# -- the example ---------------------------------------------------------------------------


def test_example_modules_pass_ruff_and_mypy(example_build: Path) -> None:
    paths = [f"shop_events/{m}_projections.py" for m in MODULES]
    _ruff_check(example_build, *paths)
    done = run_mypy(example_build, *paths)
    assert done.returncode == 0, done.stdout + done.stderr


def test_example_modules_import(example_build: Path) -> None:
    orders = _module(example_build, "orders")
    from eventgen.runtime.es.projector import ProjectionTable, Projector

    assert isinstance(orders.order_summary, Projector)
    assert isinstance(orders.order_summary_table, ProjectionTable)
    assert orders.order_summary.table is orders.order_summary_table
    assert orders.ORDER_SUMMARY.row is orders.OrderSummary
    assert orders.ORDER_SUMMARY.project is orders.project_order_summary
    assert orders.ORDER_SUMMARY.spec is orders.ORDER_SUMMARY_SPEC
    aggregates = sys.modules["shop_events.orders_aggregates"]
    assert orders.order_summary.event_store is aggregates.event_store
    assert orders.OrderSummary.model_config["frozen"] is True
    types = {cls.TYPE for cls in orders.ORDER_SUMMARY.messages}
    assert types == set(orders.ORDER_SUMMARY_SPEC.handles)
    shipping = _module(example_build, "shipping")
    assert shipping.shipment_tracking.event_store is None  # only topics feed it
    inventory = _module(example_build, "inventory")
    assert inventory.stock_level.event_store is None


def test_example_order_summary_spec(example_build: Path) -> None:
    spec = _module(example_build, "orders").ORDER_SUMMARY_SPEC
    assert (spec.name, spec.qualified, spec.context) == (
        "OrderSummary",
        "orders.OrderSummary",
        "orders",
    )
    assert (spec.table, spec.key, spec.store) == ("order_summary", "order_id", "sqlite")
    assert spec.columns == (
        Column("order_id", "uuid"),
        Column("customer_id", "uuid"),
        Column("status", "string"),
        Column("total", "decimal", precision=12, scale=2),
        Column("currency", "string"),
        Column("placed_at", "timestamp"),
        Column("payment_id", "uuid", nullable=True, default=None, has_default=True),
        Column("declined_payments", "int", default=0, has_default=True),
        Column("stock_reserved", "boolean", default=False, has_default=True),
        Column("tracking_numbers", "json", default=[], has_default=True),
        Column("delivered_at", "timestamp", nullable=True, default=None, has_default=True),
    )
    # Own aggregate events come from the store, the other contexts' from their topics.
    assert spec.store_source is True
    assert spec.group == "orders.order-summary-projector"
    assert [r.topic.name for r in spec.topics] == [
        "inventory.stock-events",
        "payments.payment-events",
        "shipping.shipment-events",
    ]
    assert spec.topics[1].dlq == "payments.payment-events.dlq"
    assert spec.handles == (  # joined from all four contexts
        "inventory.StockReleased",
        "inventory.StockReserved",
        "orders.OrderArchived",
        "orders.OrderCancelled",
        "orders.OrderConfirmed",
        "orders.OrderPlaced",
        "payments.CardCharged",
        "payments.CardDeclined",
        "payments.PaymentRefunded",
        "shipping.ShipmentDelivered",
        "shipping.ShipmentDispatched",
    )


def test_example_other_specs(example_build: Path) -> None:
    stock = _module(example_build, "inventory").STOCK_LEVEL_SPEC
    assert stock.columns == (
        Column("sku", "string"),
        Column("on_hand", "long", default=0, has_default=True),
        Column("reserved", "long", default=0, has_default=True),
        Column("available", "long", default=0, has_default=True),
        Column("changed_at", "timestamp", nullable=True, default=None, has_default=True),
    )
    assert (stock.store, stock.store_source) == ("postgres", False)  # inventory's outbox store
    assert [r.topic.name for r in stock.topics] == ["inventory.stock-levels"]
    tracking = _module(example_build, "shipping").SHIPMENT_TRACKING_SPEC
    assert tracking.columns == (
        Column("shipment_id", "uuid"),
        Column("order_id", "uuid"),
        Column("carrier", "enum", default="OTHER", has_default=True),
        Column("tracking_number", "string", nullable=True, default=None, has_default=True),
        Column("status", "enum", default="UNKNOWN", has_default=True),
        Column("last_location", "json", nullable=True, default=None, has_default=True),
        Column("estimated_delivery", "date", nullable=True, default=None, has_default=True),
        Column("updated_at", "timestamp", nullable=True, default=None, has_default=True),
    )
    assert tracking.store_source is False
    assert tracking.group == "shipping.shipment-tracking-projector"
    assert [r.topic.name for r in tracking.topics] == [
        "shipping.shipment-events",
        "shipping.shipment-tracking",
    ]


def _order_events() -> dict[str, Any]:
    """Example events, built from the models of the package imported last (the classes the
    projections module matches on)."""
    orders = importlib.import_module("shop_events.orders")
    payments = importlib.import_module("shop_events.payments")
    shipping = importlib.import_module("shop_events.shipping")
    money = {"amount": "54.45", "currency": "EUR"}
    return {
        "placed": orders.OrderPlaced.model_validate(
            {
                "order_id": str(ORDER),
                "customer_id": str(CUSTOMER),
                "channel": "MOBILE_APP",
                "lines": [{"sku": "MUG-001", "quantity": 1, "unit_price": money}],
                "total": money,
                "shipping_address": {
                    "recipient": "Grace Hopper",
                    "line1": "Hauptstrasse 5",
                    "city": "Berlin",
                    "postal_code": "10115",
                    "country": "DE",
                },
                "placed_at": WHEN,
            }
        ),
        "confirmed": orders.OrderConfirmed(order_id=ORDER, confirmed_at=WHEN),
        "cancelled": orders.OrderCancelled(
            order_id=ORDER, reason="changed my mind", previous_status="PLACED", cancelled_at=WHEN
        ),
        "archived": orders.OrderArchived(order_id=ORDER, archived_at=WHEN),
        "charged": payments.CardCharged.model_validate(
            {
                "payment_id": str(PAYMENT),
                "order_id": str(ORDER),
                "amount": money,
                "cardholder_name": "Grace Hopper",
                "charged_at": WHEN,
            }
        ),
        "declined": payments.CardDeclined(
            order_id=ORDER, payment_id=PAYMENT, reason="insufficient funds", declined_at=WHEN
        ),
        "refunded": payments.PaymentRefunded.model_validate(
            {
                "order_id": str(ORDER),
                "payment_id": str(PAYMENT),
                "amount": money,
                "refunded_at": WHEN,
            }
        ),
        "dispatched": shipping.ShipmentDispatched(
            shipment_id=SHIPMENT,
            order_id=ORDER,
            carrier="DHL",
            tracking_number="JJD0001",
            weight_grams=1200,
            dispatched_at=WHEN,
        ),
        "delivered": shipping.ShipmentDelivered(
            order_id=ORDER, shipment_id=SHIPMENT, delivered_at=WHEN
        ),
        "tracking": shipping.ShipmentTrackingUpdated(
            shipment_id=SHIPMENT, order_id=ORDER, status="IN_TRANSIT", observed_at=WHEN
        ),
    }


def test_project_order_summary(example_build: Path) -> None:
    project = _module(example_build, "orders").project_order_summary
    events = _order_events()
    assert project(events["placed"]) == [
        RowOp(
            "upsert",
            ORDER,
            (
                ("customer_id", CUSTOMER),
                ("status", "PLACED"),
                ("total", Decimal("54.45")),
                ("currency", "EUR"),
                ("placed_at", WHEN),
            ),
        )
    ]
    assert project(events["confirmed"]) == [RowOp("set", ORDER, (("status", "CONFIRMED"),))]
    assert project(events["cancelled"]) == [RowOp("set", ORDER, (("status", "CANCELLED"),))]
    assert project(events["archived"]) == [RowOp("delete", ORDER)]
    # Other contexts' events: the row key is `key: $.order_id`.
    assert project(events["charged"]) == [
        RowOp("set", ORDER, (("status", "PAID"), ("payment_id", PAYMENT)))
    ]
    assert project(events["declined"]) == [RowOp("inc", ORDER, (("declined_payments", 1),))]
    assert project(events["refunded"]) == [RowOp("set", ORDER, (("status", "REFUNDED"),))]
    assert project(events["dispatched"]) == [
        RowOp("append", ORDER, (("tracking_numbers", "JJD0001"),))
    ]
    assert project(events["delivered"]) == [
        RowOp("set", ORDER, (("status", "DELIVERED"), ("delivered_at", WHEN)))
    ]
    assert project(events["tracking"]) == []  # not an OrderSummary event
    value = project(events["placed"])[0].values[1][1]
    assert type(value) is str


def test_project_shipment_tracking(example_build: Path) -> None:
    project = _module(example_build, "shipping").project_shipment_tracking
    events = _order_events()
    (op,) = project(events["dispatched"])
    assert (op.kind, op.key) == ("upsert", SHIPMENT)  # the event's own shipment_id
    values = dict(op.values)
    assert values["status"] == "LABEL_CREATED" and type(values["status"]) is str  # enum literal
    assert values["carrier"] == "DHL"
    assert values["order_id"] == ORDER and values["updated_at"] == WHEN
    (op,) = project(events["tracking"])
    assert op == RowOp(
        "set",
        SHIPMENT,
        (
            ("status", "IN_TRANSIT"),
            ("last_location", None),
            ("estimated_delivery", None),
            ("updated_at", WHEN),
        ),
    )
    assert project(events["placed"]) == []


def test_example_queries_read_the_table(example_build: Path) -> None:
    """GetOrderSummary on a real SQLite table the projection's own ops filled."""
    orders = _module(example_build, "orders")
    events = _order_events()
    conn = sqlite3.connect(":memory:", isolation_level=None)
    table = orders.order_summary_table
    table.ensure_schema(conn)
    conn.execute("BEGIN")
    table.apply(
        conn,
        [events["placed"], events["charged"], events["declined"], events["dispatched"]],
    )
    conn.execute("COMMIT")
    row = orders.get_order_summary(conn, order_id=ORDER)
    assert isinstance(row, orders.OrderSummary)
    assert (row.status, row.total, row.payment_id) == ("PAID", Decimal("54.45"), PAYMENT)
    assert (row.declined_payments, row.tracking_numbers) == (1, ("JJD0001",))
    assert orders.get_order_summary(conn, order_id=uuid4()) is None


def test_example_hooked_query(example_build: Path) -> None:
    payments = _module(example_build, "payments")
    with pytest.raises(NotImplementedError, match="implement_get_payment"):
        payments.get_payment(None, order_id=ORDER)
    models = sys.modules["shop_events.payments"]
    seen: list[UUID] = []

    def answer(conn: Any, /, *, order_id: UUID) -> Any:
        seen.append(order_id)
        return None

    assert payments.implement_get_payment(answer) is answer

    assert payments.get_payment(None, order_id=ORDER) is None
    assert seen == [ORDER]
    assert payments.get_payment.__annotations__["return"] == models.PaymentView | None


# -- hostile names and docs ------------------------------------------------------------------

PROJECT = """\
eventgen: 1
project: hostile
package: vault_events
output: ../out
defaults:
  topic: {partitions: 1, replication_factor: 1}
"""

VAULT = '''\
eventgen: 1
context: vault
topics:
  items: {key: uuid}
  moves: {key: uuid}
types:
  Place:
    fields: {label: string, note: "string?"}
  Spot:
    fields: {place: "Place?", code: string}
  Kind:
    enum: [PLAIN, class, _HIDDEN]
    default: PLAIN
events:
  ItemStored:
    doc: 'has """ quotes and \\ a backslash'
    topic: items
    key: id
    fields: {id: uuid, spot: "Spot?", class: string, conn: string, self: string}
  ItemMoved:
    topic: moves
    key: other_id
    fields: {other_id: uuid, spot: Spot}
  ItemDropped:
    topic: items
    key: id
    fields: {id: uuid}
queries:
  FindItem:
    doc: "Quotes \\"\\"\\" and a backslash \\\\ and a bell \\a"
    params: {class: string, conn: string?, self: string?}
    returns: Item
  GetItem:
    params: {id: uuid}
    returns: Item
  GetPlace:
    params: {conn: string, self: string, limit: {type: int, default: 10}}
    returns: Place
projections:
  Item:
    key: id
    fields:
      id: uuid
      class: string
      conn: string?
      self: string?
      kind: {type: Kind, default: PLAIN}
      amount: {type: decimal, precision: 12, scale: 3, default: "1.5"}
      tags: {type: "list[string]", default: []}
      place_label: string?
      count: {type: long, default: 0}
      seen_at: timestamp?
      ref: uuid?
      spot: Spot?
    on:
      ItemStored:
        upsert:
          class: $.class
          conn: $.conn
          kind: class
          amount: "2.250"
          place_label: $.spot.place.label
          ref: "6f1c1c38-2d5e-4d47-9d0a-0c6f8f1b2a11"
          seen_at: "2024-05-01T10:15:00Z"
          spot: $.spot
        inc: {count: 1}
      ItemMoved: {key: $.other_id, set: {place_label: $.spot.place.label}, append: {tags: moved}}
      ItemDropped: {handler: "vault_hooks:drop"}
'''

HOOKS = """\
from typing import Any


def drop(row: Any, event: Any) -> Any:
    return None
"""


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    specs = write_specs(root / "specs", {"eventgen.yaml": PROJECT, "vault.yaml": VAULT})
    out = root / "out"
    build(specs, out)
    (out / "vault_hooks.py").write_text(HOOKS, encoding="utf-8")
    return out


def test_hostile_module_is_clean(hostile: Path) -> None:
    _ruff_check(hostile, "vault_events/vault_projections.py")
    done = run_mypy(hostile, "vault_events/vault_projections.py")
    assert done.returncode == 0, done.stdout + done.stderr
    views = import_fresh(hostile, "vault_events", "vault_projections")
    assert views.find_item.__doc__.startswith('Quotes """ and a backslash \\ and a bell \a')
    assert views.ITEM_SPEC.columns[5] == Column(
        "amount", "decimal", precision=12, scale=3, default="1.5", has_default=True
    )
    assert views.ITEM_SPEC.columns[4] == Column("kind", "enum", default="PLAIN", has_default=True)


def test_hostile_row_ops(hostile: Path) -> None:
    views = import_fresh(hostile, "vault_events", "vault_projections")
    models = sys.modules["vault_events.vault"]
    item, other = uuid4(), uuid4()
    stored = models.ItemStored.model_validate(
        {"id": str(item), "spot": None, "class": "a", "conn": "b", "self": "c"}
    )
    ops = views.project_item(stored)
    assert [op.kind for op in ops] == ["upsert", "inc"]  # upsert first: a new row counts
    values = dict(ops[0].values)
    assert values["class"] == "a" and values["conn"] == "b"
    assert values["kind"] == "class" and type(values["kind"]) is str  # the symbol string
    assert values["amount"] == Decimal("2.250")
    assert values["place_label"] is None  # through a null spot
    assert values["ref"] == UUID("6f1c1c38-2d5e-4d47-9d0a-0c6f8f1b2a11")
    assert values["seen_at"] == datetime(2024, 5, 1, 10, 15, tzinfo=UTC)
    assert ops[1] == RowOp("inc", item, (("count", 1),))
    spot = {"place": {"label": "shelf 3"}, "code": "X1"}
    stored = models.ItemStored.model_validate(
        {"id": str(item), "spot": spot, "class": "a", "conn": "b", "self": "c"}
    )
    assert dict(views.project_item(stored)[0].values)["place_label"] == "shelf 3"
    moved = models.ItemMoved.model_validate(
        {"other_id": str(other), "spot": {"place": None, "code": "Y"}}
    )
    assert views.project_item(moved) == [
        RowOp("set", other, (("place_label", None),)),  # key from `key: $.other_id`
        RowOp("append", other, (("tags", "moved"),)),
    ]
    (op,) = views.project_item(models.ItemDropped(id=item))
    assert (op.kind, op.key) == ("handler", item)
    assert op.handler is not None and op.handler.__name__ == "drop"
    assert op.handler(None, models.ItemDropped(id=item)) is None


def test_hostile_queries(hostile: Path) -> None:
    views = import_fresh(hostile, "vault_events", "vault_projections")
    conn = sqlite3.connect(":memory:", isolation_level=None)
    views.item_table.ensure_schema(conn)
    models = sys.modules["vault_events.vault"]
    item = uuid4()
    conn.execute("BEGIN")
    views.item_table.apply(
        conn,
        [
            models.ItemStored.model_validate(
                {"id": str(item), "spot": None, "class": "k", "conn": "c", "self": "s"}
            )
        ],
    )
    conn.execute("COMMIT")
    row = views.get_item(conn, id=item)
    assert row is not None and (row.class_, row.count, row.kind) == ("k", 1, "class")
    assert row.self is None  # the upsert does not write it
    assert views.find_item(conn, class_="k", conn="c") == row  # self=None matches NULL
    assert views.find_item(conn, class_="k", conn="c", self="s") is None
    assert views.find_item(conn, class_="k", conn=None) is None
    with pytest.raises(NotImplementedError, match="vault.GetPlace"):
        views.get_place(conn, conn="x", self="y")

    def place(_conn: Any, /, *, conn: str, self: str, limit: int = 10) -> Any:
        return models.Place(label=f"{conn}{self}{limit}")

    views.implement_get_place(place)

    assert views.get_place(conn, conn="x", self="y").label == "xy10"


def test_deterministic(tmp_path: Path) -> None:
    specs = write_specs(tmp_path / "specs", {"eventgen.yaml": PROJECT, "vault.yaml": VAULT})
    first, second = tmp_path / "one", tmp_path / "two"
    build(specs, first)
    build(specs, second)
    name = "vault_events/vault_projections.py"
    assert (first / name).read_bytes() == (second / name).read_bytes()


def test_read_model_sql_files(example_build: Path) -> None:
    """generated sql/<context>/<table>.<dialect>.sql is the runtime's own DDL of the table."""
    from eventgen.emit import layout
    from eventgen.ir import naming

    for context, projection in (
        ("orders", "OrderSummary"),
        ("inventory", "StockLevel"),
        ("shipping", "ShipmentTracking"),
    ):
        table = getattr(_module(example_build, context), f"{naming.snake(projection)}_table")
        for dialect in ("postgres", "sqlite"):
            path = example_build / layout.sql_path(context, table.name, dialect)
            text = path.read_text(encoding="utf-8")
            assert text.startswith("-- Generated by eventgen from ")
            assert text.split("\n", 1)[1] == table.ddl(dialect)
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.executescript((example_build / "sql/orders/order_summary.sqlite.sql").read_text())
    names = [row[1] for row in conn.execute('PRAGMA table_info("order_summary")')]
    assert names == [c.name for c in _module(example_build, "orders").ORDER_SUMMARY_SPEC.columns]
    assert not (example_build / "sql/payments/payment_view.sqlite.sql").exists()


@pytest.mark.postgres
def test_queries_on_postgres(hostile: Path, postgres_dsn: str) -> None:
    """The table queries on a real PostgreSQL (a schema of the test's own)."""
    import psycopg

    views = import_fresh(hostile, "vault_events", "vault_projections")
    models = sys.modules["vault_events.vault"]
    schema = f"projections_{uuid4().hex[:12]}"
    item = uuid4()
    with psycopg.connect(postgres_dsn, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        try:
            conn.execute(f'SET search_path TO "{schema}"')
            with conn.transaction():
                views.item_table.ensure_schema(conn)
            with conn.transaction():
                stored = models.ItemStored.model_validate(
                    {"id": str(item), "spot": None, "class": "k", "conn": "c", "self": "s"}
                )
                moved = models.ItemMoved.model_validate(
                    {"other_id": str(item), "spot": {"place": {"label": "L"}, "code": "Y"}}
                )
                views.item_table.apply(conn, [stored, stored, moved])
            row = views.get_item(conn, id=item)
            assert row is not None
            assert (row.count, row.tags, row.place_label) == (2, ("moved",), "L")
            assert row.amount == Decimal("2.250") and row.kind == "class"
            assert views.find_item(conn, class_="k", conn="c") == row
            assert views.find_item(conn, class_="other") is None
            assert views.get_item(conn, id=uuid4()) is None
        finally:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
