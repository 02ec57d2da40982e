"""The registry codec against a real registry (Apicurio, scripts/registry) and a real Kafka.

Both directions, both subject strategies: confluent-kafka's own AvroDeserializer reads what
the Publisher wrote, and the runtime's codec reads what confluent-kafka's AvroSerializer
wrote (without envelope headers, as a foreign producer would). The subjects hold exactly the
schemas `eventgen registry push` registers (eventgen.evolution.subjects), registered under
per-test topic names.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any, Literal

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from confluent_kafka.schema_registry import SchemaRegistryClient, record_subject_name_strategy
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from eventgen.evolution.subjects import subjects
from eventgen.runtime.avro import encode_avro
from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.confluent import RegistryAvroCodec, fullname, schema_text
from eventgen.runtime.errors import DecodeError, RegistryError
from eventgen.runtime.model import Message
from eventgen.runtime.publisher import Publisher
from eventgen.runtime.registry import TopicBinding
from eventgen.runtime.registry_client import RegistryClient, SchemaNotFound
from eventgen.runtime.serde import codec_for, record_event_id
from eventgen.runtime.spec import PublisherSpec, Route
from eventgen.runtime.varint import write_long
from tests.runtime.test_serde_fixtures import (  # noqa: F401 - fixture
    Shop,
    order_archived,
    order_placed,
    registry_fixture,
    shop_fixture,
)

pytestmark = pytest.mark.kafka
READ_BUDGET_S = 60


@pytest.fixture
def topic(kafka_bootstrap_servers: str) -> Iterator[str]:
    name = f"egt-interop-{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap_servers})
    for fut in admin.create_topics([NewTopic(name, 1, 1)], request_timeout=30).values():
        fut.result(timeout=30)
    yield name
    for fut in admin.delete_topics([name], request_timeout=30).values():
        fut.result(timeout=30)


def read_all(bootstrap: str, topic: str, count: int) -> list[Any]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"g-{uuid.uuid4().hex}",
                         "enable.auto.commit": False})  # fmt: skip
    consumer.assign([TopicPartition(topic, 0, 0)])
    got: list[Any] = []
    deadline = time.monotonic() + READ_BUDGET_S
    try:
        while len(got) < count and time.monotonic() < deadline:
            for msg in consumer.consume(count - len(got), timeout=1.0):
                assert msg.error() is None, msg.error()
                got.append(msg)
    finally:
        consumer.close()
    assert len(got) == count, f"read {len(got)} of {count} records within {READ_BUDGET_S} s"
    return got


def setup_subjects(shop: Shop, url: str, topic: str, strategy: str) -> TopicBinding:
    """A binding like orders.order-events on `topic`, its subjects registered as push does."""
    source = shop.binding("orders.order-events")
    binding = TopicBinding(topic, source.messages, source.key_schema)
    client = RegistryClient(url)
    if strategy == "topic":
        pushed = subjects(shop.project, "topic")["orders.order-events-value"]
        client.register(f"{topic}-value", schema_text(pushed.schema))
    else:
        for name, subject in subjects(shop.project, "record").items():
            if subject.topic == "orders.order-events" and subject.part == "value":
                client.register(name, schema_text(subject.schema))
    return binding


def avro_values(message: Message) -> Any:
    return type(message).__pydantic_serializer__.to_python(message, by_alias=True)


@pytest.mark.parametrize("strategy", ["topic", "record"])
def test_confluent_deserializer_reads_the_publisher(
    strategy: Literal["topic", "record"],
    shop: Shop,
    registry: str,
    kafka_bootstrap_servers: str,
    topic: str,
) -> None:
    registry_url = registry
    binding = setup_subjects(shop, registry_url, topic, strategy)
    spec = PublisherSpec("orders", tuple((m.TYPE, Route(binding)) for m in binding.messages))
    publisher = Publisher(spec)
    config = RuntimeConfig(bootstrap_servers=kafka_bootstrap_servers,
                           schema_registry_url=registry_url, subject_strategy=strategy)  # fmt: skip
    publisher.configure(config)
    sent = [order_placed(shop.orders), order_archived(shop.orders)]
    envelopes = [publisher.publish(m, correlation_id="c-9") for m in sent]
    publisher.flush(30)

    records = read_all(kafka_bootstrap_servers, topic, 2)
    deserializer = AvroDeserializer(SchemaRegistryClient({"url": registry_url}))
    ctx = SerializationContext(topic, MessageField.VALUE)
    ordered = sorted(m.TYPE for m in binding.messages)
    for message, env, rec in zip(sent, envelopes, records, strict=True):
        value = rec.value()
        if strategy == "topic":  # union: the branch index follows the 5-byte header
            assert value[5:6] == write_long(ordered.index(message.TYPE))
            assert value[6:] == encode_avro(message)
        else:
            assert value[5:] == encode_avro(message)
        decoded = deserializer(value, ctx)
        assert type(message).model_validate(decoded) == message
        assert dict(rec.headers())["event_id"] == str(env.event_id).encode()
        assert codec_for(Route(binding), config).decode(rec, Route(binding)) == env


@pytest.mark.parametrize("strategy", ["topic", "record"])
def test_codec_reads_the_confluent_serializer(
    strategy: str, shop: Shop, registry: str, kafka_bootstrap_servers: str, topic: str
) -> None:
    registry_url = registry
    binding = setup_subjects(shop, registry_url, topic, strategy)
    sr = SchemaRegistryClient({"url": registry_url})
    sent = [order_placed(shop.orders), order_archived(shop.orders)]
    producer = Producer({"bootstrap.servers": kafka_bootstrap_servers})
    ctx = SerializationContext(topic, MessageField.VALUE)
    for message in sent:
        if strategy == "topic":
            pushed = subjects(shop.project, "topic")["orders.order-events-value"]
            serializer = AvroSerializer(
                sr, schema_text(pushed.schema),
                conf={"auto.register.schemas": False, "use.latest.version": True},
            )  # fmt: skip
            name = fullname(pushed.schema[pushed.messages.index(message.TYPE)], None)
            value = serializer((name, avro_values(message)), ctx)  # fastavro union notation
        else:
            record = subjects(shop.project, "record")
            doc = next(s.schema for s in record.values() if s.messages == (message.TYPE,))
            serializer = AvroSerializer(
                sr, schema_text(doc),
                conf={"auto.register.schemas": False,
                      "subject.name.strategy": record_subject_name_strategy},
            )  # fmt: skip
            value = serializer(avro_values(message), ctx)
        assert value is not None
        producer.produce(topic, value=value)  # no headers: a foreign producer
    assert producer.flush(30) == 0

    codec = RegistryAvroCodec(RegistryClient(registry_url), strategy)
    route = Route(binding)
    for message, rec in zip(sent, read_all(kafka_bootstrap_servers, topic, 2), strict=True):
        assert codec.message_type(rec, route) == message.TYPE
        env = codec.decode(rec, route)
        assert env.payload == message and env.type == message.TYPE
        assert env.event_id == record_event_id(rec)  # uuid5 of the coordinates
        assert env.schema_version == message.VERSION
        assert env.occurred_at.timestamp() * 1000 == pytest.approx(rec.timestamp()[1], abs=1)


def test_registry_errors(shop: Shop, registry: str) -> None:
    registry_url = registry
    missing = f"egt-missing-{uuid.uuid4().hex[:8]}"
    source = shop.binding("orders.order-events")
    route = Route(TopicBinding(missing, source.messages, source.key_schema))
    codec = RegistryAvroCodec(RegistryClient(registry_url), "topic")
    with pytest.raises(SchemaNotFound) as info:
        codec.encode(order_archived(shop.orders).envelope(), route)
    assert f"{missing}-value" in str(info.value) and "eventgen registry push" in str(info.value)

    from tests.runtime.test_serde_fixtures import Rec

    unknown = b"\x00" + (2**31 - 7).to_bytes(4, "big") + b"\x00"
    with pytest.raises(DecodeError) as decode_info:
        codec.decode(Rec(unknown), route)
    assert decode_info.value.reason == "unknown_schema_id"

    down = RegistryAvroCodec(RegistryClient("http://127.0.0.1:9", timeout_s=2), "topic")
    with pytest.raises(RegistryError) as down_info:  # transient: not a DecodeError
        down.decode(Rec(unknown), route)
    assert not isinstance(down_info.value, DecodeError) and "unreachable" in str(down_info.value)


@pytest.mark.parametrize("union", [False, True], ids=["record", "union"])
def test_older_writer_schema_is_upcast(
    union: bool, shop: Shop, registry: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A v1 OrderPlaced framed with the id of a v1 schema (as history replays register)."""
    from io import BytesIO

    from fastavro import schemaless_writer

    from eventgen.runtime.avro import avro_schema
    from eventgen.runtime.confluent import _module_names, inline, message_schema
    from tests.runtime.test_serde_fixtures import UPCASTER_MODULE, V1_PLACED, Rec

    cls = shop.orders.OrderPlaced
    source = shop.binding("orders.order-events")
    ordered = sorted(source.messages, key=lambda m: m.TYPE)
    names, defined = _module_names(ordered), set[str]()
    if union:
        doc: Any = [inline(message_schema(m, 1 if m is cls else None), names, defined, None)
                    for m in ordered]  # fmt: skip
        index = write_long(ordered.index(cls))
    else:
        doc, index = inline(message_schema(cls, 1), names, defined, None), b""
    client = RegistryClient(registry)
    schema_id = client.register(f"egt-v1-{uuid.uuid4().hex[:8]}-value", schema_text(doc))
    buffer = BytesIO()
    schemaless_writer(buffer, avro_schema(cls, 1), V1_PLACED)
    rec = Rec(b"\x00" + schema_id.to_bytes(4, "big") + index + buffer.getvalue(), None)
    codec = RegistryAvroCodec(client, "topic")
    route = Route(source)

    monkeypatch.setattr(cls, "UPCASTS", None)
    with pytest.raises(DecodeError) as info:
        codec.decode(rec, route)
    assert info.value.reason == "unsupported_version"
    monkeypatch.setattr(cls, "UPCASTS", UPCASTER_MODULE)
    env = codec.decode(rec, route)
    assert env.schema_version == 1 and isinstance(env.payload, cls)
    assert env.payload.customer_id == V1_PLACED["cust_id"]
    assert env.event_id == record_event_id(rec)


