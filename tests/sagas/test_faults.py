"""Fault injection of the generated PlaceOrderSaga on the real Kafka and PostgreSQL: the
participants' faults, and a timer that outlives a kill -9.

One build of the example (tests/sagas/fault_harness.py: the orders outbox, so the saga, on
PostgreSQL; topics renamed per run; step timeouts 2 s, two attempts, compensation retries 2,
deadline 40 s), the orders relay and the saga worker as real processes, the three participants
as the generated command handlers (PostgreSQL inbox) in threads, each following a per-order
fault script and recording its effects by command event id.

- `test_fault_at_step`: every send step x fault (fail, never reply, reply twice, reply late,
  reply out of order), a compensation that never answers, and the local step rejected; one
  order each, all against one worker: the expected final status, what the participants still
  hold, each compensation's effect applied exactly as often as expected (at most once), each
  compensation command received as often as expected (in total and by distinct event id), no
  command event handled twice.
- `test_every_fault_settles`: all of them settled (COMPLETED, COMPENSATED or STUCK) within
  the deadline plus a bounded slack (the deadline itself: test_faults_deadline.py).
- `test_timer_fires_after_restart`: a step timeout stored before a kill -9 fires in the
  restarted worker (the saga retries, then compensates).
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.sagas.fault_harness import (
    DEADLINE_S,
    FAIL,
    FINAL,
    LATE,
    NEVER,
    OUT_OF_ORDER,
    SETTLED,
    STEP_TIMEOUT_S,
    TWICE,
    VERY_LATE,
    VERY_LATE_S,
    instances,
)
from tests.sagas.fault_kit import (
    SLACK_S,
    Harness,
    applied,
    distinct,
    effects_of,
    explain,
    finish,
    handled_once,
    kill_run,
    open_harness,
    received,
    state_of,
    worker_started,
)

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


@pytest.fixture(scope="module")
def harness(
    kafka_bootstrap_servers: str, postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Harness]:
    """Short timeouts (2 s steps, 40 s deadline): the fault matrix and the timer restart."""
    work = tmp_path_factory.mktemp("faults")
    with open_harness(
        kafka_bootstrap_servers, postgres_dsn, work,
        step_timeout_s=int(STEP_TIMEOUT_S), deadline_s=int(DEADLINE_S),
    ) as h:  # fmt: skip
        yield h


# -- the fault matrix ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    name: str
    script: dict[str, str]
    status: str
    holds: frozenset[str]  # what the participants still hold at the end
    released: frozenset[str] = frozenset()  # compensations applied (exactly once each)
    cancel: bool = False  # cancel the order before the saga confirms it
    # compensation commands the participants received, when not one per `released` kind (a
    # compensation retried after its timeout: one event id per attempt)
    sent: tuple[tuple[str, int], ...] = ()

    def compensations(self) -> dict[str, int]:
        """Compensation command -> how many the participants received (each a distinct event
        id: one per attempt)."""
        counts = {
            "ReleaseStock": int("stock" in self.released),
            "ReleaseDeliverySlot": int("slot" in self.released),
        }
        counts.update(dict(self.sent))
        return counts


ALL = frozenset({"stock", "slot", "card"})
NONE: frozenset[str] = frozenset()
SCENARIOS = [
    Scenario("happy", {}, "COMPLETED", ALL),
    # reserve_stock: nothing before it to compensate
    Scenario("reserve_stock-fail", {"ReserveStock": FAIL}, "COMPENSATED", NONE),
    # no reply at all: both attempts time out, the outcome is unknown, so it is compensated
    Scenario("reserve_stock-never", {"ReserveStock": NEVER}, "COMPENSATED", NONE,
             frozenset({"stock"})),
    Scenario("reserve_stock-twice", {"ReserveStock": TWICE}, "COMPLETED", ALL),
    # the first attempt's reply comes after its timeout: accepted while attempt 2 is out
    Scenario("reserve_stock-late", {"ReserveStock": LATE}, "COMPLETED", ALL),
    Scenario("reserve_stock-ooo", {"ReserveStock": OUT_OF_ORDER}, "COMPLETED", ALL),
    # Both attempts time out, stock is released (reservation unknown), then attempt 1's
    # success arrives: its save (the reservation id) is applied and the release, whose
    # command changed, is sent again (a second event id; nothing left to give back).
    Scenario("reserve_stock-very-late", {"ReserveStock": VERY_LATE}, "COMPENSATED", NONE,
             frozenset({"stock"}), sent=(("ReleaseStock", 2),)),
    Scenario("book_delivery_slot-fail", {"BookDeliverySlot": FAIL}, "COMPENSATED", NONE,
             frozenset({"stock"})),
    Scenario("book_delivery_slot-never", {"BookDeliverySlot": NEVER}, "COMPENSATED", NONE,
             frozenset({"stock", "slot"})),
    Scenario("book_delivery_slot-twice", {"BookDeliverySlot": TWICE}, "COMPLETED", ALL),
    Scenario("book_delivery_slot-late", {"BookDeliverySlot": LATE}, "COMPLETED", ALL),
    Scenario("book_delivery_slot-ooo", {"BookDeliverySlot": OUT_OF_ORDER}, "COMPLETED", ALL),
    Scenario("charge_card-fail", {"ChargeCard": FAIL}, "COMPENSATED", NONE,
             frozenset({"stock", "slot"})),
    # The pivot has no compensation in the spec: a charge whose reply never comes has an
    # unknown outcome that nothing can undo, so the saga parks (STUCK) holding everything,
    # nothing released; one that comes after the timeout takes the parked saga forward.
    Scenario("charge_card-never", {"ChargeCard": NEVER}, "STUCK", ALL),
    Scenario("charge_card-twice", {"ChargeCard": TWICE}, "COMPLETED", ALL),
    Scenario("charge_card-late", {"ChargeCard": LATE}, "COMPLETED", ALL),
    # A compensation that never answers: retried (two attempts, two event ids), then the saga
    # parks (STUCK) before the earlier compensation runs.
    Scenario("charge_card-fail+release_slot-never",
             {"ChargeCard": FAIL, "ReleaseDeliverySlot": NEVER}, "STUCK", frozenset({"stock"}),
             frozenset({"slot"}), sent=(("ReleaseDeliverySlot", 2),)),
    # confirm_order (local, after the pivot) rejected: the order was cancelled meanwhile.
    # Forward only: STUCK for an operator, nothing compensated.
    Scenario("confirm_order-rejected", {}, "STUCK", ALL, cancel=True),
]  # fmt: skip


@dataclass
class FaultRun:
    ids: dict[str, uuid.UUID]
    final: dict[str, tuple[str, str | None, str | None]]
    elapsed_s: float


@pytest.fixture(scope="module")
def fault_run(harness: Harness) -> Iterator[FaultRun]:
    """Every scenario's order placed at once against one worker; the settled statuses."""
    h = harness
    ids = {s.name: uuid.uuid4() for s in SCENARIOS}
    for scenario in SCENARIOS:
        h.participants.scripts[ids[scenario.name]] = dict(scenario.script)
    worker = h.platform.worker()
    try:
        worker_started(worker)
        began = time.monotonic()
        for scenario in SCENARIOS:
            h.orders.place(ids[scenario.name])
            if scenario.cancel:
                h.orders.cancel(ids[scenario.name])
        final = wait_expected(
            h,
            {str(ids[s.name]): s.status for s in SCENARIOS},
            timeout_s=h.deadline_s + SLACK_S,
            alive=[worker.popen, h.relay.popen],
        )
        elapsed = time.monotonic() - began
        # Late and duplicate replies still in flight land now (the very late ones, second
        # attempts' included, too); nothing may change after.
        quiet = 2 * VERY_LATE_S + STEP_TIMEOUT_S - elapsed
        time.sleep(min(max(quiet, 4.0), 20.0))
        assert worker.popen.poll() is None, "worker died:\n" + worker.tail()
        h.check_alive()
    finally:
        code = worker.stop()
    # Stopped before the tests run: the other tests of this module start workers of their own.
    assert code == 0, f"worker exit {code}:\n" + worker.tail()
    yield FaultRun(ids, final, elapsed)


