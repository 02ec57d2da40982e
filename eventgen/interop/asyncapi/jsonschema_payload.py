"""JSON Schema payloads to spec types (the mapping table: docs/interop.md, "Import").

Nested objects and `$ref`d schemas become named types; whatever has no spec equivalent is
reported with its JSON pointer and position (codes.UNMAPPABLE_*), never dropped silently.
Annotations with no effect on the wire (title, examples, readOnly, $comment, string formats
such as email) are ignored.
"""

from __future__ import annotations

from typing import Any

from eventgen.interop.asyncapi import codes, names
from eventgen.interop.asyncapi.refs import Node, Resolver
from eventgen.interop.asyncapi.types import TypeTable, field_value
from eventgen.spec.nodes import PList, PMap

INT32 = (-(2**31), 2**31 - 1)
_STRING_FORMATS = {"uuid": "uuid", "date": "date", "time": "time", "date-time": "timestamp"}
_BYTES_FORMATS = {"byte", "binary"}
_CONSTRAINTS = {
    "minimum": "minimum",
    "maximum": "maximum",
    "minLength": "min_length",
    "maxLength": "max_length",
    "pattern": "pattern",
    "minItems": "min_length",
    "maxItems": "max_length",
    "minProperties": "min_length",
    "maxProperties": "max_length",
}
_UNMAPPABLE = (
    "oneOf",
    "anyOf",
    "allOf",
    "not",
    "if",
    "then",
    "else",
    "patternProperties",
    "dependentSchemas",
    "dependencies",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "uniqueItems",
    "contains",
    "additionalItems",
    "discriminator",
    "prefixItems",
    "unevaluatedProperties",
    "unevaluatedItems",
    "dependentRequired",
    "minContains",
    "maxContains",
    "$dynamicRef",
)


