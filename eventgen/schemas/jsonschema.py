"""IR -> JSON Schema (draft 2020-12) dicts: standalone documents with their `$defs`.

Pure: no file paths, no output. The JSON Schema emitter and the schema history / `diff`
(eventgen.evolution) both build through here. String-encoded scalars carry the regexes of
the scalar table (eventgen.ir.scalars), the ones the runtime validates with.
"""

from __future__ import annotations

from typing import Any

from eventgen.emit import layout
from eventgen.emit.layout import NamedType, TypeIndex
from eventgen.ir import naming, scalars
from eventgen.ir.model import (
    Constraints,
    EnumType,
    Field,
    ListOf,
    MapOf,
    Named,
    RecordType,
    Scalar,
    TypeRef,
)

NO_CONSTRAINTS = scalars.NO_CONSTRAINTS
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def document(
    index: TypeIndex, root: NamedType, ident: str, sources: tuple[str, ...]
) -> dict[str, Any]:
    """A standalone schema for `root`, its named dependencies under `$defs`."""
    builder = SchemaBuilder(index, root)
    schema = builder.named(root)
    schema.update(
        {
            "$schema": DIALECT,
            "$id": f"urn:eventgen:{index.project.name}:{ident}",
            "$comment": layout.header(sources),
        }
    )
    if builder.defs:
        schema["$defs"] = builder.defs
    return schema


class SchemaBuilder:
    """Builds one document: dependencies go to `$defs` under collision-free names."""

    def __init__(self, index: TypeIndex, root: NamedType) -> None:
        self.index = index
        self.closed = index.project.defaults.json_content_model == "closed"
        deps = [t for t in index.referenced(_fields(root)) if t.qualified != root.qualified]
        clash = {t.name for t in deps if sum(d.name == t.name for d in deps) > 1}
        self.keys = {
            t.qualified: naming.pascal(t.context) + t.name if t.name in clash else t.name
            for t in deps
        }
        self.defs: dict[str, Any] = {}
        for named in deps:
            self.defs[self.keys[named.qualified]] = self.named(named)

    def named(self, named: NamedType) -> dict[str, Any]:
        schema: dict[str, Any] = {"title": named.name}
        if named.doc:
            schema["description"] = named.doc
        if isinstance(named, EnumType):
            schema.update(type="string", enum=list(named.symbols))
            return schema
        required = [f.name for f in named.fields if not (f.has_default or f.type.nullable)]
        schema.update(
            type="object",
            properties={f.name: self.field(f) for f in named.fields},
            additionalProperties=not self.closed,
        )
        if required:
            schema["required"] = required
        return schema

    def field(self, f: Field) -> dict[str, Any]:
        schema = self.type(f.type, f.constraints)
        if f.doc:
            schema["description"] = f.doc
        if f.deprecated:
            schema["deprecated"] = True
        if f.has_default or f.type.nullable:
            value = f.default if f.has_default else None
            schema["default"] = wire_json(
                self.index, f.type, layout.typed_value(f.type, value, self.index)
            )
        return schema

    def type(self, ref: TypeRef, c: Constraints = NO_CONSTRAINTS) -> dict[str, Any]:
        inner = self._inner(ref, c)
        return {"anyOf": [inner, {"type": "null"}]} if ref.nullable else inner

    def _inner(self, ref: TypeRef, c: Constraints) -> dict[str, Any]:
        match ref:
            case ListOf(item):
                out = {"type": "array", "items": self.type(item)}
                return out | scalars.length_keywords(c, "minItems", "maxItems")
            case MapOf(item):
                out = {"type": "object", "additionalProperties": self.type(item)}
                return out | scalars.length_keywords(c, "minProperties", "maxProperties")
            case Named(name):
                return {"$ref": f"#/$defs/{self.keys[name]}"}
            case Scalar():
                return scalars.info(ref).json(ref, c)


def wire_json(index: TypeIndex, ref: TypeRef, value: Any) -> Any:
    """A typed value (see layout.typed_value) in its JSON wire form."""
    if value is None:
        return None
    match ref:
        case ListOf(item):
            return [wire_json(index, item, v) for v in value]
        case MapOf(item):
            return {k: wire_json(index, item, v) for k, v in value.items()}
        case Named(name):
            named = index[name]
            if isinstance(named, EnumType):
                return value
            return {
                f.name: wire_json(index, f.type, value[f.name])
                for f in named.fields
                if f.name in value
            }
        case Scalar():
            return scalars.json_wire(ref, value)


def _fields(named: NamedType) -> tuple[Field, ...]:
    return named.fields if isinstance(named, RecordType) else ()
