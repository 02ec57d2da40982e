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
  hold, each compensation's effect applied exactly as often as expected (at most once), no
  command event handled twice.
- `test_no_saga_outlives_its_deadline`: all of them settled (COMPLETED, COMPENSATED or STUCK)
  within the deadline plus a bounded slack.
- `test_timer_fires_after_restart`: a step timeout stored before a kill -9 fires in the
  restarted worker (the saga retries, then compensates).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.sagas.fault_harness import (
    DEADLINE_S,
    FAIL,
    LATE,
    NEVER,
    OUT_OF_ORDER,
    SETTLED,
    STEP_TIMEOUT_S,
    TWICE,
    instances,
    wait_settled,
)
from tests.sagas.fault_kit import (
    SLACK_S,
    Harness,
    applied,
    effects_of,
    explain,
    finish,
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
    Scenario("book_delivery_slot-fail", {"BookDeliverySlot": FAIL}, "COMPENSATED", NONE,
             frozenset({"stock"})),
    Scenario("book_delivery_slot-never", {"BookDeliverySlot": NEVER}, "COMPENSATED", NONE,
             frozenset({"stock", "slot"})),
    Scenario("book_delivery_slot-twice", {"BookDeliverySlot": TWICE}, "COMPLETED", ALL),
    Scenario("book_delivery_slot-late", {"BookDeliverySlot": LATE}, "COMPLETED", ALL),
    Scenario("book_delivery_slot-ooo", {"BookDeliverySlot": OUT_OF_ORDER}, "COMPLETED", ALL),
    Scenario("charge_card-fail", {"ChargeCard": FAIL}, "COMPENSATED", NONE,
             frozenset({"stock", "slot"})),
    # The pivot has no compensation in the spec: a charge whose reply never comes (or comes
    # after the timeout) stays charged while stock and slot are released.
    Scenario("charge_card-never", {"ChargeCard": NEVER}, "COMPENSATED", frozenset({"card"}),
             frozenset({"stock", "slot"})),
    Scenario("charge_card-twice", {"ChargeCard": TWICE}, "COMPLETED", ALL),
    Scenario("charge_card-late", {"ChargeCard": LATE}, "COMPENSATED", frozenset({"card"}),
             frozenset({"stock", "slot"})),
    # A compensation that never answers: retried, then the saga parks (STUCK) before the
    # earlier compensation runs.
    Scenario("charge_card-fail+release_slot-never",
             {"ChargeCard": FAIL, "ReleaseDeliverySlot": NEVER}, "STUCK", frozenset({"stock"}),
             frozenset({"slot"})),
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
        final = wait_settled(
            h.platform.saga_dsn,
            [str(i) for i in ids.values()],
            timeout_s=h.deadline_s + SLACK_S,
            alive=[worker.popen, h.relay.popen],
        )
        elapsed = time.monotonic() - began
        # Late and duplicate replies still in flight land now; nothing may change after.
        time.sleep(4.0)
        assert worker.popen.poll() is None, "worker died:\n" + worker.tail()
        h.check_alive()
    finally:
        code = worker.stop()
    # Stopped before the tests run: the other tests of this module start workers of their own.
    assert code == 0, f"worker exit {code}:\n" + worker.tail()
    yield FaultRun(ids, final, elapsed)


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
    event_ids = [row[0] for row in effects]
    assert len(event_ids) == len(set(event_ids)), explain(h, order_id)
    assert h.participants.holds(order_id) == scenario.holds, explain(h, order_id)
    for kind, effect in (("stock", "release_stock"), ("slot", "release_slot")):
        expected = 1 if kind in scenario.released else 0
        assert applied(effects, effect) == expected, (
            f"{effect} applied {applied(effects, effect)}x" + explain(h, order_id)
        )
    if scenario.status == "COMPLETED":
        assert received(effects, "ReleaseStock") == 0
        assert received(effects, "ReleaseDeliverySlot") == 0
    if scenario.name == "reserve_stock-fail":
        # nothing was reserved, so nothing is sent to release
        assert received(effects, "ReleaseStock") == 0, explain(h, order_id)


def test_no_saga_outlives_its_deadline(harness: Harness, fault_run: FaultRun) -> None:
    assert fault_run.elapsed_s <= harness.deadline_s + SLACK_S
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
    assert applied(effects, "release_stock") == 1, explain(h, order_id)
    assert h.participants.holds(order_id) == frozenset()
