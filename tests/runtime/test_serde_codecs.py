"""Value codecs without a broker: round trips, envelope headers, upcasting, every error kind.

A `Rec` stands in for a consumed record (plain values behind confluent_kafka.Message's
accessors); the Kafka and registry paths are in test_publisher.py and
test_confluent_interop.py.
"""

from __future__ import annotations

import json
import uuid
from io import BytesIO
from typing import Any

import pytest
from fastavro import schemaless_writer

from eventgen.evolution.subjects import canonical, subjects
from eventgen.runtime.avro import avro_schema
from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.confluent import (
    RegistryAvroCodec,
    fullname,
    record_document,
    topic_document,
)
from eventgen.runtime.errors import DecodeError
from eventgen.runtime.headers import HEADER_FIELDS
from eventgen.runtime.registry_client import RegistryClient
from eventgen.runtime.serde import (
    AvroHeaderCodec,
    JsonHeaderCodec,
    ValueCodec,
    codec_for,
    encode_key,
    record_event_id,
)
from eventgen.runtime.spec import Route
from eventgen.runtime.varint import read_long, write_long
from tests.runtime.test_serde_fixtures import (  # noqa: F401 - fixture
    V1_PLACED,
    Rec,
    Shop,
    order_archived,
    order_placed,
    shop_fixture,
)

UPCASTER = "tests.runtime.test_serde_fixtures"
CODECS = [AvroHeaderCodec(), JsonHeaderCodec()]


def route(s: Shop, topic: str = "orders.order-events", **kw: Any) -> Route:
    return Route(s.binding(topic), **kw)


def record(codec: ValueCodec, s: Shop, message: Any, **kw: Any) -> Rec:
    env = message.envelope(correlation_id="corr-1", causation_id=uuid.uuid4())
    value, headers = codec.encode(env, route(s))
    return Rec(value, list(headers), **kw)


@pytest.mark.parametrize("codec", CODECS, ids=["avro", "json"])
def test_round_trip_with_all_envelope_headers(codec: ValueCodec, shop: Shop) -> None:
    for message in (order_placed(shop.orders), order_archived(shop.orders)):
        env = message.envelope(correlation_id="corr-1", causation_id=uuid.uuid4())
        value, headers = codec.encode(env, route(shop))
        assert [name for name, _ in headers] == list(HEADER_FIELDS)
        rec = Rec(value, list(headers))
        assert codec.message_type(rec, route(shop)) == message.TYPE
        assert codec.decode(rec, route(shop)) == env


def test_json_value_is_the_payload_and_avro_value_is_bare(shop: Shop) -> None:
    message = order_placed(shop.orders)
    env = message.envelope()
    json_value, _ = JsonHeaderCodec().encode(env, route(shop))
    assert json.loads(json_value)["channel"] == "MOBILE_APP" and "event_id" not in json.loads(
        json_value
    )
    avro_value, _ = AvroHeaderCodec().encode(env, route(shop))
    assert avro_value[:1] != b"\x00" or len(avro_value) > 5  # no framing: starts with the uuid
    assert avro_value[:1] == write_long(36)  # the order_id string's length prefix


def test_key_is_bare_avro_of_partition_key(shop: Shop) -> None:
    message = order_placed(shop.orders)
    key = encode_key(route(shop), message)
    assert key == write_long(36) + str(message.order_id).encode()  # type: ignore[attr-defined]
    unkeyed = [b for b in shop.bindings() if b.key_schema is None]
    if unkeyed:
        assert encode_key(Route(unkeyed[0]), unkeyed[0].messages[0].model_construct()) is None


