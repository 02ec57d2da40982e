"""Payloads of a document eventgen exported: Avro for the types, the JSON twin for the rest.

The exporter writes each message's Avro schema as its payload and the JSON Schema of the
same record under `x-eventgen-json-schema` (components.schemas, one entry per message and
per named type, keyed by the qualified name). Avro carries the exact types (int vs long,
decimal(p,s), logical types, named records and enums with the namespace of their context);
the JSON twin carries what Avro cannot: constraints and `deprecated`. A constraint is read
back only when the JSON it makes differs from the type's own (eventgen writes int bounds,
uuid and decimal patterns for every field), so that the rebuilt spec writes the same JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eventgen.interop.asyncapi import codes
from eventgen.interop.asyncapi.extensions import plain
from eventgen.interop.asyncapi.refs import Node
from eventgen.interop.asyncapi.types import TypeTable, field_value
from eventgen.ir import scalars
from eventgen.ir.model import Constraints, Scalar

_PRIMITIVES = ("string", "int", "long", "float", "double", "boolean", "bytes")
_LOGICAL = {
    ("string", "uuid"): "uuid",
    ("int", "date"): "date",
    ("long", "time-micros"): "time",
    ("long", "timestamp-micros"): "timestamp",
}
_SCALAR_KEYS = {
    "minimum": "minimum",
    "maximum": "maximum",
    "minLength": "min_length",
    "maxLength": "max_length",
    "pattern": "pattern",
}
_COLLECTION_KEYS = {
    "array": ("minItems", "maxItems"),
    "object": ("minProperties", "maxProperties"),
}


class ExportMapper:
    """Rebuilds fields and named types; `table_of(context)` is where a type is defined."""

    def __init__(
        self,
        table_of: Callable[[str], TypeTable],
        namespaces: dict[str, str],
        json_schemas: dict[str, Any],
    ) -> None:
        self.table_of = table_of
        self.namespaces = namespaces  # Avro namespace -> context
        self.json_schemas = json_schemas  # components.schemas, plain
        self.known: dict[str, str] = {}  # Avro full name -> qualified spec name

    def message_fields(
        self, node: Node, context: str, qualified: str, table: TypeTable
    ) -> dict[str, Any] | None:
        if not isinstance(node.value, dict) or node.value.get("type") != "record":
            table.report(codes.PAYLOAD, node.loc, node.pointer, "an Avro payload must be a record")
            return None
        twin = self.json_schemas.get(qualified, {})
        return self._fields(node, context, twin, table)

    def named_type(self, node: Node, context: str, table: TypeTable) -> None:
        """Define the Avro record or enum at `node` (and the types it uses) in its context."""
        if isinstance(node.value, dict) and node.value.get("type") in ("record", "enum"):
            self._named(node, context, table)
        else:
            table.report(codes.PAYLOAD, node.loc, node.pointer, "not an Avro record or enum")

    def _fields(
        self, node: Node, context: str, twin: dict[str, Any], table: TypeTable
    ) -> dict[str, Any]:
        props = twin.get("properties", {}) if isinstance(twin, dict) else {}
        fields: dict[str, Any] = {}
        listed = node.get("fields")
        for item in listed.items() if listed is not None else []:
            name = item.value.get("name")
            mapped = self._type(item.child("type"), context, table)
            if not isinstance(name, str) or mapped is None:
                continue
            text, ref = mapped
            json_prop = props.get(name, {})
            extras: dict[str, Any] = {}
            if isinstance(item.value.get("doc"), str):
                extras["doc"] = item.value["doc"]
            inner = _non_null(json_prop)
            extras.update(_constraints(ref, inner))
            if json_prop.get("deprecated") is True:
                extras["deprecated"] = True
            if "default" in json_prop and json_prop["default"] is not None:
                extras["default"] = json_prop["default"]
            fields[name] = field_value(text, extras)
        return fields

    def _type(
        self, node: Node, context: str, table: TypeTable
    ) -> tuple[str, Scalar | str | None] | None:
        """(spec type text, the scalar or collection kind for constraints) of an Avro type."""
        schema = node.value
        if isinstance(schema, list):
            others = [b for b in node.items() if b.value != "null"]
            if len(others) != 1 or len(schema) != 2:
                table.report(
                    codes.UNMAPPABLE_AVRO, node.loc, node.pointer, "a union other than [null, T]"
                )
                return None
            inner = self._type(others[0], context, table)
            return None if inner is None else (inner[0] + "?", inner[1])
        if isinstance(schema, str):
            if schema in _PRIMITIVES:
                return schema, Scalar(schema)
            if schema in self.known:
                return self._seen_from(self.known[schema], context), None
            table.report(codes.UNMAPPABLE_AVRO, node.loc, node.pointer, f"unknown type `{schema}`")
            return None
        kind, logical = schema.get("type"), schema.get("logicalType")
        if logical == "decimal" and kind == "bytes":
            p, s = schema.get("precision"), schema.get("scale", 0)
            return f"decimal({p},{s})", Scalar("decimal", precision=p, scale=s)
        if (kind, logical) in _LOGICAL:
            name = _LOGICAL[(kind, logical)]
            return name, Scalar(name)
        if kind in _PRIMITIVES:
            return str(kind), Scalar(str(kind))
        if kind in ("array", "map"):
            inner = self._type(node.child("items" if kind == "array" else "values"), context, table)
            if inner is None:
                return None
            word = "list" if kind == "array" else "map"
            return f"{word}[{inner[0]}]", "array" if kind == "array" else "object"
        if kind in ("record", "enum"):
            return self._named(node, context, table)
        table.report(codes.UNMAPPABLE_AVRO, node.loc, node.pointer, f"Avro type `{kind}`")
        return None

    def _named(self, node: Node, context: str, table: TypeTable) -> tuple[str, None] | None:
        schema = node.value
        name, space = str(schema.get("name")), str(schema.get("namespace", ""))
        owner = self.namespaces.get(space)
        if owner is None:
            table.report(
                codes.NAME, node.loc, node.pointer, f"Avro namespace `{space}` names no context"
            )
            return None
        qualified = f"{owner}.{name}"
        self.known[f"{space}.{name}"] = qualified
        target = self.table_of(owner)
        if name not in target.types:
            definition: dict[str, Any] = {}
            if isinstance(schema.get("doc"), str):
                definition["doc"] = schema["doc"]
            target.types[name] = definition
            if schema["type"] == "enum":
                definition["enum"] = list(plain(schema.get("symbols", [])))
                if isinstance(schema.get("default"), str):
                    definition["default"] = schema["default"]
            else:
                twin = self.json_schemas.get(qualified, {})
                definition["fields"] = self._fields(node, owner, twin, target)
        return self._seen_from(qualified, context), None

    @staticmethod
    def _seen_from(qualified: str, context: str) -> str:
        owner, _, name = qualified.partition(".")
        return name if owner == context else qualified


def _non_null(schema: Any) -> dict[str, Any]:
    if not isinstance(schema, dict):
        return {}
    options = schema.get("anyOf")
    if isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
        inner = next(o for o in options if o != {"type": "null"})
        return inner if isinstance(inner, dict) else {}
    return schema


def _constraints(ref: Scalar | str | None, schema: dict[str, Any]) -> dict[str, Any]:
    """The spec constraints whose JSON is `schema`, none that the type writes by itself."""
    if isinstance(ref, str):
        low, high = _COLLECTION_KEYS[ref]
        found = {"min_length": schema.get(low), "max_length": schema.get(high)}
        return {k: v for k, v in found.items() if v is not None}
    if ref is None:
        return {}
    info = scalars.info(ref)
    target = {
        k: v for k, v in schema.items() if k in ("type", "format", "contentEncoding", *_SCALAR_KEYS)
    }
    given = {_SCALAR_KEYS[k]: v for k, v in schema.items() if k in _SCALAR_KEYS}
    # A decimal's only constraint is `minimum: 0`, which JSON says by an unsigned pattern.
    candidates: list[dict[str, Any]] = [{}, {"minimum": 0}] if ref.name == "decimal" else [given]
    for found in candidates:
        # Drop each constraint the type would write anyway (int bounds, uuid patterns).
        for key in list(found):
            fewer = {k: v for k, v in found.items() if k != key}
            if info.json(ref, Constraints(**fewer)) == info.json(ref, Constraints(**found)):
                found = fewer
        if info.json(ref, Constraints(**found)) == target:
            return found
    return given
