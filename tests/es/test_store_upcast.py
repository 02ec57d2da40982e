"""Reading stored events of older versions (the example's upcaster, a v1 -> v2 -> v3 chain) and
events the build cannot read: every one a StoredEventError naming stream, version, position."""

from __future__ import annotations

import importlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar, Literal

import pytest
import yaml

from eventgen.runtime.errors import StoredEventError
from eventgen.runtime.es.store import EventStore
from eventgen.runtime.model import Message
from eventgen.runtime.sql import iso_utc
from tests.emit_services.helpers import EXAMPLE, example_build, import_fresh
from tests.es.test_store import DIALECTS, drop_tables, new_event_store, open_store

__all__ = ["example_build"]  # the session build of specs/, used as a fixture here

WHEN = datetime(2024, 5, 1, 10, 15, tzinfo=UTC)


# -- a v3 message whose upcaster chain lives in this module (UPCASTS names it) --------------


class Renamed(Message):
    """v1 {name}; v2 renamed it to {title}; v3 added {pages} (default 0 for older ones)."""

    TYPE: ClassVar[str] = "books.Renamed"
    VERSION: ClassVar[int] = 3
    SCHEMAS: ClassVar[str] = "tests.es.no_schemas"
    UPCASTS: ClassVar[str | None] = "tests.es.test_store_upcast"

    title: str
    pages: int


class NoUpcaster(Message):
    TYPE: ClassVar[str] = "books.NoUpcaster"
    VERSION: ClassVar[int] = 2
    SCHEMAS: ClassVar[str] = "tests.es.no_schemas"

    title: str


UPCAST_CALLS: list[tuple[str, int]] = []


def upcast(message_type: str, version: int, payload: dict[str, Any]) -> dict[str, Any]:
    """The chain of `Renamed`: each step lifts one version (what generated modules do)."""
    UPCAST_CALLS.append((message_type, version))
    lifted = dict(payload)
    if version <= 1:
        lifted["title"] = lifted.pop("name")
    if version <= 2:
        lifted.setdefault("pages", 0)
    return lifted


# -- fixtures -------------------------------------------------------------------------------


class Rows:
    """Inserts event rows by hand (as an older build, or another tool, would have)."""

    def __init__(self, kind: Literal["sqlite", "postgres"], where: str, events: EventStore):
        self.kind = kind
        self.db = open_store(kind, where)
        self.events = events
        events.ensure_schema(self.db.connection)

    def insert(self, stream: str, version: int, kind: str, schema: int, payload: str) -> int:
        mark = "%s" if self.kind == "postgres" else "?"
        event_id: Any = uuid.uuid4()
        moment: Any = WHEN
        if self.kind == "sqlite":
            event_id, moment = str(event_id), iso_utc(WHEN)
        with self.db.transaction() as conn:
            conn.execute(
                f'INSERT INTO "{self.events.spec.table}" (stream_id, version, event_id, type, '
                f"schema_version, occurred_at, payload) VALUES ({', '.join([mark] * 7)})",
                (stream, version, event_id, kind, schema, moment, payload),
            )
            row = conn.execute(
                f'SELECT position FROM "{self.events.spec.table}" '
                f"WHERE stream_id = {mark} AND version = {mark}",
                (stream, version),
            ).fetchone()
        return int(row[0])

    def read(self, stream: str) -> list[Any]:
        return list(self.events.read_stream(self.db.connection, stream))


@pytest.fixture(scope="module")
def orders(example_build: Path) -> ModuleType:
    return import_fresh(example_build, "shop_events", "orders")


@pytest.fixture(scope="module")
def examples() -> dict[int, dict[str, Any]]:
    """The `examples` of orders.OrderPlaced in specs/orders.yaml, by version."""
    spec = yaml.safe_load((EXAMPLE / "orders.yaml").read_text(encoding="utf-8"))
    entries = spec["events"]["OrderPlaced"]["examples"]
    return {entry["version"]: entry["payload"] for entry in entries}