@pytest.mark.parametrize("codec", CODECS, ids=["avro", "json"])
def test_header_errors(codec: ValueCodec, shop: Shop) -> None:
    good = record(codec, shop, order_placed(shop.orders))
    assert good.hdrs is not None
    r = route(shop)

    def fails(reason: str, rec: Rec) -> DecodeError:
        with pytest.raises(DecodeError) as info:
            codec.decode(rec, r)
        assert info.value.reason == reason, info.value
        return info.value

    def with_header(name: str, value: bytes | None) -> Rec:
        assert good.hdrs is not None
        return Rec(good.val, [(n, v) for n, v in good.hdrs if n != name] + [(name, value)])

    fails("no_type", Rec(good.val, None))
    fails("no_type", Rec(good.val, [(n, v) for n, v in good.hdrs if n != "type"]))
    with pytest.raises(DecodeError) as info:
        codec.message_type(Rec(good.val, []), r)
    assert info.value.reason == "no_type"
    fails("bad_envelope", with_header("type", b"not a type!"))
    fails("bad_envelope", with_header("type", b"\xff\xfe"))
    fails("bad_envelope", with_header("event_id", b"not-a-uuid"))
    fails("bad_envelope", with_header("schema_version", b"two"))
    fails("bad_envelope", with_header("schema_version", None))
    fails("bad_envelope", with_header("occurred_at", b"yesterday"))
    fails("bad_envelope", with_header("causation_id", b"123"))
    # well formed, not on this topic: the one reason a consumer skips instead of DLQ-ing
    err = fails("unknown_type", with_header("type", b"payments.CardCharged"))
    assert "payments.CardCharged" in str(err)
    fails("corrupt_payload", Rec(b"\xff\x00garbage", good.hdrs))
    fails("corrupt_payload", Rec(None, good.hdrs))
    fails("corrupt_payload", Rec((good.val or b"") + b"\x00", good.hdrs))


def test_missing_event_id_and_time_come_from_the_record(shop: Shop) -> None:
    good = record(AvroHeaderCodec(), shop, order_archived(shop.orders))
    assert good.hdrs is not None
    rec = Rec(good.val, [(n, v) for n, v in good.hdrs if n in ("type", "schema_version")])
    env = AvroHeaderCodec().decode(rec, route(shop))
    assert (
        env.event_id
        == record_event_id(rec)
        == uuid.uuid5(uuid.NAMESPACE_URL, "kafka:orders.order-events/0/7")
    )
    assert env.occurred_at.timestamp() == 1_700_000_000


