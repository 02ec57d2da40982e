"""`kill -9` of a projector process mid-batch on PostgreSQL: after a restart every row equals
the fold of the events (no event applied twice, none missed).

Every event increments the row's `events_applied`, so a batch applied twice (rows committed,
checkpoint not, or the other way round) shows in the counts.
"""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.db import Store
from eventgen.runtime.es import checkpoints
from eventgen.runtime.es.projector import ProjectionTable
from eventgen.runtime.model import Message
from eventgen.runtime.sql import quote
from tests.emit_services.helpers import EXAMPLE, build
from tests.es.projector_proc import (
    OrderSummary,
    Shop,
    ShopEventStore,
    definition,
    fold,
    make_spec,
    shop_messages,
)

ROOT = Path(__file__).resolve().parents[2]
BATCH = 200
EVENTS = 20_000


def _start(build_dir: Path, dsn: str, table: str, events: str, stall_at: int, stderr: Path) -> Any:
    """The projector process; its stderr goes to the file `stderr` (a pipe nobody drains
    could fill and block it)."""
    env = {**os.environ, "EVENTGEN_POSTGRES_DSN": dsn, "PYTHONPATH": str(ROOT)}
    with stderr.open("w", encoding="utf-8") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.es.projector_proc", str(build_dir), "postgres", table,
             events, str(BATCH), str(stall_at)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=err, text=True,
        )  # fmt: skip


def _readline(proc: Any, timeout_s: float, stderr: Path) -> str:
    """The process's next stdout line, waited for at most `timeout_s` (a reader thread: a
    bare readline() would block until the process ends)."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(proc.stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout_s)
    except queue.Empty:
        raise AssertionError(
            f"no line from the projector in {timeout_s}s; stderr:\n{_tail(stderr)}"
        ) from None


def _tail(stderr: Path) -> str:
    return stderr.read_text(encoding="utf-8", errors="replace")[-4000:]


def _position(store: Store, name: str) -> int:
    conn = store.connection
    if not checkpoints.exists(conn, "eventgen_checkpoints"):
        return 0
    return checkpoints.read(conn, "eventgen_checkpoints", name).get("store", 0)


def _wait_for_progress(
    store: Store, name: str, above: int, proc: Any, timeout_s: float, stderr: Path
) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        position = _position(store, name)
        if position > above:
            return position
        assert proc.poll() is None, _tail(stderr)
        time.sleep(0.05)
    raise AssertionError(f"checkpoint did not move past {above} in {timeout_s}s")


@pytest.mark.postgres
def test_kill_9_mid_batch_then_restart_applies_every_event_once(
    postgres_dsn: str, tmp_path: Path
) -> None:
    build_dir = tmp_path / "out"
    build(EXAMPLE, build_dir)
    messages: list[type[Message]] = shop_messages(build_dir)
    suffix = uuid.uuid4().hex[:10]
    table, events_table = f"kill_{suffix}", f"kill_ev_{suffix}"
    config = RuntimeConfig(postgres_dsn=postgres_dsn, connect_timeout_s=10)
    store = Store.open("postgres", config)
    fake = ShopEventStore(events_table, messages, "postgres")
    spec = make_spec(table, store="postgres", batch=BATCH)
    name = spec.qualified
    stderr = tmp_path / "projector.stderr"
    try:
        rng = random.Random(11)
        shop = Shop(messages)
        orders = [uuid.uuid4() for _ in range(300)]
        events: list[Message] = [
            shop.make("OrderPlaced", order, n) for n, order in enumerate(orders)
        ]
        kinds = ["CardDeclined", "ShipmentDispatched", "OrderConfirmed", "CardDeclined"]
        while len(events) < EVENTS:
            events.append(shop.make(rng.choice(kinds), rng.choice(orders), rng.randint(0, 999)))
        with store.transaction(immediate=True) as conn:
            fake.ensure_schema(conn)
            fake.add(conn, events)
        head = fake.head_position(store.connection)

        # 1. Stalls inside a batch after several committed ones: kill -9 there, for certain.
        stall_at = BATCH * 5 + 37
        proc = _start(build_dir, postgres_dsn, table, events_table, stall_at, stderr)
        try:
            line = _readline(proc, 120, stderr)  # IN_BATCH (or "" when the process ended)
            assert line.strip() == "IN_BATCH", line + _tail(stderr)
            moved = _position(store, name)
            assert 0 < moved < stall_at  # the first checkpoints are committed
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)
        assert proc.returncode == -signal.SIGKILL
        assert _position(store, name) == moved  # the open batch was lost as a whole

        # 2. A kill at a random moment of a busy run.
        proc = _start(build_dir, postgres_dsn, table, events_table, 0, stderr)
        try:
            _wait_for_progress(store, name, moved + BATCH, proc, 120, stderr)
            time.sleep(rng.uniform(0.0, 0.3))
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)
        killed_at = _position(store, name)
        assert killed_at < head, "the backlog ran out before the kill: make it bigger"

        # 3. Restart and finish.
        proc = _start(build_dir, postgres_dsn, table, events_table, 0, stderr)
        try:
            out, _ = proc.communicate(timeout=300)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)
        assert proc.returncode == 0, _tail(stderr)
        stats = json.loads(out.strip().splitlines()[-1])
        assert stats["events"] == head - killed_at  # resumed right after the checkpoint

        assert _position(store, name) == head
        table_ = ProjectionTable(definition(spec, messages))
        rows = {row.order_id: row for row in table_.find(store.connection, {})}
        expected = {k: OrderSummary.model_validate(v) for k, v in fold(events).items()}
        assert rows == expected
        assert sum(row.events_applied for row in rows.values()) == len(events)
    finally:
        for name_ in (table, *fake.tables):
            store.connection.execute(f"DROP TABLE IF EXISTS {quote(name_)}")
        store.close()