def test_foreign_writer_schema_resolves_or_is_refused(shop: Shop, registry: str) -> None:
    """A producer's own OrderArchived schema (an extra field): Avro resolution drops it."""
    from io import BytesIO

    from fastavro import parse_schema, schemaless_writer

    from eventgen.runtime.confluent import record_document
    from tests.runtime.test_serde_fixtures import Rec

    cls = shop.orders.OrderArchived
    doc = record_document(cls)
    foreign = {**doc, "fields": [*doc["fields"], {"name": "note", "type": "string"}]}
    client = RegistryClient(registry)
    schema_id = client.register(f"egt-foreign-{uuid.uuid4().hex[:8]}", schema_text(foreign))
    message = order_archived(shop.orders)
    buffer = BytesIO()
    schemaless_writer(buffer, parse_schema(foreign, named_schemas={}),
                      {**avro_values(message), "note": "from elsewhere"})  # fmt: skip
    frame = b"\x00" + schema_id.to_bytes(4, "big")
    codec = RegistryAvroCodec(client, "record")
    route = Route(shop.binding("orders.order-events"))
    env = codec.decode(Rec(frame + buffer.getvalue()), route)
    assert env.payload == message and env.schema_version == cls.VERSION

    # a required field the current version has and the writer lacks: no resolution
    lacking = {**doc, "fields": [f for f in doc["fields"] if f["name"] != "archived_at"]}
    lacking_id = client.register(f"egt-foreign-{uuid.uuid4().hex[:8]}", schema_text(lacking))
    buffer = BytesIO()
    schemaless_writer(buffer, parse_schema(lacking, named_schemas={}),
                      {"order_id": message.order_id})  # type: ignore[attr-defined]  # fmt: skip
    with pytest.raises(DecodeError) as info:
        codec.decode(Rec(b"\x00" + lacking_id.to_bytes(4, "big") + buffer.getvalue()), route)
    assert info.value.reason == "unsupported_version", info.value


