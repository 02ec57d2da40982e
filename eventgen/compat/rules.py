"""The registry of compatibility rules that findings refer to."""

from __future__ import annotations

from dataclasses import dataclass

from eventgen.compat.jsonschema.types import BREAKING_TYPES, COMPATIBLE_LENIENT
from eventgen.compat.protobuf.rules import WIRE_JSON
from eventgen.compat.protobuf.rules import rule_id as protobuf_rule_id


@dataclass(frozen=True)
class Rule:
    """A stable rule id, what it protects against and the formats it applies to."""

    id: str
    purpose: str
    formats: tuple[str, ...]
    # Name used by the reference implementation (Avro-Java / Confluent Difference.Type).
    code: str = ""
    # True when Confluent's LENIENT policy lets the change through (JSON Schema only).
    lenient_ok: bool = False


_AVRO: tuple[tuple[str, str, str], ...] = (
    (
        "avro.field_added_without_default",
        "READER_FIELD_MISSING_DEFAULT_VALUE",
        "A reader field that the writer lacks needs a default, or old records cannot be read.",
    ),
    (
        "avro.type_mismatch",
        "TYPE_MISMATCH",
        (
            "Writer and reader types must be equal or a permitted promotion "
            "(int->long/float/double, long->float/double, float->double, string<->bytes)."
        ),
    ),
    (
        "avro.name_mismatch",
        "NAME_MISMATCH",
        (
            "Records, enums and fixed types must keep their name unless the reader lists "
            "the writer's full name as an alias."
        ),
    ),
    (
        "avro.fixed_size_mismatch",
        "FIXED_SIZE_MISMATCH",
        "A fixed type must keep its size.",
    ),
    (
        "avro.enum_symbols_missing",
        "MISSING_ENUM_SYMBOLS",
        "Every writer enum symbol must exist in the reader, unless the reader enum has a default.",
    ),
    (
        "avro.union_branch_missing",
        "MISSING_UNION_BRANCH",
        "Every type the writer may write (each union branch) needs a matching reader branch.",
    ),
    (
        "avro.field_alias_ambiguous",
        "AMBIGUOUS_FIELD_ALIAS",
        (
            "A reader field whose name and aliases match several writer fields cannot be "
            "resolved (Avro-Java throws)."
        ),
    ),
)

_JSON_WORDS = {
    "ADDED": "was added",
    "REMOVED": "was removed",
    "INCREASED": "was increased",
    "DECREASED": "was decreased",
    "NARROWED": "was narrowed",
    "EXTENDED": "was extended",
    "CHANGED": "was changed",
    "EXPANDED": "was expanded",
}


def _json_purpose(code: str) -> str:
    """Explain a breaking Confluent difference type in one sentence."""
    special = {
        "TYPE_CHANGED": "The type of a schema must not change (an empty schema may replace any).",
        "TYPE_NARROWED": "A number may not be narrowed to an integer.",
        "SCHEMA_ADDED": "Constraining a previously unconstrained place (e.g. adding items) "
        "rejects old data.",
        "COMBINED_TYPE_SUBSCHEMAS_CHANGED": "Each old oneOf/anyOf/allOf branch needs a "
        "compatible new branch.",
        "OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL": "An open model may already carry the "
        "new property with any value, so constraining it may reject old data.",
        "REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL": "A new required property without "
        "default is missing from old data.",
        "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_OPEN_CONTENT_MODEL": "An open model may carry "
        "the new property with any value, even though it has a default.",
        "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL": "A new required property without "
        "default is missing from old data.",
        "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL": "A closed reader rejects a property old "
        "writers still send.",
        "ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL": "A closed tuple rejects items old writers "
        "still send.",
        "ITEM_ADDED_TO_OPEN_CONTENT_MODEL": "An open tuple may already hold any value at the "
        "new position.",
    }
    if code in special:
        return special[code]
    for suffix, words in _JSON_WORDS.items():
        if code.endswith("_" + suffix):
            subject = code[: -len(suffix) - 1].lower().replace("_", " ")
            return f"Breaks when the {subject} {words}: the new schema accepts fewer documents."
    subject = code.lower().replace("_", " ")
    return f"Breaks on '{subject}': old documents may fail the new schema."


def json_rule_id(code: str) -> str:
    """Rule id for a Confluent difference type."""
    return "json." + code.lower()


def avro_rule_id(code: str) -> str:
    """Rule id for an Avro-Java incompatibility type."""
    return _AVRO_IDS[code]


_AVRO_IDS = {code: rid for rid, code, _ in _AVRO}

RULES: tuple[Rule, ...] = (
    tuple(Rule(rid, purpose, ("avro",), code) for rid, code, purpose in _AVRO)
    + tuple(
        Rule(json_rule_id(code), _json_purpose(code), ("json",), code, code in COMPATIBLE_LENIENT)
        for code in BREAKING_TYPES
    )
    + tuple(
        # buf's WIRE_JSON breaking rules; `code` is buf's rule id.
        Rule(protobuf_rule_id(code), purpose, ("protobuf",), code)
        for code, purpose, _ in WIRE_JSON
    )
)
"""Every rule a finding can cite, Avro first, protobuf last; listable by `eventgen rules`."""

RULES_BY_ID: dict[str, Rule] = {r.id: r for r in RULES}
