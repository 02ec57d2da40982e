"""Field kinds, cardinalities and resolved editions features, as buf's breaking rules see them."""

from __future__ import annotations

import importlib
from typing import Any

from eventgen.compat.protobuf.parse import Located, Schema

# No type stubs ship with protobuf: descriptors are dynamic messages here.
descriptor_pb2: Any = importlib.import_module("google.protobuf.descriptor_pb2")

F = descriptor_pb2.FieldDescriptorProto
FS = descriptor_pb2.FeatureSet

# Types that share a wire AND a JSON encoding: a change inside a group is safe (buf WIRE_JSON).
WIRE_JSON_GROUP: dict[int, int] = {
    F.TYPE_INT32: 1,
    F.TYPE_UINT32: 1,
    F.TYPE_INT64: 2,
    F.TYPE_UINT64: 2,
    F.TYPE_FIXED32: 3,
    F.TYPE_SFIXED32: 3,
    F.TYPE_FIXED64: 4,
    F.TYPE_SFIXED64: 4,
    F.TYPE_BOOL: 5,
    F.TYPE_SINT32: 6,
    F.TYPE_SINT64: 7,
    F.TYPE_STRING: 8,
    F.TYPE_BYTES: 9,
    F.TYPE_DOUBLE: 10,
    F.TYPE_FLOAT: 11,
    F.TYPE_GROUP: 12,
    F.TYPE_MESSAGE: 13,
    F.TYPE_ENUM: 14,
}

KIND_NAMES: dict[int, str] = {
    number: name[len("TYPE_") :].lower() for name, number in F.Type.items()
}

# Cardinalities and their WIRE_JSON groups: optional with or without presence read alike;
# repeated and map differ in JSON.
OPTIONAL_EXPLICIT = "optional with explicit presence"
OPTIONAL_IMPLICIT = "optional with implicit presence"
REQUIRED = "required"
REPEATED = "repeated"
MAP = "map"
CARDINALITY_GROUP = {OPTIONAL_EXPLICIT: 1, OPTIONAL_IMPLICIT: 1, REQUIRED: 2, REPEATED: 3, MAP: 4}

# Options messages: field number of `features`, and the options field in the element.
_FEATURES_IN_OPTIONS = {"file": 50, "message": 12, "field": 21, "enum": 7}


def _edition(schema: Schema, file: str) -> str:
    syntax = schema.files[file].syntax or "proto2"
    if syntax == "editions":
        return "editions"
    return syntax


def _own_features(proto: object) -> Any:
    options = getattr(proto, "options", None)
    if options is not None and options.HasField("features"):
        features: Any = options.features
        return features
    return None


def resolved(schema: Schema, loc: Located | None, file: str, name: str, default: int) -> int:
    """A feature's value: the nearest explicit setting from `loc` up to the file, else default."""
    node = loc
    while node is not None:
        own = _own_features(node.proto)
        if own is not None and own.HasField(name):
            value: int = getattr(own, name)
            return value
        node = node.parent
    file_features = _own_features(schema.files[file])
    if file_features is not None and file_features.HasField(name):
        value = getattr(file_features, name)
        return value
    return default


def _int(value: Any) -> int:
    return int(value)


def json_format(schema: Schema, loc: Located) -> int:
    """ALLOW or LEGACY_BEST_EFFORT, resolved like protoc's feature resolution."""
    edition = _edition(schema, loc.file)
    default = _int(FS.LEGACY_BEST_EFFORT if edition == "proto2" else FS.ALLOW)
    if edition != "editions":
        return default
    return resolved(schema, loc, loc.file, "json_format", default)


def field_kind(schema: Schema, field: Any, owner: Located) -> int:
    """The field's wire kind; an editions message field with DELIMITED encoding is a group."""
    if field.type == F.TYPE_MESSAGE and _edition(schema, owner.file) == "editions":
        own = _own_features(field)
        if own is not None and own.HasField("message_encoding"):
            encoding = own.message_encoding
        else:
            encoding = resolved(
                schema, owner, owner.file, "message_encoding", _int(FS.LENGTH_PREFIXED)
            )
        if encoding == FS.DELIMITED:
            return _int(F.TYPE_GROUP)
    return _int(field.type)


def _is_map(schema: Schema, field: Any) -> bool:
    if field.label != F.LABEL_REPEATED or field.type != F.TYPE_MESSAGE:
        return False
    target = schema.messages.get(field.type_name.lstrip("."))
    return target is not None and target.proto.options.map_entry


def cardinality(schema: Schema, field: Any, owner: Located) -> str:
    """buf's cardinality of a field: repeated, map, required or optional with(out) presence."""
    if field.label == F.LABEL_REPEATED:
        return MAP if _is_map(schema, field) else REPEATED
    if field.label == F.LABEL_REQUIRED:
        return REQUIRED
    edition = _edition(schema, owner.file)
    if field.type in (F.TYPE_MESSAGE, F.TYPE_GROUP) or field.HasField("oneof_index"):
        return OPTIONAL_EXPLICIT
    if edition == "proto2":
        return OPTIONAL_EXPLICIT
    if edition == "proto3":
        return OPTIONAL_EXPLICIT if field.proto3_optional else OPTIONAL_IMPLICIT
    own = _own_features(field)
    if own is not None and own.HasField("field_presence"):
        presence = own.field_presence
    else:
        presence = resolved(schema, owner, owner.file, "field_presence", FS.EXPLICIT)
    if presence == FS.LEGACY_REQUIRED:
        return REQUIRED
    return OPTIONAL_IMPLICIT if presence == FS.IMPLICIT else OPTIONAL_EXPLICIT


def is_required(schema: Schema, field: Any, owner: Located) -> bool:
    return cardinality(schema, field, owner) == REQUIRED


def real_oneof(field: Any, owner: Located) -> str | None:
    """The name of the field's oneof, or None (a proto3 `optional` synthetic oneof is none)."""
    if not field.HasField("oneof_index") or field.proto3_optional:
        return None
    name: str = owner.proto.oneof_decl[field.oneof_index].name
    return name
