"""Export -> import -> build: the example platform comes back, schemas byte for byte.

`eventgen build specs/` writes generated/asyncapi.yaml; `eventgen import asyncapi` turns it
into specs2/; building specs2 must write the same Avro and JSON Schema files, every one of
them (queries with the type or projection they return included), with no error and no
warning, and resolve to the same spec for what the export carries (generated/
resolved-spec.json): messages with their examples, types, topics, consumers with their
`suppress:`, projections, outboxes. Aggregates, sagas, choreographies and the contexts'
docs are not in the platform export (docs/interop.md, "Import"), checked below as such.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
EVENTGEN = Path(sys.executable).parent / "eventgen"
SCHEMA_FILES = 144  # the example's Avro and JSON Schema files, all compared

# Context keys of resolved-spec.json the export carries, compared whole.
CARRIED = ("consumers", "messages", "name", "outbox", "projections", "topics", "types")
# ... and the ones it does not: each is set in the example and absent after the round trip.
NOT_CARRIED = {
    "orders": ("aggregates", "doc", "sagas"),
    "shipping": ("choreographies", "doc"),
    "inventory": ("doc",),
    "payments": ("doc",),
}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(EVENTGEN), *args], capture_output=True, text=True, cwd=ROOT, check=False
    )


def _schema_files(root: Path) -> list[str]:
    found = [*root.glob("avro/**/*.avsc"), *root.glob("jsonschema/**/*.json")]
    return sorted(p.relative_to(root).as_posix() for p in found)


def _contexts(out: Path) -> dict[str, dict[str, Any]]:
    resolved = json.loads((out / "resolved-spec.json").read_text("utf-8"))
    return {c["name"]: c for c in resolved["project"]["contexts"]}


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("roundtrip")
    built = _run("build", "specs", "-o", str(tmp / "out1"), "--no-cache")
    assert built.returncode == 0, built.stderr
    imported = _run(
        "import", "asyncapi", str(tmp / "out1" / "asyncapi.yaml"), "-o", str(tmp / "specs2")
    )
    assert imported.returncode == 0, imported.stdout + imported.stderr
    rebuilt = _run(
        "build", str(tmp / "specs2"), "-o", str(tmp / "out2"), "--no-cache", "--format", "json"
    )
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    # Every diagnostic, errors and warnings (W0822 without the consumers' `suppress:`).
    assert json.loads(rebuilt.stdout) == [], rebuilt.stdout
    return tmp / "out1", tmp / "out2"


def test_every_schema_comes_back_byte_for_byte(trees: tuple[Path, Path]) -> None:
    out1, out2 = trees
    original = _schema_files(out1)
    assert len(original) == SCHEMA_FILES
    assert _schema_files(out2) == original  # same list: nothing missing, nothing extra
    differing = [f for f in original if (out1 / f).read_bytes() != (out2 / f).read_bytes()]
    assert differing == []


def test_queries_and_what_they_return_come_back(trees: tuple[Path, Path]) -> None:
    out1, out2 = trees
    for name in ("inventory/GetStockLevel", "payments/GetPayment", "payments/PaymentView"):
        assert (out2 / "avro" / f"{name}.avsc").read_bytes() == (
            out1 / "avro" / f"{name}.avsc"
        ).read_bytes()
    queries = {
        m["qualified"]: m.get("returns")
        for c in _contexts(out2).values()
        for m in c["messages"]
        if m["kind"] == "query"
    }
    assert queries == {
        "inventory.GetStockLevel": "StockLevel",
        "orders.GetOrderSummary": "OrderSummary",
        "payments.GetPayment": "PaymentView",
        "shipping.TrackShipment": "ShipmentTracking",
    }


def test_resolved_spec_is_the_same_for_what_the_export_carries(
    trees: tuple[Path, Path],
) -> None:
    first, second = _contexts(trees[0]), _contexts(trees[1])
    assert sorted(first) == sorted(second) == sorted(NOT_CARRIED)
    for name, ctx in first.items():
        for key in CARRIED:
            if key == "messages":  # `aggregate:` names an aggregate, which is not exported
                expected = [{k: v for k, v in m.items() if k != "aggregate"} for m in ctx[key]]
                assert second[name][key] == expected, f"{name}: {key}"
            else:
                assert second[name].get(key) == ctx.get(key), f"{name}: {key}"


def test_examples_suppress_and_outboxes_are_in_the_example(trees: tuple[Path, Path]) -> None:
    """The comparison above covers them only if the example has them: it does."""
    first, second = _contexts(trees[0]), _contexts(trees[1])
    examples = [e for c in second.values() for m in c["messages"] for e in m.get("examples", [])]
    assert len(examples) == sum(
        len(m.get("examples", [])) for c in first.values() for m in c["messages"]
    )
    assert len(examples) >= 9
    assert any("expect" in e for e in examples)
    orders_placed = next(m for m in second["orders"]["messages"] if m["name"] == "OrderPlaced")
    assert [e["version"] for e in orders_placed["examples"]] == [1, 2]  # spec order
    suppressed = sorted(
        f"{c['name']}.{k['name']}"
        for c in second.values()
        for k in c["consumers"]
        if k.get("suppress")
    )
    assert suppressed == ["payments.refund-orders", "shipping.ship-confirmed-orders"]
    outboxes = sorted(n for n, c in second.items() if c.get("outbox"))
    assert outboxes == sorted(n for n, c in first.items() if c.get("outbox"))
    assert second["payments"]["outbox"]["relay"] == "debezium"
    assert len(second["orders"]["projections"]) == 1


def test_what_the_export_does_not_carry(trees: tuple[Path, Path]) -> None:
    first, second = _contexts(trees[0]), _contexts(trees[1])
    for name, keys in NOT_CARRIED.items():
        for key in keys:
            assert first[name].get(key), f"{name}: {key} is in the example"
            assert not second[name].get(key), f"{name}: {key} came back: update NOT_CARRIED"


def test_key_schemas_parse_equal(trees: tuple[Path, Path]) -> None:
    out1, out2 = trees
    keys = sorted(p.name for p in (out1 / "avro" / "keys").glob("*.avsc"))
    assert len(keys) >= 8
    for name in keys:
        first = json.loads((out1 / "avro" / "keys" / name).read_text("utf-8"))
        assert first == json.loads((out2 / "avro" / "keys" / name).read_text("utf-8"))