def wait_expected(
    h: Harness,
    wanted: dict[str, str],
    *,
    timeout_s: float,
    alive: list[subprocess.Popen[str]],
) -> dict[str, tuple[str, str | None, str | None]]:
    """Until every saga is in its expected status or a final one, at most `timeout_s` (a
    STUCK saga that a late reply takes on is waited for); the last snapshot."""
    end = time.monotonic() + timeout_s
    seen: dict[str, tuple[str, str | None, str | None]] = {}
    while time.monotonic() < end:
        seen = instances(h.platform.saga_dsn, list(wanted))
        if len(seen) == len(wanted) and all(
            v[0] == wanted[k] or v[0] in FINAL for k, v in seen.items()
        ):
            return seen
        if any(proc.poll() is not None for proc in alive):
            return seen
        time.sleep(0.25)
    return seen


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_fault_at_step(harness: Harness, fault_run: FaultRun, scenario: Scenario) -> None:
    h = harness
    order_id = fault_run.ids[scenario.name]
    saga_id = str(order_id)
    settled = fault_run.final.get(saga_id)
    assert settled is not None, f"no saga for {scenario.name}" + explain(h, order_id)
    assert settled[0] in SETTLED, (
        f"{scenario.name}: {settled} after {h.deadline_s + SLACK_S}s" + explain(h, order_id)
    )
    now = instances(h.platform.saga_dsn, [saga_id])[saga_id]
    assert now[0] == settled[0], f"moved after settling: {settled} -> {now}"
    assert now[0] == scenario.status, f"{scenario.name}: {now}" + explain(h, order_id)

    effects = effects_of(h, order_id)
    # The inbox: no command (event id) handled twice by a participant.
    assert handled_once(effects), explain(h, order_id)
    assert h.participants.holds(order_id) == scenario.holds, explain(h, order_id)
    for kind, effect in (("stock", "release_stock"), ("slot", "release_slot")):
        expected = 1 if kind in scenario.released else 0
        assert applied(effects, effect) == expected, (
            f"{effect} applied {applied(effects, effect)}x" + explain(h, order_id)
        )
    # `applied` counts only releases that gave something back, so a second release of the
    # same hold would pass it: the commands received are counted too, in total and by event id.
    for command, expected in scenario.compensations().items():
        assert (received(effects, command), distinct(effects, command)) == (
            expected,
            expected,
        ), f"{command} received" + explain(h, order_id)


