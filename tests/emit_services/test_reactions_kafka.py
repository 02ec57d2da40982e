"""The runtime `Reaction` on the real Kafka: the registered function runs in its consumer app,
the command it returns is published with the flow's correlation id (the `on` event's
correlation field), None publishes nothing; a second handler is refused."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from eventgen.runtime.app import Context
from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.errors import StartupError
from eventgen.runtime.saga.reaction import Reaction
from tests.runtime.apps.kit import encoded, headers_of, produce, read_all, topics, unique
from tests.runtime.apps.shop import Billed, Placed, make_app


def _reaction(topic: str, output: str) -> Reaction[Placed, Billed]:
    app = make_app(topic, unique("reaction"), output=output, name="bill-placed-orders")
    return Reaction(app=app, on=Placed, do=Billed, choreography="shop.Billing", correlation="order")


@pytest.mark.kafka
def test_reaction_publishes_with_the_flow_correlation(
    kafka_bootstrap_servers: str, tmp_path: Path
) -> None:
    source, output = unique("placed"), unique("billed")
    with topics(kafka_bootstrap_servers, {source: 2, output: 1}):
        reaction = _reaction(source, output)
        seen: list[str] = []

        @reaction.handler
        def bill(event: Placed, ctx: Context[Any]) -> Billed | None:
            seen.append(event.order)
            return Billed(order=event.order, seq=event.seq) if event.seq % 2 == 0 else None

        billed, skipped = f"o-{uuid.uuid4().hex[:6]}", f"o-{uuid.uuid4().hex[:6]}"
        records = [
            encoded(source, Placed(order=billed, seq=2)),
            encoded(source, Placed(order=skipped, seq=1)),
        ]
        produce(kafka_bootstrap_servers, source, records)
        config = RuntimeConfig(
            bootstrap_servers=kafka_bootstrap_servers,
            sqlite_path=str(tmp_path / "inbox.sqlite3"),
            connect_timeout_s=20.0,
        )
        stats = reaction.app.run(config, max_messages=2, idle_exit_s=30.0)
        assert stats.handled == 2
        assert sorted(seen) == sorted([billed, skipped])
        (record,) = read_all(kafka_bootstrap_servers, output, expect=1)
        headers = headers_of(record)
        assert headers["type"] == Billed.TYPE
        assert headers["correlation_id"] == billed


def test_a_second_handler_is_refused() -> None:
    reaction = _reaction("unused-topic", "unused-output")

    def first(event: Placed, ctx: Context[Any]) -> Billed | None:
        return None

    reaction.handler(first)
    with pytest.raises(StartupError, match="a second handler"):
        reaction.handler(first)