class JsonSchemaMapper:
    def __init__(self, resolver: Resolver, table: TypeTable) -> None:
        self.resolver = resolver
        self.table = table
        self.stack: list[str] = []  # `$ref`d schemas being mapped, to catch cycles

    def record_fields(self, node: Node) -> dict[str, Any] | None:
        """The fields of an object schema (a message payload or a record type)."""
        schema = self.resolver.deref(node)
        if schema is None:
            return None
        if (
            not isinstance(schema.value, PMap)
            or _types(schema.value)[0] != ["object"]
            or ("properties" not in schema.value)
        ):
            self.table.report(
                codes.PAYLOAD,
                schema.loc,
                schema.pointer,
                "payload must be an object schema with `properties`",
            )
            return None
        props = schema.get("properties")
        required_node = schema.value.get("required", [])
        required = {r for r in required_node if isinstance(r, str)}
        fields: dict[str, Any] = {}
        for key, prop in props.children() if props is not None else []:
            name = names.snake(key)
            if name is None or name in fields:
                self.table.report(
                    codes.NAME,
                    props.value.key_loc(key) if props is not None else prop.loc,
                    prop.pointer,
                    f"property `{key}` cannot become a field name"
                    + (" (collides after mapping)" if name else ""),
                    "field names are snake_case: letters and digits split at camel humps",
                )
                continue
            value = self.field(prop, key in required)
            if value is not None:
                fields[name] = value
        self._unmappable(schema, allowed={"additionalProperties"})
        extra = schema.value.get("additionalProperties")
        if isinstance(extra, PMap):
            self.table.report(
                codes.UNMAPPABLE_SCHEMA,
                schema.child("additionalProperties").loc,
                schema.child("additionalProperties").pointer,
                "a record with `properties` cannot also take extra properties of a schema",
            )
        return fields

    def field(self, node: Node, required: bool) -> Any:
        mapped = self.type_of(node)
        if mapped is None:
            return None
        type_text, extras, nullable = mapped
        if not required and "default" not in extras:
            nullable = True
        if nullable and not type_text.endswith("?"):
            type_text += "?"
        return field_value(type_text, extras)

    def type_of(self, node: Node) -> tuple[str, dict[str, Any], bool] | None:
        """(spec type, field extras such as constraints, nullable) of a schema, or None."""
        if isinstance(node.value, PMap) and isinstance(node.value.get("$ref"), str):
            return self._named(node)
        if not isinstance(node.value, PMap):
            if node.value is True or node.value is False:
                self.table.report(codes.UNMAPPABLE_TYPE, node.loc, node.pointer, "boolean schema")
                return None
            self.table.report(codes.UNMAPPABLE_TYPE, node.loc, node.pointer, "not a schema")
            return None
        schema = node.value
        nullable_of = _nullable_wrapper(schema)
        if nullable_of is not None:
            inner = self.type_of(node.child(nullable_of[0]).child(nullable_of[1]))
            return None if inner is None else (inner[0], {**_extras(schema), **inner[1]}, True)
        if not self._unmappable(node):
            return None
        extras = _extras(schema)
        override = schema.get("x-eventgen-type")
        if isinstance(override, str):
            for key in ("precision", "scale"):
                if f"x-eventgen-{key}" in schema:
                    extras[key] = schema[f"x-eventgen-{key}"]
            return override.removesuffix("?"), extras, override.endswith("?")
        kinds, nullable = _types(schema)
        nullable = nullable or schema.get("nullable") is True
        if "enum" in schema or "const" in schema:
            return self._enum(node, extras, nullable)
        if len(kinds) != 1:
            said = "no `type`" if not kinds else f"`type: {kinds}`"
            self.table.report(
                codes.UNMAPPABLE_TYPE,
                node.loc,
                node.pointer,
                f"{said}: a spec field has exactly one type (besides null)",
            )
            return None
        scalar = _scalar(kinds[0], schema)
        if scalar is not None:
            return scalar, extras, nullable
        if kinds[0] == "array":
            return self._array(node, extras, nullable)
        if kinds[0] == "object":
            return self._object(node, extras, nullable)
        self.table.report(codes.UNMAPPABLE_TYPE, node.loc, node.pointer, f"type `{kinds[0]}`")
        return None

    def _unmappable(self, node: Node, allowed: frozenset[str] | set[str] = frozenset()) -> bool:
        ok = True
        assert isinstance(node.value, PMap)
        for key in _UNMAPPABLE:
            if key in node.value and key not in allowed:
                ok = False
                self.table.report(
                    codes.UNMAPPABLE_SCHEMA,
                    node.value.key_loc(key),
                    node.child(key).pointer,
                    f"`{key}` has no spec equivalent",
                    "spec types are records, enums, lists, string-keyed maps and scalars",
                )
        if "propertyNames" in node.value:
            ok = False
            self.table.report(
                codes.MAP_KEYS,
                node.value.key_loc("propertyNames"),
                node.child("propertyNames").pointer,
                "map keys constrained by `propertyNames`: spec maps have plain string keys",
            )
        return ok

    def _named(self, node: Node) -> tuple[str, dict[str, Any], bool] | None:
        ref = node.value["$ref"]
        target = self.resolver.deref(node)
        if target is None:
            return None
        if target.where in self.stack:
            cycle = " -> ".join([*self.stack[self.stack.index(target.where) :], target.where])
            self.table.report(
                codes.CIRCULAR,
                node.child("$ref").loc,
                node.pointer,
                f"circular payload schema: {cycle}",
                "spec types cannot contain themselves",
            )
            return None
        base = names.pascal(ref.rsplit("/", 1)[-1].removesuffix(".json").removesuffix(".yaml"))
        schema = target.value
        is_record = isinstance(schema, PMap) and "properties" in schema
        is_enum = isinstance(schema, PMap) and ("enum" in schema or "const" in schema)
        extras = _extras(PMap(node.loc) if not isinstance(node.value, PMap) else node.value)
        extras.pop("type", None)
        if not (is_record or is_enum) or base is None:
            self.stack.append(target.where)
            try:
                inner = self.type_of(target)
            finally:
                self.stack.pop()
            return None if inner is None else (inner[0], {**inner[1], **extras}, inner[2])
        name, done = self.table.claim(base, target.where)
        self.stack.append(target.where)
        try:
            if not done:
                self._define(name, target, is_record)
        finally:
            self.stack.pop()
        nullable = isinstance(schema, PMap) and (
            schema.get("nullable") is True or _types(schema)[1]
        )
        return name, extras, nullable

    def _define(self, name: str, target: Node, is_record: bool) -> None:
        schema = target.value
        assert isinstance(schema, PMap)
        definition: dict[str, Any] = {}
        if isinstance(schema.get("description"), str):
            definition["doc"] = schema["description"]
        self.table.types[name] = definition  # placed first: keeps the order of discovery
        if is_record:
            fields = self.record_fields(target)
            definition["fields"] = fields or {}
        else:
            symbols = self._symbols(target)
            definition["enum"] = symbols or []
            if isinstance(schema.get("default"), str):
                definition["default"] = names.enum_symbol(schema["default"])

    def _symbols(self, node: Node) -> list[str] | None:
        schema = node.value
        values = schema.get("enum", [schema.get("const")] if "const" in schema else [])
        symbols: list[str] = []
        for i, value in enumerate(values):
            if value is None:
                continue
            symbol = names.enum_symbol(value)
            if symbol is None or symbol in symbols:
                where = node.child("enum").child(i) if "enum" in schema else node
                self.table.report(
                    codes.NAME,
                    where.loc,
                    where.pointer,
                    f"enum value {value!r} cannot become a symbol",
                    "symbols are strings with a letter or digit; distinct after upper-casing",
                )
                return None
            symbols.append(symbol)
        return symbols

    def _enum(
        self, node: Node, extras: dict[str, Any], nullable: bool
    ) -> tuple[str, dict[str, Any], bool] | None:
        values = node.value.get("enum", [])
        nullable = nullable or (isinstance(values, PList) and None in values)
        base = names.pascal(_path_name(node.path))
        name, done = self.table.claim(base or "Enum", node.where)
        if not done:
            symbols = self._symbols(node)
            if symbols is None:
                return None
            self.table.types[name] = {"enum": symbols}
        extras.pop("default", None)
        if isinstance(node.value.get("default"), str):
            extras["default"] = names.enum_symbol(node.value["default"])
        return name, extras, nullable

    def _array(
        self, node: Node, extras: dict[str, Any], nullable: bool
    ) -> tuple[str, dict[str, Any], bool] | None:
        items = node.get("items")
        if items is None or not isinstance(items.value, PMap):
            self.table.report(
                codes.UNMAPPABLE_TYPE,
                node.loc,
                node.pointer,
                "an array needs one `items` schema (tuples have no spec equivalent)",
            )
            return None
        inner = self.type_of(items)
        if inner is None:
            return None
        item = inner[0] + ("?" if inner[2] else "")
        return f"list[{item}]", extras, nullable

    def _object(
        self, node: Node, extras: dict[str, Any], nullable: bool
    ) -> tuple[str, dict[str, Any], bool] | None:
        schema = node.value
        extra = node.get("additionalProperties")
        if "properties" not in schema and extra is not None and isinstance(extra.value, PMap):
            inner = self.type_of(extra)
            if inner is None:
                return None
            return f"map[{inner[0]}{'?' if inner[2] else ''}]", extras, nullable
        if "properties" not in schema:
            self.table.report(
                codes.UNMAPPABLE_TYPE,
                node.loc,
                node.pointer,
                "a free-form object (no `properties`, no `additionalProperties` schema)",
            )
            return None
        base = names.pascal(_path_name(node.path))
        name, done = self.table.claim(base or "Record", node.where)
        if not done:
            self._define(name, node, True)
        extras.pop("default", None)
        return name, extras, nullable


