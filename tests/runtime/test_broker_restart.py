"""A broker restart while publishing with acks=all: nothing lost, nothing doubled, order kept.

A PRIVATE single-node Kafka (its own state dir; the shared broker is never touched) is killed
(SIGKILL: a crash, its logs recovered at the next start) or stopped (SIGTERM: a controlled
shutdown) while the generated publisher of a tiny spec is sending, then started again on the
same ports and data dir with `scripts/services start-kafka`. The publisher thread sends in three
phases, so records are in flight when the broker goes, queued while it is away, and sent after
it is back. Then `flush()`: every publish is either acknowledged or listed by its DeliveryError,
and a read of the topic finds every acknowledged record exactly once (the idempotent producer
drops the retried batches the broker had already written) and each key's records in order.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.errors import DeliveryError
from eventgen.runtime.publisher import Publisher
from tests.foundation.test_packaging import REPO_EVENTGEN
from tests.runtime.apps.kit import headers_of, read_all, topics
from tests.services import SERVICES_SCRIPT, START_TIMEOUT_S, STOP_TIMEOUT_S

pytestmark = pytest.mark.kafka

COUNT = 20_000
KEYS = 50
PHASE_WAIT_S = 180.0  # upper bound of each wait between the phases; never reached when it works
FLUSH_S = 240.0  # well under librdkafka's message.timeout.ms (300 s): no record may time out

PROJECT = """\
eventgen: 1
project: brk
package: PACKAGE
output: ../out
defaults:
  topic: {partitions: 3, replication_factor: 1}
"""
ORDERS = """\
eventgen: 1
context: orders
topics:
  restart-kill-SUFFIX: {key: uuid}
  restart-term-SUFFIX: {key: uuid}
events:
  KillTicked:
    topic: restart-kill-SUFFIX
    key: order_id
    fields: {order_id: uuid, seq: long}
  TermTicked:
    topic: restart-term-SUFFIX
    key: order_id
    fields: {order_id: uuid, seq: long}
consumers:
  restart-reader-SUFFIX:
    subscribe: [restart-kill-SUFFIX, restart-term-SUFFIX]
    handles: [KillTicked, TermTicked]
    idempotency: {store: sqlite}
