"""Confluent protobuf framing: our bytes against confluent-kafka's own encoder and reader of
the message-index array, and through a real Schema Registry (Apicurio) in both directions:
our frames decoded by `ProtobufDeserializer`, `ProtobufSerializer` frames decoded by ours."""

from __future__ import annotations

import base64
import io
import subprocess
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from uuid import UUID

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.common.serde import SchemaId
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import json_format
from hypothesis import given, settings
from hypothesis import strategies as st

from eventgen.runtime.errors import DecodeError
from eventgen.runtime.model import Message
from eventgen.runtime.protobuf_codec import (
    RegistryProtobufCodec,
    frame,
    parse_writer,
    read_indexes,
    unframe,
    write_indexes,
)
from eventgen.runtime.registry_client import RegistryClient
from tests.protobuf.proto_protoc import run_protoc
from tests.protobuf.runtime_fixtures.build import (
    EVENTGEN,
    Built,
    Rec,
    shared_fixture,
    shared_protoc,
)
from tests.protobuf.runtime_fixtures.shapes import models, proto_json

INDEXES = st.lists(st.integers(0, 2**31 - 1), min_size=1, max_size=6)
SCHEMA_IDS = st.integers(0, 2**32 - 1)


@settings(max_examples=300, deadline=None)
@given(SCHEMA_IDS, INDEXES, st.binary(max_size=8))
def test_frames_equal_confluents_and_read_back_both_ways(
    schema_id: int, indexes: list[int], body: bytes
) -> None:
    ours = frame(schema_id, tuple(indexes), body)
    theirs = SchemaId("PROTOBUF", schema_id, message_indexes=indexes).id_to_bytes() + body
    assert ours == theirs
    read = SchemaId("PROTOBUF")
    rest = read.from_bytes(io.BytesIO(ours)).read()
    assert (read.id, read.message_indexes, rest) == (schema_id, indexes, body)
    assert unframe(theirs) == (schema_id, tuple(indexes), body)


