"""Relay processes against the real Kafka, with SQLite files and the real PostgreSQL:
`kill -9` in the middle of a batch and a restart, and two relays running at once."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from eventgen.runtime.avro import decode_avro, decode_key
from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.db import Store
from eventgen.runtime.outbox import OutboxWriter
from tests.runtime.relay_proc import ItemAdded, consume_all, create_topic, delete_topic, outbox_spec

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(400)]
REPO_DIR = Path(__file__).resolve().parents[2]
PROC_BOUND_S = 120.0  # a relay process that has not exited by then is killed (test fails)
MARKER_BOUND_S = 60.0

DIALECTS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@dataclass
class Env:
    config: RuntimeConfig
    kind: Literal["sqlite", "postgres"]
    table: str
    topic: str
    store: Store
    tmp: Path

    def rows(self) -> int:
        return int(
            self.store.connection.execute(f"SELECT count(*) FROM {self.table}").fetchone()[0]
        )

    def environ(self) -> dict[str, str]:
        return {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.config.bootstrap_servers,
            "EVENTGEN_SQLITE_PATH": self.config.sqlite_path,
            "EVENTGEN_POSTGRES_DSN": self.config.postgres_dsn or "",
            "RELAY_PROC_TABLE": self.table,
            "RELAY_PROC_TOPIC": self.topic,
            "RELAY_PROC_STORE": self.kind,
        }

    def start(self, *args: str) -> subprocess.Popen[str]:
        command = [sys.executable, "-m", "tests.runtime.relay_proc", "--store", self.kind,
                   "--table", self.table, "--topic", self.topic, *args]  # fmt: skip
        return self.popen(command)

    def popen(self, command: list[str]) -> subprocess.Popen[str]:
        return subprocess.Popen(command, cwd=REPO_DIR, env=self.environ(), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


@pytest.fixture(params=DIALECTS)
def env(
    request: pytest.FixtureRequest, tmp_path: Path, kafka_bootstrap_servers: str
) -> Iterator[Env]:
    kind: Literal["sqlite", "postgres"] = request.param
    dsn = request.getfixturevalue("postgres_dsn") if kind == "postgres" else None
    config = RuntimeConfig(
        bootstrap_servers=kafka_bootstrap_servers,
        postgres_dsn=dsn,
        sqlite_path=str(tmp_path / "app.sqlite3"),
        connect_timeout_s=10,
    )
    suffix = uuid.uuid4().hex[:12]
    table, topic = f"outbox_{suffix}", f"relay-crash-{suffix}"
    create_topic(kafka_bootstrap_servers, topic, 3)
    store = Store.open(kind, config)
    store.ensure_schema({"outbox": table})
    yield Env(config, kind, table, topic, store, tmp_path)
    store.connection.execute(f"DROP TABLE IF EXISTS {table}")
    store.close()
    delete_topic(kafka_bootstrap_servers, topic)


def _add(env: Env, carts: int, items: range) -> list[ItemAdded]:
    """Rows in seq order: for each n, one transaction adding item n to every cart."""
    writer = OutboxWriter(outbox_spec(env.table, env.topic, store=env.kind))
    writer.configure(env.config)
    added = []
    for n in items:
        with env.store.transaction() as conn:
            for cart in range(carts):
                message = ItemAdded(cart_id=f"cart-{cart}", n=n)
                writer.add(conn, message)
                added.append(message)
    return added


def _finish(proc: subprocess.Popen[str]) -> dict[str, Any]:
    try:
        out, err = proc.communicate(timeout=PROC_BOUND_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate(timeout=30)
        pytest.fail(f"relay process did not exit within {PROC_BOUND_S} s:\n{err[-3000:]}")
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _received(env: Env, expected: int) -> list[tuple[str, int]]:
    """(cart, n) of every record on the topic, per partition in offset order."""
    out = []
    for record in consume_all(env.config.bootstrap_servers, env.topic, expected):
        message = decode_avro(ItemAdded, record.value())
        assert decode_key("string", record.key()) == message.cart_id
        out.append((message.cart_id, message.n))
    return out


def _per_cart(received: list[tuple[str, int]]) -> dict[str, list[int]]:
    carts: dict[str, list[int]] = {}
    for cart, n in received:
        carts.setdefault(cart, []).append(n)
    return carts


@pytest.mark.parametrize("standby", [False, True], ids=["restart", "standby"])
@pytest.mark.parametrize("hang_after", [25, 30])
def test_kill_mid_batch_then_restart(env: Env, hang_after: int, standby: bool) -> None:
    """SIGKILL between the acks and the delete of batch 3 (K records produced and
    acknowledged); then a restarted relay, or a second relay that was already waiting for
    the leadership, publishes the rest."""
    batch, carts, items = 10, 6, 10
    added = _add(env, carts, range(items))
    total = len(added)
    marker = env.tmp / "hung"
    hung = env.start("--batch", str(batch), "--idle-exit", "30",
                     "--hang-after", str(hang_after), "--marker", str(marker))  # fmt: skip
    second = None
    try:
        deadline = time.monotonic() + MARKER_BOUND_S
        while not marker.exists() and time.monotonic() < deadline and hung.poll() is None:
            time.sleep(0.1)
        assert marker.exists(), f"the relay never hung: {hung.communicate(timeout=30)[1][-3000:]}"
        assert json.loads(marker.read_text())["unflushed"] == 0
        # The batches before the interrupted one were deleted; the interrupted one stays whole.
        done_batches = (hang_after - 1) // batch
        assert env.rows() == total - done_batches * batch
        if standby:
            second = env.start("--batch", str(batch), "--idle-exit", "5")
            time.sleep(0.5)  # let it start and find the leadership taken (not needed to pass)
    finally:
        hung.send_signal(signal.SIGKILL)
        hung.communicate(timeout=30)
    interrupted = added[done_batches * batch : hang_after]  # acknowledged, never deleted
    stats = _finish(second or env.start("--batch", str(batch), "--idle-exit", "5"))
    assert stats["published"] == total - done_batches * batch and env.rows() == 0
    received = _received(env, total + len(interrupted))
    counts = Counter(received)
    duplicates = sorted(key for key, count in counts.items() if count > 1)
    assert len(received) - total == len(interrupted) <= batch
    assert duplicates == sorted((m.cart_id, m.n) for m in interrupted)
    assert set(counts) == {(m.cart_id, m.n) for m in added} and max(counts.values()) == 2
    # Per cart: 0..9 in order, except that the interrupted batch's records of the cart
    # (a contiguous run a..b) come again right after b: 0..b, a..9.
    replayed: dict[str, list[int]] = {}
    for message in interrupted:
        replayed.setdefault(message.cart_id, []).append(message.n)
    for cart, ns in _per_cart(received).items():
        run = replayed.get(cart, [])
        if run:
            assert run == list(range(run[0], run[-1] + 1))
            expected = list(range(run[-1] + 1)) + list(range(run[0], items))
        else:
            expected = list(range(items))
        assert ns == expected, cart


def test_two_relays_at_once(env: Env) -> None:
    carts, first = 8, 20
    added = _add(env, carts, range(first))
    one = env.start("--batch", "10", "--idle-exit", "5")
    two = env.start("--batch", "10", "--idle-exit", "5")
    more: list[ItemAdded] = []
    errors: list[BaseException] = []

    def keep_writing() -> None:  # more transactions while both relays run
        try:
            writer_store = Store.open(env.kind, env.config)
            try:
                for n in range(first, first + 10):
                    writer = OutboxWriter(outbox_spec(env.table, env.topic, store=env.kind))
                    writer.configure(env.config)
                    with writer_store.transaction() as conn:
                        for cart in range(carts):
                            message = ItemAdded(cart_id=f"cart-{cart}", n=n)
                            writer.add(conn, message)
                            more.append(message)
                    time.sleep(0.05)
            finally:
                writer_store.close()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    writer_thread = threading.Thread(target=keep_writing, daemon=True)
    writer_thread.start()
    try:
        writer_thread.join(60)
        assert not writer_thread.is_alive() and errors == []
    finally:
        stats = [_finish(one), _finish(two)]
    total = len(added) + len(more)
    assert sum(s["published"] for s in stats) == total and env.rows() == 0
    assert any(s["leader"] for s in stats)
    received = _received(env, total)
    # No crash, so no duplicate at all: one leader published each row once, in order.
    assert len(received) == total and len(set(received)) == total
    assert _per_cart(received) == {f"cart-{c}": list(range(first + 10)) for c in range(carts)}


def test_runner_runs_the_relay_until_sigterm(env: Env) -> None:
    """`python -m eventgen.runtime run MODULE:relay`: publishes, and exits 0 on SIGTERM."""
    added = _add(env, carts=3, items=range(10))
    proc = env.popen([sys.executable, "-m", "eventgen.runtime", "run",
                      "tests.runtime.relay_proc:relay", "--connect-timeout", "10"])  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while env.rows() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert env.rows() == 0, "the relay did not publish the rows"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate(timeout=30)
            pytest.fail("the relay did not stop on SIGTERM")
    assert proc.returncode == 0, err[-3000:]
    received = _received(env, len(added))
    assert _per_cart(received) == {f"cart-{c}": list(range(10)) for c in range(3)}


@pytest.mark.parametrize(
    "env", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_runner_exits_2_when_the_store_is_unreachable(env: Env) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = env.popen([sys.executable, "-m", "eventgen.runtime", "run",
                      "tests.runtime.relay_proc:relay", "--connect-timeout", "2",
                      "--postgres-dsn", f"postgresql://u@127.0.0.1:{port}/db"])  # fmt: skip
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err[-3000:]
    assert f"PostgreSQL store u@127.0.0.1:{port}/db" in err
