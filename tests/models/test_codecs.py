"""Codecs: envelopes, Confluent framing, record headers, typed decode errors."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from eventgen import runtime as rt
from tests.models import fixtures as fx


@pytest.fixture(scope="module")
def pkg(tmp_path_factory: pytest.TempPathFactory) -> Any:
    project = fx.fixture_project("fx_codecs")
    modules = fx.import_package(project, tmp_path_factory.mktemp("codecs"))
    import importlib

    return modules["alpha"], modules["beta-gamma"], importlib.import_module("fx_codecs.topics")


def test_defaults_and_aliases(pkg: Any) -> None:
    alpha, _, _ = pkg
    msg = fx.sample_happened(alpha)
    wire = json.loads(rt.encode_json(msg))
    assert wire["class"] == 'x"y\\z' and wire["total"] == "0.00" and wire["blob"] == "AAEC/w=="
    assert wire["from"] == "2024-05-01T08:15:00.000123Z" and wire["kinds"] == ["None"]
    assert msg.price == alpha.Money(amount=Decimal("1.5"), currency="EUR")


def test_envelope_json_and_headers(pkg: Any) -> None:
    alpha, _, topics = pkg
    msg = fx.sample_happened(alpha)
    env = msg.envelope(correlation_id="c-1")
    registry = topics.ALPHA_EVENTS.registry
    assert rt.decode_envelope(rt.encode_envelope(env), registry) == env
    value, headers = rt.encode_record(env)
    assert rt.decode_record(value, headers, registry) == env
    assert msg.partition_key() == msg.id
    assert (
        rt.decode_key(
            topics.ALPHA_EVENTS.key_schema, rt.encode_key(topics.ALPHA_EVENTS.key_schema, msg.id)
        )
        == msg.id
    )
    nested = alpha.Nested(holder=alpha.Holder(), id=uuid.uuid4())
    assert nested.partition_key() is None


def test_confluent_framing_and_errors(pkg: Any) -> None:
    alpha, _, topics = pkg
    codec = rt.ConfluentCodec(
        rt.StaticSchemaIds({("alpha.Happened", 3): 41, ("alpha.Happened", 1): 40})
    )
    msg = fx.sample_happened(alpha)
    framed = codec.encode(msg)
    assert framed[:5] == b"\x00\x00\x00\x00\x29"
    assert codec.decode(framed, topics.ALPHA_EVENTS.registry) == msg
    cases = {
        b"\x01" + framed[1:]: "bad_magic",
        b"\x00\x00": "bad_magic",
        b"\x00\x00\x00\x00\x63" + framed[5:]: "unknown_schema_id",
        framed[:-3]: "corrupt_payload",
        framed + b"\x00": "corrupt_payload",
        b"\x00\x00\x00\x00\x28" + framed[5:]: "unsupported_version",  # v1 without upcaster
    }
    for data, reason in cases.items():
        with pytest.raises(rt.DecodeError) as info:
            codec.decode(data, topics.ALPHA_EVENTS.registry)
        assert info.value.reason == reason, data


def test_upcaster_hook(pkg: Any) -> None:
    alpha, _, _ = pkg
    v1 = rt.avro_schema(alpha.Happened, 1)
    import io

    import fastavro

    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, v1, {"id": uuid.uuid4()})
    every = json.loads(rt.encode_json(fx.sample_happened(alpha)))["every"]
    upcast = lambda t, v, p: {**p, "every": every, "holder": {}}
    assert rt.decode_avro(alpha.Happened, buffer.getvalue(), 1, upcast).every.s == "é"


def test_json_errors(pkg: Any) -> None:
    alpha, beta, topics = pkg
    registry = topics.ALPHA_EVENTS.registry
    for data, reason in {
        b"{": "corrupt_payload",
        b"[]": "bad_envelope",
        b'{"type": "alpha.Nope"}': "unknown_type",
        b'{"type": "alpha.Happened", "schema_version": 3, "payload": {}}': "bad_envelope",
    }.items():
        with pytest.raises(rt.DecodeError) as info:
            rt.decode_envelope(data, registry)
        assert info.value.reason == reason
    env = json.loads(rt.encode_envelope(fx.sample_happened(alpha).envelope()))
    env["payload"]["id"] = "not-a-uuid"
    with pytest.raises(rt.DecodeError) as info:
        rt.decode_envelope(json.dumps(env), registry)
    assert info.value.reason == "invalid_payload"
    with pytest.raises(rt.DecodeError) as info:
        rt.decode_json(beta.DoIt, b'{"money": {"amount": 1, "currency": "EUR"}, "value": "v"}')
    assert info.value.reason == "invalid_payload"  # decimals are strings on the wire


def test_open_content_model(tmp_path: Path) -> None:
    project = fx.fixture_project("fx_open")
    project = fx.project(list(project.contexts), "fx_open", "open")
    alpha = fx.import_package(project, tmp_path)["alpha"]
    money = alpha.Money.model_validate_json(
        '{"amount": "1.00", "currency": "EUR", "extra": 1}', strict=True
    )
    assert money == alpha.Money(amount="1.00", currency="EUR")


def test_schema_modules_match_avsc_files(pkg: Any) -> None:
    """The runtime's schemas (shared TYPES + SCHEMAS by name) are the self-contained .avsc."""
    import importlib

    from fastavro.schema import expand_schema

    from eventgen.emit import avro, layout
    from eventgen.ir import naming

    project = fx.fixture_project("fx_codecs")
    files = avro.emit(project)
    checked = 0
    for ctx in project.contexts:
        module = importlib.import_module(layout.schema_module(project, ctx.name))
        for message in ctx.messages:
            for version, _ in layout.versions(message):
                suffix = None if version == message.version else version
                avsc = json.loads(files[layout.avro_path(ctx.name, message.name, suffix)].data)
                schema = module.SCHEMAS[naming.message_type(message.qualified)][version]
                # expand_schema inlines every use of a named type: compare fully expanded forms.
                assert expand_schema([*module.TYPES, schema])[-1] == expand_schema(avsc)
                checked += 1
    assert checked >= 4