def test_registry_codec_record_errors(shop: Shop, registry: str) -> None:
    """Poison bytes after a valid frame, bad branch index, contradicting or malformed
    headers, a record of another topic."""
    from tests.runtime.test_serde_fixtures import Rec

    topic = f"egt-errs-{uuid.uuid4().hex[:8]}"
    binding = setup_subjects(shop, registry, topic, "topic")
    route = Route(binding)
    codec = RegistryAvroCodec(RegistryClient(registry), "topic")
    env = order_archived(shop.orders).envelope()
    value, headers = codec.encode(env, route)
    assert codec.decode(Rec(value, list(headers)), route) == env

    def reason(rec: Rec, on: Route = route) -> str:
        with pytest.raises(DecodeError) as info:
            codec.decode(rec, on)
        return info.value.reason

    frame = value[:5]
    assert reason(Rec(frame + b"\x00\xff\xff\xff")) == "corrupt_payload"  # branch 0, garbage
    assert reason(Rec(frame + write_long(99) + value[6:])) == "corrupt_payload"
    assert reason(Rec(frame)) == "corrupt_payload"  # no branch index at all
    assert reason(Rec(value + b"\x00")) == "corrupt_payload"  # trailing bytes
    assert reason(Rec(value, [("type", b"orders.OrderPlaced")])) == "bad_envelope"
    assert reason(Rec(value, [("event_id", b"nope")])) == "bad_envelope"
    assert reason(Rec(value, [("occurred_at", b"\xff")])) == "bad_envelope"
    other = Route(TopicBinding("elsewhere", (shop.orders.OrderPlaced,)))
    assert reason(Rec(value), other) == "unknown_type"
