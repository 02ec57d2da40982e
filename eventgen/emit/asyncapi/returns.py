"""What a query returns, so that an import can rebuild the query and what it names.

A query's `returns` is a projection or a named type. Neither is a message, so neither is
in the export otherwise: the returned type comes as its Avro schema (plus its JSON Schema
twin in `components.schemas`, which carries constraints Avro cannot), a projection as its
row (the same pair) with its key and `on:` rules, written as the spec writes them.
"""

from __future__ import annotations

from typing import Any

from eventgen.emit.asyncapi import names
from eventgen.emit.asyncapi.components import json_parts
from eventgen.emit.layout import NamedType
from eventgen.ir.model import ApplyRule, Expr, Message, Project, Projection, RecordType, thaw
from eventgen.schemas import Schemas
from eventgen.schemas.avro import record_schema
from eventgen.schemas.jsonschema import SchemaBuilder


def projection(project: Project, qualified: str | None) -> Projection | None:
    if qualified is None:
        return None
    for ctx in project.contexts:
        for p in ctx.projections:
            if p.qualified == qualified:
                return p
    return None


def _row(p: Projection) -> RecordType:
    return RecordType(p.qualified, p.context, p.name, p.fields, None)


def qualified_returns(message: Message) -> str | None:
    """`returns` as `context.Name` (the spec may write it inside its own context)."""
    if message.kind != "query" or message.returns is None:
        return None
    name = message.returns
    return name if "." in name else f"{message.context}.{name}"


def returned(project: Project, schemas: Schemas, message: Message) -> NamedType | None:
    """The record or enum a query returns (a projection as its row), if the spec has it."""
    qualified = qualified_returns(message)
    found = projection(project, qualified)
    if found is not None:
        return _row(found)
    return schemas.index.types.get(qualified) if qualified is not None else None


def json_schemas(project: Project, schemas: Schemas, message: Message) -> dict[str, Any]:
    """The returned type's JSON Schema and its named types, as `components.schemas`."""
    root = returned(project, schemas, message)
    if root is None:
        return {}
    builder = SchemaBuilder(schemas.index, root)
    schema = builder.named(root)
    if builder.defs:
        schema["$defs"] = builder.defs
    found = tuple(sorted((k, q) for q, k in builder.keys.items()))
    top, defs = json_parts(schema, found)
    return {names.schema_key(root.qualified): top, **defs}


def extension(project: Project, schemas: Schemas, message: Message) -> dict[str, Any] | None:
    """`x-eventgen-returns`: `{type | projection, schema, json-schema, key, on}`."""
    root = returned(project, schemas, message)
    if root is None:
        return None
    twin = {"$ref": names.pointer("components", "schemas", names.schema_key(root.qualified))}
    found = projection(project, qualified_returns(message))
    if found is None:
        avro = schemas.avro_type(root)
        return {"type": root.qualified, "schema": avro, "json-schema": twin}
    avro = record_schema(schemas.index, found.qualified, found.fields, None)
    return {
        "projection": found.qualified,
        "key": found.key,
        "schema": avro,
        "json-schema": twin,
        "on": [_rule(r) for r in found.on],
    }


def _expr(value: Expr) -> Any:
    return thaw(value.literal) if value.root is None else str(value)


def _rule(rule: ApplyRule) -> dict[str, Any]:
    """One `on:` rule: the event, the op, and what the op says in the spec."""
    out: dict[str, Any] = {"message": rule.message, "op": rule.op}
    if rule.assignments:
        out["assignments"] = {target: _expr(v) for target, v in rule.assignments}
    if rule.handler is not None:
        out["handler"] = rule.handler
    if rule.key is not None:
        out["key"] = _expr(rule.key)
    return out
