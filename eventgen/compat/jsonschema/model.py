"""Load JSON Schema documents into a typed model shaped like everit's, which Confluent diffs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from eventgen.compat.result import SchemaParseError

_OBJECT_KEYS = frozenset(
    {
        "properties",
        "required",
        "additionalProperties",
        "patternProperties",
        "dependencies",
        "dependentRequired",
        "dependentSchemas",
        "minProperties",
        "maxProperties",
        "propertyNames",
        "unevaluatedProperties",
    }
)
_ARRAY_KEYS = frozenset(
    {
        "items",
        "additionalItems",
        "prefixItems",
        "minItems",
        "maxItems",
        "uniqueItems",
        "contains",
        "minContains",
        "maxContains",
        "unevaluatedItems",
    }
)
_NUMBER_KEYS = frozenset(
    {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}
)
_STRING_KEYS = frozenset({"minLength", "maxLength", "pattern", "format"})
_TYPES = ("object", "array", "number", "integer", "string", "boolean", "null")


@dataclass(eq=False)
class JSchema:
    """One schema node; `kind` mirrors everit's class (object, array, combined, ref...)."""

    kind: str
    raw: Any
    id: Any = None
    title: Any = None
    description: Any = None
    default: Any = None
    has_default: bool = False
    # string / number constraints, keyed by keyword
    limits: dict[str, Any] = field(default_factory=dict)
    requires_integer: bool = False
    connect_bytes: bool = False
    # enum / const
    values: list[Any] = field(default_factory=list)
    # combined / not
    criterion: str = ""
    subschemas: list[JSchema] = field(default_factory=list)
    # object
    properties: dict[str, JSchema] = field(default_factory=dict)
    required: list[str] = field(default_factory=list)
    pattern_properties: dict[str, JSchema] = field(default_factory=dict)
    additional: JSchema | bool = True
    unevaluated: JSchema | bool = True
    property_deps: dict[str, list[str]] = field(default_factory=dict)
    schema_deps: dict[str, JSchema] = field(default_factory=dict)
    # array
    all_items: JSchema | None = None
    item_schemas: list[JSchema] | None = None
    # reference
    target: JSchema | None = None
    pointer: str = ""


def load_json_schema(schema: Any) -> JSchema:
    """Parse a JSON Schema (parsed JSON or JSON text) into the model; raise SchemaParseError."""
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except json.JSONDecodeError as exc:
            raise SchemaParseError(f"invalid JSON: {exc}") from exc
    loader = _Loader(schema)
    node = loader.load(schema)
    loader.resolve_refs()
    return node


def _resolve_pointer(root: Any, pointer: str) -> Any:
    if not pointer.startswith("#"):
        raise SchemaParseError(f"only local $ref values are supported offline: {pointer!r}")
    node = root
    for part in [p for p in pointer[1:].split("/") if p]:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise SchemaParseError(f"unresolvable $ref: {pointer!r}")
    return node


