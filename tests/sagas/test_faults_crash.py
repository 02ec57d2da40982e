"""kill -9 of the PlaceOrderSaga worker right before and right after each saga commit, on the
real Kafka and PostgreSQL (harness: tests/sagas/fault_harness.py, fault_kit.py).

The worker runs through tests/sagas/fault_crash.py, which counts the transactions that write a
saga instance and SIGKILLs its own process at the N-th one. Before commit N the database must
show the state of N-1 commits, after it the state of N; the restarted worker then completes the
saga (forward recovery after the pivot included: the kill after commit 3 leaves ChargeCard out,
the kill before 4 loses CardCharged's processing) and every participant command was received
exactly once (the outbox wrote each once; its event id is the deterministic request id).
The same around the compensation's commits of a declined charge: COMPENSATED after the
restart, each compensation sent and applied once.
Step timeouts are 20 s here: longer than a kill and restart take, so a redelivered reply is
still in time (with 2 s the timeout fires first and the saga rightly compensates).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.runtime.apps.kit import headers_of, read_all
from tests.sagas.fault_harness import FAIL, topic_name, wait_settled
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

HAPPY_COMMITS = 4  # start, StockReserved, DeliverySlotBooked, CardCharged + local confirm
# (status, step) of the happy path's instance after 0, 1, ... saga commits
HAPPY: list[tuple[str, str | None] | None] = [
    None,
    ("RUNNING", "reserve_stock"),
    ("RUNNING", "book_delivery_slot"),
    ("RUNNING", "charge_card"),
    ("COMPLETED", None),
]


@pytest.fixture(scope="module")
def crash_harness(
    kafka_bootstrap_servers: str, postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Harness]:
    """Step timeouts (20 s) longer than a kill and restart take: a reply redelivered to the
    restarted worker is still in time, so the happy path must complete (with 2 s, the timeout
    fires first and the saga rightly compensates)."""
    work = tmp_path_factory.mktemp("crash")
    with open_harness(
        kafka_bootstrap_servers, postgres_dsn, work, step_timeout_s=20, deadline_s=90
    ) as h:
        yield h


@pytest.mark.parametrize("n", range(1, HAPPY_COMMITS + 1))
@pytest.mark.parametrize("mode", ["before", "after"])
def test_kill_9_at_saga_commit(crash_harness: Harness, tmp_path: Path, mode: str, n: int) -> None:
    h = crash_harness
    order_id = kill_run(h, tmp_path, mode, n, {})
    expected = HAPPY[n - 1] if mode == "before" else HAPPY[n]
    state = state_of(h, order_id)
    if expected is None or state is None:
        assert state == expected, explain(h, order_id)
    else:
        assert state[0] == expected[0], explain(h, order_id)
        if expected[0] != "COMPLETED":
            assert state == expected, explain(h, order_id)
    finish(h, order_id, wanted="COMPLETED")
    effects = effects_of(h, order_id)
    # The outbox and the deterministic request ids: each command reached its participant
    # once, whatever commit the worker died at (a resend would be deduped by event id, but
    # the worker never even wrote one).
    for command in ("ReserveStock", "BookDeliverySlot", "ChargeCard"):
        assert received(effects, command) == 1, explain(h, order_id)
    assert received(effects, "ReleaseStock") == 0
    assert h.participants.holds(order_id) == {"stock", "slot", "card"}


# A declined charge: (status, step) after 4, 5, 6 saga commits (CardDeclined and the first
# compensation, DeliverySlotReleased and the next, StockReleased).
DECLINED: dict[int, tuple[str, str | None]] = {
    3: ("RUNNING", "charge_card"),
    4: ("COMPENSATING", "book_delivery_slot"),
    5: ("COMPENSATING", "reserve_stock"),
    6: ("COMPENSATED", None),
}


@pytest.mark.parametrize("n", [4, 5, 6])
@pytest.mark.parametrize("mode", ["before", "after"])
def test_kill_9_while_compensating(
    crash_harness: Harness, tmp_path: Path, mode: str, n: int
) -> None:
    """The charge is declined; the worker dies around each commit of the compensation. After
    the restart the saga is COMPENSATED and each compensation was sent, and applied, once."""
    h = crash_harness
    order_id = kill_run(h, tmp_path, mode, n, {"ChargeCard": FAIL})
    expected = DECLINED[n - 1] if mode == "before" else DECLINED[n]
    state = state_of(h, order_id)
    assert state is not None, explain(h, order_id)
    assert state[0] == expected[0], explain(h, order_id)
    if expected[0] != "COMPENSATED":
        assert state == expected, explain(h, order_id)
    finish(h, order_id, wanted="COMPENSATED")
    effects = effects_of(h, order_id)
    for command in ("ReserveStock", "BookDeliverySlot", "ChargeCard"):
        assert received(effects, command) == 1, explain(h, order_id)
    for command, effect in (
        ("ReleaseDeliverySlot", "release_slot"),
        ("ReleaseStock", "release_stock"),
    ):
        assert received(effects, command) == 1, explain(h, order_id)
        assert applied(effects, effect) == 1, explain(h, order_id)
    assert h.participants.holds(order_id) == set()


def test_happy_path_has_the_expected_saga_commits(crash_harness: Harness, tmp_path: Path) -> None:
    """The kill points above cover every saga commit: the happy path makes HAPPY_COMMITS."""
    h = crash_harness
    order_id = uuid.uuid4()
    commits = tmp_path / "commits.txt"
    worker = h.platform.worker(commits=commits)
    try:
        worker_started(worker)
        h.orders.place(order_id)
        final = wait_settled(
            h.platform.saga_dsn, [str(order_id)], timeout_s=h.deadline_s + SLACK_S,
            alive=[worker.popen],
        )  # fmt: skip
        assert final[str(order_id)][0] == "COMPLETED", worker.tail() + explain(h, order_id)
    finally:
        code = worker.stop()
    assert code == 0, f"worker exit {code}:\n" + worker.tail()
    assert len(commits.read_text(encoding="utf-8").splitlines()) == HAPPY_COMMITS


def test_relay_killed_after_producing_resends_and_the_inbox_dedupes(
    crash_harness: Harness, tmp_path: Path
) -> None:
    """The orders relay dies (kill -9) after ReserveStock was produced and acknowledged but
    before its outbox row was deleted: the restarted relay sends it again with the same event
    id (the saga's request id), and the participant's inbox handles it once."""
    h = crash_harness
    order_id = uuid.uuid4()
    h.participants.scripts[order_id] = {}
    assert h.relay.stop() == 0, h.relay.tail()
    worker = h.platform.worker()
    relay = None
    try:
        worker_started(worker)
        h.orders.place(order_id)  # OrderPlaced waits in the outbox: batch 1 of the next relay
        relay = h.platform.relay(kill_before_removal=2)  # batch 2: ReserveStock
        code = relay.wait_exit(h.deadline_s)
        assert code == -9, f"relay exit {code}:\n" + relay.tail() + explain(h, order_id)
        h.relay = h.platform.relay()
        final = wait_settled(
            h.platform.saga_dsn, [str(order_id)], timeout_s=h.deadline_s + SLACK_S,
            alive=[worker.popen, h.relay.popen],
        )  # fmt: skip
        assert final.get(str(order_id), ("missing",))[0] == "COMPLETED", worker.tail() + explain(
            h, order_id
        )
    finally:
        if relay is not None and relay.popen.poll() is None:
            relay.popen.kill()
            relay.popen.wait(30)
        if h.relay.popen.poll() is not None:
            h.relay = h.platform.relay()
        code = worker.stop()
    assert code == 0, f"worker exit {code}:\n" + worker.tail()
    topic = topic_name(h.platform.base, "inventory", "inventory-commands")
    sent = [
        headers_of(record)
        for record in read_all(h.platform.bootstrap, topic)
        if headers_of(record).get("correlation_id") == str(order_id)
    ]
    reserve = [head["event_id"] for head in sent if head.get("type") == "inventory.ReserveStock"]
    assert len(reserve) == 2 and len(set(reserve)) == 1, sent  # the same command twice
    effects = effects_of(h, order_id)
    for command in ("ReserveStock", "BookDeliverySlot", "ChargeCard"):
        assert received(effects, command) == 1, explain(h, order_id)