@pytest.mark.parametrize("fmt", ["avro", "json"])
def test_older_version_is_upcast(fmt: str, shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    cls = shop.orders.OrderPlaced
    assert cls.VERSION == 2
    codec: ValueCodec
    if fmt == "avro":
        buffer = BytesIO()
        schemaless_writer(buffer, avro_schema(cls, 1), V1_PLACED)
        value, codec = buffer.getvalue(), AvroHeaderCodec()
    else:
        wire = {k: str(v) if isinstance(v, uuid.UUID) else v for k, v in V1_PLACED.items()}
        wire["created_at"] = "2023-11-02T09:30:00Z"
        wire["lines"] = [{"sku": "MUG-001", "quantity": 2,
                          "unit_price": {"amount": "9.50", "currency": "EUR"}}]  # fmt: skip
        wire["total"] = {"amount": "19.00", "currency": "EUR"}
        value, codec = json.dumps(wire).encode(), JsonHeaderCodec()
    event_id = uuid.uuid4()
    headers: list[tuple[str, bytes | None]] = [
        ("event_id", str(event_id).encode()), ("type", b"orders.OrderPlaced"),
        ("schema_version", b"1"), ("occurred_at", b"2023-11-02T09:30:01Z"),
    ]  # fmt: skip
    rec = Rec(value, headers)
    monkeypatch.setattr(cls, "UPCASTS", None)
    with pytest.raises(DecodeError) as info:  # no upcaster module: unsupported
        codec.decode(rec, route(shop))
    assert info.value.reason == "unsupported_version" and "upcaster" in str(info.value)

    monkeypatch.setattr(cls, "UPCASTS", UPCASTER)
    env = codec.decode(rec, route(shop))
    assert isinstance(env.payload, cls) and env.event_id == event_id and env.schema_version == 1
    p: Any = env.payload
    assert p.customer_id == V1_PLACED["cust_id"] and p.channel == shop.orders.SalesChannel.WEB
    assert p.placed_at == V1_PLACED["created_at"] and p.coupon_code == "AUTUMN10"
    assert p.lines[0].unit_price.amount == V1_PLACED["lines"][0]["unit_price"]["amount"]

    newer = Rec(value, [*headers[:2], ("schema_version", b"3"), headers[3]])
    with pytest.raises(DecodeError) as info:
        codec.decode(newer, route(shop))
    assert info.value.reason == "unsupported_version" and "newer" in str(info.value)


def test_failing_upcaster_is_invalid_payload(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    cls = shop.orders.OrderPlaced
    buffer = BytesIO()
    schemaless_writer(buffer, avro_schema(cls, 1), {**V1_PLACED, "legacy_channel": "x"})
    monkeypatch.setattr(cls, "UPCASTS", UPCASTER)
    rec = Rec(buffer.getvalue(), [("type", b"orders.OrderPlaced"), ("schema_version", b"1")])
    env = AvroHeaderCodec().decode(rec, route(shop))  # the upcaster drops legacy_channel
    assert env.payload.TYPE == "orders.OrderPlaced"
    monkeypatch.setattr(cls, "UPCASTS", "json")  # a module without `upcast`: a broken build
    import eventgen.runtime.avro as avro_module

    monkeypatch.setattr(avro_module, "_upcasters", {})
    with pytest.raises(AttributeError):
        AvroHeaderCodec().decode(rec, route(shop))


def test_codec_for_picks_and_caches(shop: Shop) -> None:
    r = route(shop)
    assert isinstance(codec_for(r, RuntimeConfig()), AvroHeaderCodec)
    assert isinstance(
        codec_for(route(shop, serialization="json"), RuntimeConfig()), JsonHeaderCodec
    )
    framed = RuntimeConfig(schema_registry_url="http://127.0.0.1:9/apis", subject_strategy="record")
    codec = codec_for(r, framed)
    assert isinstance(codec, RegistryAvroCodec) and codec.strategy == "record"
    assert codec_for(r, framed) is codec
    assert codec_for(route(shop, serialization="json"), framed) is codec_for(
        route(shop, serialization="json"), RuntimeConfig()
    )


def test_subject_schemas_agree_with_registry_push(shop: Shop) -> None:
    """The runtime rebuilds push's subject schemas from SCHEMAS modules; they must be equal."""
    by_topic = subjects(shop.project, "topic")
    by_record = subjects(shop.project, "record")
    unions = 0
    for binding in shop.bindings():
        mine = topic_document(binding.messages)
        assert canonical(mine) == canonical(by_topic[f"{binding.name}-value"].schema), binding
        unions += isinstance(mine, list)
        for cls in binding.messages:
            doc = record_document(cls)
            assert canonical(doc) == canonical(by_record[fullname(doc, None)].schema), cls.TYPE
    assert unions >= 3
    values = [s for s in by_topic.values() if s.part == "value"]
    assert len(values) == len(shop.bindings())


def test_union_index_varint() -> None:
    for n in (0, 1, 2, 63, 64, 300, -1, 2**40):
        data = write_long(n) + b"rest"
        assert read_long(data) == (n, len(write_long(n)))
    assert write_long(0) == b"\x00" and write_long(3) == b"\x06" and write_long(64) == b"\x80\x01"
    with pytest.raises(ValueError):
        read_long(b"\x80\x80")


def test_registry_codec_errors_without_lookup(shop: Shop) -> None:
    """Framing errors are found before any registry call (the URL is a closed port)."""
    codec = RegistryAvroCodec(RegistryClient("http://127.0.0.1:9", timeout_s=1), "topic")
    for value in (b"", b"\x00\x00\x00", b"\x01\x00\x00\x00\x01abc"):
        with pytest.raises(DecodeError) as info:
            codec.decode(Rec(value), route(shop))
        assert info.value.reason == "bad_magic"
    with pytest.raises(DecodeError) as info:
        codec.decode(Rec(None), route(shop))
    assert info.value.reason == "corrupt_payload"
