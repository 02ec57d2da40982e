"""Message components: Avro payload, JSON Schema twin, envelope headers, key, examples."""

from __future__ import annotations

from typing import Any

from eventgen.emit.asyncapi import names
from eventgen.ir.model import Message, Project, Topic, thaw
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


Names = tuple[tuple[str, str], ...]  # ($defs key, qualified spec name)


def _rewrite_refs(schema: Any, keys: dict[str, str]) -> Any:
    """`#/$defs/<k>` -> `#/components/schemas/<key>`: the document root is the ref base."""
    if isinstance(schema, dict):
        out = {}
        for k, v in schema.items():
            if k == "$ref" and isinstance(v, str) and v.startswith("#/$defs/"):
                out[k] = names.pointer("components", "schemas", keys[v[len("#/$defs/") :]])
            elif k not in ("$schema", "$id", "$defs"):
                out[k] = _rewrite_refs(v, keys)
        return out
    if isinstance(schema, list):
        return [_rewrite_refs(v, keys) for v in schema]
    return schema


def _json_parts(schema: dict[str, Any], found: Names) -> tuple[Any, dict[str, Any]]:
    """The root without `$defs`, and each definition under its component key."""
    keys = {k: names.schema_key(q) for k, q in found if k}
    defs = {keys[k]: _rewrite_refs(v, keys) for k, v in schema.get("$defs", {}).items()}
    return _rewrite_refs(schema, keys), defs


def json_schemas(schemas: Schemas, message: Message) -> dict[str, Any]:
    """The message's JSON Schema and the named types it uses, as `components.schemas`."""
    schema, found = schemas.json_record(message)
    root, defs = _json_parts(schema, found)
    return {names.message_key(message): root, **defs}


def key_schema(schemas: Schemas, topic: Topic) -> tuple[Any, dict[str, Any]]:
    schema, found = schemas.json_key(topic)
    return _json_parts(schema, found)


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
    current = [e for e in message.examples if e.version == message.version]
    older = [e for e in message.examples if e.version != message.version]
    if current:
        out["examples"] = [
            {"name": f"example-{i}", "payload": thaw(e.payload)} for i, e in enumerate(current, 1)
        ]
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
        out[names.X_OLDER_EXAMPLES] = [
            {"version": e.version, "payload": thaw(e.payload)} for e in older
        ]
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
