"""Typed flow assignments, required payload fields, example payloads and key paths per topic.

The golden cases flows_types, examples_values and flows_key_paths show every finding as a user
sees it; these tests pin the parts a golden case cannot isolate: the type relation itself, the
envelope table against the runtime's envelope, and exact counts and positions.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from eventgen.diagnostics import Diagnostic
from eventgen.ir.model import EnumType, ListOf, MapOf, Named, RecordType, Scalar, TypeRef
from eventgen.ir.paths import ENVELOPE_FIELDS
from eventgen.ir.resolve.builder import build_project
from eventgen.rules.checks_types import (
    ENVELOPE_TYPES,
    NULLABLE,
    OTHER,
    assign_problem,
    check_typed_flows,
    guard_problem,
)
from eventgen.runtime.model import EnvelopeHead
from eventgen.spec.project import read_specs

PROJECT = "eventgen: 1\nproject: demo\npackage: demo_events\n"
DIGITS = "it may have more digits than the target holds"


def _found(tmp_path: Path, body: str) -> list[Diagnostic]:
    specs = tmp_path / "specs"
    specs.mkdir(parents=True)
    (specs / "eventgen.yaml").write_text(PROJECT, encoding="utf-8")
    (specs / "orders.yaml").write_text(body, encoding="utf-8")
    base, _ = read_specs(specs)
    project, _ = build_project(base, None)
    return sorted(check_typed_flows(project), key=lambda d: (d.loc.line, d.loc.col, d.code))


def _dec(p: int, s: int, nullable: bool = False) -> Scalar:
    return Scalar("decimal", nullable, p, s)


@pytest.mark.parametrize(
    ("source", "target", "expected"),
    [
        (Scalar("uuid"), Scalar("uuid"), None),
        (Scalar("uuid"), Scalar("uuid", nullable=True), None),
        (Scalar("uuid", nullable=True), Scalar("uuid"), NULLABLE),
        (Scalar("int"), Scalar("long"), None),
        (Scalar("int"), Scalar("double"), None),
        (Scalar("float"), Scalar("double"), None),
        (Scalar("long"), Scalar("int"), OTHER),
        (Scalar("long"), Scalar("double"), OTHER),
        (Scalar("double"), Scalar("float"), OTHER),
        (Scalar("string"), Scalar("uuid"), OTHER),
        (Scalar("uuid"), Scalar("string"), OTHER),
        (_dec(12, 2), _dec(38, 9), None),
        (_dec(12, 2), _dec(12, 2), None),
        (_dec(38, 9), _dec(12, 2), DIGITS),
        (_dec(12, 2), _dec(12, 3), DIGITS),  # one integer digit fewer
        (_dec(12, 3), _dec(12, 2), DIGITS),  # scale would be cut
        (Named("orders.Money"), Scalar("uuid"), OTHER),
        (Named("orders.Money"), Named("orders.Money", nullable=True), None),
        (Named("orders.Money"), Named("payments.Money"), OTHER),
        (ListOf(Scalar("string")), Scalar("string"), OTHER),
        (Scalar("string"), ListOf(Scalar("string")), OTHER),
        (ListOf(Scalar("int")), ListOf(Scalar("long")), None),
        (ListOf(Scalar("string", nullable=True)), ListOf(Scalar("string")), f"items: {NULLABLE}"),
        (MapOf(Scalar("int")), MapOf(Scalar("string")), f"items: {OTHER}"),
        (MapOf(Scalar("int")), ListOf(Scalar("int")), OTHER),
    ],
)
def test_assignability(source: TypeRef, target: TypeRef, expected: str | None) -> None:
    assert assign_problem(source, target) == expected


def test_envelope_table_is_the_runtime_envelope() -> None:
    assert tuple(ENVELOPE_TYPES) == ENVELOPE_FIELDS
    runtime = EnvelopeHead.model_fields
    # `message_id` is the language's name for a command's id: the envelope's event_id.
    assert set(ENVELOPE_TYPES) - {"message_id"} == set(runtime)
    assert ENVELOPE_TYPES["message_id"] == ENVELOPE_TYPES["event_id"]
    for name, info in runtime.items():
        assert ENVELOPE_TYPES[name].nullable == (not info.is_required()), name


FLOWS = """\
eventgen: 1
context: orders
types:
  Status: {enum: [NEW, PAID], default: NEW}
events:
  OrderPaid: {fields: {order_id: uuid, amount: "decimal(12,2)", note: string?}}
commands:
  Pay: {fields: {order_id: uuid, amount: "decimal(12,2)", tip: {type: int, default: 0}}}
aggregates:
  Order:
    id: order_id
    state:
      status: {type: Status, default: NEW}
      paid: {type: "decimal(12,2)", default: "0"}
      note: {type: string, default: ""}
      notes: {type: "list[string]", default: []}
    events:
      OrderPaid:
        set: {status: PAID, note: $.note}
        inc: {paid: $.amount, status: 1}
        append: {notes: $.note, note: x}
    commands:
      Pay:
        emit: {OrderPaid: {order_id: $.order_id, amount: $.amount}}
sagas:
  PaySaga:
    started_by: OrderPaid
    correlation: order_id
    data: {order_id: uuid, amount: "decimal(12,2)"}
    init: {order_id: $.order_id, amount: $.amount}
    steps:
      - name: pay
        send: {command: Pay, payload: {amount: $data.amount}}
        timeout: 5s
