"""kill -9 of a real app process mid-stream, then a restart: what each guarantee promises.

Each test produces its messages first, starts `python -m eventgen.runtime run` on the
crash app (tests/runtime/apps/crash_app.py), kills it with SIGKILL once part of the stream is
handled, restarts it with --idle-exit and checks the effects in PostgreSQL (or the output
topic). Every wait is bounded.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from eventgen.runtime.sql import statements, table_ddl
from tests.runtime.apps.kit import encoded, produce, read_all, topics, unique
from tests.runtime.apps.shop import Placed

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

REPO = Path(__file__).resolve().parents[2]
N = 10_000
KEYS = 50
RUN_TIMEOUT_S = 180.0


@pytest.fixture
def db(postgres_dsn: str) -> Iterator[Any]:
    import psycopg

    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        yield conn


class Setup:
    def __init__(
        self, bootstrap: str, dsn: str, db: Any, mode: str, partitions: int, logs: Path
    ) -> None:
        base = unique(mode)
        self.logs = logs
        self.procs: list[tuple[Any, Any]] = []
        self.bootstrap, self.dsn, self.db, self.mode = bootstrap, dsn, db, mode
        self.topic, self.output = f"{base}.in", f"{base}.out"
        self.group = f"{base}-g"
        self.table = "crash_" + base.split("-")[-1]
        self.partitions = partitions
        db.execute(f"CREATE TABLE {self.table} (id bigint PRIMARY KEY, count int NOT NULL)")
        db.execute(f"CREATE TABLE {self.table}_keys (k text PRIMARY KEY, last_seq bigint)")
        db.execute(f"CREATE TABLE {self.table}_violations (k text, seq bigint, after bigint)")
        if mode == "alo":  # the app would create it; made here, the instances' starts race less
            for statement in statements(table_ddl("postgres", "inbox", f"{self.table}_inbox")):
                db.execute(statement)

    def drop(self) -> None:
        for proc, log in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
            log.close()
        for suffix in ("", "_keys", "_violations", "_inbox"):
            self.db.execute(f"DROP TABLE IF EXISTS {self.table}{suffix}")

    def produce_all(self) -> None:
        records = [encoded(self.topic, Placed(order=f"k{i % KEYS}", seq=i)) for i in range(N)]
        produce(self.bootstrap, self.topic, records)

    def start(self, instance: str = "0", delay_ms: int = 1, idle_exit: float = 6.0) -> Any:
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "EVENTGEN_POSTGRES_DSN": self.dsn,
            "EVENTGEN_INSTANCE_ID": instance,
            "EVENTGEN_CONNECT_TIMEOUT": "20",
            # A killed member's partitions move after this, not after librdkafka's 45 s.
            "EVENTGEN_CLIENT_SESSION_TIMEOUT_MS": "6000",
            "EGT_MODE": self.mode,
            "EGT_TOPIC": self.topic,
            "EGT_GROUP": self.group,
            "EGT_TABLE": self.table,
            "EGT_OUTPUT": self.output if self.mode == "eos" else "",
            "EGT_DELAY_MS": str(delay_ms),
        }
        # Output to a file, not a pipe: nobody reads a pipe while the test waits, and a full
        # one would block the app.
        log = open(self.logs / f"{instance}-{len(self.procs)}.log", "w+")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "eventgen.runtime", "run", "tests.runtime.apps.crash_app:app",
             "--idle-exit", str(idle_exit), "--log-level", "INFO"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.procs.append((proc, log))
        return proc

    def output_of(self, proc: Any) -> str:
        for known, log in self.procs:
            if known is proc:
                log.seek(0)
                return str(log.read())
        return ""

    def handled(self) -> int:
        return int(self.db.execute(f"SELECT count(*) FROM {self.table}").fetchone()[0])

    def wait_for(self, what: Callable[[], bool], procs: list[Any], why: str) -> None:
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while not what():
            for proc in procs:
                if proc.poll() is not None:
                    out = self.output_of(proc)
                    pytest.fail(f"app exited {proc.returncode} before {why}:\n{out[-3000:]}")
            assert time.monotonic() < deadline, f"timed out waiting for {why}"
            time.sleep(0.2)

    def finish(self, proc: Any) -> str:
        try:
            proc.wait(timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
            pytest.fail(f"app did not finish in {RUN_TIMEOUT_S} s:\n{self.output_of(proc)[-3000:]}")
        out = self.output_of(proc)
        assert proc.returncode == 0, out[-3000:]
        return out

    def counts(self) -> dict[int, int]:
        rows = self.db.execute(f"SELECT id, count FROM {self.table}").fetchall()
        return {int(i): int(c) for i, c in rows}


@pytest.fixture
def setup_factory(
    kafka_bootstrap_servers: str, postgres_dsn: str, db: Any, tmp_path: Path
) -> Iterator[Callable[[str, int], Setup]]:
    made: list[Setup] = []

    def make(mode: str, partitions: int) -> Setup:
        setup = Setup(kafka_bootstrap_servers, postgres_dsn, db, mode, partitions, tmp_path)
        made.append(setup)
        return setup

    yield make
    for setup in made:
        setup.drop()


def kill9(proc: Any) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def test_at_least_once_with_a_postgres_inbox_survives_kill_9(
    setup_factory: Callable[[str, int], Setup],
) -> None:
    s = setup_factory("alo", 4)
    with topics(s.bootstrap, {s.topic: 4}):
        s.produce_all()
        first = s.start()
        s.wait_for(lambda: s.handled() >= N // 3, [first], "a third of the stream")
        kill9(first)
        midway = s.handled()
        assert N // 3 <= midway < N, "the kill did not land mid-stream"
        s.finish(s.start(delay_ms=0))
    counts = s.counts()
    assert len(counts) == N and set(counts) == set(range(N))  # none missing
    assert set(counts.values()) == {1}  # each DB effect exactly once
    assert s.db.execute(f"SELECT count(*) FROM {s.table}_violations").fetchone()[0] == 0


def test_at_most_once_never_handles_twice_after_kill_9(
    setup_factory: Callable[[str, int], Setup],
) -> None:
    s = setup_factory("amo", 4)
    with topics(s.bootstrap, {s.topic: 4}):
        s.produce_all()
        first = s.start()
        s.wait_for(lambda: s.handled() >= N // 3, [first], "a third of the stream")
        kill9(first)
        s.finish(s.start(delay_ms=0))
    counts = s.counts()
    assert counts and set(counts.values()) == {1}  # never repeated
    assert len(counts) <= N
    # Lost at most what the killed process had committed ahead (one consume() batch each).
    assert len(counts) >= N - 4 * 500


def test_exactly_once_outputs_are_seen_once_after_kill_9(
    setup_factory: Callable[[str, int], Setup],
) -> None:
    s = setup_factory("eos", 4)
    with topics(s.bootstrap, {s.topic: 4, s.output: 4}):
        s.produce_all()
        first = s.start()
        s.wait_for(lambda: s.handled() >= N // 3, [first], "a third of the stream")
        kill9(first)
        s.finish(s.start(delay_ms=0))  # same instance id: fences the killed one's transaction
        outputs = read_all(s.bootstrap, s.output)
        from eventgen.runtime.config import RuntimeConfig
        from eventgen.runtime.serde import codec_for
        from tests.runtime.apps.shop import output_route

        route = output_route(s.output)
        codec = codec_for(route, RuntimeConfig())
        seqs = [codec.decode(r, route).payload.seq for r in outputs]  # type: ignore[attr-defined]
    assert len(seqs) == N and set(seqs) == set(range(N))  # each output exactly once
    # The handler's own DB writes are outside the Kafka transaction: repeats are possible
    # there (docs/consumers.md), but every message was handled at least once.
    assert set(s.counts()) == set(range(N))


def test_three_instances_one_added_one_killed(
    setup_factory: Callable[[str, int], Setup],
) -> None:
    s = setup_factory("alo", 6)
    with topics(s.bootstrap, {s.topic: 6}):
        s.produce_all()
        a, b = s.start("a", delay_ms=3, idle_exit=10), s.start("b", delay_ms=3, idle_exit=10)
        s.wait_for(lambda: s.handled() >= N // 5, [a, b], "a fifth of the stream")
        c = s.start("c", delay_ms=3, idle_exit=10)
        s.wait_for(lambda: s.handled() >= N // 2, [a, b, c], "half of the stream")
        kill9(b)
        for proc in (a, c):
            s.finish(proc)
    counts = s.counts()
    assert len(counts) == N and set(counts) == set(range(N))  # nothing lost
    assert set(counts.values()) == {1}  # with the inbox nothing doubled
    assert s.db.execute(f"SELECT count(*) FROM {s.table}_violations").fetchone()[0] == 0


def test_sigterm_finishes_the_current_record_commits_and_exits_0(
    setup_factory: Callable[[str, int], Setup],
) -> None:
    s = setup_factory("alo", 4)
    with topics(s.bootstrap, {s.topic: 4}):
        s.produce_all()
        proc = s.start(delay_ms=2, idle_exit=60)
        s.wait_for(lambda: s.handled() >= N // 5, [proc], "a fifth of the stream")
        proc.send_signal(signal.SIGTERM)
        out = s.finish(proc)
        handled = s.handled()
        assert handled < N, "SIGTERM came after the end of the stream"
        assert "stop requested" in out and "stopped: consumed=" in out
        from tests.runtime.apps.kit import committed

        offsets = committed(s.bootstrap, s.group, s.topic, 4)
    # Everything handled was committed and nothing more: offsets are exactly the handled count.
    assert sum(max(0, o) for o in offsets) == handled
    assert set(s.counts().values()) == {1}
