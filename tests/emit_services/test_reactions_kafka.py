"""The runtime `Reaction` on the real Kafka: the registered function runs in its consumer app,
the command it returns is published with the flow's correlation id (the `on` event's
correlation field), None publishes nothing; a second handler is refused; the same trigger
handled twice publishes its command twice with one event id (the participant's inbox drops the
repeat)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, cast

import pytest

from eventgen.runtime.app import Context
from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.errors import StartupError
from eventgen.runtime.model import Envelope, Message
from eventgen.runtime.saga.reaction import Reaction, reaction_event_id
from eventgen.runtime.serde import codec_for, encode_key
from tests.runtime.apps.kit import (
    Raw,
    encoded,
    headers_of,
    produce,
    read_all,
    topics,
    unique,
)
from tests.runtime.apps.shop import Billed, Placed, input_route, make_app


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


@pytest.mark.kafka
def test_the_same_trigger_handled_twice_publishes_one_event_id(
    kafka_bootstrap_servers: str, tmp_path: Path
) -> None:
    """At-least-once acknowledges the command before the inbox commit: a crash in between
    runs the reaction again for the same record. Here two runs that never saw each other's
    inbox (their own group and SQLite file, as after such a crash) handle the same `on`
    records: the two commands of each trigger carry one event id, derived from the
    choreography, the trigger's event id and the command type; two triggers, two ids."""
    source, output = unique("placed"), unique("billed")
    orders = [f"o-{uuid.uuid4().hex[:6]}" for _ in range(2)]
    with topics(kafka_bootstrap_servers, {source: 2, output: 1}):
        triggers = [Placed(order=order, seq=2) for order in orders]
        envelopes = [t.envelope() for t in triggers]
        records = [encoded_envelope(source, envelope) for envelope in envelopes]
        produce(kafka_bootstrap_servers, source, records)
        for run in range(2):
            reaction = _reaction(source, output)

            @reaction.handler
            def bill(event: Placed, ctx: Context[Any]) -> Billed | None:
                return Billed(order=event.order, seq=event.seq)

            config = RuntimeConfig(
                bootstrap_servers=kafka_bootstrap_servers,
                sqlite_path=str(tmp_path / f"inbox-{run}.sqlite3"),
                connect_timeout_s=20.0,
            )
            stats = reaction.app.run(config, max_messages=2, idle_exit_s=30.0)
            assert stats.handled == 2
        published = read_all(kafka_bootstrap_servers, output, expect=4)
    by_order: dict[str, set[str]] = {}
    for record in published:
        headers = headers_of(record)
        by_order.setdefault(headers["correlation_id"], set()).add(headers["event_id"])
    expected = {
        envelope.payload.order: {
            str(reaction_event_id("shop.Billing", envelope.event_id, Billed.TYPE))
        }
        for envelope in envelopes
    }
    assert by_order == expected
    assert len({next(iter(ids)) for ids in by_order.values()}) == 2


def encoded_envelope(topic: str, envelope: Envelope[Placed]) -> Raw:
    """(partition None, key, value, headers) of `envelope` as a publisher writes it (its
    event id known to the test)."""
    route = input_route(topic, None)
    wrapped = cast("Envelope[Message]", envelope)
    value, headers = codec_for(route, RuntimeConfig()).encode(wrapped, route)
    return None, encode_key(route, envelope.payload), value, headers
