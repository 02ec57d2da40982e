"""Generated upcasters: every example of the example spec decodes into the current model, and
each op kind does what the spec reference says, on real builds."""

from __future__ import annotations

import json
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from fastavro import schemaless_writer

from eventgen.emit import layout
from eventgen.ir import naming
from eventgen.ir.model import Project, thaw
from eventgen.pipeline import load_project
from eventgen.runtime.avro import avro_schema, decode_avro, upcaster_for
from eventgen.runtime.errors import DecodeError
from eventgen.runtime.jsoncodec import decode_envelope
from eventgen.runtime.registry import MessageRegistry
from tests.emit_services.helpers import EXAMPLE, build, import_fresh, write_specs


def _example_project() -> Project:
    project, found = load_project(EXAMPLE)
    assert project is not None, found
    return project


def _examples(project: Project) -> list[tuple[str, int, Any]]:
    return [
        (m.qualified, ex.version, thaw(ex.payload))
        for m in project.all_messages()
        for ex in m.examples
    ]


def test_example_spec_has_an_older_example() -> None:
    # The test below only proves upcasting if the spec keeps a v1 example of a v2 message.
    project = _example_project()
    older = [(q, v) for q, v, _ in _examples(project) if v < project.message(q).version]
    assert ("orders.OrderPlaced", 1) in older


def test_every_example_decodes_into_the_current_model(example_build: Path) -> None:
    """JSON envelope path: schema_version N payload -> upcast -> the current model, strictly."""
    project = _example_project()
    checked = 0
    for qualified, version, payload in _examples(project):
        message = project.message(qualified)
        module = import_fresh(example_build, project.package, naming.py_module(message.context))
        cls = getattr(module, naming.py_class(message.name))
        envelope = {
            "event_id": "8c2d1c3e-1f60-4a55-8b3e-2a0c9f1d7e11",
            "type": cls.TYPE,
            "schema_version": version,
            "occurred_at": "2024-05-01T10:15:00Z",
            "correlation_id": None,
            "causation_id": None,
            "payload": payload,
        }
        upcast = upcaster_for(cls) if version != cls.VERSION else None
        decoded = decode_envelope(json.dumps(envelope), MessageRegistry([cls]), upcast)
        assert type(decoded.payload) is cls
        assert decoded.schema_version == cls.VERSION
        checked += 1
    assert checked == len(_examples(project)) >= 4


def test_v1_order_placed_through_avro_and_the_upcaster(example_build: Path) -> None:
    """Avro path: bytes written under the v1 writer schema decode as the v2 model."""
    project = _example_project()
    orders = import_fresh(example_build, project.package, "orders")
    cls = orders.OrderPlaced
    assert cls.UPCASTS == layout.upcast_module(project, "orders")
    message = project.message("orders.OrderPlaced")
    v1 = next(ex for ex in message.examples if ex.version == 1)
    fields = dict(layout.versions(message))[1]
    index = layout.TypeIndex(project)
    raw = thaw(v1.payload)
    values = {
        f.name: layout.typed_value(f.type, raw.get(f.name, thaw(f.default)), index) for f in fields
    }
    buffer = BytesIO()
    schemaless_writer(buffer, avro_schema(cls, 1), values, disable_tuple_notation=True)
    decoded = decode_avro(cls, buffer.getvalue(), 1, upcaster_for(cls))
    assert str(decoded.customer_id) == raw["cust_id"]
    assert decoded.placed_at.isoformat().startswith("2023-11-02T09:30:00")
    assert decoded.channel == orders.SalesChannel.WEB
    assert [line.sku for line in decoded.lines] == ["MUG-001"]


OPS_PROJECT = """\
eventgen: 1
project: ops
package: ops_events
output: ../out
defaults:
  topic: {partitions: 1, replication_factor: 1}
"""

