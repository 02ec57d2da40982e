"""The saga state machine (eventgen.runtime.saga.engine) on the hand-built order saga: every
kind of transition, reply matching, timers, late successes, operator actions, table validation,
and the row codec. Pure: no broker, no database, time passed in."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid5

import pytest

from eventgen.runtime.model import Message
from eventgen.runtime.saga import (
    OperatorRefused,
    SagaDataError,
    SagaMachine,
    dump_instance,
    load_instance,
    request_id,
)
from eventgen.runtime.saga.spec import (
    COMPENSATE,
    FAILED,
    RETRY,
    SagaDefinition,
    StepRetry,
    Transition,
)
from eventgen.runtime.saga.state import Decision, Phase, SagaInstance, Timer
from tests.sagas.fixtures_saga import (
    COMPENSATED,
    FAILURE,
    FORWARD_SAGA,
    ORDER_SAGA,
    SUCCESS,
    OrderPlaced,
    reply_of,
)

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
ORDER = UUID(int=42)
EVENT = UUID(int=7)


class Drive:
    """One instance driven through the machine; `now` moves only when a test says so."""

    def __init__(self, definition: SagaDefinition = ORDER_SAGA) -> None:
        self.definition = definition
        self.machine = SagaMachine(definition)
        self.now = NOW
        placed = OrderPlaced(order_id=ORDER, total=Decimal("12.50"))
        self.last = self.machine.start(placed, event_id=EVENT, now=NOW)
        assert self.last.instance is not None
        self.instance: SagaInstance = self.last.instance

    def take(self, decision: Decision) -> Decision:
        self.last = decision
        if decision.instance is not None:
            # Every decision goes through the codec, as the worker stores and reloads it.
            stored = load_instance(self.definition, dump_instance(decision.instance, ORDER_SAGA))
            assert stored == decision.instance
            self.instance = stored
        return decision

    def rid(self, step: str, phase: Phase = "step", attempt: int | None = None) -> UUID:
        state = self.instance.step_state(step)
        if attempt is None:
            attempt = state.attempts if phase == "step" else state.compensation_attempts
        return request_id(self.definition.name, str(ORDER), step, phase, attempt)

    def reply(
        self,
        message: Message,
        step: str | None = None,
        phase: Phase = "step",
        attempt: int | None = None,
        *,
        causation: UUID | None | bool = True,
    ) -> Decision:
        if causation is True:
            cause: UUID | None = self.rid(step or self.current, phase, attempt)
        elif causation is False:
            cause = None
        else:
            cause = causation
        return self.take(
            self.machine.on_reply(self.instance, message, causation_id=cause, now=self.now)
        )

    @property
    def current(self) -> str:
        assert self.instance.step is not None
        return self.instance.step

    def succeed(self, step: str | None = None, attempt: int | None = None) -> Decision:
        step = step or self.current
        return self.reply(reply_of(SUCCESS[step], ORDER), step, "step", attempt)

    def fail(self, step: str | None = None) -> Decision:
        step = step or self.current
        return self.reply(reply_of(FAILURE[step], ORDER), step, "step")

    def compensated(self, step: str | None = None) -> Decision:
        step = step or self.current
        return self.reply(reply_of(COMPENSATED[step], ORDER), step, "compensation")

    def timer(self, kind: str) -> Timer:
        return next(t for t in self.instance.timers if t.kind == kind)

    def fire(self, kind: str) -> Decision:
        timer = self.timer(kind)
        self.now = max(self.now, timer.due_at)
        return self.take(self.machine.on_timer(self.instance, timer, now=self.now))

    def local(self, ok: bool, detail: str = "") -> Decision:
        return self.take(
            self.machine.on_local(
                self.instance, step=self.current, ok=ok, detail=detail, now=self.now
            )
        )

    def operator(self, action: str) -> Decision:
        return self.take(
            self.machine.on_operator(
                self.instance, action, actor="alice", reason="ticket 12", now=self.now
            )
        )

    def status(self, step: str) -> str:
        return self.instance.step_state(step).status

    def through_pivot(self) -> None:
        for step in ("reserve_stock", "book_delivery_slot", "charge_card"):
            self.succeed(step)


def sent(decision: Decision) -> list[tuple[str, str, str, int]]:
    return [(c.message.TYPE, c.step, c.phase, c.attempt) for c in decision.commands]


# -- start and the success path ---------------------------------------------------------------


def test_start_enters_the_first_step_with_its_timeout_and_the_deadline() -> None:
    drive = Drive()
    instance, decision = drive.instance, drive.last
    assert (instance.saga, instance.saga_id) == ("OrderSaga", str(ORDER))
    assert (instance.status, instance.step) == ("RUNNING", "reserve_stock")
    assert instance.deadline_at == NOW + timedelta(minutes=15)
    assert sent(decision) == [("inventory.ReserveStock", "reserve_stock", "step", 1)]
    rid = request_id("OrderSaga", str(ORDER), "reserve_stock", "step", 1)
    assert decision.commands[0].request_id == rid
    assert instance.step_state("reserve_stock").request_ids == (str(rid),)
    assert set(decision.timers) == {
        Timer("deadline", None, 0, NOW + timedelta(minutes=15)),
        Timer("timeout", "reserve_stock", 1, NOW + timedelta(seconds=10)),
    }
    assert decision.log[0].cause == "start" and str(EVENT) in decision.log[0].detail


def test_request_id_is_uuid5_of_a_fixed_namespace() -> None:
    namespace = UUID("9ec2e5a8-c303-4159-9341-0f4cd7ac9a8d")
    assert request_id("S", "1", "a", "step", 2) == uuid5(namespace, "S/1/a/step/2")
    assert request_id("S", "1", "a", "step", 2) != request_id("S", "1", "a", "compensation", 2)


def test_every_step_succeeding_completes_with_the_saved_data() -> None:
    drive = Drive()
    drive.succeed("reserve_stock")
    assert sent(drive.last) == [("shipping.BookDeliverySlot", "book_delivery_slot", "step", 1)]
    drive.succeed("book_delivery_slot")
    drive.succeed("charge_card")
    assert drive.instance.pivot_passed
    local = drive.last.local
    assert local is not None and local.message.TYPE == "orders.ConfirmOrder"
    assert local.request_id == drive.rid("confirm_order")
    assert {t.kind for t in drive.last.timers} == {"deadline"}  # a local step has no timeout
    drive.local(ok=True)
    assert (drive.instance.status, drive.instance.step, drive.last.timers) == (
        "COMPLETED",
        None,
        (),
    )
    data = drive.instance.data
    assert (data.reservation_id, data.slot_id, data.payment_id) == (UUID(int=1),) * 3
    assert [s.status for s in drive.instance.steps] == ["SUCCEEDED"] * 4


def test_the_same_inputs_give_the_same_decisions() -> None:
    def run() -> list[Decision]:
        drive = Drive()
        out = [drive.last, drive.succeed(), drive.fire("timeout"), drive.fire("retry")]
        return [*out, drive.fail()]

    assert run() == run()


# -- failures, timeouts and compensation --------------------------------------------------------


def test_a_failure_compensates_the_succeeded_steps_in_reverse_order() -> None:
    drive = Drive()
    drive.succeed("reserve_stock")
    drive.succeed("book_delivery_slot")
    drive.fail("charge_card")
    assert drive.instance.status == "COMPENSATING"
    assert drive.status("charge_card") == "FAILED"
    assert drive.instance.data.failure_reason == "refused 0"
    assert sent(drive.last) == [
        ("shipping.ReleaseDeliverySlot", "book_delivery_slot", "compensation", 1)
    ]
    assert drive.last.commands[0].message.model_dump()["slot_id"] == UUID(int=1)
    assert drive.timer("timeout") == Timer(
        "timeout", "book_delivery_slot", 1, NOW + timedelta(seconds=10), "compensation"
    )
    drive.compensated("book_delivery_slot")
    assert sent(drive.last) == [("inventory.ReleaseStock", "reserve_stock", "compensation", 1)]
    drive.compensated("reserve_stock")
    assert (drive.instance.status, drive.last.commands, drive.last.timers) == (
        "COMPENSATED",
        (),
        (),
    )
    statuses = [s.status for s in drive.instance.steps]
    assert statuses == ["COMPENSATED", "COMPENSATED", "FAILED", "PENDING"]
    assert drive.instance.reason is not None and "charge_card" in drive.instance.reason


def test_a_failure_of_the_first_step_has_nothing_to_compensate() -> None:
    drive = Drive()
    drive.fail()
    assert (drive.instance.status, drive.last.commands) == ("COMPENSATED", ())
    assert drive.instance.data.failure_reason == "out of stock"


def test_timeouts_retry_with_backoff_then_compensate_the_unknown_step() -> None:
    drive = Drive()
    drive.succeed("reserve_stock")
    drive.fire("timeout")  # attempt 1 of 3
    assert drive.timer("retry") == Timer(
        "retry", "book_delivery_slot", 1, drive.now + timedelta(milliseconds=500)
    )
    assert "timeout" not in {t.kind for t in drive.instance.timers}
    assert drive.last.commands == () and drive.status("book_delivery_slot") == "RUNNING"
    drive.fire("retry")
    assert sent(drive.last) == [("shipping.BookDeliverySlot", "book_delivery_slot", "step", 2)]
    drive.fire("timeout")
    assert drive.timer("retry").due_at == drive.now + timedelta(milliseconds=1000)
    drive.fire("retry")
    drive.fire("timeout")  # attempt 3 of 3: exhausted
    assert drive.status("book_delivery_slot") == "COMPENSATING"
    assert sent(drive.last) == [
        ("shipping.ReleaseDeliverySlot", "book_delivery_slot", "compensation", 1)
    ]
    ids = drive.instance.step_state("book_delivery_slot").request_ids
    assert len(set(ids)) == 3
    drive.compensated()
    drive.compensated()
    assert drive.instance.status == "COMPENSATED"


def test_a_late_success_of_an_earlier_attempt_is_accepted() -> None:
    drive = Drive()
    drive.fire("timeout")
    drive.fire("retry")  # attempt 2 is out
    drive.succeed("reserve_stock", attempt=1)
    assert (drive.instance.step, drive.status("reserve_stock")) == (
        "book_delivery_slot",
        "SUCCEEDED",
    )
    assert "retry" not in {t.kind for t in drive.instance.timers}


PIVOT_UNKNOWN = (
    "the outcome of pivot step charge_card is unknown: check payments.ChargeCard, then resume "
    "(ask again), skip-step (it succeeded) or abort (compensate)"
)
# The order saga whose pivot retries a timeout once (the table row is the same: RETRY, STUCK).
RETRYING_PIVOT = replace(
    ORDER_SAGA,
    name="RetryingPivotSaga",
    steps=tuple(
        replace(s, retry=StepRetry(max_attempts=2, initial_ms=1000)) if s.pivot else s
        for s in ORDER_SAGA.steps
    ),
)


def test_a_pivot_timeout_parks_on_its_unknown_outcome_never_compensates() -> None:
    drive = Drive()
    drive.succeed("reserve_stock")
    drive.succeed("book_delivery_slot")
    drive.fire("timeout")  # charge_card: no retry, so no further attempt
    assert (drive.instance.status, drive.instance.step) == ("STUCK", "charge_card")
    assert drive.instance.reason == PIVOT_UNKNOWN
    assert drive.status("charge_card") == "UNKNOWN" and drive.last.commands == ()
    assert [drive.status(s) for s in ("reserve_stock", "book_delivery_slot")] == [
        "SUCCEEDED",
        "SUCCEEDED",
    ]  # nothing compensated around the pivot
    assert not drive.instance.pivot_passed
    assert [t.kind for t in drive.instance.timers] == ["deadline"]
    # resume asks again: the pivot, next attempt.
    drive.operator("resume")
    assert sent(drive.last) == [("payments.ChargeCard", "charge_card", "step", 2)]
    assert (drive.instance.status, drive.status("charge_card")) == ("RUNNING", "RUNNING")
    drive.succeed("charge_card")
    assert drive.last.local is not None and drive.instance.pivot_passed


def test_a_pivot_timeout_retries_as_its_retry_says_then_parks() -> None:
    drive = Drive(RETRYING_PIVOT)
    drive.succeed("reserve_stock")
    drive.succeed("book_delivery_slot")
    drive.fire("timeout")
    assert drive.instance.status == "RUNNING" and drive.last.commands == ()
    drive.fire("retry")
    assert sent(drive.last) == [("payments.ChargeCard", "charge_card", "step", 2)]
    drive.fire("timeout")
    assert (drive.instance.status, drive.instance.reason) == ("STUCK", PIVOT_UNKNOWN)
    assert drive.last.commands == () and drive.status("charge_card") == "UNKNOWN"


@pytest.mark.parametrize("backoff", [False, True], ids=["sent", "retry-backoff"])
def test_the_deadline_while_the_pivot_is_out_parks(backoff: bool) -> None:
    drive = Drive(RETRYING_PIVOT)
    drive.succeed("reserve_stock")
    drive.succeed("book_delivery_slot")
    if backoff:
        drive.fire("timeout")  # the pivot waits for its retry: still RUNNING, outcome unknown
    drive.fire("deadline")
    assert (drive.instance.status, drive.instance.step) == ("STUCK", "charge_card")
    assert drive.instance.reason == PIVOT_UNKNOWN
    assert drive.status("charge_card") == "UNKNOWN" and drive.last.commands == ()
    assert drive.status("book_delivery_slot") == "SUCCEEDED"
    assert drive.instance.timers == ()  # the deadline fired; no retry or timeout left


@pytest.mark.parametrize("definition", [ORDER_SAGA, FORWARD_SAGA], ids=lambda d: d.name)
def test_a_late_success_of_the_parked_pivot_goes_on(definition: SagaDefinition) -> None:
    drive = Drive(definition)
    drive.succeed("reserve_stock")
    drive.succeed("book_delivery_slot")
    drive.fire("deadline")
    assert drive.instance.status == "STUCK"
    drive.reply(reply_of(SUCCESS["charge_card"], ORDER, 8), "charge_card", attempt=1)
    assert drive.status("charge_card") == "SUCCEEDED" and drive.instance.pivot_passed
    assert drive.instance.data.payment_id == UUID(int=9)  # its save applied
    assert drive.instance.status == "RUNNING"
    assert any("late success of pivot charge_card" in e.detail for e in drive.last.log)
    if definition is FORWARD_SAGA:
        assert sent(drive.last) == [("warehouse.NotifyWarehouse", "notify_warehouse", "step", 1)]
    else:
        assert drive.last.local is not None and drive.instance.step == "confirm_order"
        drive.local(ok=True)
        assert drive.instance.status == "COMPLETED"


def test_a_late_failure_of_the_parked_pivot_compensates() -> None:
    drive = Drive()
    drive.succeed("reserve_stock")
    drive.succeed("book_delivery_slot")
    drive.fire("timeout")
    assert drive.instance.status == "STUCK"
    drive.fail("charge_card")
    assert drive.status("charge_card") == "FAILED" and not drive.instance.pivot_passed
    assert drive.instance.status == "COMPENSATING"
    assert sent(drive.last) == [
        ("shipping.ReleaseDeliverySlot", "book_delivery_slot", "compensation", 1)
    ]
    drive.compensated()
    drive.compensated()
    assert drive.instance.status == "COMPENSATED"
    # The same failure again is a duplicate.
    drive.fail("charge_card")
    assert drive.last.ignored == "duplicate reply"


def test_the_deadline_before_the_pivot_compensates_a_step_still_out_as_unknown() -> None:
    drive = Drive()
    drive.succeed("reserve_stock")
    drive.fire("deadline")
    assert drive.status("book_delivery_slot") == "COMPENSATING"  # UNKNOWN, so compensated
    assert drive.instance.reason == "deadline passed"
    assert sent(drive.last)[0][1:3] == ("book_delivery_slot", "compensation")


def test_the_deadline_while_compensating_changes_nothing_but_is_logged() -> None:
    drive = Drive()
    drive.succeed("reserve_stock")
    drive.fail()
    before = drive.instance
    drive.fire("deadline")
    assert drive.instance.status == "COMPENSATING" and drive.instance.step == before.step
    assert drive.last.commands == () and "deadline" not in {t.kind for t in drive.last.timers}
    assert "deadline passed while COMPENSATING" in drive.last.log[0].detail


def test_compensation_timeouts_retry_then_park() -> None:
    drive = Drive()
    drive.succeed("reserve_stock")
    drive.fail()
    for attempt in range(1, 10):
        drive.fire("timeout")
        assert drive.timer("retry").attempt == attempt
        drive.fire("retry")
        assert sent(drive.last) == [
            ("inventory.ReleaseStock", "reserve_stock", "compensation", attempt + 1)
        ]
    drive.fire("timeout")  # the 10th: exhausted
    assert drive.instance.status == "STUCK"
    assert drive.status("reserve_stock") == "COMPENSATING"
    assert {t.kind for t in drive.last.timers} == {"deadline"}
    assert drive.instance.reason is not None and "exhausted" in drive.instance.reason
    # A compensation reply arriving after all still counts: towards COMPENSATED.
    drive.compensated()
    assert drive.instance.status == "COMPENSATED"


def test_compensation_exhausted_with_then_fail_is_failed_and_final() -> None:
    rows = tuple(
        replace(row, exhausted=FAILED)
        if row.status == "COMPENSATING" and row.target == RETRY
        else row
        for row in ORDER_SAGA.transitions
    )
    definition = replace(
        ORDER_SAGA,
        transitions=rows,
        compensation_then="fail",
        compensation_retry=replace(ORDER_SAGA.compensation_retry, max_attempts=2),
    )
    drive = Drive(definition)
    drive.succeed("reserve_stock")
    drive.fail()
    drive.fire("timeout")
    drive.fire("retry")
    drive.fire("timeout")
    assert (drive.instance.status, drive.last.timers) == ("FAILED", ())
    with pytest.raises(OperatorRefused) as refused:
        drive.operator("resume")
    assert refused.value.status == "FAILED"


# -- late successes -------------------------------------------------------------------------


def test_a_late_success_while_compensating_is_compensated_after_the_current_one() -> None:
    drive = Drive()
    drive.succeed("reserve_stock")
    failed_rid = drive.rid("book_delivery_slot")
    drive.fail("book_delivery_slot")
    assert drive.instance.step == "reserve_stock"  # compensating it
    drive.reply(reply_of(SUCCESS["book_delivery_slot"], ORDER, 5), causation=failed_rid)
    assert drive.status("book_delivery_slot") == "SUCCEEDED"
    assert drive.instance.data.slot_id == UUID(int=6)  # its save applied
    assert not drive.last.commands and "late success" in drive.last.log[-1].detail
    drive.compensated("reserve_stock")
    assert sent(drive.last) == [
        ("shipping.ReleaseDeliverySlot", "book_delivery_slot", "compensation", 1)
    ]
    assert drive.last.commands[0].message.model_dump()["slot_id"] == UUID(int=6)
    drive.compensated()
    assert drive.instance.status == "COMPENSATED"


def test_a_late_success_after_compensated_compensates_again_with_the_saved_values() -> None:
    drive = Drive()
    drive.fire("deadline")  # reserve_stock out: UNKNOWN, compensated without a reservation
    assert drive.last.commands[0].message.model_dump()["reservation_id"] is None
    drive.compensated("reserve_stock")
    assert drive.instance.status == "COMPENSATED"
    # Its late success names the reservation: the release is sent again with it.
    late = reply_of(SUCCESS["reserve_stock"], ORDER, 3)
    drive.reply(late, "reserve_stock", attempt=1)
    assert drive.instance.data.reservation_id == UUID(int=4)
    assert drive.instance.status == "COMPENSATING"
    assert sent(drive.last) == [("inventory.ReleaseStock", "reserve_stock", "compensation", 2)]
    assert drive.last.commands[0].message.model_dump()["reservation_id"] == UUID(int=4)
    assert any(
        e.detail == "late success: compensated again with the saved values" for e in drive.last.log
    )
    drive.compensated()
    assert (drive.instance.status, drive.status("reserve_stock")) == ("COMPENSATED", "COMPENSATED")
    # The same reply again: its save changes nothing, so neither does the compensation.
    before = drive.instance
    drive.reply(late, "reserve_stock", attempt=1)
    assert drive.last.commands == () and drive.last.log
    assert "compensation unchanged" in drive.last.log[-1].detail
    assert (drive.instance.status, drive.instance.steps) == (before.status, before.steps)
    assert drive.instance.data == before.data

    drive = Drive()
    first = drive.rid("reserve_stock")
    drive.fail()
    assert drive.instance.status == "COMPENSATED"
    drive.reply(reply_of(SUCCESS["reserve_stock"], ORDER), causation=first)
    assert drive.instance.status == "COMPENSATING"
    assert sent(drive.last) == [("inventory.ReleaseStock", "reserve_stock", "compensation", 1)]
    drive.compensated()
    assert drive.instance.status == "COMPENSATED"


def test_a_late_success_after_compensated_while_another_compensation_is_out() -> None:
    drive = Drive()
    drive.succeed("reserve_stock")
    drive.fire("deadline")  # book_delivery_slot out: UNKNOWN; compensated first
    assert sent(drive.last)[0][1] == "book_delivery_slot"
    assert drive.last.commands[0].message.model_dump()["slot_id"] is None
    drive.compensated()
    assert drive.instance.step == "reserve_stock"  # its release is out
    drive.reply(reply_of(SUCCESS["book_delivery_slot"], ORDER, 6), "book_delivery_slot", attempt=1)
    assert not drive.last.commands and drive.status("book_delivery_slot") == "SUCCEEDED"
    assert drive.instance.data.slot_id == UUID(int=7)
    assert "compensated again with the saved values" in drive.last.log[-1].detail
    drive.compensated("reserve_stock")
    assert sent(drive.last) == [
        ("shipping.ReleaseDeliverySlot", "book_delivery_slot", "compensation", 2)
    ]
    assert drive.last.commands[0].message.model_dump()["slot_id"] == UUID(int=7)
    drive.compensated()
    assert drive.instance.status == "COMPENSATED"


def test_a_success_repeated_for_an_earlier_compensated_step_is_a_duplicate() -> None:
    drive = Drive()
    drive.succeed("reserve_stock")
    drive.fail("book_delivery_slot")
    drive.compensated()
    assert drive.instance.status == "COMPENSATED"
    drive.succeed("reserve_stock", attempt=1)
    assert drive.last.ignored == "duplicate reply"


def test_a_late_success_while_parked_is_recorded_and_resume_goes_on() -> None:
    drive = Drive(FORWARD_SAGA)
    drive.through_pivot()
    drive.fire("deadline")
    assert (drive.instance.status, drive.instance.reason) == (
        "STUCK",
        "deadline passed after the pivot",
    )
    drive.succeed("notify_warehouse")
    assert (drive.instance.status, drive.status("notify_warehouse")) == ("STUCK", "SUCCEEDED")
    drive.operator("resume")
    assert drive.last.local is not None and drive.instance.step == "confirm_order"


# -- matching: duplicate, stale, unknown ------------------------------------------------------


def test_duplicate_stale_and_unknown_replies_are_ignored() -> None:
    drive = Drive()
    first = drive.rid("reserve_stock")
    drive.succeed("reserve_stock")
    before = drive.instance

    def ignored(message: Message, causation: UUID | None) -> str | None:
        decision = drive.machine.on_reply(before, message, causation_id=causation, now=NOW)
        assert decision.instance is None and decision.commands == () and decision.log == ()
        return decision.ignored

    assert ignored(reply_of(SUCCESS["reserve_stock"], ORDER), first) == "duplicate reply"
    assert ignored(reply_of(FAILURE["reserve_stock"], ORDER), first) == "stale reply"
    assert ignored(reply_of(SUCCESS["reserve_stock"], ORDER), None) == "stale reply"
    booked = reply_of(SUCCESS["book_delivery_slot"], ORDER)
    assert ignored(booked, first) == "stale reply"  # answers another step
    assert ignored(booked, UUID(int=99)) == "unknown reply"  # no request of ours
    placed = OrderPlaced(order_id=ORDER, total=Decimal(1))
    assert ignored(placed, drive.rid("book_delivery_slot")) == "unknown reply"  # no row


def test_a_reply_without_causation_id_matches_the_current_step_by_type() -> None:
    drive = Drive()
    drive.reply(reply_of(SUCCESS["reserve_stock"], ORDER), causation=False)
    assert drive.instance.step == "book_delivery_slot"


def test_stale_timers_are_ignored() -> None:
    drive = Drive()
    old = drive.timer("timeout")
    drive.succeed()
    decision = drive.machine.on_timer(drive.instance, old, now=old.due_at)
    assert (decision.instance, decision.ignored) == (None, "stale timer")
    deadline = drive.timer("deadline")
    drive.succeed()
    drive.succeed()
    drive.local(ok=True)
    decision = drive.machine.on_timer(drive.instance, deadline, now=deadline.due_at)
    assert decision.ignored == "stale timer"


# -- local steps ----------------------------------------------------------------------------


def test_a_rejected_local_step_after_the_pivot_parks() -> None:
    drive = Drive()
    drive.through_pivot()
    stale = drive.machine.on_local(drive.instance, step="charge_card", ok=True, detail="", now=NOW)
    assert stale.ignored == "stale local result"
    drive.local(ok=False, detail="order is cancelled")
    assert drive.instance.status == "STUCK"
    assert drive.status("confirm_order") == "FAILED"
    assert drive.instance.reason == "confirm_order: order is cancelled"
    drive.operator("retry-step")
    local = drive.last.local
    assert local is not None and local.attempt == 2
    drive.local(ok=True)
    assert drive.instance.status == "COMPLETED"


# -- forward recovery -----------------------------------------------------------------------


def test_a_forward_step_retries_beyond_max_attempts_until_the_deadline() -> None:
    drive = Drive(FORWARD_SAGA)
    drive.through_pivot()
    for attempt in range(1, 8):  # max_attempts is 2
        drive.fire("timeout")
        drive.fire("retry")
        assert sent(drive.last) == [
            ("warehouse.NotifyWarehouse", "notify_warehouse", "step", attempt + 1)
        ]
    assert drive.instance.status == "RUNNING"
    drive.fire("deadline")
    assert drive.instance.status == "STUCK"
    assert drive.status("notify_warehouse") == "RUNNING"
    assert [s.status for s in drive.instance.steps[:3]] == ["SUCCEEDED"] * 3  # nothing undone


def test_a_forward_timeout_after_the_deadline_parks() -> None:
    drive = Drive(FORWARD_SAGA)
    drive.through_pivot()
    timeout = drive.timer("timeout")
    later = drive.instance.deadline_at
    assert later is not None
    decision = drive.machine.on_timer(drive.instance, timeout, now=later + timedelta(seconds=1))
    assert decision.instance is not None and decision.instance.status == "STUCK"


# -- operator actions -----------------------------------------------------------------------


@pytest.mark.parametrize("action", ["resume", "retry-step", "skip-step", "abort"])
def test_operator_actions_on_final_statuses_are_refused(action: str) -> None:
    drive = Drive()
    drive.fail()
    with pytest.raises(OperatorRefused) as refused:
        drive.operator(action)
    assert refused.value.status == "COMPENSATED"
    assert "is COMPENSATED" in str(refused.value) and str(ORDER) in str(refused.value)
    drive = Drive()
    drive.through_pivot()
    drive.local(ok=True)
    with pytest.raises(OperatorRefused, match="COMPLETED"):
        drive.operator(action)


def test_operator_actions_the_status_does_not_allow_are_refused() -> None:
    drive = Drive()
    with pytest.raises(OperatorRefused, match="resume needs a STUCK saga"):
        drive.operator("resume")
    drive.succeed()
    drive.fail()
    with pytest.raises(OperatorRefused, match="already compensating"):
        drive.operator("abort")
    with pytest.raises(ValueError, match="unknown operator action"):
        drive.operator("delete")


def test_retry_step_sends_the_current_step_again_now() -> None:
    drive = Drive()
    drive.operator("retry-step")
    assert sent(drive.last) == [("inventory.ReserveStock", "reserve_stock", "step", 2)]
    assert drive.timer("timeout").attempt == 2
    entry = drive.last.log[0]
    assert (entry.cause, entry.actor, entry.reason) == ("operator retry-step", "alice", "ticket 12")


def test_skip_step_goes_on_without_the_reply() -> None:
    drive = Drive()
    drive.succeed()
    drive.operator("skip-step")
    assert drive.status("book_delivery_slot") == "SKIPPED"
    assert sent(drive.last)[0][1] == "charge_card"
    drive.fail()
    # A skipped step counts as succeeded: it is compensated too, before reserve_stock.
    assert sent(drive.last)[0][1] == "book_delivery_slot"
    drive.compensated()
    assert sent(drive.last)[0][1] == "reserve_stock"


def test_resume_and_skip_step_of_a_stuck_compensation() -> None:
    drive = Drive()
    drive.succeed()
    drive.succeed()
    drive.fail()
    for _ in range(10):
        drive.fire("timeout")
        if drive.instance.status == "STUCK":
            break
        drive.fire("retry")
    assert (drive.instance.status, drive.instance.step) == ("STUCK", "book_delivery_slot")
    drive.operator("resume")
    assert drive.instance.status == "COMPENSATING"
    assert sent(drive.last) == [
        ("shipping.ReleaseDeliverySlot", "book_delivery_slot", "compensation", 11)
    ]
    drive.operator("skip-step")
    assert drive.status("book_delivery_slot") == "COMPENSATED"
    assert sent(drive.last)[0][1] == "reserve_stock"
    drive.compensated()
    assert drive.instance.status == "COMPENSATED"


def test_abort_compensates_now_and_names_what_cannot_be_undone() -> None:
    drive = Drive()
    drive.succeed()
    drive.operator("abort")
    assert drive.status("book_delivery_slot") == "COMPENSATING"  # UNKNOWN, so compensated
    assert drive.instance.status == "COMPENSATING"
    assert sent(drive.last)[0][1:3] == ("book_delivery_slot", "compensation")
    assert all(e.actor == "alice" for e in drive.last.log)

    drive = Drive(FORWARD_SAGA)
    drive.through_pivot()
    drive.operator("abort")
    assert "charge_card" in drive.last.log[0].detail
    assert sent(drive.last)[0][1] == "book_delivery_slot"  # notify_warehouse never compensated


# -- validation -----------------------------------------------------------------------------


def _with_rows(*rows: Transition) -> SagaDefinition:
    return replace(ORDER_SAGA, transitions=(*ORDER_SAGA.transitions, *rows))


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            Transition("RUNNING", "reserve_stock", "@timeout", "timeout", COMPENSATE),
            r"\(RUNNING, reserve_stock, @timeout\).*a second row",
        ),
        (Transition("RUNNING", "nope", "x.Y", "success", "charge_card"), "no step named 'nope'"),
        (Transition("RUNNING", "charge_card", "x.Y", "success", "ship"), "unknown target 'ship'"),
        (Transition("RUNNING", "charge_card", "x.Y", "failure", RETRY), "needs an `exhausted`"),
        (Transition("COMPENSATING", "charge_card", "x.Y", "compensated", COMPENSATE), "has no"),
        (Transition("RUNNING", "charge_card", "@later", "timeout", COMPENSATE), "pseudo"),
        (Transition("RUNNING", "charge_card", "@done", "success", COMPENSATE), "local steps"),
    ],
)
def test_a_bad_table_is_refused_naming_the_row(row: Transition, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SagaMachine(_with_rows(row))


# -- codec ----------------------------------------------------------------------------------


def test_the_codec_round_trips_at_every_point() -> None:
    drive = Drive()
    row = dump_instance(drive.instance, ORDER_SAGA)
    assert set(row) == {
        "saga",
        "saga_id",
        "status",
        "step",
        "version",
        "data_hash",
        "data",
        "state",
        "reason",
        "started_at",
        "updated_at",
        "deadline_at",
    }
    assert json.loads(row["data"])["order_id"] == str(ORDER)
    assert row["state"] == json.dumps(
        json.loads(row["state"]), sort_keys=True, separators=(",", ":")
    )
    assert isinstance(row["deadline_at"], datetime)
    # Times as SQLite's text come back as the same moments.
    text = {**row, **{k: row[k].strftime("%Y-%m-%dT%H:%M:%S.%fZ") for k in ("started_at",)}}
    assert load_instance(ORDER_SAGA, text) == drive.instance
    drive.succeed()
    drive.fail()  # compensating, with timers and request ids of both phases
    assert load_instance(ORDER_SAGA, dump_instance(drive.instance, ORDER_SAGA)) == drive.instance


def _broken(**changes: Any) -> dict[str, Any]:
    return {**dump_instance(Drive().instance, ORDER_SAGA), **changes}


@pytest.mark.parametrize(
    ("changes", "detail"),
    [
        ({"data_hash": "0" * 64}, "data schema 0000"),
        ({"data": '{"order_id": "not a uuid", "total": "1"}'}, "does not validate"),
        ({"data": "{"}, "does not validate"),
        ({"state": "{"}, "engine state is not readable"),
        ({"state": '{"steps": [], "timers": [], "pivot_passed": false}'}, "differ from the spec"),
        ({"status": "PAUSED"}, "unknown status"),
    ],
)
def test_stored_data_that_no_longer_matches_raises_saga_data_error(
    changes: dict[str, Any], detail: str
) -> None:
    with pytest.raises(SagaDataError) as error:
        load_instance(ORDER_SAGA, _broken(**changes))
    text = str(error.value)
    assert text.startswith(f"stored data of OrderSaga {ORDER} no longer matches the spec: ")
    assert detail in text and "docs/sagas.md 'Migrating saga data'" in text
    assert (error.value.saga, error.value.saga_id) == ("OrderSaga", str(ORDER))
