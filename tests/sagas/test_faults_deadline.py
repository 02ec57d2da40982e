"""PlaceOrderSaga's deadline, and kill -9 around the timer thread's commits, on the real Kafka
and PostgreSQL (harness: tests/sagas/fault_harness.py, fault_kit.py).

Steps time out after 3 s, the saga's deadline is 30 s; reserve_stock has 8 attempts (3 s each
plus backoffs: longer than the deadline) and the build has a `ship_order` step (ShipOrder)
after the pivot, which the participants never answer (forward: retried until the deadline).

- `test_deadline_*`: a reserve_stock that is never answered is cut short by the deadline and
  compensated (COMPENSATED, the log's deadline entry); a ship_order never answered after the
  pivot parks the saga at the deadline (STUCK, "deadline passed after the pivot"), nothing
  compensated.
- `test_kill_9_around_timer_commit`: book_delivery_slot is never answered; the worker kills
  itself (SIGKILL) right before or after the timer thread's commit of the first timeout (which
  schedules the retry), of the retry timer (attempt 2 sent) and of the second timeout (which
  starts the compensation): the stored state is that of the commits done (attempts, timers);
  after the restart the saga is COMPENSATED and each command was received once per attempt.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sagas.fault_harness import INSTANCES, NEVER, query, saga_log, wait_settled
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

STEP_TIMEOUT_S = 3
DEADLINE_S = 30  # the kill runs below settle well within it (their restart included)
RESERVE_ATTEMPTS = 8  # 8 x 3 s plus backoffs: reserve_stock outlasts the deadline


@pytest.fixture(scope="module")
def deadline_harness(
    kafka_bootstrap_servers: str, postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Harness]:
    work = tmp_path_factory.mktemp("deadline")
    with open_harness(
        kafka_bootstrap_servers, postgres_dsn, work,
        step_timeout_s=STEP_TIMEOUT_S, deadline_s=DEADLINE_S,
        reserve_attempts=RESERVE_ATTEMPTS, forward_step=True,
    ) as h:  # fmt: skip
        yield h


@pytest.fixture(scope="module")
def deadline_run(deadline_harness: Harness) -> Iterator[dict[str, uuid.UUID]]:
    """Both deadline orders against one worker, until both settled (bounded)."""
    h = deadline_harness
    ids = {"pre-pivot": uuid.uuid4(), "post-pivot": uuid.uuid4()}
    h.participants.scripts[ids["pre-pivot"]] = {"ReserveStock": NEVER}
    h.participants.scripts[ids["post-pivot"]] = {}  # ShipOrder is never answered anyway
    worker = h.platform.worker()
    try:
        worker_started(worker)
        for order_id in ids.values():
            h.orders.place(order_id)
        wait_settled(
            h.platform.saga_dsn, [str(i) for i in ids.values()],
            timeout_s=DEADLINE_S + SLACK_S, alive=[worker.popen, h.relay.popen],
        )  # fmt: skip
        assert worker.popen.poll() is None, "worker died:\n" + worker.tail()
        h.check_alive()
    finally:
        code = worker.stop()
    assert code == 0, f"worker exit {code}:\n" + worker.tail()
    yield ids


def deadline_entries(h: Harness, order_id: uuid.UUID) -> list[tuple[object, ...]]:
    """The log entries the deadline timer wrote."""
    return [
        row for row in saga_log(h.platform.saga_dsn, str(order_id)) if row[1] == "timer deadline"
    ]


def test_deadline_compensates_a_step_that_outlasts_it(
    deadline_harness: Harness, deadline_run: dict[str, uuid.UUID]
) -> None:
    h = deadline_harness
    order_id = deadline_run["pre-pivot"]
    assert state_of(h, order_id) == ("COMPENSATED", None), explain(h, order_id)
    entries = deadline_entries(h, order_id)
    assert entries, "no deadline entry" + explain(h, order_id)
    assert any(row[3] == "COMPENSATING" for row in entries), explain(h, order_id)
    assert any("deadline passed" in str(row[5]) for row in entries), explain(h, order_id)
    effects = effects_of(h, order_id)
    assert handled_once(effects), explain(h, order_id)
    # Cut short: fewer attempts than the retry policy allows, each its own event id.
    attempts = received(effects, "ReserveStock")
    assert 1 <= attempts < RESERVE_ATTEMPTS, explain(h, order_id)
    assert distinct(effects, "ReserveStock") == attempts, explain(h, order_id)
    # The outcome was unknown (the participant reserved, never answered): released once.
    assert received(effects, "ReleaseStock") == 1, explain(h, order_id)
    assert applied(effects, "release_stock") == 1, explain(h, order_id)
    assert received(effects, "BookDeliverySlot") == 0, explain(h, order_id)
    assert h.participants.holds(order_id) == set(), explain(h, order_id)


def test_deadline_parks_a_forward_step_after_the_pivot(
    deadline_harness: Harness, deadline_run: dict[str, uuid.UUID]
) -> None:
    h = deadline_harness
    order_id = deadline_run["post-pivot"]
    state = state_of(h, order_id)
    assert state == ("STUCK", "ship_order"), explain(h, order_id)
    entries = deadline_entries(h, order_id)
    assert any(
        row[3] == "STUCK" and "deadline passed after the pivot" in str(row[5]) for row in entries
    ), "no deadline entry" + explain(h, order_id)
    effects = effects_of(h, order_id)
    assert handled_once(effects), explain(h, order_id)
    # Forward: retried (an event id per attempt) until the deadline, never compensated.
    ships = received(effects, "ShipOrder")
    assert ships >= 2 and distinct(effects, "ShipOrder") == ships, explain(h, order_id)
    for command in ("ReserveStock", "BookDeliverySlot", "ChargeCard"):
        assert received(effects, command) == 1, explain(h, order_id)
    assert received(effects, "ReleaseStock") == 0, explain(h, order_id)
    assert received(effects, "ReleaseDeliverySlot") == 0, explain(h, order_id)
    assert h.participants.holds(order_id) == {"stock", "slot", "card"}, explain(h, order_id)


# book_delivery_slot never answered: saga commits 1 start, 2 StockReserved, 3 the first
# timeout (timer thread: schedules the retry), 4 the retry timer (timer thread: attempt 2
# sent), 5 the second timeout (timer thread: starts the compensation, ReleaseDeliverySlot
# sent), 6 DeliverySlotReleased, 7 StockReleased (COMPENSATED).
# After k commits: (status, step), book_delivery_slot's (attempts, compensation attempts) and
# its timers (kind, phase) as stored.
AFTER: dict[int, tuple[tuple[str, str], tuple[int, int], set[tuple[str, str]]]] = {
    2: (("RUNNING", "book_delivery_slot"), (1, 0), {("timeout", "step")}),
    3: (("RUNNING", "book_delivery_slot"), (1, 0), {("retry", "step")}),
    4: (("RUNNING", "book_delivery_slot"), (2, 0), {("timeout", "step")}),
    5: (("COMPENSATING", "book_delivery_slot"), (2, 1), {("timeout", "compensation")}),
}


def stored_step(h: Harness, order_id: uuid.UUID) -> tuple[tuple[int, int], set[tuple[str, str]]]:
    """book_delivery_slot's attempts and the instance's step timers, as stored."""
    rows = query(
        h.platform.saga_dsn, f"SELECT state FROM {INSTANCES} WHERE saga_id = %s", str(order_id)
    )
    assert rows, explain(h, order_id)
    raw = rows[0][0]
    state = json.loads(raw) if isinstance(raw, str) else raw
    step = next(s for s in state["steps"] if s["name"] == "book_delivery_slot")
    timers = {(t["kind"], t["phase"]) for t in state["timers"] if t["kind"] != "deadline"}
    return (step["attempts"], step["compensation_attempts"]), timers


@pytest.mark.parametrize(
    "n", [3, 4, 5], ids=["timeout-schedules-retry", "retry-fires", "timeout-compensates"]
)
@pytest.mark.parametrize("mode", ["before", "after"])
def test_kill_9_around_timer_commit(
    deadline_harness: Harness, deadline_run: dict[str, uuid.UUID], tmp_path: Path, mode: str,
    n: int,
) -> None:  # fmt: skip
    h = deadline_harness
    order_id = kill_run(h, tmp_path, mode, n, {"BookDeliverySlot": NEVER}, thread="saga-timers")
    status, attempts, timers = AFTER[n - 1 if mode == "before" else n]
    assert state_of(h, order_id) == status, explain(h, order_id)
    assert stored_step(h, order_id) == (attempts, timers), explain(h, order_id)
    finish(h, order_id, wanted="COMPENSATED")
    effects = effects_of(h, order_id)
    assert handled_once(effects), explain(h, order_id)
    # Once per attempt, whatever commit the worker died around.
    wanted = {
        "ReserveStock": 1, "BookDeliverySlot": 2, "ChargeCard": 0,
        "ReleaseDeliverySlot": 1, "ReleaseStock": 1,
    }  # fmt: skip
    got = {c: (received(effects, c), distinct(effects, c)) for c in wanted}
    assert got == {c: (k, k) for c, k in wanted.items()}, explain(h, order_id)
    assert applied(effects, "release_slot") == 1, explain(h, order_id)
    assert applied(effects, "release_stock") == 1, explain(h, order_id)
    assert h.participants.holds(order_id) == set(), explain(h, order_id)
