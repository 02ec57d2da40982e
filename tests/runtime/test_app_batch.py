"""processing: batch on the real Kafka: bounded batches, one transaction, isolation of poison."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eventgen.runtime.app import Context, StartupError
from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.spec import RetryPolicy
from tests.runtime.apps.kit import committed, encoded, headers_of, produce, read_all, topics, unique
from tests.runtime.apps.shop import Placed, Shipped, make_app

pytestmark = pytest.mark.kafka


@pytest.fixture
def names(kafka_bootstrap_servers: str) -> Iterator[dict[str, str]]:
    base = unique("batch")
    made = {"topic": f"{base}.in", "dlq": f"{base}.in.dlq", "group": f"{base}-g"}
    with topics(kafka_bootstrap_servers, {made["topic"]: 1, made["dlq"]: 1}):
        yield made


def test_batches_are_bounded_and_a_poison_record_is_isolated(
    kafka_bootstrap_servers: str, names: dict[str, str], tmp_path: Path
) -> None:
    topic, dlq, group = names["topic"], names["dlq"], names["group"]
    cfg = RuntimeConfig(bootstrap_servers=kafka_bootstrap_servers, connect_timeout_s=10.0,
                        sqlite_path=str(tmp_path / "batch.sqlite3"))  # fmt: skip
    twice = encoded(topic, Placed(order="d", seq=100))
    records = [encoded(topic, Placed(order=f"k{i % 2}", seq=i)) for i in range(25)]
    records[4] = (None, b"\x02k", b"\xff", [("type", b"shop.Placed"), ("schema_version", b"1")])
    records[6] = encoded(topic, Shipped(order="k0"))
    records += [twice, twice]
    produce(kafka_bootstrap_servers, topic, records)
    retry = RetryPolicy(max_attempts=2, initial_ms=100, jitter="none")
    app = make_app(topic, group, dlq=dlq, processing="batch", batch_max_records=10,
                   batch_max_wait_ms=500, retry=retry)  # fmt: skip
    with pytest.raises(StartupError, match="on_batch"):
        app.on(Placed)
    sizes: list[int] = []
    done: list[int] = []
    attempts: list[list[int]] = []

    @app.on_batch
    def handle(batch: list[tuple[Any, Context[Any]]]) -> None:
        seqs = [message.seq for message, _ in batch]
        attempts.append([ctx.attempt for _, ctx in batch])
        sizes.append(len(batch))
        for _, ctx in batch:  # one DB transaction: the inbox rows of the whole batch
            assert ctx.db is batch[0][1].db and ctx.db is not None
        if 13 in seqs:
            raise ArithmeticError("13 is poison")
        done.extend(seqs)

    stats = app.run(cfg, idle_exit_s=3.0)
    assert max(sizes) <= 10
    assert sorted(done) == sorted([i for i in range(25) if i not in (4, 6, 13)] + [100])
    assert len(done) == len(set(done))  # a failed batch's records were handled once in the end
    assert done.index(12) < done.index(14)  # in order around the isolated record
    assert (stats.skipped, stats.duplicates, stats.dead_lettered) == (1, 1, 2)
    assert stats.handled == 23 and stats.retried == 1
    # The batch with 13: attempts 1 and 2 as a batch, then each record alone with attempt 3.
    assert any(len(a) > 1 and set(a) == {2} for a in attempts)
    assert [3] in attempts
    letters = read_all(kafka_bootstrap_servers, dlq, expect=2)
    assert [headers_of(r)["eventgen-dlq-reason"] for r in letters] == ["decode", "handler"]
    poison = headers_of(letters[1])
    assert poison["eventgen-dlq-original-offset"] == "13"
    assert poison["eventgen-dlq-attempts"] == "3"
    assert poison["eventgen-dlq-error-class"] == "ArithmeticError"
    assert committed(kafka_bootstrap_servers, group, topic, 1) == [27]