@pytest.fixture(params=DIALECTS)
def rows(request: pytest.FixtureRequest, tmp_path: Path, orders: ModuleType) -> Iterator[Rows]:
    kind = request.param
    where = (
        request.getfixturevalue("postgres_dsn")
        if kind == "postgres"
        else str(tmp_path / "upcast.sqlite3")
    )
    events = new_event_store((orders.OrderPlaced, orders.OrderConfirmed, Renamed, NoUpcaster), kind)
    table = Rows(kind, where, events)
    yield table
    drop_tables(table.db, events)
    table.db.close()


# -- tests ----------------------------------------------------------------------------------


def test_a_v1_order_placed_reads_as_the_current_model(
    rows: Rows, orders: ModuleType, examples: dict[int, dict[str, Any]]
) -> None:
    v1 = examples[1]
    stream = f"Order-{v1['order_id']}"
    position = rows.insert(stream, 1, "orders.OrderPlaced", 1, json.dumps(v1))
    confirmed = orders.OrderConfirmed(
        order_id=uuid.UUID(v1["order_id"]), payment_id=None, confirmed_at=WHEN
    )
    with rows.db.transaction() as conn:
        rows.events.append(conn, stream, 1, [confirmed])

    placed, second = rows.read(stream)
    assert (placed.position, placed.version, placed.stored_version) == (position, 1, 1)
    assert placed.envelope.schema_version == 2 == orders.OrderPlaced.VERSION
    message = placed.message
    assert type(message) is orders.OrderPlaced
    # The spec's v1 -> v2 ops: rename cust_id, placed_at from created_at, channel WEB, the
    # legacy fields dropped; everything else as written.
    assert message.customer_id == uuid.UUID(v1["cust_id"])
    assert message.placed_at == datetime(2023, 11, 2, 9, 30, tzinfo=UTC)
    assert message.channel == orders.SalesChannel.WEB
    assert message.order_id == uuid.UUID(v1["order_id"])
    wire = json.loads(message.model_dump_json())
    assert wire["coupon_code"] == "AUTUMN10"
    assert "cust_id" not in wire and "legacy_channel" not in wire and "created_at" not in wire
    assert [{name: line[name] for name in v1["lines"][0]} for line in wire["lines"]] == v1["lines"]
    assert wire["total"] == v1["total"]
    # The same bytes as the generated upcaster + strict decode give (the golden path).
    generated = importlib.import_module(orders.OrderPlaced.UPCASTS)
    lifted = generated.upcast("orders.OrderPlaced", 1, dict(v1))
    assert message == orders.OrderPlaced.model_validate_json(json.dumps(lifted), strict=True)
    assert second.message == confirmed and second.stored_version == 1


def test_a_current_version_row_reads_as_written(
    rows: Rows, orders: ModuleType, examples: dict[int, dict[str, Any]]
) -> None:
    v2 = examples[2]
    rows.insert("Order-x", 1, "orders.OrderPlaced", 2, json.dumps(v2))
    (event,) = rows.read("Order-x")
    assert event.stored_version == 2
    assert event.message == orders.OrderPlaced.model_validate_json(json.dumps(v2), strict=True)
    assert event.envelope.occurred_at == WHEN


def test_a_chain_of_upcasters_lifts_every_older_version(rows: Rows) -> None:
    UPCAST_CALLS.clear()
    rows.insert("book-1", 1, "books.Renamed", 1, '{"name":"Dune"}')
    rows.insert("book-1", 2, "books.Renamed", 2, '{"title":"Dune II"}')
    rows.insert("book-1", 3, "books.Renamed", 3, '{"title":"Dune III","pages":412}')
    read = rows.read("book-1")
    assert [e.message for e in read] == [
        Renamed(title="Dune", pages=0),
        Renamed(title="Dune II", pages=0),
        Renamed(title="Dune III", pages=412),
    ]
    assert [e.stored_version for e in read] == [1, 2, 3]
    assert {e.envelope.schema_version for e in read} == {3}
    assert UPCAST_CALLS == [("books.Renamed", 1), ("books.Renamed", 2)]  # none for v3


