"""API behaviour: history disambiguation, modes, parse errors, result types."""

from __future__ import annotations

import dataclasses

import pytest

from eventgen.compat import CompatResult, SchemaParseError, Versions, check

S1 = {"type": "record", "name": "R", "fields": [{"name": "f1", "type": "string"}]}
S2 = {
    "type": "record",
    "name": "R",
    "fields": [{"name": "f1", "type": "string"}, {"name": "f2", "type": "string", "default": "x"}],
}
S3 = {
    "type": "record",
    "name": "R",
    "fields": [{"name": "f1", "type": "string"}, {"name": "f2", "type": "string"}],
}


def test_plain_list_is_a_history_and_non_transitive_checks_only_the_last() -> None:
    assert check("avro", [S1, S2], S3, "BACKWARD").compatible
    result = check("avro", [S1, S2], S3, "BACKWARD_TRANSITIVE")
    assert not result.compatible
    assert [f.version_index for f in result.findings] == [0]


def test_history_keyword_and_versions_wrapper_are_equivalent() -> None:
    a = check("avro", None, S3, "BACKWARD_TRANSITIVE", history=[S1, S2])
    b = check("avro", Versions([S1, S2]), S3, "BACKWARD_TRANSITIVE")
    assert a == b


def test_union_as_single_previous_version_needs_wrapping() -> None:
    with pytest.raises(TypeError):
        check("avro", ["null", "string"], ["null", "string", "int"], "BACKWARD")
    ok = check("avro", Versions([["null", "string"]]), ["null", "string", "int"], "BACKWARD")
    assert ok.compatible
    assert not check("avro", Versions([["null", "string"]]), ["null"], "BACKWARD").compatible


def test_single_schema_previous_and_bare_primitive() -> None:
    assert check("avro", "int", "long", "BACKWARD").compatible
    assert not check("avro", "int", "long", "FORWARD").compatible


def test_none_mode_and_empty_history_are_compatible() -> None:
    assert check("avro", [S1], S3, "NONE").compatible
    assert check("avro", [], S3, "FULL_TRANSITIVE").compatible


@pytest.mark.parametrize(
    "fmt,bad",
    [
        ("avro", {"type": "record", "name": "R"}),
        ("avro", "NoSuchType"),
        ("avro", {"type": "enum", "name": "E", "symbols": ["A", "A"]}),
        ("avro", ["int", "int"]),
        ("json", "{not json"),
        ("json", {"$ref": "#/definitions/missing"}),
        ("json", {"type": "strnig"}),
    ],
)
def test_unparseable_schema_raises_typed_error(fmt: str, bad: object) -> None:
    good = "int" if fmt == "avro" else {"type": "string"}
    with pytest.raises(SchemaParseError):
        check(fmt, Versions([good]), bad, "BACKWARD")
    with pytest.raises(SchemaParseError) as info:
        check(fmt, Versions([bad]), good, "BACKWARD")
    assert info.value.version_index == 0


def test_result_is_frozen_and_json_able() -> None:
    import json

    result = check("json", [{"type": "string"}], {"type": "number"}, "FULL")
    assert isinstance(result, CompatResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.compatible = True  # type: ignore[misc]
    json.dumps([dataclasses.asdict(f) for f in result.findings])
    assert {f.direction for f in result.findings} == {"backward", "forward"}


def test_recursive_avro_schema_terminates() -> None:
    node = {
        "type": "record",
        "name": "Node",
        "fields": [{"name": "next", "type": ["null", "Node"]}, {"name": "v", "type": "int"}],
    }
    wider = {
        "type": "record",
        "name": "Node",
        "fields": [{"name": "next", "type": ["null", "Node"]}, {"name": "v", "type": "long"}],
    }
    assert check("avro", node, wider, "BACKWARD").compatible
    assert not check("avro", node, wider, "FORWARD").compatible
