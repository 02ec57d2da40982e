"""The JSON Schema (draft 2020-12) of spec files: published for editors, used for structure.

Name maps (events, topics, ...) accept any key here; name syntax is a semantic rule so the
diagnostic can point at the key and suggest a fix. Everything else is closed
(`additionalProperties: false`) so typos are caught with a did-you-mean hint.
"""

from __future__ import annotations

from typing import Any

SCHEMA_ID = "https://eventgen.dev/schema/spec-v1.json"

MODES = [
    "NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD",
    "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE",
]  # fmt: skip
DELIVERY = ["at-most-once", "at-least-once", "exactly-once"]
DURATION = {
    "type": "string",
    "pattern": r"^[0-9]+(ms|s|m|h|d)$",
    "description": "250ms, 30s, 10m, 2h, 7d",
}
SIZE = {
    "anyOf": [
        {"type": "integer", "minimum": 0},
        {"type": "string", "pattern": r"^[0-9]+(B|KiB|MiB|GiB|TiB|KB|MB|GB|TB)?$"},
    ],
    "description": "bytes, or 512KiB, 10MiB, 1GiB",
}
HANDLER = {"type": "string", "pattern": r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$"}
SUPPRESS = {
    "type": "array",
    "items": {"type": "string", "pattern": "^W[0-9]{4}$"},
    "description": "warning codes silenced for this item",
}


def _obj(props: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        schema["required"] = required
    schema.update(extra)
    return schema


def _map_of(ref: str) -> dict[str, Any]:
    return {"type": ["object", "null"], "additionalProperties": {"$ref": f"#/$defs/{ref}"}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/$defs/{name}"}


RETRY = _obj(
    {
        "max_attempts": {"type": "integer", "minimum": 1},
        "initial": DURATION,
        "multiplier": {"type": "number", "minimum": 1},
        "max_interval": DURATION,
        "jitter": {"enum": ["none", "full", "equal"]},
        "retry_on": {"type": "array", "items": {"type": "string"}},
    }
)
KAFKA_INT32_MAX = 2**31 - 1  # partition counts are int32 in the Kafka protocol
TOPIC_SETTINGS: dict[str, Any] = {
    "partitions": {"type": "integer", "minimum": 1, "maximum": KAFKA_INT32_MAX},
    "replication_factor": {"type": "integer", "minimum": 1, "maximum": 32767},
    "min_insync_replicas": {"type": "integer", "minimum": 1},
    "retention": {"anyOf": [DURATION, {"const": "infinite"}]},
    "retention_bytes": {"anyOf": [SIZE, {"const": "infinite"}]},
    "cleanup": {
        "anyOf": [
            {"enum": ["delete", "compact"]},
            {"type": "array", "items": {"enum": ["delete", "compact"]}, "minItems": 1},
        ]
    },
    "compression": {"enum": ["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"]},
}
VALUE = {"description": "a `$.path`, `$data.path`, `$state.path`, `$meta.path` or a literal"}
ASSIGN = {"type": "object", "additionalProperties": VALUE}

FIELD = {
    "anyOf": [
        {"type": "string", "description": "a type: uuid, string?, list[OrderLine], context.Type"},
        _obj(
            {
                "type": {"type": "string"},
                "doc": {"type": "string"},
                "default": {},
                "precision": {"type": "integer"},
                "scale": {"type": "integer"},
                "minimum": {"type": "number"},
                "maximum": {"type": "number"},
                "min_length": {"type": "integer", "minimum": 0},
                "max_length": {"type": "integer", "minimum": 0},
                "pattern": {"type": "string"},
                "deprecated": {"type": "boolean"},
            },
            ["type"],
        ),
    ]
}
FIELDS = {"type": ["object", "null"], "additionalProperties": _ref("field")}

NAMED_TYPE = {
    "anyOf": [
        _obj({"doc": {"type": "string"}, "fields": FIELDS}, ["fields"]),
        _obj(
            {
                "doc": {"type": "string"},
                "enum": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "default": {"type": "string"},
            },
            ["enum"],
        ),
    ]
}

UPCAST_OP = {
    "type": "object",
    "minProperties": 1,
    "maxProperties": 1,
    "properties": {
        "rename": {"type": "object", "additionalProperties": {"type": "string"}},
        "add": {"type": "object"},
        "remove": {
            "anyOf": [
                {"type": "array", "items": {"type": "string"}},
                {"type": "object", "additionalProperties": {"type": "string"}},
            ]
        },
        "split": _obj(
            {
                "field": {"type": "string"},
                "into": {"type": "array", "items": {"type": "string"}, "minItems": 2},
                "sep": {"type": "string"},
                "maxsplit": {"type": "integer", "minimum": -1},
            },
            ["field", "into"],
        ),
        "merge": _obj(
            {
                "fields": {"type": "array", "items": {"type": "string"}, "minItems": 2},
                "into": {"type": "string"},
                "sep": {"type": "string"},
            },
            ["fields", "into"],
        ),
        "convert": _obj(
            {
                "field": {"type": "string"},
                "to": {"type": "string"},
                "from": {"type": "string"},
                "map": {"type": "object"},
                "default": {},
            },
            ["field"],
        ),
        "handler": HANDLER,
    },
    "additionalProperties": False,
}

_MESSAGE_COMMON: dict[str, Any] = {
    "doc": {"type": "string"},
    "version": {"type": "integer", "minimum": 1},
    "topic": {"type": "string"},
    "key": {"type": "string"},
    "fields": FIELDS,
    "upcast": {
        "type": "array",
        "items": _obj(
            {
                "from": {"type": "integer", "minimum": 1},
                "ops": {"type": "array", "items": UPCAST_OP},
            },
            ["from", "ops"],
        ),
    },
    "examples": {
        "type": "array",
        "items": _obj(
            {
                "version": {"type": "integer", "minimum": 1},
                "payload": {"type": "object"},
                "expect": {"type": "object"},
            },
            ["payload"],
        ),
    },
    "suppress": SUPPRESS,
}
EVENT = _obj(
    {
        **_MESSAGE_COMMON,
        "kind": {"enum": ["domain", "integration"]},
        "pattern": {"enum": ["notification", "state-transfer"]},
        "aggregate": {"type": "string"},
    }
)
REPLIES = _obj(
    {
        "success": {"type": "array", "items": {"type": "string"}},
        "failure": {"type": "array", "items": {"type": "string"}},
    }
)
COMMAND = _obj({**_MESSAGE_COMMON, "replies": REPLIES})
QUERY = _obj(
    {
        "doc": {"type": "string"},
        "params": FIELDS,
        "returns": {"type": "string"},
        "topic": {"type": "string"},
        "key": {"type": "string"},
        "suppress": SUPPRESS,
    }
)
TOPIC = _obj(
    {
        "doc": {"type": "string"},
        "name": {"type": "string"},
        **TOPIC_SETTINGS,
        "key": {"type": "string"},
        "dlq": {
            "anyOf": [
                {"type": "boolean"},
                _obj(
                    {
                        "name": {"type": "string"},
                        "retention": {"anyOf": [DURATION, {"const": "infinite"}]},
                    }
                ),
            ]
        },
        "compatibility": {"enum": MODES},
        "config": {
            "type": "object",
            "additionalProperties": {"type": ["string", "integer", "number", "boolean"]},
        },
    }
)
CONSUMER = _obj(
    {
        "doc": {"type": "string"},
        "group": {"type": "string"},
        "subscribe": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "handles": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "delivery": {"enum": DELIVERY},
        "processing": {
            "anyOf": [
                {"const": "stream"},
                _obj(
                    {
                        "batch": _obj(
                            {"max_records": {"type": "integer", "minimum": 1}, "max_wait": DURATION}
                        )
                    },
                    ["batch"],
                ),
            ]
        },
        "retry": RETRY,
        "timeout": DURATION,
        "dlq": {"type": "boolean"},
        "idempotency": _obj(
            {"store": {"enum": ["sqlite", "postgres", "none"]}, "retention": DURATION}
        ),
        "on_failure": {
            "enum": ["dead-letter", "park-key"],
            "description": "after the last attempt: dead-letter the record, or also park its key",
        },
        "handler": HANDLER,
        "suppress": SUPPRESS,
    },
    ["subscribe", "handles"],
)
OUTBOX = _obj(
    {
        "table": {"type": "string"},
        "relay": {"enum": ["polling", "debezium"]},
        "batch": {"type": "integer", "minimum": 1},
        "poll_interval": DURATION,
        "store": {
            "enum": ["sqlite", "postgres"],
            "description": "the database of the outbox table (writer and relay)",
        },
        "retention": {
            "anyOf": [DURATION, {"const": 0}],
            "description": "how long published rows stay; 0 (default) deletes them when published",
        },
    }
)
APPLY_OPS = {
    "set": ASSIGN,
    "inc": ASSIGN,
    "append": ASSIGN,
    "handler": HANDLER,
}
AGGREGATE = _obj(
    {
        "doc": {"type": "string"},
        "id": {"type": "string"},
        "state": FIELDS,
        "snapshot": _obj({"every": {"type": "integer", "minimum": 1}}),
        "events": {"type": "object", "additionalProperties": _obj(APPLY_OPS)},
        "commands": {
            "type": "object",
            "additionalProperties": _obj(
                {
                    "requires": {"type": "string"},
                    "emit": {"type": "object", "additionalProperties": ASSIGN},
                }
            ),
        },
    },
    ["id"],
)
PROJECTION = _obj(
    {
        "doc": {"type": "string"},
        "key": {"type": "string"},
        "fields": FIELDS,
        "on": {
            "type": "object",
            "additionalProperties": _obj(
                {**APPLY_OPS, "upsert": ASSIGN, "delete": {"type": "boolean"}, "key": VALUE}
            ),
        },
    },
    ["key", "fields", "on"],
)
EXPECT_ENTRY = {
    "anyOf": [
        {"type": "array", "items": {"type": "string"}},
        {
            "type": "object",
            "additionalProperties": {
                "anyOf": [{"type": "null"}, _obj({"save": ASSIGN})],
            },
        },
    ]
}
EXPECT = _obj({"success": EXPECT_ENTRY, "failure": EXPECT_ENTRY})
SEND = _obj({"command": {"type": "string"}, "payload": ASSIGN}, ["command"])
SAGA_STEP = _obj(
    {
        "name": {"type": "string"},
        "send": SEND,
        "local": {"type": "string"},
        "expect": EXPECT,
        "timeout": DURATION,
        "retry": RETRY,
        "compensate": _obj({"send": SEND, "expect": EXPECT}, ["send"]),
        "pivot": {"type": "boolean"},
    },
    ["name"],
)
SAGA = _obj(
    {
        "doc": {"type": "string"},
        "started_by": {"type": "string"},
        "correlation": {"type": "string"},
        "data": FIELDS,
        "init": ASSIGN,
        "deadline": DURATION,
        "steps": {"type": "array", "items": SAGA_STEP, "minItems": 1},
        "on_compensation_failure": _obj({"retry": RETRY, "then": {"enum": ["park", "fail"]}}),
    },
    ["started_by", "correlation", "steps"],
)
CHOREOGRAPHY = _obj(
    {
        "doc": {"type": "string"},
        "correlation": {"type": "string"},
        "deadline": DURATION,
        "started_by": {"type": "string"},
        "reactions": {
            "type": "array",
            "minItems": 1,
            "items": _obj(
                {
                    "service": {"type": "string"},
                    "on": {"type": "string"},
                    "do": {"type": "string"},
                    "emits": _obj({"success": {"type": "string"}, "failure": {"type": "string"}}),
                },
                ["service", "on", "do"],
            ),
        },
        "outcomes": _obj(
            {
                "success": {"type": "array", "items": {"type": "string"}},
                "failure": {"type": "array", "items": {"type": "string"}},
            }
        ),
    },
    ["correlation", "started_by", "reactions"],
)
DEFAULTS = _obj(
    {
        "serialization": {"enum": ["avro", "json", "protobuf"]},
        "compatibility": {"enum": MODES},
        "json_content_model": {"enum": ["closed", "open"]},
        "delivery": {"enum": DELIVERY},
        "timeout": DURATION,
        "retry": RETRY,
        "topic": _obj(TOPIC_SETTINGS),
    }
)
VERSION = {"const": 1, "description": "spec language version"}

PROJECT_FILE = _obj(
    {
        "eventgen": VERSION,
        "project": {"type": "string"},
        "package": {"type": "string", "pattern": r"^[a-z_][a-z0-9_]*$"},
        "output": {"type": "string"},
        "doc": {"type": "string"},
        "defaults": DEFAULTS,
        "environments": {
            "type": "object",
            "additionalProperties": _obj(
                {
                    "defaults": DEFAULTS,
                    "contexts": {
                        "type": "object",
                        "description": "per-context overrides, deep-merged over context files",
                        "additionalProperties": {"type": "object"},
                    },
                }
            ),
        },
    },
    ["eventgen", "project", "package"],
)
CONTEXT_FILE = _obj(
    {
        "eventgen": VERSION,
        "context": {"type": "string"},
        "doc": {"type": "string"},
        "types": _map_of("named_type"),
        "events": _map_of("event"),
        "commands": _map_of("command"),
        "queries": _map_of("query"),
        "topics": _map_of("topic"),
        "consumers": _map_of("consumer"),
        "outbox": OUTBOX,
        "aggregates": _map_of("aggregate"),
        "projections": _map_of("projection"),
        "sagas": _map_of("saga"),
        "choreographies": _map_of("choreography"),
    },
    ["eventgen", "context"],
)


def spec_schema() -> dict[str, Any]:
    """The whole schema: a project file or a context file, told apart by `project`."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "eventgen spec file (language v1)",
        "if": {"type": "object", "required": ["project"]},
        "then": _ref("project_file"),
        "else": _ref("context_file"),
        "$defs": {
            "project_file": PROJECT_FILE,
            "context_file": CONTEXT_FILE,
            "field": FIELD,
            "named_type": NAMED_TYPE,
            "event": EVENT,
            "command": COMMAND,
            "query": QUERY,
            "topic": TOPIC,
            "consumer": CONSUMER,
            "aggregate": AGGREGATE,
            "projection": PROJECTION,
            "saga": SAGA,
            "choreography": CHOREOGRAPHY,
        },
    }