def _raises_naming(rows: Rows, stream: str, version: int, position: int, text: str) -> None:
    with pytest.raises(StoredEventError) as caught:
        rows.read(stream)
    error = caught.value
    assert (error.stream_id, error.version, error.position) == (stream, version, position)
    assert text in error.detail
    assert repr(stream) in str(error) and f"version {version}" in str(error)
    # read_all does not skip it either.
    with pytest.raises(StoredEventError) as again:
        rows.events.read_all(rows.db.connection, 0)
    assert again.value.position == position


def test_an_unknown_type_is_an_error_naming_stream_and_version(rows: Rows) -> None:
    rows.insert("Order-1", 1, "orders.OrderConfirmed", 1, _confirmed_json())
    position = rows.insert("Order-1", 2, "orders.OrderTeleported", 1, "{}")
    _raises_naming(rows, "Order-1", 2, position, "orders.OrderTeleported")


def test_a_newer_version_is_an_error(rows: Rows, examples: dict[int, dict[str, Any]]) -> None:
    position = rows.insert("Order-2", 1, "orders.OrderPlaced", 3, json.dumps(examples[2]))
    _raises_naming(rows, "Order-2", 1, position, "newer")


def test_an_older_version_without_an_upcaster_is_an_error(rows: Rows) -> None:
    position = rows.insert("book-2", 1, "books.NoUpcaster", 1, '{"title":"x"}')
    _raises_naming(rows, "book-2", 1, position, "needs an upcaster")


def test_a_payload_that_no_longer_decodes_is_an_error(
    rows: Rows, examples: dict[int, dict[str, Any]]
) -> None:
    broken = {key: value for key, value in examples[2].items() if key != "customer_id"}
    position = rows.insert("Order-3", 1, "orders.OrderPlaced", 2, json.dumps(broken))
    _raises_naming(rows, "Order-3", 1, position, "customer_id")


def test_a_v1_payload_the_upcast_cannot_make_valid_is_an_error(
    rows: Rows, examples: dict[int, dict[str, Any]]
) -> None:
    bad = {**examples[1], "cust_id": "not-a-uuid"}
    position = rows.insert("Order-4", 1, "orders.OrderPlaced", 1, json.dumps(bad))
    _raises_naming(rows, "Order-4", 1, position, "customer_id")


def test_a_payload_that_is_not_json_is_an_error(rows: Rows) -> None:
    position = rows.insert("book-3", 1, "books.Renamed", 3, '{"title": "cut off')
    _raises_naming(rows, "book-3", 1, position, "books.Renamed v3")


def test_an_old_payload_that_is_not_an_object_is_an_error(rows: Rows) -> None:
    position = rows.insert("book-4", 1, "books.Renamed", 1, "[1, 2]")
    _raises_naming(rows, "book-4", 1, position, "not an object")


def test_strict_json_rules_apply_to_stored_payloads(rows: Rows) -> None:
    # A number where the model wants a string: JSON-strict validation refuses it (as the
    # Kafka JSON codec does), it is not coerced.
    position = rows.insert("book-5", 1, "books.Renamed", 3, '{"title": 12, "pages": 1}')
    _raises_naming(rows, "book-5", 1, position, "title")


def _confirmed_json() -> str:
    return json.dumps(
        {"order_id": str(uuid.uuid4()), "payment_id": None, "confirmed_at": "2024-05-01T10:15:00Z"}
    )


def test_a_row_with_a_malformed_event_id_or_time_is_an_error(rows: Rows) -> None:
    position = rows.insert("book-6", 1, "books.Renamed", 3, '{"title":"x","pages":1}')
    table = rows.events.spec.table
    if rows.kind == "sqlite":
        with rows.db.transaction() as conn:
            conn.execute(f'UPDATE "{table}" SET occurred_at = ? WHERE position = ?', (
                "2024-05-01T10:15:00", position))  # fmt: skip
        _raises_naming(rows, "book-6", 1, position, "no timezone")
        with rows.db.transaction() as conn:
            conn.execute(f'UPDATE "{table}" SET event_id = ? WHERE position = ?', (
                "not-a-uuid", position))  # fmt: skip
        _raises_naming(rows, "book-6", 1, position, "bad row")
    else:  # the column types refuse such values on PostgreSQL: the row reads fine
        (event,) = rows.read("book-6")
        assert event.message == Renamed(title="x", pages=1)
