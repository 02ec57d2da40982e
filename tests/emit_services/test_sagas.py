"""The generated `<context>_sagas.py`: the example's module imports with the runtime, passes
mypy --strict and ruff, and its table, mappings and worker objects are what the spec says; a
spec with hostile strings and reserved names gives safe code; builds are byte-identical; the
saga build errors (E0833-E0835, E0837-E0839) are found alike by validate and build."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any
from uuid import UUID

import pytest

from eventgen.emit.format import LINE_LENGTH, ruff_bin
from eventgen.emit.services.saga_table import (
    COMPENSATE,
    COMPLETED,
    DONE,
    NEXT_COMPENSATION,
    REJECTED,
    RETRY,
    STUCK,
    TIMEOUT,
    TransitionRow,
    saga_transitions,
)
from eventgen.emit.services.sagas import data_hash
from eventgen.ir.model import Field, Project, Saga, Scalar
from eventgen.pipeline import load_project
from tests.emit_services.helpers import EXAMPLE, ROOT, build, import_fresh, run_mypy

RULES = "--select=E,F,W,I,B,UP,SIM,C4,RUF"  # as the other emitter tests
PACKAGE = "shop_events"
MODULE = "orders_sagas"
CASES = ROOT / "tests" / "cases"
HOSTILE = CASES / "saga_runtime_ok" / "specs"
BAD = CASES / "saga_runtime" / "specs"
ORDER_ID = UUID("0d7a3c5e-8b1f-4f8e-9a51-3e2b7c9d4f60")
CUSTOMER_ID = UUID("1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed")
RESERVATION = UUID("7c9e6679-7425-40de-944b-e07fc1f90ae7")
NEW_CODES = {"E0833", "E0834", "E0835", "E0837", "E0838", "E0839"}

needs_worker = pytest.mark.skipif(
    importlib.util.find_spec("eventgen.runtime.saga.worker") is None,
    reason="eventgen.runtime.saga.worker (SagaApp, task B) is not in this checkout yet: the "
    "generated module imports it",
)


def _example() -> Project:
    project, found = load_project(EXAMPLE)
    assert project is not None, found
    return project


def _saga(project: Project, name: str) -> Saga:
    return next(s for s in project.all_sagas() if s.name == name)


def _lint(cwd: Path, path: str) -> None:
    for argv in (["check", RULES], ["format", "--check"]):
        lint = subprocess.run(
            [ruff_bin(), argv[0], "--isolated", "--no-cache", f"--line-length={LINE_LENGTH}", *argv[1:], path],
            cwd=cwd, capture_output=True, text=True, check=False, timeout=120,
        )  # fmt: skip
        assert lint.returncode == 0, lint.stdout + lint.stderr


# -- the transition table (pure: no generated code) ---------------------------------------------


def test_place_order_saga_table_rows() -> None:
    rows = saga_transitions(_saga(_example(), "PlaceOrderSaga"))
    by_key = {(r.status, r.step, r.on): r for r in rows}
    assert len(by_key) == len(rows)  # one row per (status, step, on)
    reserved = by_key[("RUNNING", "reserve_stock", "inventory.StockReserved")]
    assert (reserved.outcome, reserved.target, reserved.exhausted) == (
        "success", "book_delivery_slot", None,
    )  # fmt: skip
    assert reserved.reply == "inventory.StockReserved" and reserved.saves
    # Before the pivot: a failure compensates; a timeout with `retry` retries, then compensates.
    assert by_key[("RUNNING", "reserve_stock", "inventory.StockReservationFailed")] == (
        TransitionRow(
            "RUNNING", "reserve_stock", "inventory.StockReservationFailed", "failure", COMPENSATE,
            reply="inventory.StockReservationFailed",
            saves=by_key[("RUNNING", "reserve_stock", "inventory.StockReservationFailed")].saves,
        )
    )  # fmt: skip
    assert by_key[("RUNNING", "reserve_stock", TIMEOUT)] == TransitionRow(
        "RUNNING", "reserve_stock", TIMEOUT, "timeout", RETRY, COMPENSATE
    )
    # The pivot: success goes on, failure compensates; a timeout leaves its outcome unknown and
    # it cannot be undone: RETRY as its retry says (none here: no further attempt), then park.
    assert by_key[("RUNNING", "charge_card", "payments.CardCharged")].target == "confirm_order"
    assert by_key[("RUNNING", "charge_card", "payments.CardDeclined")].target == COMPENSATE
    assert by_key[("RUNNING", "charge_card", TIMEOUT)] == TransitionRow(
        "RUNNING", "charge_card", TIMEOUT, "timeout", RETRY, STUCK
    )
    assert not any(r.step == "charge_card" and COMPENSATE in (r.target, r.exhausted)
                   for r in rows if r.on == TIMEOUT)  # fmt: skip
    # After the pivot (forward): the local step completes, or parks when rejected.
    assert by_key[("RUNNING", "confirm_order", DONE)] == TransitionRow(
        "RUNNING", "confirm_order", DONE, "success", COMPLETED
    )
    assert by_key[("RUNNING", "confirm_order", REJECTED)] == TransitionRow(
        "RUNNING", "confirm_order", REJECTED, "failure", STUCK
    )
    # Compensations: success -> the next one; a timeout retries, then parks (`then: park`).
    assert by_key[("COMPENSATING", "reserve_stock", "inventory.StockReleased")] == TransitionRow(
        "COMPENSATING", "reserve_stock", "inventory.StockReleased", "compensated",
        NEXT_COMPENSATION, reply="inventory.StockReleased",
    )  # fmt: skip
    assert by_key[("COMPENSATING", "book_delivery_slot", TIMEOUT)] == TransitionRow(
        "COMPENSATING", "book_delivery_slot", TIMEOUT, "timeout", RETRY, STUCK
    )
    assert not any(r.status == "COMPENSATING" and r.step == "charge_card" for r in rows)
    assert [r.step for r in rows if r.status == "RUNNING"][:3] == ["reserve_stock"] * 3
    assert len(rows) == 15


def test_forward_send_step_retries_until_done() -> None:
    """A send step after the pivot: failure and timeout retry (exhausted STUCK), and a step
    with `retry_on: [failure]` before the pivot retries failures, compensating at the end."""
    saga = _saga(_example(), "PlaceOrderSaga")
    charge, confirm = saga.steps[2], saga.steps[3]
    send_after = replace(confirm, kind="send", command=charge.command, success=charge.success,
                         failure=charge.failure, name="capture", timeout_ms=1000)  # fmt: skip
    assert charge.retry is None
    book_retry = saga.steps[1].retry
    assert book_retry is not None
    retrying = replace(saga.steps[0], retry=replace(book_retry, retry_on=("failure", "IOError")))
    rows = saga_transitions(replace(saga, steps=(retrying, *saga.steps[1:3], send_after)))
    by_key = {(r.status, r.step, r.on): r for r in rows}
    failed = by_key[("RUNNING", "capture", "payments.CardDeclined")]
    assert (failed.target, failed.exhausted) == (RETRY, STUCK)
    timed_out = by_key[("RUNNING", "capture", TIMEOUT)]
    assert (timed_out.target, timed_out.exhausted) == (RETRY, STUCK)
    assert by_key[("RUNNING", "capture", "payments.CardCharged")].target == COMPLETED
    short = by_key[("RUNNING", "reserve_stock", "inventory.StockReservationFailed")]
    assert (short.target, short.exhausted) == (RETRY, COMPENSATE)
    # retry_on names no timeout: a timeout compensates at once.
    assert by_key[("RUNNING", "reserve_stock", TIMEOUT)].target == COMPENSATE


def test_the_pivot_timeout_follows_its_retry_and_never_compensates() -> None:
    saga = _saga(_example(), "PlaceOrderSaga")
    book_retry = saga.steps[1].retry
    assert book_retry is not None and saga.steps[2].pivot

    def pivot_timeout(retry_on: tuple[str, ...]) -> tuple[str, str | None]:
        pivot = replace(saga.steps[2], retry=replace(book_retry, retry_on=retry_on))
        steps = (*saga.steps[:2], pivot, *saga.steps[3:])
        row = {(r.step, r.on): r for r in saga_transitions(replace(saga, steps=steps))}[
            ("charge_card", TIMEOUT)
        ]
        return row.target, row.exhausted

    assert pivot_timeout(("timeout",)) == (RETRY, STUCK)
    assert pivot_timeout(("failure", "timeout")) == (RETRY, STUCK)
    # A retry of failures only: a timeout is not sent again, it parks at once.
    assert pivot_timeout(("failure",)) == (STUCK, None)


def test_compensation_then_fail() -> None:
    saga = _saga(_example(), "PlaceOrderSaga")
    rows = saga_transitions(replace(saga, compensation_then="fail"))
    ends = {r.exhausted for r in rows if r.status == "COMPENSATING" and r.on == TIMEOUT}
    assert ends == {"@failed"}


def test_data_hash_follows_the_data_schema() -> None:
    project = _example()
    saga = _saga(project, "PlaceOrderSaga")
    assert data_hash(project, saga) == data_hash(project, saga)
    wider = replace(saga, data=(*saga.data, Field("note", Scalar("string", nullable=True))))
    assert data_hash(project, wider) != data_hash(project, saga)
    renamed = replace(saga, data=tuple(replace(f, name=f"{f.name}_") for f in saga.data))
    assert data_hash(project, renamed) != data_hash(project, saga)


# -- the example's generated module --------------------------------------------------------------


@pytest.fixture(scope="module")
def sagas(example_build: Path) -> ModuleType:
    if importlib.util.find_spec("eventgen.runtime.saga.worker") is None:
        pytest.skip("eventgen.runtime.saga.worker (task B) is not in this checkout yet")
    return import_fresh(example_build, PACKAGE, MODULE)


@needs_worker
def test_module_passes_mypy_strict_and_ruff(example_build: Path, tmp_path: Path) -> None:
    path = f"{PACKAGE}/{MODULE}.py"
    result = run_mypy(example_build, "--cache-dir", str(tmp_path / "mypy"), path)
    assert result.returncode == 0, result.stdout + result.stderr
    _lint(example_build, path)


def test_module_lints_without_the_runtime(example_build: Path) -> None:
    _lint(example_build, f"{PACKAGE}/{MODULE}.py")


def test_generated_table_is_the_builder_s(sagas: ModuleType) -> None:
    from eventgen.runtime.saga import spec

    definition = sagas.PLACE_ORDER_SAGA
    assert isinstance(definition, spec.SagaDefinition)
    rows = saga_transitions(_saga(_example(), "PlaceOrderSaga"))
    written = [
        (t.status, t.step, t.on, t.outcome, t.target, t.exhausted) for t in definition.transitions
    ]
    assert written == [(r.status, r.step, r.on, r.outcome, r.target, r.exhausted) for r in rows]
    assert [t.save is not None for t in definition.transitions] == [bool(r.saves) for r in rows]
    assert definition.transitions is sagas.PLACE_ORDER_SAGA_TRANSITIONS
    # The runtime's constants are the values the builder writes.
    assert (spec.TIMEOUT, spec.DONE, spec.REJECTED) == (TIMEOUT, DONE, REJECTED)
    assert (spec.COMPLETED, spec.COMPENSATE, spec.RETRY) == (COMPLETED, COMPENSATE, RETRY)
    assert (spec.NEXT_COMPENSATION, spec.STUCK) == (NEXT_COMPENSATION, STUCK)


def test_engine_accepts_the_definition(sagas: ModuleType) -> None:
    engine = pytest.importorskip("eventgen.runtime.saga.engine")
    engine.validate_definition(sagas.PLACE_ORDER_SAGA)


def test_definition_and_steps(sagas: ModuleType, example_build: Path) -> None:
    d = sagas.PLACE_ORDER_SAGA
    assert (d.name, d.context, d.correlation, d.started_by) == (
        "PlaceOrderSaga", "orders", "order_id", "orders.OrderPlaced",
    )  # fmt: skip
    assert d.data_model is sagas.PlaceOrderSagaData
    assert d.data_hash == data_hash(_example(), _saga(_example(), "PlaceOrderSaga"))
    assert d.deadline_ms == 15 * 60 * 1000
    assert (d.compensation_then, d.compensation_retry.max_attempts) == ("park", 10)
    assert d.compensation_retry.initial_ms == 5000
    assert (d.tables.instances, d.tables.log, d.tables.timers) == (
        "orders_saga_instances", "orders_saga_log", "orders_saga_timers",
    )  # fmt: skip
    steps = {s.name: s for s in d.steps}
    assert [s.name for s in d.steps] == [
        "reserve_stock", "book_delivery_slot", "charge_card", "confirm_order",
    ]  # fmt: skip
    reserve = steps["reserve_stock"]
    assert (reserve.kind, reserve.command, reserve.timeout_ms) == (
        "send", "inventory.ReserveStock", 10_000,
    )  # fmt: skip
    assert reserve.retry is not None and reserve.retry.max_attempts == 5
    assert reserve.retry.retry_on == ("timeout",)
    assert reserve.compensation is not None
    assert reserve.compensation.command == "inventory.ReleaseStock"
    assert reserve.compensation.success == ("inventory.StockReleased",)
    assert (steps["charge_card"].pivot, steps["charge_card"].forward) == (True, False)
    assert steps["charge_card"].retry is None and steps["charge_card"].compensation is None
    confirm = steps["confirm_order"]
    assert (confirm.kind, confirm.command, confirm.forward) == (
        "local",
        "orders.ConfirmOrder",
        True,
    )
    assert confirm.timeout_ms is None


def _placed(models: ModuleType) -> Any:
    money = models.Money(amount=Decimal("19.00"), currency="EUR")
    line = models.OrderLine(
        sku="MUG-001", quantity=2, unit_price=models.Money(amount=Decimal("9.50"), currency="EUR")
    )
    address = models.Address(recipient="Grace Hopper", line1="Hauptstrasse 5", city="Berlin",
                             postal_code="10115", country="DE")  # fmt: skip
    return models.OrderPlaced(
        order_id=ORDER_ID, customer_id=CUSTOMER_ID, lines=(line,), total=money,
        shipping_address=address, requested_delivery_date=date(2024, 5, 3),
        placed_at=datetime(2024, 5, 1, 10, 0, tzinfo=UTC),
    )  # fmt: skip


def test_mappings(sagas: ModuleType) -> None:
    models = sys.modules[f"{PACKAGE}.orders"]
    inventory = sys.modules[f"{PACKAGE}.inventory"]
    shipping = sys.modules[f"{PACKAGE}.shipping"]
    event = _placed(models)
    data = sagas.init_place_order_saga(event)
    assert isinstance(data, sagas.PlaceOrderSagaData)
    assert (data.order_id, data.total, data.lines) == (ORDER_ID, event.total, event.lines)
    assert data.requested_delivery_date == date(2024, 5, 3) and data.reservation_id is None
    reserve = sagas.send_place_order_saga_reserve_stock(data)
    assert isinstance(reserve, inventory.ReserveStock)
    assert (reserve.order_id, reserve.lines) == (ORDER_ID, event.lines)
    book = sagas.send_place_order_saga_book_delivery_slot(data)
    assert isinstance(book, shipping.BookDeliverySlot)
    assert (book.address, book.preferred_date) == (event.shipping_address, date(2024, 5, 3))
    reserved = sagas.PLACE_ORDER_SAGA_TRANSITIONS[0]
    assert reserved.on == "inventory.StockReserved"
    reply = inventory.StockReserved(
        order_id=ORDER_ID, reservation_id=RESERVATION, lines=(),
        expires_at=datetime(2024, 5, 1, 10, 30, tzinfo=UTC),
    )  # fmt: skip
    saved = reserved.save(data, reply)
    assert saved.reservation_id == RESERVATION and data.reservation_id is None  # frozen
    release = sagas.compensate_place_order_saga_reserve_stock(saved)
    assert isinstance(release, inventory.ReleaseStock)
    assert (release.order_id, release.reservation_id) == (ORDER_ID, RESERVATION)
    declined = next(
        t for t in sagas.PLACE_ORDER_SAGA_TRANSITIONS if t.on == "inventory.StockReservationFailed"
    )
    failed = declined.save(data, None)  # a literal save does not read the reply
    assert failed.failure_reason == "out of stock"
    confirm = sagas.local_place_order_saga_confirm_order(
        saved.model_copy(update={"payment_id": RESERVATION})
    )
    assert isinstance(confirm, models.ConfirmOrder)
    assert (confirm.order_id, confirm.payment_id) == (ORDER_ID, RESERVATION)


def test_consumer_and_app(sagas: ModuleType, example_build: Path) -> None:
    from eventgen.runtime.saga.worker import SagaApp

    app_module = sys.modules[f"{PACKAGE}.orders_app"]
    aggregates = sys.modules[f"{PACKAGE}.orders_aggregates"]
    spec = sagas.PLACE_ORDER_SAGA_CONSUMER
    assert (spec.name, spec.context, spec.group) == (
        "place-order-saga", "orders", "orders.place-order-saga",
    )  # fmt: skip
    assert [r.topic.name for r in spec.topics] == [
        "inventory.stock-events", "orders.order-events", "payments.payment-events",
        "shipping.shipment-events",
    ]  # fmt: skip
    assert spec.topics[1] is app_module.ROUTE_ORDERS_ORDER_EVENTS
    assert list(spec.handles) == sorted(spec.handles)
    assert "orders.OrderPlaced" in spec.handles and "inventory.StockReleased" in spec.handles
    assert (spec.delivery, spec.processing, spec.idempotency, spec.dlq) == (
        "at-least-once", "stream", "sqlite", True,
    )  # fmt: skip
    assert spec.publisher is app_module.PUBLISHER_SPEC
    # The context's publisher (and so its outbox) routes every command the saga sends.
    for command in ("inventory.ReserveStock", "inventory.ReleaseStock", "shipping.BookDeliverySlot",
                    "shipping.ReleaseDeliverySlot", "payments.ChargeCard"):  # fmt: skip
        assert app_module.PUBLISHER_SPEC.route(command).topic.name.endswith("-commands")
    app = sagas.place_order_saga
    assert isinstance(app, SagaApp)
    assert app.definition is sagas.PLACE_ORDER_SAGA
    manifest = json.loads((example_build / "eventgen-manifest.json").read_text())
    (entry,) = manifest["sagas"]
    assert entry["python"] == f"{PACKAGE}.{MODULE}:place_order_saga"
    assert entry["group"] == spec.group
    assert entry["topics"] == [r.topic.name for r in spec.topics]
    assert entry["handles"] == list(spec.handles)
    assert entry["steps"] == [s.name for s in sagas.PLACE_ORDER_SAGA.steps]
    assert entry["tables"] == {
        "instances": "orders_saga_instances", "log": "orders_saga_log",
        "timers": "orders_saga_timers",
    }  # fmt: skip
    assert (entry["started_by"], entry["pivot"], entry["diagram"]) == (
        "orders.OrderPlaced", "charge_card", "docs/sagas/PlaceOrderSaga.md",
    )  # fmt: skip
    assert isinstance(manifest["choreographies"], list)
    assert aggregates.order is not None


def test_two_builds_are_byte_identical(example_build: Path, tmp_path: Path) -> None:
    build(EXAMPLE, tmp_path / "again")
    for path in (f"{PACKAGE}/{MODULE}.py", f"{PACKAGE}/orders_app.py"):
        assert (tmp_path / "again" / path).read_bytes() == (example_build / path).read_bytes()


# -- hostile strings, reserved names, `_present` ----------------------------------------------


@pytest.fixture(scope="module")
def hostile_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("hostile") / "out"
    build(HOSTILE, out)
    return out


def test_hostile_module_is_safe_code(hostile_build: Path, tmp_path: Path) -> None:
    path = "demo_events/shop_sagas.py"
    text = (hostile_build / path).read_text(encoding="utf-8")
    compile(text, path, "exec")  # the quotes and backslashes did not break a literal
    _lint(hostile_build, path)
    if importlib.util.find_spec("eventgen.runtime.saga.worker") is not None:
        result = run_mypy(hostile_build, "--cache-dir", str(tmp_path / "mypy"), path)
        assert result.returncode == 0, result.stdout + result.stderr


@needs_worker
def test_hostile_values_reach_the_messages(hostile_build: Path) -> None:
    from eventgen.runtime.saga.errors import SagaDataError

    mod = import_fresh(hostile_build, "demo_events", "shop_sagas")
    shop = sys.modules["demo_events.shop"]
    cart = UUID("3f2504e0-4f89-41d3-9a0c-0305e82c3301")
    data = mod.init_checkout_saga(shop.CartCheckedOut(cart_id=cart, note="n"))
    assert data.class_ == "n"  # a keyword field: attribute `class_`, wire name `class`
    assert mod.send_checkout_saga_hold_stock(data).label == 'a "quoted" \\ label """ ✓'
    short = next(t for t in mod.CHECKOUT_SAGA_TRANSITIONS if t.on == "stock.StockDenied")
    assert short.save(data, None).reason == 'it\'s "short" \\n'
    doc = (hostile_build / "demo_events/shop_sagas.py").read_text(encoding="utf-8")
    assert "é ✓" in doc
    closed = mod.local_checkout_saga_close(data)
    assert (closed.cart_id, closed.note, closed.hold_id, closed.extra) == (cart, "n", None, 0)
    with pytest.raises(SagaDataError, match="note"):
        mod.local_checkout_saga_close(data.model_copy(update={"note": None}))
    # The forward local step parks when rejected; `then: fail` ends a compensation in FAILED.
    ends = {
        (t.status, t.step, t.on): (t.target, t.exhausted) for t in mod.CHECKOUT_SAGA_TRANSITIONS
    }
    assert ends[("RUNNING", "close", REJECTED)] == (STUCK, None)
    # retry_on: [failure] only: a timeout compensates at once, a failure reply retries first.
    assert ends[("RUNNING", "hold-stock", TIMEOUT)] == (COMPENSATE, None)
    assert ends[("RUNNING", "hold-stock", "stock.StockDenied")] == (RETRY, COMPENSATE)
    assert ends[("COMPENSATING", "hold-stock", TIMEOUT)] == (RETRY, "@failed")
    assert mod.CHECKOUT_SAGA.compensation_then == "fail"
    assert mod.CHECKOUT_SAGA_CONSUMER.dlq is False  # no topic of the case has a DLQ
    engine = pytest.importorskip("eventgen.runtime.saga.engine")
    engine.validate_definition(mod.CHECKOUT_SAGA)


