"""serialization: protobuf on a real Kafka: the generated publisher writes, the generated
consumer app reads and handles, and an undecodable record lands in the DLQ with its reason."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.model import Message
from eventgen.runtime.protobuf import binding, decode_protobuf
from eventgen.runtime.protobuf_codec import RegistryProtobufCodec, frame, unframe
from eventgen.runtime.publisher import Publisher
from eventgen.runtime.registry_client import RegistryClient
from eventgen.runtime.serde import encode_key
from tests.protobuf.runtime_fixtures.build import Built, shared_fixture
from tests.runtime.apps.kit import headers_of, produce, read_all, topics

pytestmark = pytest.mark.kafka

GARBAGE = b"\x0a\xff\xff\xff\x0f"  # field 1 (id), a length far beyond the end


@pytest.fixture
def built(kafka_bootstrap_servers: str) -> Iterator[Built]:
    made = shared_fixture()
    route = made.things
    assert route.dlq is not None
    with topics(kafka_bootstrap_servers, {route.topic.name: 3, route.dlq: 1}):
        yield made


def orders(built: Built) -> list[Message]:
    a, b = built.alpha, built.base
    out: list[Message] = []
    for seq in range(4):
        price = b.Money(amount=Decimal(f"{seq}.25"), currency="EUR")
        out.append(
            a.OrderPlaced(
                id=UUID(int=1000 + seq),
                customer=f"customer {seq} ✓",
                placed_at=datetime(2026, 5, 6, 7, 8, seq, 123_456, tzinfo=UTC),
                total=Decimal(f"{10 + seq}.50"),
                colour=list(b.Colour)[seq % 5],
                lines=[a.Line(sku="sku" + "x" * seq, qty=seq + 1, price=price)],
                note=None if seq % 2 else f"note {seq}",
            )
        )
    everything = a.Everything(
        s="s", i=-7, l=2**40, f=1.5, d=-2.25, b=True, by=b"\x00\xff", u=UUID(int=7),
        da=date(2024, 2, 29), t=time(23, 59, 58, 999_999),
        ts=datetime(1969, 7, 20, 20, 17, 40, tzinfo=UTC), de=Decimal("-12.345"),
        ni=0, nts=datetime(2000, 1, 1, tzinfo=UTC), colour=list(b.Colour)[2],
        money=b.Money(amount=Decimal("0.00"), currency=""),
    )  # fmt: skip
    containers = a.Containers(
        tags=["x", "y"], nullable_items=["a", None], grid=[[1, 2], []],
        sparse_grid=[None, [3]], list_of_maps=[{"k": -1}], attrs={"a": "b"},
        nullable_values={"n": None}, map_of_lists={"m": [0.5]},
        map_of_nullable_lists={"c": [list(b.Colour)[3]], "d": None}, moneys=[],
        maybe_moneys=[None], colours={"z": list(b.Colour)[4]}, stamps=[],
    )  # fmt: skip
    out.append(a.ThingHappened(id=UUID(int=2000), everything=everything, containers=containers))
    return out


def test_publish_consume_and_dead_letter_on_protobuf(
    built: Built, kafka_bootstrap_servers: str, tmp_path: Path
) -> None:
    route = built.things
    assert route.serialization == "protobuf" and route.dlq is not None
    cfg = RuntimeConfig(
        bootstrap_servers=kafka_bootstrap_servers,
        connect_timeout_s=10.0,
        sqlite_path=str(tmp_path / "pb.sqlite3"),
    )
    publisher = built.app.publisher
    publisher.configure(cfg)
    sent = orders(built)
    envelopes = [publisher.publish(m, correlation_id=f"c-{i}") for i, m in enumerate(sent)]
    publisher.flush(30.0)
    # The records on the topic are bare protobuf messages with the envelope in headers.
    on_topic = {headers_of(r)["event_id"]: r
                for r in read_all(kafka_bootstrap_servers, route.topic.name, expect=5)}  # fmt: skip
    for envelope in envelopes:
        record = on_topic[str(envelope.event_id)]
        assert headers_of(record)["type"] == envelope.type
        assert decode_protobuf(type(envelope.payload), record.value()) == envelope.payload
    bad_key = encode_key(route, sent[0])
    bad_headers = [("type", b"rt-alpha.OrderPlaced"), ("schema_version", b"1"),
                   ("event_id", b"6f1c2d3e-4b5a-4978-8a1b-2c3d4e5f6a7b")]  # fmt: skip
    produce(kafka_bootstrap_servers, route.topic.name, [(0, bad_key, GARBAGE, bad_headers)])

    app = built.app.thing_watcher
    got: dict[str, tuple[Message, str | None]] = {}

    def handle(event: Any, ctx: Any) -> None:
        got[str(ctx.event_id)] = (event, ctx.correlation_id)

    app.on(built.alpha.OrderPlaced)(handle)
    app.on(built.alpha.ThingHappened)(handle)

    stats = app.run(cfg, idle_exit_s=3.0)
    assert (stats.handled, stats.dead_lettered) == (5, 1)
    assert len(got) == 5
    for i, envelope in enumerate(envelopes):
        assert got[str(envelope.event_id)] == (envelope.payload, f"c-{i}")
    (letter,) = read_all(kafka_bootstrap_servers, route.dlq, expect=1)
    assert letter.value() == GARBAGE and letter.key() == bad_key
    h = headers_of(letter)
    assert h["eventgen-dlq-reason"] == "decode"
    assert h["eventgen-dlq-error-class"].endswith("DecodeError")
    assert h["eventgen-dlq-error-message"].startswith("corrupt_payload")
    assert h["eventgen-dlq-original-topic"] == route.topic.name
    assert h["type"] == "rt-alpha.OrderPlaced"  # original headers kept


def test_confluent_framed_protobuf_through_a_registry(
    built: Built, kafka_bootstrap_servers: str, registry_url: str, tmp_path: Path
) -> None:
    """With `schema_registry_url` the publisher frames values (schema id + message index)
    under subjects registered beforehand; the app reads them back, also without headers, and
    dead-letters an unknown schema id."""
    route = built.things
    assert route.dlq is not None
    cfg = RuntimeConfig(
        bootstrap_servers=kafka_bootstrap_servers,
        connect_timeout_s=10.0,
        schema_registry_url=registry_url,
        sqlite_path=str(tmp_path / "pb.sqlite3"),
    )
    registrar = RegistryProtobufCodec(RegistryClient(registry_url), "topic", auto_register=True)
    for cls in route.topic.messages:  # what a deploy step registers before services run
        registrar.schema_id(cls, route)
    publisher = Publisher(built.app.PUBLISHER_SPEC)
    publisher.configure(cfg)
    sent = orders(built)
    envelopes = [publisher.publish(m) for m in sent]
    publisher.flush(30.0)
    records = read_all(kafka_bootstrap_servers, route.topic.name, expect=5)
    assert all(r.value()[:1] == b"\x00" for r in records)
    headerless = records[0]
    unknown = frame(2**31 - 11, (0,), b"")
    produce(kafka_bootstrap_servers, route.topic.name,
            [(0, headerless.key(), headerless.value(), []), (0, None, unknown, [])])  # fmt: skip
    template = built.app.thing_watcher
    spec = replace(template.spec, group=f"pb-registry-{route.topic.name}")
    app = type(template)(spec, messages=tuple(template.messages.values()))
    got: list[Message] = []

    def handle(event: Any, ctx: Any) -> None:
        got.append(event)

    app.on(built.alpha.OrderPlaced)(handle)
    app.on(built.alpha.ThingHappened)(handle)
    stats = app.run(cfg, idle_exit_s=3.0)
    assert (stats.handled, stats.dead_lettered) == (6, 1)
    expected = [e.payload for e in envelopes]
    left = [*expected, decode_frame(built, headerless)]
    for message in got:  # the same models, counted (map order may differ: no repr sort)
        left.remove(message)
    assert left == [] and len(got) == 6
    (letter,) = read_all(kafka_bootstrap_servers, route.dlq, expect=1)
    assert letter.value() == unknown
    h = headers_of(letter)
    assert h["eventgen-dlq-reason"] == "decode"
    assert h["eventgen-dlq-error-message"].startswith("unknown_schema_id")


def decode_frame(built: Built, record: Any) -> Message:
    """The model a framed record holds, read with the bare codec (the frame's tail)."""
    _, indexes, body = unframe(record.value())
    cls = next(c for c in built.things.topic.messages if binding(c).index == indexes)
    return decode_protobuf(cls, body)