OPS_CONTEXT = """\
eventgen: 1
context: people
topics:
  people-events: {key: uuid}
events:
  PersonRegistered:
    version: 4
    topic: people-events
    key: person_id
    fields:
      person_id: uuid
      first: string
      last: string
      display: string
      age: int
      score: decimal
      active: boolean
      tier: string
      label: string
      country: {type: string, default: DE}
      tags: {type: "list[string]", default: []}
    upcast:
      - from: 1
        ops:
          - rename: {id: person_id}
          - split: {field: full_name, into: [first, last], sep: " "}
          - add: {country: DE, tags: []}
      - from: 2
        ops:
          - merge: {fields: [first_copy, last_copy], into: display, sep: ", "}
          - convert: {field: age, to: int, from: string}
          - convert: {field: score, to: decimal, from: string}
          - convert: {field: active, to: boolean, from: string}
          - convert: {field: tier, map: {g: gold, s: silver}, default: bronze}
          - remove: {noise: string}
      - from: 3
        ops:
          - add: {label: {from: tier}}
          - handler: "ops_hooks:shout"
"""

HOOKS = """\
from typing import Any


def shout(payload: dict[str, Any]) -> dict[str, Any]:
    return {**payload, "label": str(payload["label"]).upper()}
"""


@pytest.fixture(scope="module")
def ops_module(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("ops")
    specs = write_specs(root / "specs", {"eventgen.yaml": OPS_PROJECT, "people.yaml": OPS_CONTEXT})
    out = root / "out"
    build(specs, out)
    (out / "ops_hooks.py").write_text(HOOKS, encoding="utf-8")
    return import_fresh(out, "ops_events", "_upcast.people")


def test_every_op_kind(ops_module: Any) -> None:
    v1 = {
        "id": "5b0f3a7e-0f0c-4d2b-9a53-4b7d3c2e1a90",
        "full_name": "Ada King Lovelace",
        "first_copy": "Ada",
        "last_copy": "Lovelace",
        "age": "36",
        "score": "9.75",
        "active": "yes",
        "tier": "g",
        "noise": "x",
    }
    got = ops_module.upcast("people.PersonRegistered", 1, v1)
    assert got == {
        "person_id": "5b0f3a7e-0f0c-4d2b-9a53-4b7d3c2e1a90",
        "first": "Ada",
        "last": "King Lovelace",  # one split per extra target: the rest stays together
        "country": "DE",
        "tags": [],
        "display": "Ada, Lovelace",
        "age": 36,
        "score": Decimal("9.75"),
        "active": True,
        "tier": "gold",
        "label": "GOLD",  # add {from: tier}, then the handler
    }
    assert v1["id"] == "5b0f3a7e-0f0c-4d2b-9a53-4b7d3c2e1a90"  # the input is not mutated


def test_chain_starts_at_the_given_version(ops_module: Any) -> None:
    v3 = {"tier": "silver", "label": "ignored"}
    assert ops_module.upcast("people.PersonRegistered", 3, v3) == {
        "tier": "silver",
        "label": "SILVER",
    }
    current = {"tier": "x"}
    assert ops_module.upcast("people.PersonRegistered", 4, current) == current


def test_map_default_and_unmapped(ops_module: Any) -> None:
    got = ops_module.upcast("people.PersonRegistered", 2, {"tier": "platinum"})
    assert got["tier"] == "bronze"
    assert got["display"] == ""  # merge of absent fields


@pytest.mark.parametrize(
    ("message_type", "version", "reason"),
    [
        ("people.Nobody", 1, "unsupported_version"),
        ("people.PersonRegistered", 0, "unsupported_version"),
        ("people.PersonRegistered", 5, "unsupported_version"),
    ],
)
def test_unknown_type_or_version(
    ops_module: Any, message_type: str, version: int, reason: str
) -> None:
    with pytest.raises(DecodeError) as caught:
        ops_module.upcast(message_type, version, {})
    assert caught.value.reason == reason


def test_a_step_that_does_not_fit_is_invalid_payload(ops_module: Any) -> None:
    with pytest.raises(DecodeError) as caught:
        ops_module.upcast("people.PersonRegistered", 2, {"age": "thirty"})
    assert caught.value.reason == "invalid_payload"
    assert "upcasting v2: ValueError" in caught.value.detail
