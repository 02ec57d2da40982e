"""One fixture pair per rule, with the exact findings (rule id, path) expected."""

from __future__ import annotations

from typing import Any

import pytest

from eventgen.compat import RULES, check


def rec(*fields: dict[str, Any], name: str = "R", **extra: Any) -> dict[str, Any]:
    return {"type": "record", "name": name, "fields": list(fields), **extra}


def enum(symbols: list[str], name: str = "E", **extra: Any) -> dict[str, Any]:
    return {"type": "enum", "name": name, "symbols": symbols, **extra}


# (id, format, old, new, mode, policy, expected findings as (rule, path, direction))
CASES: list[tuple[str, str, Any, Any, str, str, list[tuple[str, str, str]]]] = [
    (
        "avro-field-added-without-default",
        "avro",
        rec({"name": "a", "type": "int"}),
        rec({"name": "a", "type": "int"}, {"name": "total", "type": "double"}),
        "BACKWARD",
        "STRICT",
        [("avro.field_added_without_default", "/fields/1", "backward")],
    ),
    (
        "avro-type-mismatch-forward",
        "avro",
        rec({"name": "a", "type": "int"}),
        rec({"name": "a", "type": "long"}),
        "FULL",
        "STRICT",
        [("avro.type_mismatch", "/fields/0/type", "forward")],
    ),
    (
        "avro-name-mismatch",
        "avro",
        enum(["A"], name="Old"),
        enum(["A"], name="New"),
        "BACKWARD",
        "STRICT",
        [("avro.name_mismatch", "/name", "backward")],
    ),
    (
        "avro-fixed-size",
        "avro",
        {"type": "fixed", "name": "F", "size": 4},
        {"type": "fixed", "name": "F", "size": 8},
        "BACKWARD",
        "STRICT",
        [("avro.fixed_size_mismatch", "/size", "backward")],
    ),
    (
        "avro-enum-symbol-removed",
        "avro",
        rec({"name": "e", "type": enum(["A", "B", "C"])}),
        rec({"name": "e", "type": enum(["A", "B"])}),
        "BACKWARD",
        "STRICT",
        [("avro.enum_symbols_missing", "/fields/0/type/symbols", "backward")],
    ),
    (
        "avro-union-branch-removed",
        "avro",
        rec({"name": "u", "type": ["null", "string", "int"]}),
        rec({"name": "u", "type": ["null", "string"]}),
        "BACKWARD",
        "STRICT",
        [("avro.union_branch_missing", "/fields/0/type/2", "backward")],
    ),
    (
        "avro-crossed-aliases",
        "avro",
        rec({"name": "x", "type": "int"}, {"name": "y", "type": "int"}),
        rec({"name": "x", "aliases": ["y"], "type": "int"}),
        "BACKWARD",
        "STRICT",
        [("avro.field_alias_ambiguous", "/fields/0", "backward")],
    ),
    (
        # Avro-Java throws on the ambiguous branch before it reaches the alias branch S, so
        # the registry refuses; a branch search that skips it would answer "compatible".
        "avro-ambiguous-alias-in-reader-union-branch",
        "avro",
        rec({"name": "a", "type": "int"}, {"name": "b", "type": "int"}),
        ["null", rec({"name": "a", "aliases": ["b"], "type": "int"}), rec(name="S", aliases=["R"])],
        "BACKWARD",
        "STRICT",
        [("avro.field_alias_ambiguous", "/fields/0", "backward")],
    ),
    (
        # The ambiguity ends the check: the other field's type mismatch is not reported.
        "avro-ambiguous-alias-stops-the-check",
        "avro",
        rec(
            {"name": "a", "type": "int"},
            {"name": "b", "type": "int"},
            {"name": "c", "type": "long"},
        ),
        rec({"name": "c", "type": "int"}, {"name": "a", "aliases": ["b"], "type": "int"}),
        "BACKWARD",
        "STRICT",
        [("avro.field_alias_ambiguous", "/fields/1", "backward")],
    ),
    (
        # An alias equal to the field's own name is a second match in Avro-Java (it throws).
        "avro-alias-equal-to-own-name",
        "avro",
        rec({"name": "value", "type": "int"}),
        rec({"name": "value", "aliases": ["value"], "type": "int"}),
        "BACKWARD",
        "STRICT",
        [("avro.field_alias_ambiguous", "/fields/0", "backward")],
    ),
    (
        # Avro-Java keeps aliases in a set: one alias listed twice is one match, not ambiguous.
        "avro-alias-listed-twice",
        "avro",
        rec({"name": "value", "type": "int"}),
        rec({"name": "amount", "aliases": ["value", "value"], "type": "long"}),
        "BACKWARD",
        "STRICT",
        [],
    ),
    (
        # Same, with a real incompatibility behind the alias: found, not masked as ambiguous.
        "avro-alias-listed-twice-type-mismatch",
        "avro",
        rec({"name": "value", "type": "long"}),
        rec({"name": "amount", "aliases": ["value", "value"], "type": "int"}),
        "BACKWARD",
        "STRICT",
        [("avro.type_mismatch", "/fields/0/type", "backward")],
    ),
    (
        "json-optional-added-open",
        "json",
        {"type": "object", "properties": {"a": {"type": "string"}}},
        {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}},
        "BACKWARD",
        "STRICT",
        [("json.optional_property_added_to_open_content_model", "#/properties/b", "backward")],
    ),
    (
        "json-removed-from-closed",
        "json",
        {"properties": {"a": {}, "b": {}}, "additionalProperties": False},
        {"properties": {"a": {}}, "additionalProperties": False},
        "BACKWARD",
        "STRICT",
        [("json.property_removed_from_closed_content_model", "#/properties/b", "backward")],
    ),
    (
        "json-required-added",
        "json",
        {"properties": {"a": {"type": "string"}}, "additionalProperties": False},
        {
            "properties": {"a": {"type": "string"}},
            "required": ["a"],
            "additionalProperties": False,
        },
        "BACKWARD",
        "STRICT",
        [("json.required_attribute_added", "#/required/a", "backward")],
    ),
    (
        "json-type-changed",
        "json",
        {"type": "string"},
        {"type": "number"},
        "BACKWARD",
        "STRICT",
        [("json.type_changed", "#/", "backward")],
    ),
    (
        "json-type-narrowed",
        "json",
        {"type": "number"},
        {"type": "integer"},
        "BACKWARD",
        "STRICT",
        [("json.type_narrowed", "#/", "backward")],
    ),
    (
        "json-max-length-decreased",
        "json",
        {"type": "string", "maxLength": 10},
        {"type": "string", "maxLength": 5},
        "BACKWARD",
        "STRICT",
        [("json.max_length_decreased", "#/maxLength", "backward")],
    ),
    (
        "json-enum-narrowed",
        "json",
        {"enum": ["a", "b"]},
        {"enum": ["a"]},
        "BACKWARD",
        "STRICT",
        [("json.enum_array_narrowed", "#/enum", "backward")],
    ),
    (
        "json-additional-properties-removed",
        "json",
        {"type": "object"},
        {"type": "object", "additionalProperties": False},
        "BACKWARD",
        "STRICT",
        [("json.additional_properties_removed", "#/additionalProperties", "backward")],
    ),
    (
        "json-sum-narrowed",
        "json",
        {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        {"oneOf": [{"type": "string"}]},
        "BACKWARD",
        "STRICT",
        [("json.sum_type_narrowed", "#/", "backward")],
    ),
    (
        "json-lenient-allows-open-addition",
        "json",
        {"type": "object", "properties": {"a": {"type": "string"}}},
        {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}},
        "BACKWARD",
        "LENIENT",
        [],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_rule_fixture(case: tuple[Any, ...]) -> None:
    _, fmt, old, new, mode, policy, expected = case
    result = check(fmt, [old], new, mode, policy=policy)
    got = sorted((f.rule, f.path, f.direction) for f in result.findings)
    assert got == sorted(expected)
    assert result.compatible is (not expected)
    rule_ids = {r.id for r in RULES}
    for f in result.findings:
        assert f.rule in rule_ids
        assert f.version_index == 0
        assert "cannot read records written with" in f.message


def test_rules_registry_is_unique_and_described() -> None:
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))
    assert all(r.purpose and r.formats for r in RULES)
