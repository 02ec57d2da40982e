"""Every diagnostic code with its one-line purpose; importing this registers the checks."""

from __future__ import annotations

from eventgen.kafka.validate import CONFIG_RULES
from eventgen.rules.registry import describe

_CODES = [
    # load: reading YAML
    ("E0101", "error", "load", "spec file is not valid UTF-8"),
    ("E0102", "error", "load", "malformed YAML (syntax, tabs, several documents)"),
    ("E0103", "error", "load", "duplicate mapping key"),
    ("E0104", "error", "load", "mapping key is not a plain string, or a bad merge key"),
    ("E0105", "error", "load", "YAML alias expansion too large (alias bomb) or recursive"),
    ("E0106", "error", "load", "custom YAML tag"),
    ("E0107", "error", "load", "empty spec file"),
    ("E0108", "error", "load", "spec file is a list or a scalar, not a mapping"),
    ("E0109", "error", "load", "spec file too large"),
    ("E0110", "error", "load", "YAML nested too deeply"),
    ("E0111", "error", "structure", "unsupported `eventgen:` language version"),
    ("E0112", "error", "load", "no project file eventgen.yaml"),
    ("E0114", "error", "load", "unknown environment, or override of an unknown context"),
    (
        "E0120",
        "error",
        "load",
        "output file exists but was not made by eventgen (never overwritten)",
    ),
    # structure: the published JSON Schema
    ("E0201", "error", "structure", "unknown key (with a did-you-mean hint)"),
    ("E0202", "error", "structure", "missing required key"),
    ("E0203", "error", "structure", "value of the wrong type"),
    ("E0204", "error", "structure", "value not among the allowed choices"),
    ("E0205", "error", "structure", "value not in the expected form (durations, sizes, handlers)"),
    ("E0206", "error", "structure", "value out of range or malformed container"),
    # resolve: references
    ("E0301", "error", "resolve", "unknown type"),
    ("E0302", "error", "resolve", "unknown topic"),
    ("E0303", "error", "resolve", "unknown message (event, command or query)"),
    ("E0304", "error", "resolve", "unknown service (context) in a choreography"),
    ("E0305", "error", "rule", "unknown aggregate or projection reference"),
    ("E0310", "error", "resolve", "type expression does not parse"),
    ("E0311", "error", "resolve", "apply/row rule without an operation"),
    # names
    ("E0401", "error", "resolve", "context name is not lower_snake or kebab-case"),
    ("E0402", "error", "resolve", "item defined twice across files"),
    ("E0403", "error", "resolve", "two items of a context would become the same class"),
    ("E0404", "error", "rule", "message, type or item name has the wrong form"),
    ("E0405", "error", "rule", "field name is not snake_case"),
    ("E0406", "error", "rule", "two field names map to the same Python attribute"),
    (
        "W0407",
        "warning",
        "rule",
        "field name is Python-reserved; the attribute gets a trailing `_`",
    ),
    ("E0408", "error", "rule", "package name is not a valid Python module name"),
    # types and values
    ("W0501", "warning", "resolve", "decimal without precision/scale uses decimal(38,9)"),
    ("E0502", "error", "resolve", "precision/scale on a non-decimal type"),
    ("E0503", "error", "resolve", "decimal precision/scale out of range"),
    ("E0504", "error", "resolve", "default does not fit its type or constraints"),
    ("E0505", "error", "rule", "enum symbol is not a valid Avro name, or repeated"),
    ("E0506", "error", "rule", "enum default is not one of its symbols"),
    ("E0507", "error", "rule", "recursive type (not supported by all three schema formats)"),
    ("E0508", "error", "resolve", "constraint pattern is not a valid regular expression"),
    ("E0509", "error", "rule", "constraint does not apply to the field's type, or min > max"),
    ("E0510", "error", "resolve", "duration does not parse or overflows"),
    ("E0511", "error", "resolve", "size does not parse or overflows"),
    ("E0512", "error", "rule", "two enum symbols become the same Python member"),
    ("E0513", "error", "rule", "two contexts use each other's types (import cycle)"),
    # topics and keys
    ("E0601", "error", "rule", "partition key is not a field path of the message"),
    ("E0602", "error", "rule", "partition key field has a type that cannot be a key"),
    ("E0603", "error", "rule", "message on a topic states no partition key"),
    ("E0604", "error", "rule", "illegal Kafka topic name"),
    ("E0605", "error", "rule", "topic name reserved for Kafka's internal topics"),
    ("E0606", "error", "rule", "topic names collide when `.` and `_` are treated alike"),
    ("E0607", "error", "rule", "min_insync_replicas exceeds replication_factor"),
    (
        "W0608",
        "warning",
        "rule",
        "min_insync_replicas equals replication_factor (one broker down blocks writes)",
    ),
    ("E0609", "error", "rule", "key field type differs from the topic's key type"),
    ("E0610", "error", "rule", "messages on one topic use different key paths or types"),
    # versions
    ("E0701", "error", "resolve", "upcaster chain has a gap before the current version"),
    ("E0702", "error", "resolve", "two upcasters from the same version"),
    ("E0703", "error", "resolve", "upcaster from a version at or above the current one"),
    ("E0704", "error", "resolve", "upcaster op names a field that does not exist"),
    ("E0705", "error", "rule", "example names a version the message does not have"),
    (
        "W0706",
        "warning",
        "rule",
        "older version's schema cannot be reconstructed (untyped remove/handler)",
    ),
    # behaviour: consumers, aggregates, projections, sagas, choreographies
    (
        "E0801",
        "error",
        "rule",
        "assignment target is not a field of the state, row, data or payload",
    ),
    ("E0802", "error", "rule", "path expression names a field that does not exist"),
    ("E0803", "error", "rule", "aggregate guard does not parse or names unknown state"),
    ("E0804", "error", "rule", "projection cannot find the row key for a message"),
    ("E0805", "error", "rule", "saga step names are not unique"),
    ("E0806", "error", "rule", "saga correlation or save target is not in `data`"),
    (
        "E0807",
        "error",
        "rule",
        "compensation reads saga data that may be unset and is not nullable",
    ),
    ("E0808", "error", "rule", "saga send step without a timeout"),
    ("E0809", "error", "rule", "step after the pivot declares a compensation"),
    ("E0810", "error", "rule", "more than one pivot step"),
    ("E0811", "error", "rule", "choreography trigger that nobody emits"),
    ("E0812", "error", "rule", "choreography path that ends without an outcome"),
    ("E0813", "error", "rule", "choreography has a cycle"),
    ("E0814", "error", "rule", "consumer handles a message that is on none of its topics"),
    ("E0815", "error", "rule", "aggregate or projection key/id field missing"),
    # lint
    ("W0901", "warning", "rule", "event name does not read as a past-tense fact"),
    ("W0902", "warning", "rule", "command name does not read as an imperative"),
]

for _code, _severity, _phase, _purpose in _CODES:
    describe(_code, _severity, _purpose, _phase)

from eventgen.rules import (  # noqa: F401  (importing registers the checks)
    checks_flows,
    checks_names,
    checks_sagas,
    checks_topics,
)

# Kafka topic-config codes live beside their definitions table.
for _code, _severity, _purpose in CONFIG_RULES:
    describe(_code, _severity, _purpose, "kafka")
