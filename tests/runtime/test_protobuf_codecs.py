"""The protobuf header codec as serde picks it: bare values, envelope headers, versions,
the failures a consumer dead-letters (and the one it skips)."""

from __future__ import annotations

from uuid import UUID

import pytest

from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.errors import DecodeError
from eventgen.runtime.model import Message
from eventgen.runtime.protobuf import decode_protobuf
from eventgen.runtime.protobuf_codec import ProtobufHeaderCodec, RegistryProtobufCodec
from eventgen.runtime.serde import codec_for, decode_handled
from tests.protobuf.runtime_fixtures.build import Built, Rec, shared_fixture


@pytest.fixture(scope="module")
def built() -> Built:
    return shared_fixture()


def command(built: Built) -> Message:
    return built.alpha.DoThing(id=UUID(int=5), colour=list(built.base.Colour)[4])  # type: ignore[no-any-return]


def test_serde_picks_the_protobuf_codecs(built: Built) -> None:
    route = built.things
    assert isinstance(codec_for(route, RuntimeConfig()), ProtobufHeaderCodec)
    framed = codec_for(route, RuntimeConfig(schema_registry_url="http://127.0.0.1:1"))
    assert isinstance(framed, RegistryProtobufCodec)
    assert framed.strategy == "topic"


def test_header_codec_round_trip_and_envelope_headers(built: Built) -> None:
    route = built.app.PUBLISHER_SPEC.route("rt-alpha.DoThing")
    codec = codec_for(route, RuntimeConfig())
    message = command(built)
    envelope = message.envelope(correlation_id="corr-1")
    value, headers = codec.encode(envelope, route)
    assert decode_protobuf(type(message), value) == message  # the value is the bare message
    names = [name for name, _ in headers]
    assert names == ["event_id", "type", "schema_version", "occurred_at", "correlation_id"]
    back = codec.decode(Rec(value, list(headers)), route)
    assert back == envelope
    assert codec.message_type(Rec(value, list(headers)), route) == "rt-alpha.DoThing"


def test_header_codec_failures(built: Built) -> None:
    route = built.app.PUBLISHER_SPEC.route("rt-alpha.DoThing")
    codec = codec_for(route, RuntimeConfig())
    value, headers = codec.encode(command(built).envelope(), route)

    def reason(record: Rec) -> str:
        with pytest.raises(DecodeError) as exc:
            codec.decode(record, route)
        return exc.value.reason

    newer: list[tuple[str, bytes | None]] = [
        (n, b"2" if n == "schema_version" else v) for n, v in headers
    ]
    assert reason(Rec(value, newer)) == "unsupported_version"
    assert reason(Rec(None, list(headers))) == "corrupt_payload"  # a tombstone
    assert reason(Rec(b"\x0a\x05abc", list(headers))) == "corrupt_payload"
    assert reason(Rec(value, [])) == "no_type"
    other: list[tuple[str, bytes | None]] = [
        (n, b"rt-alpha.Nope" if n == "type" else v) for n, v in headers
    ]
    assert reason(Rec(value, other)) == "unknown_type"
    assert decode_handled(codec, Rec(value, other), route, {"rt-alpha.Nope"}) is None
    assert decode_handled(codec, Rec(value, list(headers)), route, set()) is None  # skipped


def test_an_older_version_is_dead_lettered_not_read_by_the_current_message(built: Built) -> None:
    # ThingRenamed v2 renamed `name` to `title`: v1 bytes read by the v2 message would give
    # title "" (proto3's default) where the upcast gives the old name, so v1 is refused.
    route = built.things
    codec = codec_for(route, RuntimeConfig())
    renamed = built.alpha.ThingRenamed(id=UUID(int=7), title="lamp")
    assert type(renamed).VERSION == 2
    value, headers = codec.encode(renamed.envelope(), route)
    assert codec.decode(Rec(value, list(headers)), route).payload == renamed
    older: list[tuple[str, bytes | None]] = [
        (n, b"1" if n == "schema_version" else v) for n, v in headers
    ]
    with pytest.raises(DecodeError) as exc:
        codec.decode(Rec(value, older), route)
    assert exc.value.reason == "unsupported_version"
    assert "v1 of a protobuf message is not upcast" in str(exc.value)