_STRUCTURAL = {"properties", "items", "additionalProperties", "payload", "schema", "anyOf", "oneOf"}


def _path_name(path: tuple[str | int, ...]) -> str:
    """An inline schema's type name: its last two meaningful path words (the record and the
    property, e.g. `turnOnOffPayload/properties/command` -> TurnOnOffPayloadCommand)."""
    words = [str(p) for p in path if isinstance(p, str) and p not in _STRUCTURAL]
    return "_".join(words[-2:])


def _types(schema: PMap) -> tuple[list[str], bool]:
    kind = schema.get("type")
    kinds = [k for k in kind if isinstance(k, str)] if isinstance(kind, PList) else [kind]
    kinds = [k for k in kinds if isinstance(k, str)]
    if "enum" in schema and not kinds:
        kinds = ["string"]
    return [k for k in kinds if k != "null"], "null" in kinds


def _nullable_wrapper(schema: PMap) -> tuple[str, int] | None:
    """`oneOf/anyOf: [X, {type: null}]` is a nullable X: (keyword, index of X)."""
    for key in ("oneOf", "anyOf"):
        options = schema.get(key)
        if isinstance(options, PList) and len(options) == 2:
            nulls = [
                i for i, o in enumerate(options) if isinstance(o, PMap) and o.get("type") == "null"
            ]
            if len(nulls) == 1 and not any(k in schema for k in ("type", "properties")):
                return key, 1 - nulls[0]
    return None


def _scalar(kind: str, schema: PMap) -> str | None:
    fmt = schema.get("format")
    if kind == "string":
        if fmt in _BYTES_FORMATS or schema.get("contentEncoding") == "base64":
            return "bytes"
        return _STRING_FORMATS.get(fmt, "string") if isinstance(fmt, str) else "string"
    if kind == "integer":
        if fmt == "int32":
            return "int"
        low, high = schema.get("minimum"), schema.get("maximum")
        fits = (
            isinstance(low, int) and isinstance(high, int) and INT32[0] <= low <= high <= INT32[1]
        )
        return "int" if fits and fmt != "int64" else "long"
    if kind == "number":
        return "float" if fmt == "float" else "double"
    if kind == "boolean":
        return "boolean"
    return None


def _extras(schema: PMap) -> dict[str, Any]:
    extras: dict[str, Any] = {}
    for key, spec_key in _CONSTRAINTS.items():
        if key in schema and isinstance(schema[key], (int, float, str)):
            extras[spec_key] = schema[key]
    if isinstance(schema.get("description"), str):
        extras["doc"] = schema["description"]
    if schema.get("deprecated") is True:
        extras["deprecated"] = True
    if "default" in schema:
        extras["default"] = _plain(schema["default"])
    return extras


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