# -- build errors: validate and build agree ------------------------------------------------------


def _findings(command: str, specs: Path, out: Path) -> tuple[int, list[dict[str, Any]]]:
    """Exit code and JSON findings of `eventgen validate|build SPECS --format json`."""
    argv = [sys.executable, "-m", "eventgen", command, str(specs), "--format", "json"]
    if command == "build":
        argv += ["-o", str(out), "--no-cache"]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    found: list[dict[str, Any]] = json.loads(done.stdout)
    return done.returncode, found


def test_validate_and_build_find_the_saga_errors(tmp_path: Path) -> None:
    v_code, validated = _findings("validate", BAD, tmp_path / "v")
    b_code, built = _findings("build", BAD, tmp_path / "b")
    assert v_code == b_code == 1
    assert validated == built
    where = {(d["code"], Path(d["file"]).name, d["line"]) for d in validated}
    assert where == {
        ("E0838", "orders.yaml", 51),  # `init` does not set the required `total`
        ("E0837", "orders.yaml", 58),  # ReserveStock and its reply StockReserved: no topic
        ("E0839", "orders.yaml", 64),  # OrderCancelled as success and failure
        ("E0835", "orders.yaml", 71),  # ConfirmOrder's `note`
        ("E0834", "orders.yaml", 73),  # ArchiveOrder: no aggregate handles it
        ("E0833", "stock.yaml", 28),  # RestockSaga in a context without an outbox
        ("E0805", "stock.yaml", 45),  # `refill-again` and `refill_again`: one Python name
    }
    assert sorted(d["code"] for d in validated).count("E0837") == 2
    assert not (tmp_path / "b").exists()  # nothing written


def test_the_positive_case_has_none(tmp_path: Path) -> None:
    code, found = _findings("validate", HOSTILE, tmp_path / "v")
    assert code == 0 and not {d["code"] for d in found} & NEW_CODES
    project, diagnostics = load_project(HOSTILE)
    assert project is not None, diagnostics


def test_manifest_takes_the_choreography_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    """`choreographies` is what eventgen.emit.services.reactions.choreography_entries returns
    (task D's), and [] while that function does not exist."""
    from eventgen.emit.services import manifest, reactions

    project = _example()
    entry = {"name": "OrderFulfilment", "context": "shipping"}
    monkeypatch.setattr(reactions, "choreography_entries", lambda p: [entry], raising=False)
    sections = manifest.saga_sections(project)
    assert sections["choreographies"] == [entry]
    assert [s["name"] for s in sections["sagas"]] == ["PlaceOrderSaga"]
    monkeypatch.delattr(reactions, "choreography_entries")
    assert manifest.saga_sections(project)["choreographies"] == []
