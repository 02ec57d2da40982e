"""Replay on the in-memory transport (what users' unit tests run; Kafka is in test_replay)."""

from __future__ import annotations

from datetime import UTC, datetime

from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.failures.dlq import REPLAY_HEADER, dlq_headers
from eventgen.runtime.failures.replay import replay
from eventgen.runtime.testing import InMemoryBroker

T = datetime(2026, 1, 1, tzinfo=UTC)


def test_replay_through_the_in_memory_broker() -> None:
    broker = InMemoryBroker()
    broker.create_topic("orders", 2)
    broker.create_topic("orders.dlq", 1)
    headers = dlq_headers(
        [("type", b"x")], reason="handler", error=ValueError("e"), topic="orders",
        partition=1, offset=3, timestamp_ms=1, group="g", attempts=2,
        first_failure_at=T, last_failure_at=T,
    )  # fmt: skip
    producer = broker.producer({})
    producer.produce("orders.dlq", value=b"v", key=b"k", headers=headers)
    producer.flush()
    config = RuntimeConfig(connect_timeout_s=2)
    dry = replay("orders.dlq", config=config, transport=broker, dry_run=True, out=None)
    assert (dry.matched, dry.sent) == (1, 0) and broker.records("orders") == []
    report = replay("orders.dlq", config=config, transport=broker, out=None)
    assert report.sent == 1
    [sent] = broker.records("orders")
    assert (sent.partition(), sent.key(), sent.value()) == (1, b"k", b"v")
    got = sent.headers()
    assert isinstance(got, list)
    names = [name for name, _ in got]
    assert names == ["type", REPLAY_HEADER, "eventgen-replay-id"]
