"""The generated `<context>_aggregates.py` of the example: it imports, type-checks, lints, and
its state models, apply, deciders and failure replies do what the spec says."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any
from uuid import UUID, uuid4

import pytest

from eventgen.emit.format import LINE_LENGTH, ruff_bin
from eventgen.emit.services.aggregates import state_hash
from eventgen.ir.model import Field, Project, RecordType, Scalar
from eventgen.pipeline import load_project
from eventgen.runtime.errors import CommandRejected
from eventgen.runtime.es.spec import AggregateDefinition, CommandMeta
from tests.emit_services.helpers import EXAMPLE, build, import_fresh, run_mypy

RULES = "--select=E,F,W,I,B,UP,SIM,C4,RUF"  # as the other emitter tests
PACKAGE = "shop_events"
MODULE = "orders_aggregates"
ORDER_ID = UUID("0d7a3c5e-8b1f-4f8e-9a51-3e2b7c9d4f60")
CUSTOMER_ID = UUID("1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed")
ISSUED = datetime(2024, 5, 1, 10, 15, tzinfo=UTC)


@pytest.fixture(scope="module")
def agg(example_build: Path) -> ModuleType:
    return import_fresh(example_build, PACKAGE, MODULE)


@pytest.fixture(scope="module")
def models(agg: ModuleType) -> ModuleType:
    return sys.modules[f"{PACKAGE}.orders"]


def _meta() -> CommandMeta:
    return CommandMeta(uuid4(), ISSUED, "corr-1", None)


def _address(models: ModuleType, city: str = "Berlin") -> Any:
    return models.Address(
        recipient="Grace Hopper", line1="Hauptstrasse 5", city=city, postal_code="10115",
        country="DE",
    )  # fmt: skip


def _place(models: ModuleType) -> Any:
    line = models.OrderLine(
        sku="MUG-001", quantity=2, unit_price=models.Money(amount=Decimal("9.50"), currency="EUR")
    )
    return models.PlaceOrder(
        order_id=ORDER_ID,
        customer_id=CUSTOMER_ID,
        lines=(line,),
        total=models.Money(amount=Decimal("19.00"), currency="EUR"),
        shipping_address=_address(models),
        requested_delivery_date=date(2024, 5, 3),
        attributes={"utm_source": "newsletter"},
    )


def _fold(agg: ModuleType, events: list[Any], state: Any = None) -> Any:
    state = agg.OrderState() if state is None else state
    for event in events:
        state = agg.apply_order(state, event)
    return state


def _placed(agg: ModuleType, models: ModuleType) -> tuple[Any, list[Any]]:
    events = agg.decide_order_place_order(agg.OrderState(), _place(models), _meta())
    return _fold(agg, events), events


def test_module_passes_mypy_strict_and_ruff(example_build: Path, tmp_path: Path) -> None:
    path = f"{PACKAGE}/{MODULE}.py"
    # The shared example build stays as built (test_build compares it byte for byte).
    result = run_mypy(example_build, "--cache-dir", str(tmp_path / "mypy"), path)
    assert result.returncode == 0, result.stdout + result.stderr
    for argv in (["check", RULES], ["format", "--check"]):
        lint = subprocess.run(
            [ruff_bin(), argv[0], "--isolated", "--no-cache", f"--line-length={LINE_LENGTH}", *argv[1:], path],
            cwd=example_build, capture_output=True, text=True, check=False, timeout=120,
        )  # fmt: skip
        assert lint.returncode == 0, lint.stdout + lint.stderr


def test_module_objects(agg: ModuleType, models: ModuleType) -> None:
    assert agg.EVENT_STORE_SPEC.table == "orders_events"
    assert agg.EVENT_STORE_SPEC.snapshot_table == "orders_snapshots"
    assert agg.EVENT_STORE_SPEC.store == "sqlite"
    assert models.OrderPlaced in agg.event_store.messages
    assert models.OrderRejected not in agg.event_store.messages  # a reply, not a stored event
    definition = agg.ORDER
    assert isinstance(definition, AggregateDefinition)
    assert (definition.name, definition.qualified, definition.id_field) == (
        "Order", "orders.Order", "order_id",
    )  # fmt: skip
    assert definition.snapshot_every == 100
    assert definition.state is agg.OrderState
    assert definition.decider(models.CancelOrder) is agg.decide_order_cancel_order
    assert definition.failure_reply(models.PlaceOrder) is agg.reject_order_place_order
    assert definition.failure_reply(models.CancelOrder) is None
    assert agg.order.definition is definition
    assert agg.order.store is agg.event_store
    app_module = sys.modules[f"{PACKAGE}.orders_app"]
    assert agg.order.outbox is app_module.outbox
    assert agg.order_command_handler is app_module.order_command_handler
    handlers = agg.order_command_handler.handlers
    assert set(handlers) == {
        "orders.PlaceOrder", "orders.CancelOrder", "orders.ChangeShippingAddress",
        "orders.AddOrderNote", "orders.ArchiveOrder",
    }  # fmt: skip
    assert all(h == agg.order.handle_consumed for h in handlers.values())


def test_initial_state_has_the_spec_defaults(agg: ModuleType, models: ModuleType) -> None:
    state = agg.OrderState()
    assert state.status is models.OrderStatus.UNKNOWN
    assert state.total == Decimal(0) and state.currency == "EUR"
    assert state.lines == () and state.notes == () and state.address_changes == 0
    assert state.customer_id is None and state.shipping_address is None
    with pytest.raises(Exception, match="frozen"):
        state.status = models.OrderStatus.PLACED


def test_place_order_on_a_new_stream_fills_the_event(agg: ModuleType, models: ModuleType) -> None:
    meta = _meta()
    command = _place(models)
    [event] = agg.decide_order_place_order(agg.OrderState(), command, meta)
    assert isinstance(event, models.OrderPlaced)
    assert event.order_id == ORDER_ID and event.customer_id == CUSTOMER_ID
    assert event.placed_at == ISSUED  # $meta.occurred_at
    assert event.lines == command.lines and event.total == command.total
    assert event.channel is models.SalesChannel.WEB  # the command's default, via $.channel
    assert event.requested_delivery_date == date(2024, 5, 3)
    assert event.attributes == {"utm_source": "newsletter"}
    state = agg.apply_order(agg.OrderState(), event)
    assert state.status is models.OrderStatus.PLACED
    assert state.total == Decimal("19.00") and state.currency == "EUR"  # $.total.amount
    assert state.customer_id == CUSTOMER_ID and state.lines == command.lines


def test_guard_false_raises_command_rejected(agg: ModuleType, models: ModuleType) -> None:
    state, _ = _placed(agg, models)
    with pytest.raises(CommandRejected) as info:
        agg.decide_order_place_order(state, _place(models), _meta())
    rejection = info.value
    assert rejection.aggregate == "Order" and rejection.command == "orders.PlaceOrder"
    assert rejection.guard == "status == UNKNOWN"
    assert rejection.state == {"status": models.OrderStatus.PLACED}
    assert rejection.aggregate_id == ORDER_ID
    assert "status == UNKNOWN" in str(rejection) and "PLACED" in str(rejection)


def test_or_guard_and_state_values_in_emit(agg: ModuleType, models: ModuleType) -> None:
    state, _ = _placed(agg, models)
    cancel = models.CancelOrder(order_id=ORDER_ID, reason="changed my mind")
    [event] = agg.decide_order_cancel_order(state, cancel, _meta())
    assert event.previous_status is models.OrderStatus.PLACED  # $state.status
    assert event.cancelled_at == ISSUED and event.reason == "changed my mind"
    confirmed = _fold(
        agg, agg.decide_order_confirm_order(state, models.ConfirmOrder(order_id=ORDER_ID), _meta())
    , state)  # fmt: skip
    assert confirmed.status is models.OrderStatus.CONFIRMED
    [again] = agg.decide_order_cancel_order(confirmed, cancel, _meta())  # the `or` branch
    assert again.previous_status is models.OrderStatus.CONFIRMED
    cancelled = agg.apply_order(confirmed, again)
    with pytest.raises(CommandRejected) as info:
        agg.decide_order_cancel_order(cancelled, cancel, _meta())
    assert info.value.guard == "status == PLACED or status == CONFIRMED"
    assert info.value.state == {"status": models.OrderStatus.CANCELLED}


def test_inc_set_and_the_and_guard(agg: ModuleType, models: ModuleType) -> None:
    state, _ = _placed(agg, models)
    for n in range(3):
        change = models.ChangeShippingAddress(order_id=ORDER_ID, address=_address(models, f"C{n}"))
        [event] = agg.decide_order_change_shipping_address(state, change, _meta())
        assert event.previous_address == state.shipping_address  # $state, before the change
        assert event.new_address.city == f"C{n}" and event.changed_at == ISSUED
        state = agg.apply_order(state, event)  # set and inc of one event, both applied
        assert state.address_changes == n + 1 and state.shipping_address.city == f"C{n}"
    change = models.ChangeShippingAddress(order_id=ORDER_ID, address=_address(models))
    with pytest.raises(CommandRejected) as info:
        agg.decide_order_change_shipping_address(state, change, _meta())
    assert info.value.state == {"status": models.OrderStatus.PLACED, "address_changes": 3}


def test_append(agg: ModuleType, models: ModuleType) -> None:
    with pytest.raises(CommandRejected):  # `status != UNKNOWN and ...` on a new stream
        agg.decide_order_add_order_note(
            agg.OrderState(), models.AddOrderNote(order_id=ORDER_ID, text="x"), _meta()
        )
    state, _ = _placed(agg, models)
    for text in ("first", "second"):
        note = models.AddOrderNote(order_id=ORDER_ID, text=text)
        [event] = agg.decide_order_add_order_note(state, note, _meta())
        assert event.author == "customer-service"  # the command's default through $.author
        state = agg.apply_order(state, event)
    assert state.notes == ("first", "second")


def test_folded_state_round_trips_as_a_snapshot(agg: ModuleType, models: ModuleType) -> None:
    state, _ = _placed(agg, models)
    change = models.ChangeShippingAddress(order_id=ORDER_ID, address=_address(models, "Rome"))
    state = _fold(agg, agg.decide_order_change_shipping_address(state, change, _meta()), state)
    note = models.AddOrderNote(order_id=ORDER_ID, text="n")
    state = _fold(agg, agg.decide_order_add_order_note(state, note, _meta()), state)
    assert agg.OrderState.model_validate_json(state.model_dump_json()) == state


def test_events_apply_does_not_list_leave_the_state(agg: ModuleType, models: ModuleType) -> None:
    state, _ = _placed(agg, models)
    rejected = models.OrderRejected(
        order_id=ORDER_ID, customer_id=CUSTOMER_ID, reason="r", rejected_at=ISSUED
    )
    assert agg.apply_order(state, rejected) is state


def test_failure_reply(agg: ModuleType, models: ModuleType) -> None:
    state, _ = _placed(agg, models)
    command, meta = _place(models), _meta()
    with pytest.raises(CommandRejected) as info:
        agg.decide_order_place_order(state, command, meta)
    reply = agg.reject_order_place_order(command, info.value, meta)
    assert isinstance(reply, models.OrderRejected)
    assert reply.order_id == ORDER_ID and reply.customer_id == CUSTOMER_ID
    assert reply.reason == str(info.value)[:500] and "status == UNKNOWN" in reply.reason
    assert reply.rejected_at == ISSUED
    long = CommandRejected("Order", "orders.PlaceOrder", "g" * 600, {}, ORDER_ID)
    assert len(agg.reject_order_place_order(command, long, meta).reason) == 500


def _project() -> Project:
    project, found = load_project(EXAMPLE)
    assert project is not None, found
    return project


def test_state_hash_follows_the_state_schema(agg: ModuleType) -> None:
    from dataclasses import replace

    project = _project()
    [order] = project.context("orders").aggregates
    assert agg.ORDER.state_hash == state_hash(project, order)
    assert len(agg.ORDER.state_hash) == 64
    changed = [
        replace(order, state=(*order.state, Field("extra", Scalar("int"), None, True, 0))),
        replace(order, state=tuple(replace(f, has_default=False) if f.name == "currency"
                                   else f for f in order.state)),
        replace(order, state=tuple(replace(f, type=Scalar("string", nullable=True))
                                   if f.name == "currency" else f for f in order.state)),
    ]  # fmt: skip
    hashes = {state_hash(project, a) for a in changed}
    assert len(hashes) == 3 and agg.ORDER.state_hash not in hashes
    # A referenced type's shape counts: Address is reached through shipping_address.
    ctx = project.context("orders")
    address = next(t for t in ctx.types if t.name == "Address")
    assert isinstance(address, RecordType)
    smaller = replace(address, fields=address.fields[:-1])
    other_types = tuple(smaller if t is address else t for t in ctx.types)
    other = replace(
        project, contexts=tuple(replace(c, types=other_types) if c is ctx else c
                                for c in project.contexts)
    )  # fmt: skip
    assert state_hash(other, order) != agg.ORDER.state_hash


def test_two_builds_are_byte_identical(example_build: Path, tmp_path: Path) -> None:
    build(EXAMPLE, tmp_path / "again")
    path = f"{PACKAGE}/{MODULE}.py"
    assert (tmp_path / "again" / path).read_bytes() == (example_build / path).read_bytes()
