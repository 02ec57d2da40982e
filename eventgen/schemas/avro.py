"""IR -> Avro schema dicts: records, enums, arrays, maps and defaults in Avro's JSON encoding.

Pure: no file paths, no output. The Avro emitter, the Python `_avro` modules and the schema
history (eventgen.evolution) all build through here, usually via eventgen.schemas.Schemas,
which builds each message record once per build.
"""

from __future__ import annotations

from typing import Any

from eventgen.emit import layout
from eventgen.emit.layout import NamedType, TypeIndex
from eventgen.ir import naming, scalars
from eventgen.ir.model import EnumType, Field, ListOf, MapOf, Named, RecordType, Scalar, TypeRef
from eventgen.ir.types import non_null


def record_schema(
    index: TypeIndex,
    qualified: str,
    fields: tuple[Field, ...],
    doc: str | None,
    elsewhere: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """A record schema: named types defined at first use, referenced after.

    Types in `elsewhere` (qualified names) are always referenced by full name: their
    definitions live next to the schema (the Python schema modules); the default is standalone.
    """
    named = RecordType(qualified, *naming.split_qualified(qualified), fields=fields, doc=doc)
    builder = AvroBuilder(index)
    builder.defined.update(elsewhere)
    return builder.named(named)


def type_schema(index: TypeIndex, named: NamedType) -> dict[str, Any]:
    return AvroBuilder(index).named(named)


class AvroBuilder:
    """Builds one schema document; remembers which named types it has defined."""

    def __init__(self, index: TypeIndex) -> None:
        self.index = index
        self.project = index.project.name
        self.defined: set[str] = set()

    def named(self, named: NamedType) -> dict[str, Any]:
        self.defined.add(named.qualified)
        schema: dict[str, Any] = {
            "name": named.name,
            "namespace": naming.avro_namespace(self.project, named.context),
        }
        if named.doc:
            schema["doc"] = named.doc
        if isinstance(named, EnumType):
            schema.update(type="enum", symbols=list(named.symbols))
            if named.default is not None:
                schema["default"] = named.default
            return schema
        schema.update(type="record", fields=[self.field(f) for f in named.fields])
        return schema

    def field(self, f: Field) -> dict[str, Any]:
        out: dict[str, Any] = {"name": f.name}
        if f.doc:
            out["doc"] = f.doc
        if f.deprecated:
            out["deprecated"] = True  # a custom property: not part of the canonical form
        inner = self.type(non_null(f.type))
        if f.type.nullable:
            null_first = not f.has_default or f.default is None
            out["type"] = ["null", inner] if null_first else [inner, "null"]
        else:
            out["type"] = inner
        if f.has_default or f.type.nullable:
            value = f.default if f.has_default else None
            out["default"] = avro_default(self.index, f.type, value)
        return out

    def type(self, ref: TypeRef) -> Any:
        match ref:
            case ListOf(item):
                return {"type": "array", "items": self._member(item)}
            case MapOf(item):
                return {"type": "map", "values": self._member(item)}
            case Named(name):
                if name in self.defined:
                    return naming.avro_fullname(self.project, name)
                return self.named(self.index[name])
            case Scalar():
                return scalars.info(ref).avro(ref)

    def _member(self, ref: TypeRef) -> Any:
        inner = self.type(non_null(ref))
        return ["null", inner] if ref.nullable else inner


def avro_default(index: TypeIndex, ref: TypeRef, value: Any) -> Any:
    """A spec default in Avro's JSON encoding of defaults (bytes as ISO-8859-1 text)."""
    return _avro_json(index, ref, layout.typed_value(ref, value, index))


def _avro_json(index: TypeIndex, ref: TypeRef, value: Any) -> Any:
    if value is None:
        return None
    match ref:
        case ListOf(item):
            return [_avro_json(index, item, v) for v in value]
        case MapOf(item):
            return {k: _avro_json(index, item, v) for k, v in value.items()}
        case Named(name):
            named = index[name]
            if isinstance(named, EnumType):
                return value
            return {f.name: _avro_json(index, f.type, value[f.name]) for f in named.fields}
        case Scalar():
            return scalars.avro_json(ref, value)
