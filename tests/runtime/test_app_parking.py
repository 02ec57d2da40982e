"""on_failure: park-key on the real Kafka: a failed key stays parked until a replay releases it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from eventgen.runtime.app import Context
from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.failures.replay import replay
from tests.runtime.apps.kit import encoded, headers_of, produce, read_all, topics, unique
from tests.runtime.apps.shop import Placed, make_app

pytestmark = pytest.mark.kafka


@pytest.fixture
def names(kafka_bootstrap_servers: str) -> Iterator[dict[str, str]]:
    base = unique("park")
    made = {"topic": f"{base}.in", "dlq": f"{base}.in.dlq", "group": f"{base}-g"}
    with topics(kafka_bootstrap_servers, {made["topic"]: 1, made["dlq"]: 1}):
        yield made


def test_parked_key_stays_parked_until_replayed_then_flows_in_order(
    kafka_bootstrap_servers: str, names: dict[str, str], tmp_path: Path
) -> None:
    topic, dlq, group = names["topic"], names["dlq"], names["group"]
    cfg = RuntimeConfig(bootstrap_servers=kafka_bootstrap_servers, connect_timeout_s=10.0,
                        sqlite_path=str(tmp_path / "parked.sqlite3"))  # fmt: skip
    broken = {0}  # seqs whose handler raises (the poison record of key A)
    handled: list[tuple[str, int]] = []

    def app_run(idle: float = 3.0) -> tuple[int, int, int]:
        app = make_app(topic, group, dlq=dlq, on_failure="park-key", idempotency="none")

        @app.on(Placed)
        def handle(event: Placed, ctx: Context[Placed]) -> None:
            if event.seq in broken:
                raise LookupError(f"no stock for {event.seq}")
            handled.append((event.order, event.seq))

        stats = app.run(cfg, idle_exit_s=idle)
        return stats.handled, stats.dead_lettered, stats.consumed

    first = [("A", 0), ("A", 1), ("B", 2), ("A", 3), ("B", 4)]
    produce(kafka_bootstrap_servers, topic,
            [encoded(topic, Placed(order=k, seq=s)) for k, s in first])  # fmt: skip
    assert app_run() == (2, 3, 5)
    assert handled == [("B", 2), ("B", 4)]  # key A's later records did not overtake seq 0
    letters = read_all(kafka_bootstrap_servers, dlq, expect=3)
    reasons = [(headers_of(r)["eventgen-dlq-reason"], r.offset()) for r in letters]
    assert reasons == [("handler", 0), ("parked", 1), ("parked", 2)]
    assert [headers_of(r)["eventgen-dlq-original-offset"] for r in letters] == ["0", "1", "3"]
    parked = headers_of(letters[1])
    assert parked["eventgen-dlq-attempts"] == "0" and parked["eventgen-dlq-error-class"] == ""

    # Still parked on restart (the store keeps it): a new record of A goes to the DLQ too.
    produce(kafka_bootstrap_servers, topic, [encoded(topic, Placed(order="A", seq=5))])
    assert app_run() == (0, 1, 1)
    assert len(read_all(kafka_bootstrap_servers, dlq)) == 4

    # The fix is deployed; replaying A's dead letters releases the key, in their order.
    broken.clear()
    report = replay(dlq, config=cfg, key=b"\x02A", out=None)
    assert report.sent == 4
    produce(kafka_bootstrap_servers, topic, [encoded(topic, Placed(order="A", seq=6))])
    assert app_run() == (5, 0, 5)
    assert handled[2:] == [("A", 0), ("A", 1), ("A", 3), ("A", 5), ("A", 6)]