"""


def test_flow_findings_count_and_place(tmp_path: Path) -> None:
    found = _found(tmp_path, FLOWS)
    got = [(d.code, d.loc.line, d.loc.col) for d in found]
    assert got == [
        ("E0816", 19, 35),  # note: string? into string
        ("E0817", 20, 39),  # inc on an enum
        ("E0816", 21, 25),  # append: string? item into list[string]
        ("E0817", 21, 39),  # append onto a string
        ("E0818", 32, 9),  # the send misses order_id (tip has a default)
    ]
    assert "`order_id`" in found[-1].message and "tip" not in found[-1].message
    # Clean lines stay clean: PAID is a symbol, decimal into decimal, the full emit.
    assert all(d.loc.line not in (24, 28) for d in found)


def test_examples_each_bad_value_at_its_line(tmp_path: Path) -> None:
    body = """\
eventgen: 1
context: orders
events:
  OrderPaid:
    fields: {order_id: uuid, amount: "decimal(12,2)", lines: "list[int]"}
    examples:
      - payload: {order_id: "6f1c1c38-2d5e-4d47-9d0a-0c6f8f1b2a11", amount: "1.00", lines: [1]}
      - payload:
          order_id: nope
          amount: "1.001"
          lines: [1, x, 3, y]
      - payload: {amount: "2.00", lines: []}
"""
    found = _found(tmp_path, body)
    assert [d.code for d in found] == ["E0708"] * 5
    assert [(d.loc.line, d.loc.col) for d in found] == [
        (9, 21),
        (10, 19),
        (11, 22),
        (11, 28),
        (12, 18),
    ]
    assert "`order_id`" in found[-1].message and "misses" in found[-1].message


def test_examples_of_an_unknown_or_incomplete_version_are_not_value_checked(
    tmp_path: Path,
) -> None:
    body = """\
eventgen: 1
context: orders
events:
  OrderPaid:
    version: 2
    fields: {order_id: uuid}
    upcast:
      - from: 1
        ops: [{remove: [legacy]}]
    examples:
      - {version: 1, payload: {order_id: nope, legacy: 1}}
      - {version: 3, payload: {order_id: nope}}
      - {version: 2, payload: {order_id: nope}}
"""
    found = _found(tmp_path, body)
    # v1 hides `legacy`'s type (W0706) and v3 does not exist (E0705): only v2 is checked.
    assert [(d.code, d.loc.line) for d in found] == [("E0708", 13)]


def test_the_example_platform_is_clean() -> None:
    specs = Path(__file__).resolve().parents[2] / "specs"
    base, _ = read_specs(specs)
    project, _ = build_project(base, None)
    assert sum(len(m.examples) for m in project.all_messages()) >= 6
    assert sum(len(s.steps) for c in project.contexts for s in c.sagas) >= 3
    assert check_typed_flows(project) == []


TYPES: dict[str, EnumType | RecordType] = {
    "orders.Status": EnumType("orders.Status", "orders", "Status", ("NEW", "PAID")),
    "orders.Money": RecordType("orders.Money", "orders", "Money", ()),
}


def _lookup(name: str) -> EnumType | RecordType | None:
    return TYPES.get(name)


@pytest.mark.parametrize(
    ("ref", "op", "literal", "refused"),
    [
        (Named("orders.Status"), "==", "PAID", False),
        (Named("orders.Status"), "!=", '"NEW"', False),
        (Named("orders.Status"), "==", "SHIPPED", True),
        (Named("orders.Status"), "<", "PAID", True),
        (Scalar("int"), "<", "3", False),
        (Scalar("int"), "<", "3.5", True),
        (Scalar("int"), "<", "many", True),
        (Scalar("int"), "==", '"3"', True),  # quoted is a string
        (Scalar("double"), ">=", "0.5", False),
        (Scalar("decimal", precision=12, scale=2), ">", "0", False),
        (Scalar("decimal", precision=12, scale=2), ">", "0.001", True),
        (Scalar("boolean"), "==", "true", False),
        (Scalar("boolean"), "==", "yes", True),
        (Scalar("boolean"), "<", "true", True),
        (Scalar("uuid"), "==", "6f1c1c38-2d5e-4d47-9d0a-0c6f8f1b2a11", False),
        (Scalar("uuid"), "<", "6f1c1c38-2d5e-4d47-9d0a-0c6f8f1b2a11", True),
        (Scalar("string"), "==", "'two words'", False),
        (Scalar("timestamp"), "<", "2024-01-01T00:00:00Z", False),
        (Scalar("timestamp"), "<", "yesterday", True),
        (Scalar("uuid", nullable=True), "==", "null", False),
        (Scalar("uuid"), "==", "null", True),
        (Scalar("uuid", nullable=True), "<", "null", True),
        (ListOf(Scalar("string")), "==", "x", True),
        (Named("orders.Money"), "==", "x", True),
    ],
)
def test_guard_literals(ref: TypeRef, op: str, literal: str, refused: bool) -> None:
    assert (guard_problem(ref, op, literal, _lookup) is not None) is refused


def test_projection_row_key_type(tmp_path: Path) -> None:
    body = """\
eventgen: 1
context: orders
events:
  OrderPlaced: {fields: {order_id: uuid}}
  OrderNoted: {fields: {order_id: string, ref: uuid, text: string}}
projections:
  Rows:
    key: order_id
    fields: {order_id: uuid, n: {type: int, default: 0}}
    on:
      OrderPlaced: {inc: {n: 1}}
      OrderNoted: {set: {n: 1}, inc: {n: 2}}
"""
    found = _found(tmp_path, body)
    # The event's own order_id is a string: one finding, though two ops share the key.
    assert [(d.code, d.loc.line) for d in found] == [("E0816", 12)]
    fixed = _found(tmp_path / "fixed", body.replace("{set: {n: 1}", "{key: $.ref, set: {n: 1}"))
    assert fixed == []