def test_every_fault_settles(fault_run: FaultRun) -> None:
    """Every scenario settled (COMPLETED, COMPENSATED or STUCK); the deadline itself is reached
    in test_faults_deadline.py, whose steps outlast it."""
    unsettled = {k: v for k, v in fault_run.final.items() if v[0] not in SETTLED}
    assert not unsettled, unsettled


def test_timer_fires_after_restart(harness: Harness, tmp_path: Path) -> None:
    """Killed right after the start (ReserveStock out, its timeout timer stored); the
    participant never answers; the restarted worker fires the timer, retries, compensates."""
    h = harness
    order_id = kill_run(h, tmp_path, "after", 1, {"ReserveStock": NEVER})
    assert state_of(h, order_id) == ("RUNNING", "reserve_stock")
    time.sleep(3.0)  # the stored timeout is due before the restart
    finish(h, order_id, wanted="COMPENSATED")
    effects = effects_of(h, order_id)
    assert received(effects, "ReserveStock") == 2  # two attempts
    assert distinct(effects, "ReserveStock") == 2, explain(h, order_id)
    assert received(effects, "ReleaseStock") == 1, explain(h, order_id)
    assert applied(effects, "release_stock") == 1, explain(h, order_id)
    assert handled_once(effects), explain(h, order_id)
    assert h.participants.holds(order_id) == frozenset()