def test_the_first_message_is_a_single_zero_byte() -> None:
    assert write_indexes((0,)) == b"\x00"
    assert write_indexes((1,)) == b"\x02\x02"
    assert write_indexes((0, 0)) == b"\x04\x00\x00"
    assert read_indexes(b"\x00") == ((0,), 1)
    assert frame(7, (0,), b"pb") == b"\x00\x00\x00\x00\x07\x00pb"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"", "bad_magic"),
        (b"\x01\x00\x00\x00\x01\x00", "bad_magic"),
        (b"\x00\x00\x00\x01", "bad_magic"),
        (b"\x00\x00\x00\x00\x01\x80", "corrupt_payload"),  # truncated varint
        (b"\x00\x00\x00\x00\x01\x03", "corrupt_payload"),  # negative count
        (b"\x00\x00\x00\x00\x01\x02\x01", "corrupt_payload"),  # negative index
    ],
)
def test_bad_frames_are_decode_errors(value: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as exc:
        unframe(value)
    assert exc.value.reason == reason


def test_writer_schemas_as_text_and_as_descriptors() -> None:
    built = shared_fixture()
    pb2 = shared_protoc()
    text = (built.out / "protobuf" / "rt_alpha.proto").read_text()
    from_text = parse_writer(text)
    serialized = pb2["rt_alpha"].DESCRIPTOR.serialized_pb
    from_descriptor = parse_writer(base64.b64encode(serialized).decode())
    assert from_text == from_descriptor
    assert from_text.full_name((4,)) == "pbrt_events.rt_alpha.OrderPlaced"
    assert (
        from_text.full_name((0, 0)) == "pbrt_events.rt_alpha.Containers.AttrsEntry"
    )  # protoc's map entry
    assert from_text.full_name((9,)) is None


TRICKY = """// message Fake { }
syntax = "proto3";
package a.b; /* message Nope { } */
message A {
  string message = 1;
  oneof choice { string x = 2; }
  map<string, .a.b.B> line_items = 3;
  message Inner { map<string, int32> m = 1; enum E { E_X = 0; } }
  string s = 4 [json_name = "{w}"];
}
enum Top { TOP_UNSPECIFIED = 0; }
message B { message C {} }
"""


def test_writer_text_parse_matches_protoc_on_tricky_text(tmp_path: Path) -> None:
    """Comments, strings, a field named `message`, oneofs, enums and map entries: the text
    parser gives protoc's message tree (map entries nested where protoc puts them)."""
    text = TRICKY
    (tmp_path / "t.proto").write_text(text)
    result = run_protoc(tmp_path, ["t.proto"], tmp_path)
    assert result.returncode == 0, result.stderr
    serialized = result.files["t.proto"].SerializeToString()
    expected = parse_writer(base64.b64encode(serialized).decode())
    assert parse_writer(text) == expected
    assert expected.full_name((0, 1)) == "a.b.A.Inner"
    assert expected.full_name((0, 1, 0)) == "a.b.A.Inner.MEntry"
    assert expected.full_name((1, 0)) == "a.b.B.C"


# -- through a real registry ------------------------------------------------------------


@pytest.fixture(scope="module")
def built() -> Built:
    return shared_fixture()


@pytest.fixture(scope="module")
def pb2() -> dict[str, ModuleType]:
    return shared_protoc()


def order(built: Built, seq: int) -> Message:
    a, b = built.alpha, built.base
    line = a.Line(
        sku="s" * (seq + 1), qty=seq + 1, price=b.Money(amount=Decimal("2.50"), currency="EUR")
    )
    return a.OrderPlaced(  # type: ignore[no-any-return]
        id=UUID(int=seq + 1),
        customer="ada",
        placed_at=datetime(2026, 1, 2, 3, 4, 5, 600_000, tzinfo=UTC),
        total=Decimal("12.30"),
        colour=list(b.Colour)[1],
        lines=[line],
        note=None if seq % 2 else "ring twice",
    )


def test_our_frames_decode_with_confluents_deserializer(
    built: Built, pb2: dict[str, ModuleType], registry_url: str
) -> None:
    route = built.things
    codec = RegistryProtobufCodec(RegistryClient(registry_url), "topic", auto_register=True)
    reference = pb2["rt_alpha"].OrderPlaced
    # No registry client: Confluent's reader of the framing and message indexes, then the
    # protoc class (Apicurio answers `format=serialized` with .proto text, which
    # confluent-kafka's registry path cannot parse).
    deserializer = ProtobufDeserializer(reference, {"use.deprecated.format": False}, None)
    ctx = SerializationContext(route.topic.name, MessageField.VALUE)
    for seq in range(3):
        model = order(built, seq)
        value, _ = codec.encode(model.envelope(), route)
        got = deserializer(value, ctx)
        assert got == json_format.ParseDict(proto_json(model), reference())
    # What the frame's schema id names in the registry: our .proto text, under the topic's
    # subject, with the imported context as a reference.
    sr = SchemaRegistryClient({"url": registry_url})
    schema_id = unframe(value)[0]
    registered = sr.get_schema(schema_id)
    assert registered.schema_type == "PROTOBUF"
    assert registered.schema_str == built.out.joinpath("protobuf/rt_alpha.proto").read_text()
    assert [(r.name, r.subject) for r in registered.references or ()] == [
        ("rt_base.proto", "rt_base.proto")
    ]
    latest = sr.get_latest_version(f"{route.topic.name}-value")
    assert latest.schema_id == schema_id


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_confluents_serializer_frames_decode_with_ours(
    built: Built, pb2: dict[str, ModuleType], registry_url: str, data: st.DataObject
) -> None:
    url = registry_url
    route = built.things
    cls = data.draw(st.sampled_from([built.alpha.OrderPlaced, built.alpha.ThingHappened]))
    model = data.draw(models(cls))
    reference = getattr(pb2["rt_alpha"], cls.__name__)
    serializer = ProtobufSerializer(
        reference,
        SchemaRegistryClient({"url": url}),
        {
            "use.deprecated.format": False,
            "auto.register.schemas": True,
            # Subjects of its own: it registers base64 descriptors, which Apicurio keeps as
            # they are, and the build's .proto subjects stay for `eventgen registry push`.
            "subject.name.strategy": lambda ctx, name: f"{ctx.topic}-confluent-value",
            "reference.subject.name.strategy": lambda ctx, ref: f"confluent-{ref.name}",
        },
    )
    ctx = SerializationContext(route.topic.name, MessageField.VALUE)
    value = serializer(json_format.ParseDict(proto_json(model), reference()), ctx)
    codec = RegistryProtobufCodec(RegistryClient(url), "topic")
    envelope = model.envelope()
    headers = [("type", cls.TYPE.encode()), ("event_id", str(envelope.event_id).encode())]
    for record in (Rec(value), Rec(value, headers)):  # header-less: the type from the frame
        assert codec.message_type(record, route) == cls.TYPE
        got = codec.decode(record, route)
        assert got.payload == model
        assert got.schema_version == cls.VERSION
    assert codec.decode(Rec(value, headers), route).event_id == envelope.event_id
    with pytest.raises(DecodeError) as wrong:
        codec.decode(Rec(value, [("type", b"rt-alpha.DoThing")]), route)
    assert wrong.value.reason == "bad_envelope"


def test_unknown_schema_id_and_foreign_message(built: Built, registry_url: str) -> None:
    route = built.things
    codec = RegistryProtobufCodec(RegistryClient(registry_url), "topic", auto_register=True)
    with pytest.raises(DecodeError) as unknown:
        codec.decode(Rec(frame(2**31 - 7, (0,), b"")), route)
    assert unknown.value.reason == "unknown_schema_id"
    value, _ = codec.encode(order(built, 1).envelope(), route)
    schema_id = unframe(value)[0]
    with pytest.raises(DecodeError) as foreign:  # index 0: Containers, no message of the topic
        codec.decode(Rec(frame(schema_id, (0,), b"")), route)
    assert foreign.value.reason == "unknown_type"
    with pytest.raises(DecodeError) as beyond:
        codec.decode(Rec(frame(schema_id, (40,), b"")), route)
    assert beyond.value.reason == "corrupt_payload"


def test_subjects_pushed_by_the_cli_are_the_ones_the_codec_looks_up(
    built: Built, registry_url: str
) -> None:
    """`eventgen registry push` registers the build's .proto subjects; the codec (no
    auto-registration, as services run) finds each message type's schema id there."""
    pushed = subprocess.run(
        [str(EVENTGEN), "registry", "push", "--url", registry_url, str(built.out.parent / "specs")],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    codec = RegistryProtobufCodec(RegistryClient(registry_url), "topic")
    sr = SchemaRegistryClient({"url": registry_url})
    route = built.things
    latest = sr.get_latest_version(f"{route.topic.name}-value")
    for cls in route.topic.messages:
        assert codec.schema_id(cls, route) == latest.schema_id
    references = [(r.name, r.subject) for r in latest.schema.references or []]
    assert references == [("rt_base.proto", "rt_base.proto")]
