"""Message components: Avro payload, JSON Schema twin, envelope headers, key, examples."""

from __future__ import annotations

from typing import Any

from eventgen.emit.asyncapi import names, returns
from eventgen.emit.asyncapi.components import json_parts
from eventgen.ir.model import Example, Message, Project, Topic, thaw
from eventgen.schemas import Schemas

# The six envelope headers of docs/wire-format.md (eventgen/runtime/headers.py), as JSON
# Schema: every Kafka header value is UTF-8 text.
ENVELOPE_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "The envelope metadata, one UTF-8 Kafka header each (see docs/wire-format.md).",
    "required": ["event_id", "type", "schema_version"],
    "properties": {
        "event_id": {"type": "string", "format": "uuid", "description": "The message id."},
        "type": {"type": "string", "description": "The qualified message name, `context.Name`."},
        "schema_version": {
            "type": "string",
            "pattern": "^[0-9]+$",
            "description": "Decimal text: the schema version the payload was written with.",
        },
        "occurred_at": {
            "type": "string",
            "format": "date-time",
            "description": "ISO 8601 UTC time the message happened.",
        },
        "correlation_id": {"type": "string", "description": "The flow this message belongs to."},
        "causation_id": {
            "type": "string",
            "format": "uuid",
            "description": "The id of the message that caused this one.",
        },
    },
}
CORRELATION_ID = {
    "description": "The envelope's correlation id header.",
    "location": "$message.header#/correlation_id",
}


def json_schemas(schemas: Schemas, message: Message) -> dict[str, Any]:
    """The message's JSON Schema and the named types it uses, as `components.schemas`."""
    schema, found = schemas.json_record(message)
    root, defs = json_parts(schema, found)
    return {names.message_key(message): root, **defs}


def key_schema(schemas: Schemas, topic: Topic) -> tuple[Any, dict[str, Any]]:
    schema, found = schemas.json_key(topic)
    return json_parts(schema, found)


def message_object(project: Project, schemas: Schemas, message: Message) -> dict[str, Any]:
    """One `components.messages` entry."""
    out: dict[str, Any] = {"name": message.name, "title": message.qualified}
    if message.doc:
        out["summary"] = message.doc.strip().splitlines()[0]
        out["description"] = message.doc
    out["contentType"] = content_type(project)
    out["headers"] = ENVELOPE_HEADERS
    out["correlationId"] = CORRELATION_ID
    out["payload"] = {"schemaFormat": names.AVRO_FORMAT, "schema": schemas.avro_record(message)}
    if message.topic is not None:
        topic = project.topic(message.topic)
        if topic.key_type is not None:
            key, _ = key_schema(schemas, topic)
            out["bindings"] = {"kafka": {"key": key, "bindingVersion": names.BINDING_VERSION}}
    # Each example is named (or carries `position`) by its place in the spec's list, so an
    # import restores the order across current and older versions.
    numbered = list(enumerate(message.examples, 1))
    current = [(i, e) for i, e in numbered if e.version == message.version]
    older = [(i, e) for i, e in numbered if e.version != message.version]
    if current:
        out["examples"] = [_example(i, e) for i, e in current]
    out["tags"] = [{"name": message.context}, {"name": message.kind}]
    out[names.X_MESSAGE] = _message_extension(project, message)
    out[names.X_JSON_SCHEMA] = {
        "$ref": names.pointer("components", "schemas", names.message_key(message))
    }
    if message.topic is not None and project.topic(message.topic).key_type is not None:
        out[names.X_KEY_AVRO] = schemas.avro_key_document(project.topic(message.topic))
    if message.upcasts:
        out[names.X_UPCASTS] = [
            {"from": u.from_version, "ops": [{u_op.op: thaw(u_op.args)} for u_op in u.ops]}
            for u in message.upcasts
        ]
    if older:
        out[names.X_OLDER_EXAMPLES] = [_older(i, e) for i, e in older]
    found = returns.extension(project, schemas, message)
    if found is not None:
        out[names.X_RETURNS] = found
    return out


def _example(position: int, example: Example) -> dict[str, Any]:
    out: dict[str, Any] = {"name": f"example-{position}", "payload": thaw(example.payload)}
    if example.expect is not None:
        out[names.X_EXPECT] = thaw(example.expect)
    return out


def _older(position: int, example: Example) -> dict[str, Any]:
    out: dict[str, Any] = {
        "position": position,
        "version": example.version,
        "payload": thaw(example.payload),
    }
    if example.expect is not None:
        out["expect"] = thaw(example.expect)
    return out


def _message_extension(project: Project, message: Message) -> dict[str, Any]:
    ext: dict[str, Any] = {
        "context": message.context,
        "kind": message.kind,
        "name": message.name,
        "version": message.version,
    }
    optional: dict[str, Any] = {
        "event_kind": message.event_kind,
        "pattern": message.pattern,
        "aggregate": message.aggregate,
        "topic": message.topic,
        "key": list(message.key) if message.key is not None else None,
        "replies_success": list(message.replies_success) or None,
        "replies_failure": list(message.replies_failure) or None,
        "returns": message.returns,
        "suppress": list(message.suppress) or None,
    }
    ext.update({k: v for k, v in optional.items() if v is not None})
    return ext


def content_type(project: Project) -> str:
    """The record value's media type under the project's serialization."""
    return {
        "avro": "application/vnd.apache.avro+binary",
        "json": "application/json",
        "protobuf": "application/x-protobuf",
    }[project.defaults.serialization]
