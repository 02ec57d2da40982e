"""The consumer's fused decoder (eventgen.runtime.hotpath) against the general decode path.

Every record below goes through both: `codec.decode_handled` (the general path) and the
decoder `decoder_for` gives a consumer loop, cold (nothing learned yet) and warm (after a
good record of the stream and after the record itself). The results must be the same:
equal envelopes with the same field values and the same fields set, the same None for a
skipped type, the same DecodeError (reason, text, message type).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from io import BytesIO
from typing import Any

import pytest
from fastavro import schemaless_writer

from eventgen.runtime.avro import avro_schema
from eventgen.runtime.errors import DecodeError
from eventgen.runtime.hotpath import MAX_REMEMBERED, Memory, header_decoder
from eventgen.runtime.jsoncodec import decode_json
from eventgen.runtime.serde import AvroHeaderCodec, JsonHeaderCodec, decoder_for
from eventgen.runtime.spec import Route
from tests.runtime.test_serde_fixtures import (  # noqa: F401 - fixture
    UPCASTER_MODULE,
    V1_PLACED,
    Rec,
    Shop,
    order_archived,
    order_placed,
    shop_fixture,
)

HANDLES = frozenset({"orders.OrderPlaced"})  # OrderArchived is on the topic and skipped
Headers = list[tuple[str, bytes | None]]


def route(shop: Shop) -> Route:
    return Route(shop.binding("orders.order-events"))


def good(codec: Any, shop: Shop) -> tuple[bytes, Headers]:
    env = order_placed(shop.orders).envelope(correlation_id="corr-1", causation_id=uuid.uuid4())
    value, headers = codec.encode(env, route(shop))
    return value, list(headers)


def replaced(headers: Headers, name: str, value: bytes | None) -> Headers:
    return [(k, value if k == name else v) for k, v in headers]


def without(headers: Headers, name: str) -> Headers:
    return [(k, v) for k, v in headers if k != name]


def v1_value(fmt: str) -> bytes:
    """orders.OrderPlaced v1 in the codec's format (upcast on decode)."""
    if fmt == "avro":
        buffer = BytesIO()
        schemaless_writer(buffer, avro_schema_v1(), V1_PLACED)
        return buffer.getvalue()
    wire = json.loads(json.dumps(V1_PLACED, default=str))
    wire["created_at"] = "2023-11-02T09:30:00Z"
    wire["lines"][0]["unit_price"]["amount"] = "9.50"
    wire["total"]["amount"] = "19.00"
    return json.dumps(wire).encode()


_V1: list[Any] = []


def avro_schema_v1() -> Any:
    return _V1[0]


def variants(codec: Any, shop: Shop, fmt: str) -> list[tuple[str, Rec]]:
    """The good record and every way its headers and value can be off."""
    value, headers = good(codec, shop)
    archived, archived_headers = codec.encode(order_archived(shop.orders).envelope(), route(shop))
    event_id = dict(headers)["event_id"]
    cases: list[tuple[str, bytes | None, Headers | None]] = [
        ("good", value, headers),
        ("good, other headers around", value, [("x-trace", b"1"), *headers, ("x-n", None)]),
        ("skipped type", archived, list(archived_headers)),
        ("unknown type", value, replaced(headers, "type", b"orders.Nope")),
        ("type of another context", value, replaced(headers, "type", b"billing.OrderPlaced")),
        ("malformed type", value, replaced(headers, "type", b"no dots")),
        ("type not UTF-8", value, replaced(headers, "type", b"\xff\xfe")),
        ("no type", value, without(headers, "type")),
        ("no headers", value, None),
        ("empty headers", value, []),
        ("older version", v1_value(fmt), replaced(headers, "schema_version", b"1")),
        ("newer version", value, replaced(headers, "schema_version", b"3")),
        ("version 0", value, replaced(headers, "schema_version", b"0")),
        ("version with sign", value, replaced(headers, "schema_version", b"+2")),
        ("version with space", value, replaced(headers, "schema_version", b" 2")),
        ("version not digits", value, replaced(headers, "schema_version", b"two")),
        ("version huge", value, replaced(headers, "schema_version", b"9" * 40)),
        ("no version", value, without(headers, "schema_version")),
        ("version null", value, replaced(headers, "schema_version", None)),
        ("no event_id", value, without(headers, "event_id")),
        ("empty event_id", value, replaced(headers, "event_id", b"")),
        ("event_id without hyphens", value,
         replaced(headers, "event_id", event_id.replace(b"-", b"") if event_id else b"")),
        ("event_id with a sign", value, replaced(headers, "event_id", b"+" + (event_id or b"")[1:])),
        ("event_id braces", value, replaced(headers, "event_id", b"{" + (event_id or b"") + b"}")),
        ("event_id upper case", value, replaced(headers, "event_id", (event_id or b"").upper())),
        ("event_id not UTF-8", value, replaced(headers, "event_id", b"\xff" * 36)),
        ("event_id, then a null copy", value, [*headers, ("event_id", None)]),
        ("event_id, then another", value, [*headers, ("event_id", str(uuid.uuid4()).encode())]),
        ("no occurred_at", value, without(headers, "occurred_at")),
        ("occurred_at no offset", value,
         replaced(headers, "occurred_at", b"2024-05-01T09:00:00")),
        ("occurred_at with offset", value,
         replaced(headers, "occurred_at", b"2024-05-01T11:00:00.5+02:00")),
        ("occurred_at a date", value, replaced(headers, "occurred_at", b"2024-05-01")),
        ("occurred_at Feb 30", value, replaced(headers, "occurred_at", b"2024-02-30T00:00:00Z")),
        ("occurred_at year 1", value,
         replaced(headers, "occurred_at", b"0001-01-01T00:00:00+01:00")),
        ("no causation_id", value, without(headers, "causation_id")),
        ("empty causation_id", value, replaced(headers, "causation_id", b"")),
        ("bad causation_id", value, replaced(headers, "causation_id", b"nope")),
        ("causation_id, then a null copy", value, [*headers, ("causation_id", None)]),
        ("no correlation_id", value, without(headers, "correlation_id")),
        ("correlation_id not UTF-8", value, replaced(headers, "correlation_id", b"\xc3")),
        ("empty correlation_id", value, replaced(headers, "correlation_id", b"")),
        ("tombstone", None, headers),
        ("garbage value", b"\x00\xff\x13garbage", headers),
        ("trailing bytes", value + b"\x00", headers),
        ("empty value", b"", headers),
    ]  # fmt: skip
    return [(name, Rec(val, None if hdrs is None else list(hdrs))) for name, val, hdrs in cases]


