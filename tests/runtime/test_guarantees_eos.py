"""exactly-once in process on the real Kafka: outputs, DLQ writes and offsets in one transaction."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from eventgen.runtime.app import Context
from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.serde import codec_for
from eventgen.runtime.spec import RetryPolicy
from tests.runtime.apps.kit import committed, encoded, headers_of, produce, read_all, topics, unique
from tests.runtime.apps.shop import Billed, Placed, make_app, output_route

pytestmark = pytest.mark.kafka


@pytest.fixture
def names(kafka_bootstrap_servers: str) -> Iterator[dict[str, str]]:
    base = unique("eos")
    made = {"topic": f"{base}.in", "dlq": f"{base}.in.dlq", "out": f"{base}.out",
            "group": f"{base}-g"}  # fmt: skip
    with topics(kafka_bootstrap_servers, {made["topic"]: 2, made["dlq"]: 1, made["out"]: 2}):
        yield made


def test_retried_and_dead_lettered_records_leave_no_output_behind(
    kafka_bootstrap_servers: str, names: dict[str, str], tmp_path: Path
) -> None:
    topic, dlq, out, group = names["topic"], names["dlq"], names["out"], names["group"]
    cfg = RuntimeConfig(bootstrap_servers=kafka_bootstrap_servers, connect_timeout_s=10.0,
                        sqlite_path=str(tmp_path / "eos.sqlite3"), instance_id="t1")  # fmt: skip
    produce(kafka_bootstrap_servers, topic,
            [encoded(topic, Placed(order=f"k{i % 4}", seq=i)) for i in range(30)])  # fmt: skip
    retry = RetryPolicy(max_attempts=3, initial_ms=100, jitter="none")
    app = make_app(topic, group, dlq=dlq, output=out, delivery="exactly-once",
                   idempotency="none", retry=retry)  # fmt: skip
    tries: dict[int, int] = {}

    @app.on(Placed)
    def handle(event: Placed, ctx: Context[Placed]) -> None:
        tries[event.seq] = ctx.attempt
        ctx.publish(Billed(order=event.order, seq=event.seq))  # before failing: must vanish
        if event.seq == 7 and ctx.attempt < 3:
            raise ConnectionError("flaky")
        if event.seq == 13:
            raise KeyError("poison")

    stats = app.run(cfg, idle_exit_s=3.0)
    assert (stats.handled, stats.retried, stats.dead_lettered) == (29, 4, 1)
    assert tries[7] == 3 and tries[13] == 3
    route = output_route(out)
    codec = codec_for(route, cfg)
    outputs = read_all(kafka_bootstrap_servers, out)
    seqs = [codec.decode(r, route).payload.seq for r in outputs]  # type: ignore[attr-defined]
    assert sorted(seqs) == [i for i in range(30) if i != 13]  # each once, 13 not at all
    for record in outputs:  # the envelope: caused by the consumed event
        h = headers_of(record)
        assert h["type"] == "shop.Billed" and "causation_id" in h
    # Even a read_uncommitted reader sees nothing of the failed attempts (they were buffered).
    assert len(read_all(kafka_bootstrap_servers, out, committed_only=False)) == 29
    letters = read_all(kafka_bootstrap_servers, dlq, expect=1)
    assert headers_of(letters[0])["eventgen-dlq-attempts"] == "3"
    ends = {r.partition(): r.offset() + 1 for r in read_all(kafka_bootstrap_servers, topic)}
    got = committed(kafka_bootstrap_servers, group, topic, 2)
    assert {p: got[p] for p in ends} == ends
