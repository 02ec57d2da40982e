"""Shared pieces of the fault-injection tests (test_faults*.py): one harness (build, topics,
databases, participants, relay) per test module, and the worker runs that kill -9 themselves."""

from __future__ import annotations

import importlib
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.emit_services.helpers import build, import_fresh
from tests.runtime.apps.kit import topics
from tests.sagas.fault_harness import (
    Orders,
    Participants,
    Platform,
    Proc,
    all_topics,
    databases,
    instances,
    prepare_specs,
    saga_log,
    unique_base,
    wait_settled,
)

SLACK_S = 30.0  # bounded slack past the deadline for a saga to settle


@dataclass
class Harness:
    platform: Platform
    participants: Participants
    orders: Orders
    relay: Proc
    deadline_s: int

    def check_alive(self) -> None:
        assert self.relay.popen.poll() is None, "relay died:\n" + self.relay.tail()
        assert not self.participants.errors, self.participants.errors


@contextmanager
def open_harness(
    bootstrap: str,
    server_dsn: str,
    work: Path,
    *,
    step_timeout_s: int,
    deadline_s: int,
    reserve_attempts: int = 2,
    forward_step: bool = False,
) -> Iterator[Harness]:
    base = unique_base()
    out = work / "out"
    specs = prepare_specs(
        work / "specs",
        base,
        step_timeout=f"{step_timeout_s}s",
        deadline=f"{deadline_s}s",
        reserve_attempts=reserve_attempts,
        forward_step=forward_step,
    )
    build(specs, out)
    with topics(bootstrap, all_topics(base)), databases(server_dsn, "saga", "part") as dsns:
        platform = Platform(out, base, bootstrap, dsns["saga"], dsns["part"], work)
        import_fresh(out, "shop_events", "orders_aggregates")
        for name in (
            "orders", "orders_aggregates", "orders_app", "inventory", "inventory_app",
            "shipping", "shipping_app", "payments", "payments_app",
        ):  # fmt: skip
            platform.modules[name] = importlib.import_module(f"shop_events.{name}")
        orders = Orders(platform)
        participants = Participants(platform)
        participants.start()
        relay = platform.relay()
        try:
            yield Harness(platform, participants, orders, relay, deadline_s)
        finally:
            relay.stop()
            participants.stop()
            orders.close()


def worker_started(worker: Proc) -> None:
    """A worker that fails at start (a missing topic, a bad target) says so at once; one that
    starts late loses nothing (its group reads from the earliest offset)."""
    time.sleep(0.5)
    assert worker.popen.poll() is None, "worker exited at start:\n" + worker.tail()


def effects_of(h: Harness, order_id: uuid.UUID) -> list[tuple[Any, ...]]:
    return h.participants.effects(order_id)


def applied(effects: list[tuple[Any, ...]], effect: str) -> int:
    return sum(1 for row in effects if row[2] == effect and row[3])


def received(effects: list[tuple[Any, ...]], command: str) -> int:
    """How many times a participant handled `command` (every row is one handled event)."""
    return sum(1 for row in effects if row[1] == command)


def distinct(effects: list[tuple[Any, ...]], command: str) -> int:
    """How many distinct command event ids (one per attempt) of `command` were handled."""
    return len({row[0] for row in effects if row[1] == command})


def handled_once(effects: list[tuple[Any, ...]]) -> bool:
    """The participants' inboxes handled each command event id once."""
    ids = [row[0] for row in effects]
    return len(ids) == len(set(ids))


def explain(h: Harness, order_id: uuid.UUID) -> str:
    rows = saga_log(h.platform.saga_dsn, str(order_id))
    effects = effects_of(h, order_id)
    return (
        f"\nlog of {order_id}:\n"
        + "\n".join(f"  {row}" for row in rows)
        + "\neffects:\n"
        + "\n".join(f"  {row[1:]}" for row in effects)
    )


def kill_run(
    h: Harness, tmp_path: Path, mode: str, n: int, script: dict[str, str], *, thread: str = ""
) -> uuid.UUID:
    """One order; a worker that kills itself at saga commit `n`; the state it left. With
    `thread`, the killed commit's thread name must start with it (`saga-timers`: the timer
    thread's commit)."""
    order_id = uuid.uuid4()
    h.participants.scripts[order_id] = script
    commits = tmp_path / f"commits-{mode}-{n}.txt"
    worker = h.platform.worker(kill=mode, at=n, commits=commits)
    try:
        worker_started(worker)
        h.orders.place(order_id)
        code = worker.wait_exit(h.deadline_s + SLACK_S)
        assert code == -9, f"worker exit {code} (expected SIGKILL at commit {n}):\n" + (
            worker.tail() + explain(h, order_id)
        )
    finally:
        if worker.popen.poll() is None:
            worker.popen.kill()
            worker.popen.wait(30)
    lines = commits.read_text(encoding="utf-8").splitlines()
    done = [line for line in lines if line.split()[1:2] != ["kill-before"]]
    done = [line for line in done if "kill-after" not in line]
    assert len(done) == (n - 1 if mode == "before" else n), lines
    if thread:
        nth = [line.split() for line in lines if line.split()[0] == str(n)]
        names = [part[-1] for part in nth if part[-1] != "kill-after"]
        assert names and names[0].startswith(thread), (names, lines)
    return order_id


def state_of(h: Harness, order_id: uuid.UUID) -> tuple[str, str | None] | None:
    row = instances(h.platform.saga_dsn, [str(order_id)]).get(str(order_id))
    return None if row is None else (row[0], row[1])


def finish(h: Harness, order_id: uuid.UUID, *, wanted: str) -> None:
    worker = h.platform.worker()
    try:
        final = wait_settled(
            h.platform.saga_dsn,
            [str(order_id)],
            timeout_s=h.deadline_s + SLACK_S,
            alive=[worker.popen, h.relay.popen],
        )
        assert final.get(str(order_id), ("missing",))[0] == wanted, (
            f"{final} after restart:\n" + worker.tail() + explain(h, order_id)
        )
        # A SIGTERM before the runner set its handlers would kill it instead of stopping it:
        # let it join first (it may have had nothing left to do).
        assert worker.wait_output("assigned", 60), worker.tail()
    finally:
        code = worker.stop()
    assert code == 0, f"worker exit {code}:\n" + worker.tail()
    h.check_alive()