def outcome(call: Callable[..., Any], *args: Any) -> Any:
    """A comparable result of `call(*args)`: the envelope's values and fields set, None, or
    the error."""
    try:
        env = call(*args)
    except DecodeError as exc:
        return ("error", exc.reason, str(exc), exc.message_type)
    if env is None:
        return None
    return ("envelope", type(env.payload), env.model_dump(), sorted(env.model_fields_set))


CODECS = [("avro", AvroHeaderCodec()), ("json", JsonHeaderCodec())]


@pytest.fixture(name="upcasting")
def upcasting_fixture(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shop.orders.OrderPlaced, "UPCASTS", UPCASTER_MODULE)
    if not _V1:
        _V1.append(avro_schema(shop.orders.OrderPlaced, 1))


@pytest.mark.usefixtures("upcasting")
@pytest.mark.parametrize(("fmt", "codec"), CODECS, ids=[c[0] for c in CODECS])
def test_fused_decoder_agrees_with_the_general_path(fmt: str, codec: Any, shop: Shop) -> None:
    r = route(shop)
    good_value, good_headers = good(codec, shop)
    cases = variants(codec, shop, fmt)
    assert len(cases) == 45
    outcomes: dict[str, Any] = {}
    for name, rec in cases:
        expected = outcome(codec.decode_handled, rec, r, HANDLES)
        cold = decoder_for(codec, r, HANDLES)
        assert outcome(cold, rec) == expected, f"{name}: cold"
        assert outcome(cold, rec) == expected, f"{name}: after itself"
        warm = decoder_for(codec, r, HANDLES)
        assert outcome(warm, Rec(good_value, good_headers)) is not None
        assert outcome(warm, rec) == expected, f"{name}: after a good record"
        assert outcome(warm, rec) == expected, f"{name}: twice"
        outcomes[name] = expected
    # The cases reach every kind of outcome (a variant that silently stopped testing its
    # branch would show here).
    kinds = {name: (o[0], o[1]) if o and o[0] == "error" else (o and o[0]) for name, o in
             outcomes.items()}  # fmt: skip
    assert kinds["good"] == "envelope" and kinds["older version"] == "envelope"
    assert kinds["skipped type"] is None and kinds["unknown type"] is None
    assert kinds["no type"] == ("error", "no_type")
    assert kinds["malformed type"] == ("error", "bad_envelope")
    assert kinds["event_id with a sign"] == ("error", "bad_envelope")
    assert kinds["occurred_at no offset"] == ("error", "bad_envelope")
    assert kinds["newer version"] == ("error", "unsupported_version")
    assert kinds["garbage value"][0] == "error" and kinds["tombstone"] == (
        "error", "corrupt_payload"
    )  # fmt: skip
    assert outcomes["no event_id"][2]["event_id"] == uuid.uuid5(
        uuid.NAMESPACE_URL, "kafka:orders.order-events/0/7"
    )
    assert outcomes["occurred_at with offset"][2]["occurred_at"].utcoffset().total_seconds() == 0


def test_what_a_decoder_remembers_is_bounded(shop: Shop) -> None:
    codec = AvroHeaderCodec()
    r = route(shop)
    value, headers = good(codec, shop)
    memory = Memory()
    decode = header_decoder(codec, r, HANDLES, lambda cls, raw: codec_payload(cls, raw), memory)
    for i in range(MAX_REMEMBERED + 300):  # a stream with a new well-formed type per record
        assert decode(Rec(value, replaced(headers, "type", f"orders.T{i}".encode()))) is None
    assert len(memory.kinds) == MAX_REMEMBERED
    for i in range(MAX_REMEMBERED + 300):  # and a new version per record (all newer: errors)
        with pytest.raises(DecodeError):
            decode(Rec(value, replaced(headers, "schema_version", str(3 + i).encode())))
    assert len(memory.versions) <= 1
    env = decode(Rec(value, headers))  # still decodes, from what it had learned
    assert env is not None and env.payload == order_placed(shop.orders)
    assert len(memory.kinds) == MAX_REMEMBERED and b"orders.OrderPlaced" not in memory.kinds


def codec_payload(cls: Any, raw: bytes) -> Any:
    from eventgen.runtime.avro import decode_avro

    return decode_avro(cls, raw)


def test_json_decoder_uses_the_json_payload_reader(shop: Shop) -> None:
    codec = JsonHeaderCodec()
    r = route(shop)
    value, headers = good(codec, shop)
    seen: list[Any] = []

    def payload(cls: Any, raw: bytes) -> Any:
        seen.append(cls)
        return decode_json(cls, raw)

    decode = header_decoder(codec, r, HANDLES, payload)
    first = decode(Rec(value, headers))  # learns: the general path decodes it
    second = decode(Rec(value, headers))  # the fused path
    assert first == second and seen == [shop.orders.OrderPlaced]
