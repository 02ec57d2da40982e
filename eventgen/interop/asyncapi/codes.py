"""Diagnostic codes of `eventgen import asyncapi` (E0951-E0967), listed by `eventgen rules`.

They are reported by the importer itself (phase "load": the AsyncAPI document is read, not a
spec), never by a check over the IR, so no rule has a check function.
"""

from __future__ import annotations

from eventgen.rules.registry import Rule, declare

READ = "E0951"
VERSION = "E0952"
INVALID = "E0953"
REMOTE_REF = "E0954"
ESCAPING_REF = "E0955"
MISSING_REF = "E0956"
CIRCULAR = "E0957"
UNMAPPABLE_SCHEMA = "E0958"
UNMAPPABLE_TYPE = "E0959"
MAP_KEYS = "E0960"
UNMAPPABLE_AVRO = "E0961"
SCHEMA_FORMAT = "E0962"
NAME = "E0963"
NO_KEY = "E0964"
PAYLOAD = "E0965"
EXISTS = "E0966"
BINDING = "E0967"

RULES: tuple[Rule, ...] = (
    declare(
        READ,
        "error",
        "load",
        "AsyncAPI document or `$ref`d file cannot be read (missing, a folder)",
    ),
    declare(VERSION, "error", "load", "AsyncAPI version other than 2.6.x or 3.0.x"),
    declare(INVALID, "error", "load", "AsyncAPI document invalid against the official schema"),
    declare(REMOTE_REF, "error", "load", "AsyncAPI `$ref` to a remote URL (refused)"),
    declare(ESCAPING_REF, "error", "load", "AsyncAPI `$ref` leaving the document's folder"),
    declare(MISSING_REF, "error", "load", "AsyncAPI `$ref` whose target does not exist"),
    declare(CIRCULAR, "error", "load", "circular payload schema in an AsyncAPI document"),
    declare(UNMAPPABLE_SCHEMA, "error", "load", "JSON Schema construct with no spec equivalent"),
    declare(UNMAPPABLE_TYPE, "error", "load", "JSON Schema type/format with no spec type"),
    declare(MAP_KEYS, "error", "load", "map whose keys are not plain strings"),
    declare(UNMAPPABLE_AVRO, "error", "load", "Avro construct with no spec equivalent"),
    declare(SCHEMA_FORMAT, "error", "load", "payload schemaFormat the importer does not read"),
    declare(NAME, "error", "load", "AsyncAPI name that cannot become a spec name"),
    declare(NO_KEY, "error", "load", "message with no derivable partition key field"),
    declare(PAYLOAD, "error", "load", "message payload that is not an object/record"),
    declare(EXISTS, "error", "load", "import target exists (use --force to overwrite)"),
    declare(BINDING, "error", "load", "Kafka binding value that cannot be mapped"),
)