"""


def _services(state_dir: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SERVICES_SCRIPT), "--state-dir", str(state_dir), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass(frozen=True)
class PrivateKafka:
    state_dir: Path
    bootstrap: str

    def command(self, *args: str) -> None:
        result = _services(self.state_dir, *args, timeout=START_TIMEOUT_S)
        assert result.returncode == 0, f"scripts/services {' '.join(args)}:\n{result.stderr}"


@pytest.fixture(scope="module")
def private_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateKafka]:
    state_dir = tmp_path_factory.mktemp("restart-kafka")
    try:
        result = _services(
            state_dir, "start", "--no-postgres", "--no-connect", timeout=START_TIMEOUT_S
        )
        assert result.returncode == 0, f"private Kafka did not start:\n{result.stderr[-4000:]}"
        (line,) = [x for x in result.stdout.splitlines() if "KAFKA_BOOTSTRAP_SERVERS=" in x]
        yield PrivateKafka(state_dir, line.partition("=")[2].strip())
    finally:
        _services(state_dir, "stop", timeout=STOP_TIMEOUT_S)


@pytest.fixture(scope="module")
def generated(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ModuleType, ModuleType, str]]:
    """The tiny spec built with `eventgen build` and imported: (orders_app, orders, suffix)."""
    root = tmp_path_factory.mktemp("restart-build")
    suffix = uuid.uuid4().hex[:10]
    package = f"brk_events_{suffix}"
    specs = root / "specs"
    specs.mkdir()
    (specs / "eventgen.yaml").write_text(PROJECT.replace("PACKAGE", package))
    (specs / "orders.yaml").write_text(ORDERS.replace("SUFFIX", suffix))
    built = subprocess.run(
        [str(REPO_EVENTGEN), "build", str(specs), "-o", str(root / "out"), "--no-cache"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    sys.path.insert(0, str(root / "out"))
    try:
        app = importlib.import_module(f"{package}.orders_app")
        yield app, importlib.import_module(f"{package}.orders"), suffix
    finally:
        sys.path.remove(str(root / "out"))


@dataclass
class Sent:
    event_id: str
    key: uuid.UUID
    seq: int


class PublishingThread(threading.Thread):
    """Publishes COUNT messages: up to `kill_at`, then while down, then after `back` is set."""

    def __init__(self, publisher: Publisher, cls: Any, back: threading.Event) -> None:
        super().__init__(daemon=True)
        self.publisher, self.cls, self.back = publisher, cls, back
        self.keys = [uuid.uuid4() for _ in range(KEYS)]
        self.sent: list[Sent] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for seq in range(COUNT):
                if seq == COUNT * 3 // 4 and not self.back.wait(PHASE_WAIT_S):
                    raise TimeoutError("the broker was not back in time")
                key = self.keys[seq % KEYS]
                envelope = self.publisher.publish(self.cls(order_id=key, seq=seq))
                self.sent.append(Sent(str(envelope.event_id), key, seq))
                if seq % 100 == 99:
                    time.sleep(0.02)  # a steady stream, so the restart lands mid-publishing
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


def wait_sent(thread: PublishingThread, count: int) -> None:
    deadline = time.monotonic() + PHASE_WAIT_S
    while len(thread.sent) < count and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert thread.error is None, thread.error
    assert len(thread.sent) >= count, f"published {len(thread.sent)} of {count} in time"


@pytest.mark.parametrize("how", ["kill", "term"])
def test_a_broker_restart_while_publishing_loses_and_doubles_nothing(
    private_kafka: PrivateKafka, generated: tuple[ModuleType, ModuleType, str], how: str
) -> None:
    app, models, suffix = generated
    cls = getattr(models, "KillTicked" if how == "kill" else "TermTicked")
    topic = app.publisher.spec.route(cls.TYPE).topic.name
    assert topic.endswith(f"restart-{how}-{suffix}")
    bootstrap = private_kafka.bootstrap
    with topics(bootstrap, {topic: 3}):
        publisher = Publisher(app.publisher.spec)  # the generated spec, a fresh producer
        publisher.configure(RuntimeConfig(bootstrap_servers=bootstrap))
        back = threading.Event()
        thread = PublishingThread(publisher, cls, back)
        thread.start()
        try:
            wait_sent(thread, COUNT // 5)
            private_kafka.command("stop-kafka", *(["--kill"] if how == "kill" else []))
            down_from = len(thread.sent)
            wait_sent(thread, COUNT // 2)  # queued while the broker is away
            private_kafka.command("start-kafka")
            back_at = len(thread.sent)
        finally:
            back.set()
            thread.join(PHASE_WAIT_S)
        assert not thread.is_alive(), "the publishing thread did not end"
        assert thread.error is None, thread.error
        assert down_from < back_at < COUNT  # published while down and after the restart too
        failed: set[str] = set()
        try:
            publisher.flush(FLUSH_S)
        except DeliveryError as exc:
            failed = {f.event_id or "?" for f in exc.failures}
            assert "?" not in failed, exc  # a flush timeout attributes no record: say so
        sent = {s.event_id: s for s in thread.sent}
        assert len(sent) == COUNT
        assert failed <= set(sent)
        acked = set(sent) - failed

        records = read_all(bootstrap, topic)
        ids = Counter(headers_of(r)["event_id"] for r in records)
        doubled = sorted(i for i, n in ids.items() if n > 1)
        assert not doubled, f"{len(doubled)} records written twice, e.g. {doubled[:3]}"
        assert set(ids) <= set(sent), "records nobody published"
        missing = acked - set(ids)
        assert not missing, f"{len(missing)} acknowledged records are not on the topic"
        # The outage is far shorter than message.timeout.ms: the producer had no reason to
        # give up on any record, so a failure here is a delivery bug, not bad luck.
        assert not failed, f"{len(failed)} records not delivered: {sorted(failed)[:3]}"

        partitions: dict[uuid.UUID, set[int]] = defaultdict(set)
        seqs: dict[uuid.UUID, list[int]] = defaultdict(list)
        for record in records:  # sorted by partition, then offset
            s = sent[headers_of(record)["event_id"]]
            partitions[s.key].add(record.partition())
            seqs[s.key].append(s.seq)
        assert all(len(p) == 1 for p in partitions.values()), "a key on two partitions"
        for key, got in seqs.items():
            assert got == sorted(got), f"key {key}: out of order around {_first_disorder(got)}"
        assert sum(map(len, seqs.values())) == COUNT


def _first_disorder(seqs: list[int]) -> list[int]:
    for i in range(1, len(seqs)):
        if seqs[i] < seqs[i - 1]:
            return seqs[max(0, i - 3) : i + 3]
    return []
