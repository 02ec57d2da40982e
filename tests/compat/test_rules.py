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
        # Avro-Java checks reader-union branches from a fresh location and memoises that
        # result: the shared R1 pair, met again at /fields/1, reports the root-relative path.
        "avro-union-branch-check-paths-are-root-relative",
        "avro",
        rec(
            {"name": "u", "type": rec({"name": "a", "type": "int"}, name="R1")},
            {"name": "v", "type": "R1"},
        ),
        rec(
            {
                "name": "u",
                "type": [
                    "null",
                    rec({"name": "a", "type": "int"}, {"name": "b", "type": "int"}, name="R1"),
                ],
            },
            {"name": "v", "type": "R1"},
        ),
        "BACKWARD",
        "STRICT",
        [
            ("avro.union_branch_missing", "/fields/0/type", "backward"),
            ("avro.field_added_without_default", "/fields/1", "backward"),
        ],
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


# One BACKWARD/STRICT pair per JSON Schema keyword rule not covered above:
# (rule it is for, old, new, exact findings as (rule, path, direction)).
KEYWORD_CASES: list[tuple[str, Any, Any, list[tuple[str, str, str]]]] = [
    (
        "json.schema_added",
        {"type": "array"},
        {"type": "array", "items": {"type": "string"}},
        [("json.schema_added", "#/items", "backward")],
    ),
    (
        "json.max_length_added",
        {"type": "string"},
        {"type": "string", "maxLength": 5},
        [("json.max_length_added", "#/maxLength", "backward")],
    ),
    (
        "json.min_length_added",
        {"type": "string"},
        {"type": "string", "minLength": 2},
        [("json.min_length_added", "#/minLength", "backward")],
    ),
    (
        "json.min_length_increased",
        {"type": "string", "minLength": 1},
        {"type": "string", "minLength": 2},
        [("json.min_length_increased", "#/minLength", "backward")],
    ),
    (
        "json.pattern_added",
        {"type": "string"},
        {"type": "string", "pattern": "^a"},
        [("json.pattern_added", "#/pattern", "backward")],
    ),
    (
        "json.pattern_changed",
        {"type": "string", "pattern": "^a"},
        {"type": "string", "pattern": "^b"},
        [("json.pattern_changed", "#/pattern", "backward")],
    ),
    (
        "json.maximum_added",
        {"type": "number"},
        {"type": "number", "maximum": 10},
        [("json.maximum_added", "#/maximum", "backward")],
    ),
    (
        "json.maximum_decreased",
        {"type": "number", "maximum": 10},
        {"type": "number", "maximum": 5},
        [("json.maximum_decreased", "#/maximum", "backward")],
    ),
    (
        "json.minimum_added",
        {"type": "number"},
        {"type": "number", "minimum": 0},
        [("json.minimum_added", "#/minimum", "backward")],
    ),
    (
        "json.minimum_increased",
        {"type": "number", "minimum": 0},
        {"type": "number", "minimum": 1},
        [("json.minimum_increased", "#/minimum", "backward")],
    ),
    (
        "json.exclusive_maximum_added",
        {"type": "number"},
        {"type": "number", "exclusiveMaximum": 10},
        [("json.exclusive_maximum_added", "#/exclusiveMaximum", "backward")],
    ),
    (
        "json.exclusive_maximum_decreased",
        {"type": "number", "exclusiveMaximum": 10},
        {"type": "number", "exclusiveMaximum": 5},
        [("json.exclusive_maximum_decreased", "#/exclusiveMaximum", "backward")],
    ),
    (
        "json.exclusive_minimum_added",
        {"type": "number"},
        {"type": "number", "exclusiveMinimum": 0},
        [("json.exclusive_minimum_added", "#/exclusiveMinimum", "backward")],
    ),
    (
        "json.exclusive_minimum_increased",
        {"type": "number", "exclusiveMinimum": 0},
        {"type": "number", "exclusiveMinimum": 1},
        [("json.exclusive_minimum_increased", "#/exclusiveMinimum", "backward")],
    ),
    (
        "json.multiple_of_added",
        {"type": "number"},
        {"type": "number", "multipleOf": 2},
        [("json.multiple_of_added", "#/multipleOf", "backward")],
    ),
    (
        "json.multiple_of_expanded",
        {"type": "number", "multipleOf": 2},
        {"type": "number", "multipleOf": 4},
        [("json.multiple_of_expanded", "#/multipleOf", "backward")],
    ),
    (
        "json.multiple_of_changed",
        {"type": "number", "multipleOf": 2},
        {"type": "number", "multipleOf": 3},
        [("json.multiple_of_changed", "#/multipleOf", "backward")],
    ),
    (
        "json.max_properties_added",
        {"type": "object"},
        {"type": "object", "maxProperties": 3},
        [("json.max_properties_added", "#/maxProperties", "backward")],
    ),
    (
        "json.max_properties_decreased",
        {"type": "object", "maxProperties": 3},
        {"type": "object", "maxProperties": 2},
        [("json.max_properties_decreased", "#/maxProperties", "backward")],
    ),
    (
        "json.min_properties_added",
        {"type": "object"},
        {"type": "object", "minProperties": 1},
        [("json.min_properties_added", "#/minProperties", "backward")],
    ),
    (
        "json.min_properties_increased",
        {"type": "object", "minProperties": 1},
        {"type": "object", "minProperties": 2},
        [("json.min_properties_increased", "#/minProperties", "backward")],
    ),
    (
        "json.additional_properties_narrowed",
        {"type": "object"},
        {"type": "object", "additionalProperties": {"type": "string"}},
        [("json.additional_properties_narrowed", "#/additionalProperties", "backward")],
    ),
    (
        "json.unevaluated_properties_removed",
        {"type": "object"},
        {"type": "object", "unevaluatedProperties": False},
        [("json.unevaluated_properties_removed", "#/unevaluatedProperties", "backward")],
    ),
    (
        "json.unevaluated_properties_narrowed",
        {"type": "object"},
        {"type": "object", "unevaluatedProperties": {"type": "string"}},
        [("json.unevaluated_properties_narrowed", "#/unevaluatedProperties", "backward")],
    ),
    (
        "json.dependency_array_added",
        {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}}},
        {
            "type": "object",
            "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
            "dependencies": {"a": ["b"]},
        },
        [("json.dependency_array_added", "#/dependencies/a", "backward")],
    ),
    (
        "json.dependency_array_extended",
        {
            "type": "object",
            "properties": {
                "a": {"type": "string"},
                "b": {"type": "string"},
                "c": {"type": "string"},
            },
            "dependencies": {"a": ["b"]},
        },
        {
            "type": "object",
            "properties": {
                "a": {"type": "string"},
                "b": {"type": "string"},
                "c": {"type": "string"},
            },
            "dependencies": {"a": ["b", "c"]},
        },
        [("json.dependency_array_extended", "#/dependencies/a", "backward")],
    ),
    (
        "json.dependency_array_changed",
        {
            "type": "object",
            "properties": {
                "a": {"type": "string"},
                "b": {"type": "string"},
                "c": {"type": "string"},
            },
            "dependencies": {"a": ["b"]},
        },
        {
            "type": "object",
            "properties": {
                "a": {"type": "string"},
                "b": {"type": "string"},
                "c": {"type": "string"},
            },
            "dependencies": {"a": ["c"]},
        },
        [("json.dependency_array_changed", "#/dependencies/a", "backward")],
    ),
    (
        "json.dependency_schema_added",
        {"type": "object", "properties": {"a": {"type": "string"}}},
        {
            "type": "object",
            "properties": {"a": {"type": "string"}},
            "dependencies": {"a": {"required": ["b"]}},
        },
        [("json.dependency_schema_added", "#/dependencies/a", "backward")],
    ),
    (
        "json.required_property_added_to_open_content_model",
        {"type": "object", "properties": {}},
        {"type": "object", "properties": {"b": {"type": "string"}}, "required": ["b"]},
        [("json.required_property_added_to_open_content_model", "#/properties/b", "backward")],
    ),
    (
        "json.required_property_with_default_added_to_open_content_model",
        {"type": "object", "properties": {}},
        {
            "type": "object",
            "properties": {"b": {"type": "string", "default": "x"}},
            "required": ["b"],
        },
        [
            (
                "json.required_property_with_default_added_to_open_content_model",
                "#/properties/b",
                "backward",
            )
        ],
    ),
    (
        "json.required_property_added_to_unopen_content_model",
        {"type": "object", "properties": {}, "additionalProperties": False},
        {
            "type": "object",
            "properties": {"b": {"type": "string"}},
            "required": ["b"],
            "additionalProperties": False,
        },
        [("json.required_property_added_to_unopen_content_model", "#/properties/b", "backward")],
    ),
    (
        "json.property_removed_not_covered_by_partially_open_content_model",
        {
            "type": "object",
            "properties": {"a": {"type": "string"}},
            "additionalProperties": {"type": "integer"},
        },
        {"type": "object", "properties": {}, "additionalProperties": {"type": "integer"}},
        [
            ("json.type_changed", "#/properties/a", "backward"),
            (
                "json.property_removed_not_covered_by_partially_open_content_model",
                "#/properties/a",
                "backward",
            ),
        ],
    ),
    (
        "json.property_added_not_covered_by_partially_open_content_model",
        {"type": "object", "properties": {}, "additionalProperties": {"type": "integer"}},
        {
            "type": "object",
            "properties": {"b": {"type": "string"}},
            "additionalProperties": {"type": "integer"},
        },
        [
            ("json.type_changed", "#/properties/b", "backward"),
            (
                "json.property_added_not_covered_by_partially_open_content_model",
                "#/properties/b",
                "backward",
            ),
        ],
    ),
    (
        "json.max_items_added",
        {"type": "array", "items": {"type": "string"}},
        {"type": "array", "items": {"type": "string"}, "maxItems": 3},
        [("json.max_items_added", "#/maxItems", "backward")],
    ),
    (
        "json.max_items_decreased",
        {"type": "array", "items": {"type": "string"}, "maxItems": 3},
        {"type": "array", "items": {"type": "string"}, "maxItems": 2},
        [("json.max_items_decreased", "#/maxItems", "backward")],
    ),
    (
        "json.min_items_added",
        {"type": "array", "items": {"type": "string"}},
        {"type": "array", "items": {"type": "string"}, "minItems": 1},
        [("json.min_items_added", "#/minItems", "backward")],
    ),
    (
        "json.min_items_increased",
        {"type": "array", "items": {"type": "string"}, "minItems": 1},
        {"type": "array", "items": {"type": "string"}, "minItems": 2},
        [("json.min_items_increased", "#/minItems", "backward")],
    ),
    (
        "json.max_contains_added",
        {"type": "array", "contains": {"type": "string"}},
        {"type": "array", "contains": {"type": "string"}, "maxContains": 3},
        [("json.max_contains_added", "#/maxContains", "backward")],
    ),
    (
        "json.max_contains_decreased",
        {"type": "array", "contains": {"type": "string"}, "maxContains": 3},
        {"type": "array", "contains": {"type": "string"}, "maxContains": 2},
        [("json.max_contains_decreased", "#/maxContains", "backward")],
    ),
    (
        "json.min_contains_added",
        {"type": "array", "contains": {"type": "string"}},
        {"type": "array", "contains": {"type": "string"}, "minContains": 2},
        [("json.min_contains_added", "#/minContains", "backward")],
    ),
    (
        "json.min_contains_increased",
        {"type": "array", "contains": {"type": "string"}, "minContains": 1},
        {"type": "array", "contains": {"type": "string"}, "minContains": 2},
        [("json.min_contains_increased", "#/minContains", "backward")],
    ),
    (
        "json.unique_items_added",
        {"type": "array", "items": {"type": "string"}},
        {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        [("json.unique_items_added", "#/uniqueItems", "backward")],
    ),
    (
        "json.additional_items_removed",
        {"type": "array", "items": [{"type": "string"}]},
        {"type": "array", "items": [{"type": "string"}], "additionalItems": False},
        [("json.additional_items_removed", "#/additionalItems", "backward")],
    ),
    (
        "json.additional_items_narrowed",
        {"type": "array", "items": [{"type": "string"}]},
        {"type": "array", "items": [{"type": "string"}], "additionalItems": {"type": "string"}},
        [("json.additional_items_narrowed", "#/additionalItems", "backward")],
    ),
    (
        "json.item_added_to_open_content_model",
        {"type": "array", "items": [{"type": "string"}]},
        {"type": "array", "items": [{"type": "string"}, {"type": "integer"}]},
        [("json.item_added_to_open_content_model", "#/items/1", "backward")],
    ),
    (
        "json.item_removed_from_closed_content_model",
        {
            "type": "array",
            "items": [{"type": "string"}, {"type": "integer"}],
            "additionalItems": False,
        },
        {"type": "array", "items": [{"type": "string"}], "additionalItems": False},
        [("json.item_removed_from_closed_content_model", "#/items/1", "backward")],
    ),
    (
        "json.item_removed_not_covered_by_partially_open_content_model",
        {
            "type": "array",
            "items": [{"type": "string"}, {"type": "integer"}],
            "additionalItems": {"type": "string"},
        },
        {"type": "array", "items": [{"type": "string"}], "additionalItems": {"type": "string"}},
        [
            ("json.type_changed", "#/items/1", "backward"),
            (
                "json.item_removed_not_covered_by_partially_open_content_model",
                "#/items/1",
                "backward",
            ),
        ],
    ),
    (
        "json.item_added_not_covered_by_partially_open_content_model",
        {"type": "array", "items": [{"type": "string"}], "additionalItems": {"type": "integer"}},
        {
            "type": "array",
            "items": [{"type": "string"}, {"type": "string"}],
            "additionalItems": {"type": "integer"},
        },
        [
            ("json.type_changed", "#/items/1", "backward"),
            (
                "json.item_added_not_covered_by_partially_open_content_model",
                "#/items/1",
                "backward",
            ),
        ],
    ),
    (
        "json.enum_array_changed",
        {"enum": ["a", "b"]},
        {"enum": ["a", "c"]},
        [("json.enum_array_changed", "#/enum", "backward")],
    ),
    (
        "json.combined_type_changed",
        {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        {"allOf": [{"type": "string"}, {"type": "integer"}]},
        [("json.combined_type_changed", "#/", "backward")],
    ),
    (
        "json.product_type_extended",
        {"allOf": [{"type": "string"}]},
        {"allOf": [{"type": "string"}, {"maxLength": 3}]},
        [("json.product_type_extended", "#/", "backward")],
    ),
    (
        "json.combined_type_subschemas_changed",
        {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        {"oneOf": [{"type": "boolean"}, {"type": "null"}]},
        [("json.combined_type_subschemas_changed", "#/", "backward")],
    ),
    (
        "json.not_type_extended",
        {"not": {"type": "string"}},
        {"not": {"type": ["string", "integer"]}},
        [("json.not_type_extended", "#/not", "backward")],
    ),
]
CASES += [
    (rule.replace(".", "-").replace("_", "-"), "json", old, new, "BACKWARD", "STRICT", expected)
    for rule, old, new, expected in KEYWORD_CASES
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


def test_every_rule_has_a_fixture_with_exact_findings() -> None:
    """Enumerates the registry: a rule no fixture produces is a rule nothing tests."""
    produced = {rule for case in CASES for rule, _, _ in case[6]}
    # Protobuf rules have their fixtures in test_protobuf_rules.py (one example pair each).
    missing = [r.id for r in RULES if r.id not in produced and r.formats != ("protobuf",)]
    assert missing == [], f"rules without a fixture pair: {missing}"
    unknown = sorted(produced - {r.id for r in RULES})
    assert unknown == [], f"fixtures cite rules the registry lacks: {unknown}"
