"""The same apps on eventgen.runtime.testing's in-memory transport (what users' unit tests use).

Not a stand-in for Kafka in the guarantees tests (those run on the real broker); this checks
that the loop asks nothing of its transport that the in-memory one lacks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from eventgen.runtime.app import Context
from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.spec import Delivery, RetryPolicy
from eventgen.runtime.testing import InMemoryBroker, headers_of
from tests.runtime.apps.kit import encoded
from tests.runtime.apps.shop import Billed, Placed, make_app


@pytest.mark.parametrize("delivery", ["at-most-once", "at-least-once", "exactly-once"])
def test_each_guarantee_runs_in_memory(delivery: Delivery, tmp_path: Path) -> None:
    broker = InMemoryBroker()
    for name, partitions in (("in", 2), ("in.dlq", 1), ("out", 2)):
        broker.create_topic(name, partitions)
    for i in range(12):
        _, key, value, headers = encoded("in", Placed(order=f"k{i % 4}", seq=i))
        broker.produce("in", value=value, key=key, headers=headers)
    app = make_app("in", "g", dlq="in.dlq", output="out", delivery=delivery,
                   idempotency="none" if delivery == "exactly-once" else "sqlite",
                   retry=RetryPolicy(max_attempts=2, initial_ms=10, jitter="none"))  # fmt: skip
    seen: list[int] = []

    @app.on(Placed)
    def handle(event: Placed, ctx: Context[Placed]) -> None:
        ctx.publish(Billed(order=event.order, seq=event.seq))
        if event.seq == 3:
            raise ValueError("poison")
        seen.append(event.seq)

    cfg = RuntimeConfig(sqlite_path=str(tmp_path / "s.sqlite3"), connect_timeout_s=2.0)
    stats = app.run(cfg, transport=broker, idle_exit_s=0.3)
    assert sorted(seen) == [i for i in range(12) if i != 3]
    assert (stats.handled, stats.retried, stats.dead_lettered) == (11, 1, 1)
    assert len(broker.records("out")) == 11
    (letter,) = broker.records("in.dlq")
    assert headers_of(letter)["eventgen-dlq-attempts"] == "2"
    ends = {p: 0 for p in range(2)}
    for record in broker.records("in"):
        ends[record.partition() or 0] = (record.offset() or 0) + 1
    committed = {p: broker.committed_offset("g", "in", p) for p in range(2)}
    assert committed == {p: (end or None) for p, end in ends.items()}


@pytest.mark.parametrize("delivery", ["at-most-once", "at-least-once", "exactly-once"])
def test_batches_under_each_guarantee_in_memory(delivery: Delivery, tmp_path: Path) -> None:
    broker = InMemoryBroker()
    for name, partitions in (("in", 2), ("in.dlq", 1), ("out", 2)):
        broker.create_topic(name, partitions)
    for i in range(30):
        _, key, value, headers = encoded("in", Placed(order=f"k{i % 5}", seq=i))
        broker.produce("in", value=value, key=key, headers=headers)
    app = make_app("in", "g", dlq="in.dlq", output="out", delivery=delivery,
                   idempotency="none" if delivery == "exactly-once" else "sqlite",
                   processing="batch", batch_max_records=8, batch_max_wait_ms=50,
                   retry=RetryPolicy(max_attempts=2, initial_ms=10, jitter="none"))  # fmt: skip
    done: list[int] = []

    @app.on_batch
    def handle(batch: list[tuple[Any, Context[Any]]]) -> None:
        assert len(batch) <= 8
        for message, ctx in batch:
            ctx.publish(Billed(order=message.order, seq=message.seq))
        if any(message.seq == 17 for message, _ in batch):
            raise ValueError("poison")
        done.extend(message.seq for message, _ in batch)

    cfg = RuntimeConfig(sqlite_path=str(tmp_path / "b.sqlite3"), connect_timeout_s=2.0)
    stats = app.run(cfg, transport=broker, idle_exit_s=0.3)
    assert sorted(done) == [i for i in range(30) if i != 17]
    assert (stats.handled, stats.dead_lettered) == (29, 1)
    # Failed attempts published nothing: only the handled records' outputs exist.
    assert len(broker.records("out")) == 29
    (letter,) = broker.records("in.dlq")
    assert headers_of(letter)["eventgen-dlq-attempts"] == "3"
