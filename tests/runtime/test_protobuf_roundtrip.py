"""The protobuf codec: hypothesis round trips model -> bytes -> model over every spec type,
and a cross-check with protoc's own classes of the generated `.proto` files, both ways."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventgen.runtime.errors import DecodeError
from eventgen.runtime.model import Message
from eventgen.runtime.protobuf import binding, decode_protobuf, encode_protobuf
from tests.protobuf.runtime_fixtures.build import Built, shared_fixture, shared_protoc
from tests.protobuf.runtime_fixtures.shapes import models, proto_json

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def built() -> Built:
    return shared_fixture()


@pytest.fixture(scope="module")
def pb2() -> dict[str, ModuleType]:
    return shared_protoc()


def message_types(built: Built) -> list[type[Message]]:
    a = built.alpha
    return [a.ThingHappened, a.OrderPlaced, a.DoThing]


def protoc_class(pb2: dict[str, ModuleType], cls: type[Message]) -> Any:
    return getattr(pb2["rt_alpha"], cls.__name__)


@pytest.mark.parametrize("name", ["ThingHappened", "OrderPlaced", "DoThing"])
def test_round_trip_model_bytes_model(built: Built, name: str) -> None:
    cls: type[Message] = getattr(built.alpha, name)

    @SETTINGS
    @given(models(cls))
    def check(model: Message) -> None:
        data = encode_protobuf(model)
        back = decode_protobuf(cls, data)
        assert back == model
        assert back.model_dump() == model.model_dump()
        # Map entries may come back in another order (proto maps are unordered): the model
        # is the same, and so is what its bytes decode to.
        assert decode_protobuf(cls, encode_protobuf(back)) == model

    check()


@pytest.mark.parametrize("name", ["ThingHappened", "OrderPlaced", "DoThing"])
def test_our_bytes_parse_with_protoc_and_protoc_bytes_decode(
    built: Built, pb2: dict[str, ModuleType], name: str
) -> None:
    cls: type[Message] = getattr(built.alpha, name)
    reference = protoc_class(pb2, cls)

    @SETTINGS
    @given(models(cls))
    def check(model: Message) -> None:
        expected = json_format.ParseDict(proto_json(model), reference())
        ours = reference.FromString(encode_protobuf(model))
        assert ours == expected, (ours, expected)
        assert ours.SerializeToString(deterministic=True) == expected.SerializeToString(
            deterministic=True
        )
        assert decode_protobuf(cls, expected.SerializeToString()) == model

    check()


def test_every_spec_type_is_in_the_fixture(built: Built) -> None:
    """The fixture covers the mapping table: each kind of field at least once."""
    text = (built.out / "protobuf" / "rt_alpha.proto").read_text()
    for needle in ("int32 i", "int64 l", "float f", "double d", "bool b", "bytes by",
                   "string u", "string da", "string t", ".google.protobuf.Timestamp ts",
                   "string de", "optional int32 ni", ".pbrt_events.rt_base.Colour colour",
                   "optional .pbrt_events.rt_base.Colour maybe_colour",
                   ".pbrt_events.rt_base.Money maybe_money", "map<string, string> attrs",
                   "repeated .pbrt_events.rt_alpha.Line lines"):  # fmt: skip
        assert needle in text, needle


def test_indexes_and_names_match_protoc(built: Built, pb2: dict[str, ModuleType]) -> None:
    file = pb2["rt_alpha"].DESCRIPTOR
    for cls in message_types(built):
        bound = binding(cls)
        (index,) = bound.index
        assert file.message_types_by_name[cls.__name__].full_name == bound.full_name
        assert [m.name for m in file.message_types_by_name.values()][index] == cls.__name__


@st.composite
def garbage(draw: st.DrawFn) -> bytes:
    return draw(st.binary(min_size=1, max_size=40))


def test_undecodable_bytes_are_decode_errors(built: Built, pb2: dict[str, ModuleType]) -> None:
    cls = built.alpha.OrderPlaced
    with pytest.raises(DecodeError) as corrupt:
        decode_protobuf(cls, b"\x0a\xff\xff\xff")  # field 1, length beyond the end
    assert corrupt.value.reason == "corrupt_payload"
    reference = protoc_class(pb2, cls)
    bad_uuid = reference(id="not-a-uuid").SerializeToString()
    with pytest.raises(DecodeError) as invalid:
        decode_protobuf(cls, bad_uuid)
    assert invalid.value.reason == "invalid_payload"
    assert "id" in invalid.value.detail
    unknown_enum = reference(colour=99).SerializeToString()
    with pytest.raises(DecodeError) as enum:
        decode_protobuf(cls, unknown_enum)
    assert enum.value.reason == "invalid_payload"

    @SETTINGS
    @given(garbage())
    def check(data: bytes) -> None:
        try:
            decode_protobuf(cls, data)
        except DecodeError as exc:
            assert exc.reason in ("corrupt_payload", "invalid_payload")

    check()


def test_wire_text_rules_apply_to_proto_strings(built: Built, pb2: dict[str, ModuleType]) -> None:
    """uuid/decimal strings obey the same rules as their JSON text (no braces, scale)."""
    cls = built.alpha.OrderPlaced
    reference = protoc_class(pb2, cls)
    ok = {"id": "7a4f6c1e-0c1d-4b8e-9a57-1f0e2d3c4b5a", "customer": "c", "total": "1.50",
          "placed_at": "2020-01-01T00:00:00Z", "colour": "COLOUR_RED"}  # fmt: skip
    model = decode_protobuf(cls, json_format.ParseDict(ok, reference()).SerializeToString())
    assert str(model.total) == "1.50"
    for field, bad in (("id", "{7a4f6c1e-0c1d-4b8e-9a57-1f0e2d3c4b5a}"), ("total", "1.505")):
        data = json_format.ParseDict({**ok, field: bad}, reference()).SerializeToString()
        with pytest.raises(DecodeError) as exc:
            decode_protobuf(cls, data)
        assert exc.value.reason == "invalid_payload"


@pytest.mark.parametrize(
    ("name", "values", "field"),
    [
        ("Line", {"sku": "ABC", "qty": 1, "price": {"amount": "1.00"}}, "sku"),  # pattern
        ("Line", {"sku": "a" * 17, "qty": 1, "price": {"amount": "1.00"}}, "sku"),  # length
        ("Line", {"sku": "abc", "qty": 0, "price": {"amount": "1.00"}}, "qty"),  # minimum
        ("Line", {"sku": "abc", "qty": 1, "price": {"amount": "-1.00"}}, "amount"),  # unsigned
        ("Line", {"sku": "abc", "qty": 1, "price": {"amount": "1.005"}}, "amount"),  # scale
        ("Line", {"sku": "abc", "qty": 1}, "price"),  # a required message absent
    ],
)
def test_constraints_of_the_model_hold_for_proto_values(
    built: Built, pb2: dict[str, ModuleType], name: str, values: dict[str, Any], field: str
) -> None:
    """A value protoc's class can carry but the model refuses is invalid_payload, naming the
    field; checked through a message type that holds the record."""
    cls = built.alpha.OrderPlaced
    reference = protoc_class(pb2, cls)
    ok = {"id": "7a4f6c1e-0c1d-4b8e-9a57-1f0e2d3c4b5a", "customer": "c", "total": "1.50",
          "placed_at": "2020-01-01T00:00:00Z", "colour": "COLOUR_RED"}  # fmt: skip
    good = {"sku": "abc", "qty": 1, "price": {"amount": "1.00", "currency": "EUR"}}
    fine = json_format.ParseDict({**ok, "lines": [good]}, reference()).SerializeToString()
    assert decode_protobuf(cls, fine).lines[0].sku == "abc"
    data = json_format.ParseDict({**ok, "lines": [values]}, reference()).SerializeToString()
    with pytest.raises(DecodeError) as exc:
        decode_protobuf(cls, data)
    assert exc.value.reason == "invalid_payload"
    assert field in exc.value.detail, exc.value.detail


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_floats_are_refused(
    built: Built, pb2: dict[str, ModuleType], value: float
) -> None:
    cls = built.alpha.ThingHappened
    model = built.alpha.ThingHappened(
        id="7a4f6c1e-0c1d-4b8e-9a57-1f0e2d3c4b5a", everything=_everything(built)
    )
    reference = protoc_class(pb2, cls)
    message = reference.FromString(encode_protobuf(model))
    message.everything.d = value
    with pytest.raises(DecodeError) as exc:
        decode_protobuf(cls, message.SerializeToString())
    assert exc.value.reason == "invalid_payload"
    assert "Everything.d" in exc.value.detail
    assert decode_protobuf(cls, encode_protobuf(model)) == model


def _everything(built: Built) -> Any:
    b = built.base
    return built.alpha.Everything(
        s="", i=0, l=0, f=0.0, d=0.0, b=False, by=b"", u="7a4f6c1e-0c1d-4b8e-9a57-1f0e2d3c4b5a",
        da="2020-01-01", t="00:00:00", ts="2020-01-01T00:00:00Z", de="0.000",
        colour=next(iter(b.Colour)), money=b.Money(amount="0.00", currency=""),
    )  # fmt: skip