class _Loader:
    """Builds nodes; $ref targets are loaded once per pointer so recursion shares nodes."""

    def __init__(self, root: Any) -> None:
        self.root = root
        self.by_pointer: dict[str, JSchema] = {}
        self.refs: list[JSchema] = []
        self.draft2020 = isinstance(root, dict) and "2020-12" in str(root.get("$schema", ""))

    def resolve_refs(self) -> None:
        i = 0
        while i < len(self.refs):  # loading a target can add further references
            ref = self.refs[i]
            if ref.pointer not in self.by_pointer:
                self.by_pointer[ref.pointer] = JSchema(kind="empty", raw=None)
                loaded = self.load(_resolve_pointer(self.root, ref.pointer))
                self.by_pointer[ref.pointer].__dict__.update(loaded.__dict__)
            ref.target = self.by_pointer[ref.pointer]
            i += 1

    def load(self, s: Any) -> JSchema:
        if s is True:
            return JSchema(kind="true", raw=s)
        if s is False:
            return JSchema(kind="false", raw=s)
        if not isinstance(s, dict):
            raise SchemaParseError(f"a JSON Schema must be an object or a boolean, got {s!r}")
        if "$ref" in s:
            if not isinstance(s["$ref"], str):
                raise SchemaParseError("$ref must be a string")
            node = JSchema(kind="ref", raw=s, pointer=s["$ref"])
            self.refs.append(node)
            return node
        parts = self._extract(s)
        if not parts:
            node = JSchema(kind="empty", raw=s)
        elif len(parts) == 1:
            node = parts[0]
        else:
            node = JSchema(kind="combined", raw=s, criterion="allOf", subschemas=parts)
        node.id = s.get("$id", s.get("id") if isinstance(s.get("id"), str) else None)
        node.title = s.get("title")
        node.description = s.get("description")
        node.has_default = "default" in s
        node.default = s.get("default")
        return node

    def _extract(self, s: dict[str, Any]) -> list[JSchema]:
        parts: list[JSchema] = []
        for crit in ("allOf", "anyOf", "oneOf"):
            if crit in s:
                subs = s[crit]
                if not isinstance(subs, list) or not subs:
                    raise SchemaParseError(f"{crit} must be a non-empty array")
                loaded = [self.load(x) for x in subs]
                parts.append(JSchema(kind="combined", raw=s, criterion=crit, subschemas=loaded))
        if "not" in s:
            parts.append(JSchema(kind="not", raw=s, subschemas=[self.load(s["not"])]))
        if "enum" in s:
            if not isinstance(s["enum"], list):
                raise SchemaParseError("enum must be an array")
            parts.append(JSchema(kind="enum", raw=s, values=list(s["enum"])))
        if "const" in s:
            parts.append(JSchema(kind="const", raw=s, values=[s["const"]]))
        if "if" in s:
            parts.append(JSchema(kind="conditional", raw=s))
        t = s.get("type")
        if isinstance(t, str):
            parts.append(self._typed(s, t))
        elif isinstance(t, list):
            subs = [self._typed(s, x) for x in t]
            parts.append(JSchema(kind="combined", raw=s, criterion="anyOf", subschemas=subs))
        elif t is not None:
            raise SchemaParseError(f"'type' must be a string or an array, got {t!r}")
        else:
            keys = s.keys()
            # Without "type", keywords imply types (everit's sniffing), each not required.
            for group, kind in (
                (_OBJECT_KEYS, "object"),
                (_ARRAY_KEYS, "array"),
                (_NUMBER_KEYS, "number"),
                (_STRING_KEYS, "string"),
            ):
                if group & keys:
                    parts.append(self._typed(s, kind))
        return parts

    def _typed(self, s: dict[str, Any], t: Any) -> JSchema:
        if t not in _TYPES:
            raise SchemaParseError(f"unknown JSON Schema type {t!r}")
        if t in ("number", "integer"):
            node = JSchema(kind="number", raw=s, requires_integer=t == "integer")
            node.limits = {k: s[k] for k in _NUMBER_KEYS if k in s}
        elif t == "string":
            node = JSchema(kind="string", raw=s)
            node.limits = {k: s[k] for k in ("minLength", "maxLength", "pattern") if k in s}
        elif t == "object":
            node = self._object(s)
        elif t == "array":
            node = self._array(s)
        else:
            node = JSchema(kind=t, raw=s)
        node.connect_bytes = s.get("connect.type") == "bytes"
        return node

    def _sub(self, value: Any) -> JSchema | bool:
        return value if isinstance(value, bool) else self.load(value)

    def _object(self, s: dict[str, Any]) -> JSchema:
        node = JSchema(kind="object", raw=s)
        props = s.get("properties", {})
        if not isinstance(props, dict):
            raise SchemaParseError("properties must be an object")
        node.properties = {k: self.load(v) for k, v in props.items()}
        req = s.get("required", [])
        if not isinstance(req, list):
            raise SchemaParseError("required must be an array")
        node.required = [r for r in req if isinstance(r, str)]
        node.pattern_properties = {
            k: self.load(v) for k, v in s.get("patternProperties", {}).items()
        }
        node.additional = self._sub(s.get("additionalProperties", True))
        node.unevaluated = self._sub(s.get("unevaluatedProperties", True))
        deps = dict(s.get("dependencies", {}))
        deps.update(s.get("dependentRequired", {}))
        deps.update(s.get("dependentSchemas", {}))
        for key, dep in deps.items():
            if isinstance(dep, list):
                node.property_deps[key] = list(dep)
            else:
                node.schema_deps[key] = self.load(dep)
        node.limits = {k: s[k] for k in ("minProperties", "maxProperties") if k in s}
        return node

    def _array(self, s: dict[str, Any]) -> JSchema:
        node = JSchema(kind="array", raw=s)
        items = s.get("items")
        if "prefixItems" in s:
            node.item_schemas = [self.load(x) for x in s["prefixItems"]]
            node.additional = self._sub(items if items is not None else True)
        elif isinstance(items, list) and not self.draft2020:
            node.item_schemas = [self.load(x) for x in items]
            node.additional = self._sub(s.get("additionalItems", True))
        else:
            if items is not None:
                node.all_items = self.load(items)
            if not self.draft2020:
                node.additional = self._sub(s.get("additionalItems", True))
        if node.additional is True and "unevaluatedItems" in s:
            node.additional = self._sub(s["unevaluatedItems"])
        keys = ("minItems", "maxItems", "uniqueItems", "minContains", "maxContains")
        node.limits = {k: s[k] for k in keys if k in s}
        return node
