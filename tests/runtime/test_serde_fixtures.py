"""Shared pieces of the serde, publisher and interop tests (no tests of its own).

The example platform (specs/) generated into a temporary package, sample messages, a plain
record value standing in for a consumed Kafka record in codec unit tests, and a hand-written
upcaster for orders.OrderPlaced v1 -> v2 (until the generated ones exist).
"""

from __future__ import annotations

import importlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from eventgen.evolution.diff import require_project
from eventgen.ir.model import Project
from eventgen.runtime.model import Message
from eventgen.runtime.registry import TopicBinding
from tests.models import fixtures as fx

REPO_DIR = Path(__file__).resolve().parents[2]
UPCASTER_MODULE = __name__  # its `upcast` below, for Message.UPCASTS


@dataclass(frozen=True)
class Shop:
    project: Project
    orders: ModuleType
    topics: ModuleType

    def binding(self, name: str) -> TopicBinding:
        found = [
            b for b in vars(self.topics).values() if isinstance(b, TopicBinding) and b.name == name
        ]
        assert len(found) == 1, name
        return found[0]

    def bindings(self) -> list[TopicBinding]:
        return [b for b in vars(self.topics).values() if isinstance(b, TopicBinding)]


@pytest.fixture(scope="session", name="shop")
def shop_fixture(tmp_path_factory: pytest.TempPathFactory) -> Shop:
    """The specs/ package generated and imported once per test session."""
    project = require_project(REPO_DIR / "specs", None)
    modules = fx.import_package(project, tmp_path_factory.mktemp("shop"))
    return Shop(project, modules["orders"], importlib.import_module(f"{project.package}.topics"))


def order_placed(orders: ModuleType, **changes: Any) -> Message:
    values: dict[str, Any] = {
        "order_id": uuid.UUID("6f1c1c38-2d5e-4d47-9d0a-0c6f8f1b2a11"),
        "customer_id": uuid.UUID("1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed"),
        "channel": orders.SalesChannel.MOBILE_APP,
        "lines": [
            {"sku": "MUG-001", "quantity": 2, "unit_price": {"amount": "9.50", "currency": "EUR"}}
        ],
        "total": {"amount": Decimal("19.00"), "currency": "EUR"},
        "shipping_address": {
            "recipient": "Ada Lovelace",
            "line1": "12 St James's Square",
            "city": "London",
            "postal_code": "SW1Y 4JH",
            "country": "GB",
        },
        "placed_at": datetime(2024, 5, 1, 9, 0, tzinfo=UTC),
        "requested_delivery_date": date(2024, 5, 3),
        "attributes": {"utm_source": "mail"},
        **changes,
    }
    return orders.OrderPlaced(**values)  # type: ignore[no-any-return]


def order_archived(orders: ModuleType) -> Message:
    return orders.OrderArchived(  # type: ignore[no-any-return]
        order_id=uuid.UUID("0d7a3c5e-8b1f-4f8e-9a51-3e2b7c9d4f60"),
        archived_at=datetime(2024, 6, 1, tzinfo=UTC),
    )


V1_PLACED: dict[str, Any] = {
    "order_id": uuid.UUID("6f1c1c38-2d5e-4d47-9d0a-0c6f8f1b2a11"),
    "cust_id": uuid.UUID("1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed"),
    "created_at": datetime(2023, 11, 2, 9, 30, tzinfo=UTC),
    "legacy_channel": "web",
    "lines": [
        {
            "sku": "MUG-001",
            "quantity": 2,
            "unit_price": {"amount": Decimal("9.50"), "currency": "EUR"},
        }
    ],
    "total": {"amount": Decimal("19.00"), "currency": "EUR"},
    "shipping_address": {
        "recipient": "Ada Lovelace",
        "line1": "12 St James's Square",
        "city": "London",
        "postal_code": "SW1Y 4JH",
        "country": "GB",
    },
    "coupon_code": "AUTUMN10",
}


def upcast(message_type: str, version: int, payload: dict[str, Any]) -> dict[str, Any]:
    """orders.OrderPlaced v1 -> v2 as the spec's ops say (rename, add from, add literal, remove).

    Every decode path hands it the JSON wire form (strings for uuids, timestamps and
    decimals), the form of the spec's literals; it checks that it got exactly that.
    """
    assert message_type == "orders.OrderPlaced" and version == 1, (message_type, version)
    assert json.loads(json.dumps(payload)) == payload, "not in JSON wire form"
    assert payload["created_at"].endswith("Z") and payload["total"]["amount"] == "19.00"
    out = dict(payload)
    out["customer_id"] = out.pop("cust_id")
    out["placed_at"] = out["created_at"]
    out["channel"] = "WEB"
    del out["legacy_channel"], out["created_at"]
    return out


@dataclass
class Rec:
    """A consumed record's accessors (confluent_kafka.Message's shape) over plain values."""

    val: bytes | None
    hdrs: list[tuple[str, bytes | None]] | None = None
    k: bytes | None = None
    topic_name: str = "orders.order-events"
    part: int = 0
    off: int = 7
    ts: tuple[int, int] = (1, 1_700_000_000_000)
    err: Any = field(default=None)

    def topic(self) -> str | None:
        return self.topic_name

    def partition(self) -> int | None:
        return self.part

    def offset(self) -> int | None:
        return self.off

    def key(self) -> bytes | None:
        return self.k

    def value(self) -> bytes | None:
        return self.val

    def headers(self) -> list[tuple[str, bytes | None]] | None:
        return self.hdrs

    def timestamp(self) -> tuple[int, int]:
        return self.ts

    def error(self) -> Any:
        return self.err


@pytest.fixture(scope="session", name="registry")
def registry_fixture(registry_url: str) -> str:
    """The session's real Confluent-compatible registry (tests/services.py registry_url)."""
    return registry_url
