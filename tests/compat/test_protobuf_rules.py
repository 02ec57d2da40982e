"""Protobuf rules through eventgen.compat: every rule's example pair, modes, errors."""

from __future__ import annotations

import pytest

from eventgen.compat import MODES, RULES, SchemaParseError, Versions, check
from eventgen.compat.protobuf import CODES, check_protobuf, parse_proto, rule_id
from eventgen.compat.protobuf.examples import EXAMPLES

HEAD = 'syntax = "proto3";\n\npackage demo;\n\n'
V1 = HEAD + "message Order {\n  string id = 1;\n  int32 quantity = 2;\n}\n"
V2_ADDED = (
    HEAD + "message Order {\n  string id = 1;\n  int32 quantity = 2;\n  string note = 3;\n}\n"
)
V3_DELETED = HEAD + "message Order {\n  string id = 1;\n  string note = 3;\n}\n"


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.code for e in EXAMPLES])
def test_example_produces_exactly_its_rule(example: object) -> None:
    code = example.code  # type: ignore[attr-defined]
    before, after = example.before, example.after  # type: ignore[attr-defined]
    issues = check_protobuf(parse_proto(before), parse_proto(after))
    assert [i.code for i in issues] == [code]
    assert issues[0].span is not None
    result = check("protobuf", before, after, "BACKWARD")
    assert [f.rule for f in result.findings] == [rule_id(code)]
    assert result.findings[0].code == code
    assert not result.compatible


def test_every_wire_json_rule_has_one_example_and_a_registry_entry() -> None:
    assert [e.code for e in EXAMPLES] == list(CODES)
    assert len(CODES) == 22
    registered = [r for r in RULES if r.formats == ("protobuf",)]
    assert [r.id for r in registered] == [rule_id(c) for c in CODES]
    assert [r.code for r in registered] == list(CODES)
    assert all(r.id.startswith("protobuf.") and r.purpose for r in registered)


@pytest.mark.parametrize("mode", [m for m in MODES if m != "NONE"])
def test_adding_a_field_passes_every_mode(mode: str) -> None:
    # Readers skip unknown fields: no mode reports an addition (no swapped direction).
    assert check("protobuf", V1, V2_ADDED, mode).compatible


@pytest.mark.parametrize("mode", [m for m in MODES if m != "NONE"])
def test_deleting_a_field_fails_every_mode(mode: str) -> None:
    result = check("protobuf", V2_ADDED, V3_DELETED, mode)
    assert sorted(f.rule for f in result.findings) == [
        "protobuf.field_no_delete_unless_name_reserved",
        "protobuf.field_no_delete_unless_number_reserved",
    ]
    direction = {"BACKWARD": "backward", "FORWARD": "forward", "FULL": "full"}
    assert {f.direction for f in result.findings} == {direction[mode.split("_")[0]]}
    assert all(f.path == "schema.proto:5:1" for f in result.findings)


def test_none_mode_checks_nothing_but_still_parses() -> None:
    assert check("protobuf", V2_ADDED, V3_DELETED, "NONE").compatible
    with pytest.raises(SchemaParseError):
        check("protobuf", V1, "message {", "NONE")


def test_transitive_modes_compare_every_version() -> None:
    # quantity (2) was deleted in version 2 already and the new schema equals version 2:
    # only the transitive mode still compares with version 1 and sees field 2 gone.
    v2 = v3 = V3_DELETED
    latest = check("protobuf", Versions([V2_ADDED, v2]), v3, "BACKWARD")
    assert latest.compatible
    transitive = check("protobuf", Versions([V2_ADDED, v2]), v3, "BACKWARD_TRANSITIVE")
    assert [f.version_index for f in transitive.findings] == [0, 0]


def test_parse_error_names_the_version_and_protoc_message() -> None:
    with pytest.raises(SchemaParseError) as info:
        check("protobuf", HEAD + "message Order {\n  strin id = 1;\n}\n", V1)
    assert info.value.version_index == 0
    assert "history index 0" in str(info.value)
    assert "schema.proto:6:" in str(info.value)


def test_multi_file_schemas_with_imports() -> None:
    common = HEAD.replace("demo", "common") + "message Money {\n  int64 units = 1;\n}\n"
    order = HEAD + 'import "common.proto";\n\nmessage Order {\n  common.Money total = 1;\n}\n'
    before = {"common.proto": common, "order.proto": order}
    after = {"common.proto": common.replace("int64 units", "string units"), "order.proto": order}
    result = check("protobuf", before, after)
    assert [(f.rule, f.path) for f in result.findings] == [
        ("protobuf.field_wire_json_compatible_type", "common.proto:6:3")
    ]


def test_well_known_types_resolve() -> None:
    ts = (
        HEAD
        + 'import "google/protobuf/timestamp.proto";\n\nmessage E {\n  google.protobuf.Timestamp at = 1;\n}\n'
    )
    assert check("protobuf", ts, ts).compatible


def test_docs_show_every_tested_example() -> None:
    from eventgen.compat.protobuf.docs import markdown

    text = markdown()
    for example in EXAMPLES:
        assert f"### `{rule_id(example.code)}`" in text
        assert "```proto\n" + example.before + "```" in text
        assert "```proto\n" + example.after + "```" in text
