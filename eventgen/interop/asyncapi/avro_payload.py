"""Avro payloads (schemaFormat application/vnd.apache.avro...) to spec types.

Records and enums become named types (by their Avro name, namespace dropped), arrays lists,
maps string-keyed maps, `[null, T]` unions nullable T, logical types the matching scalar.
Unions of several non-null branches and `fixed` have no spec type: reported, not dropped.
"""

from __future__ import annotations

from typing import Any

from eventgen.interop.asyncapi import codes, names
from eventgen.interop.asyncapi.refs import Node
from eventgen.interop.asyncapi.types import TypeTable, field_value
from eventgen.spec.nodes import PList, PMap

_PRIMITIVES = {
    "string": "string",
    "int": "int",
    "long": "long",
    "float": "float",
    "double": "double",
    "boolean": "boolean",
    "bytes": "bytes",
}
_LOGICAL = {
    ("string", "uuid"): "uuid",
    ("int", "date"): "date",
    ("int", "time-millis"): "time",
    ("long", "time-micros"): "time",
    ("long", "timestamp-millis"): "timestamp",
    ("long", "timestamp-micros"): "timestamp",
    ("bytes", "decimal"): "decimal",
}


class AvroMapper:
    def __init__(self, table: TypeTable) -> None:
        self.table = table
        self.known: dict[str, str] = {}  # Avro full and short names -> spec type name

    def record_fields(self, node: Node) -> dict[str, Any] | None:
        schema = node.value
        if not isinstance(schema, PMap) or schema.get("type") != "record":
            self.table.report(
                codes.PAYLOAD, node.loc, node.pointer, "an Avro payload must be a record"
            )
            return None
        self._remember(schema, "")  # the message itself is not a type of its own
        return self._fields(node)

    def _fields(self, node: Node) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        listed = node.get("fields")
        for item in listed.items() if listed is not None else []:
            raw = item.value.get("name") if isinstance(item.value, PMap) else None
            name = names.snake(raw) if isinstance(raw, str) else None
            if name is None or name in fields or "type" not in item.value:
                self.table.report(
                    codes.NAME, item.loc, item.pointer, f"Avro field {raw!r} cannot become a field"
                )
                continue
            mapped = self.type_of(item.child("type"))
            if mapped is None:
                continue
            type_text, extras = mapped
            if isinstance(item.value.get("doc"), str):
                extras["doc"] = item.value["doc"]
            if "default" in item.value and item.value["default"] is not None:
                extras["default"] = _plain(item.value["default"])
            fields[name] = field_value(type_text, extras)
        return fields

    def type_of(self, node: Node) -> tuple[str, dict[str, Any]] | None:
        schema = node.value
        if isinstance(schema, str):
            if schema in _PRIMITIVES:
                return _PRIMITIVES[schema], {}
            if schema in self.known:
                return self.known[schema], {}
            self.table.report(
                codes.UNMAPPABLE_AVRO, node.loc, node.pointer, f"unknown Avro type `{schema}`"
            )
            return None
        if isinstance(schema, PList):
            return self._union(node)
        if not isinstance(schema, PMap):
            self.table.report(codes.UNMAPPABLE_AVRO, node.loc, node.pointer, "not an Avro schema")
            return None
        kind = schema.get("type")
        logical = schema.get("logicalType")
        if isinstance(logical, str) and (str(kind), logical) in _LOGICAL:
            extras = {k: schema[k] for k in ("precision", "scale") if k in schema}
            return _LOGICAL[(str(kind), logical)], extras
        if kind in _PRIMITIVES:
            return _PRIMITIVES[kind], {}  # an unknown logical type falls back to its base
        if kind == "array":
            inner = self.type_of(node.child("items")) if "items" in schema else None
            return None if inner is None else (f"list[{inner[0]}]", {})
        if kind == "map":
            inner = self.type_of(node.child("values")) if "values" in schema else None
            return None if inner is None else (f"map[{inner[0]}]", {})
        if kind in ("record", "enum"):
            return self._named(node)
        self.table.report(
            codes.UNMAPPABLE_AVRO, node.loc, node.pointer, f"Avro type `{kind}` has no spec type"
        )
        return None

    def _union(self, node: Node) -> tuple[str, dict[str, Any]] | None:
        branches = node.items()
        others = [b for b in branches if b.value != "null"]
        if len(others) != 1 or len(branches) > 2:
            self.table.report(
                codes.UNMAPPABLE_AVRO,
                node.loc,
                node.pointer,
                "an Avro union maps only as [null, T] (a nullable T)",
            )
            return None
        inner = self.type_of(others[0])
        if inner is None:
            return None
        nullable = len(branches) == 2
        return inner[0] + ("?" if nullable else ""), inner[1]

    def _named(self, node: Node) -> tuple[str, dict[str, Any]] | None:
        schema = node.value
        raw = schema.get("name")
        base = names.pascal(raw) if isinstance(raw, str) else None
        if base is None:
            self.table.report(codes.NAME, node.loc, node.pointer, f"Avro name {raw!r}")
            return None
        name, done = self.table.claim(base, node.where)
        self._remember(schema, name)
        if done:
            return name, {}
        definition: dict[str, Any] = {}
        if isinstance(schema.get("doc"), str):
            definition["doc"] = schema["doc"]
        self.table.types[name] = definition
        if schema["type"] == "record":
            definition["fields"] = self._fields(node)
        else:
            symbols = [s for s in schema.get("symbols", []) if isinstance(s, str)]
            definition["enum"] = symbols
            if isinstance(schema.get("default"), str):
                definition["default"] = schema["default"]
        return name, {}

    def _remember(self, schema: PMap, name: str) -> None:
        raw, space = schema.get("name"), schema.get("namespace")
        if isinstance(raw, str) and name:
            self.known[raw] = name
            if isinstance(space, str):
                self.known[f"{space}.{raw}"] = name


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
