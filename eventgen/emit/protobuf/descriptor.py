"""The FileDescriptorProto protoc makes of `render_proto(file)`, built from the model.

tests/protobuf compare it with protoc's own output (source info dropped). It carries what
protoc adds by itself: `json_name` of every field, the map entry messages
(`<FieldPascal>Entry`, option map_entry) nested before the wrappers, and one synthetic
oneof `_<field>` per proto3 `optional` field.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2

from eventgen.emit.protobuf.model import ProtoEnum, ProtoField, ProtoFile, ProtoMessage

F = descriptor_pb2.FieldDescriptorProto
SCALAR_TYPES = {
    "string": F.TYPE_STRING, "int32": F.TYPE_INT32, "int64": F.TYPE_INT64,
    "float": F.TYPE_FLOAT, "double": F.TYPE_DOUBLE, "bool": F.TYPE_BOOL, "bytes": F.TYPE_BYTES,
}  # fmt: skip


def json_name(name: str) -> str:
    """protoc's ToJsonName: drop each `_` and upper-case the character after it."""
    out: list[str] = []
    upper = False
    for ch in name:
        if ch == "_":
            upper = True
        else:
            out.append(ch.upper() if upper and "a" <= ch <= "z" else ch)
            upper = False
    return "".join(out)


def map_entry_name(name: str) -> str:
    """protoc's MapEntryName: `line_items` -> `LineItemsEntry`."""
    out: list[str] = []
    upper = True
    for ch in name:
        if ch == "_":
            upper = True
        else:
            out.append(ch.upper() if upper and "a" <= ch <= "z" else ch)
            upper = False
    return "".join(out) + "Entry"


def _set_type(target: descriptor_pb2.FieldDescriptorProto, field: ProtoField) -> None:
    if field.kind == "scalar":
        target.type = SCALAR_TYPES[field.type]
    else:
        target.type = F.TYPE_MESSAGE if field.kind == "message" else F.TYPE_ENUM
        target.type_name = "." + field.type


def _message(msg: ProtoMessage) -> descriptor_pb2.DescriptorProto:
    out = descriptor_pb2.DescriptorProto(name=msg.name)
    synthetic: list[str] = []
    for field in msg.fields:
        fd = out.field.add(name=field.name, number=field.number, json_name=json_name(field.name))
        if field.deprecated:
            fd.options.deprecated = True
        if field.label == "map":
            entry = out.nested_type.add(name=map_entry_name(field.name))
            entry.options.map_entry = True
            entry.field.add(
                name="key", number=1, label=F.LABEL_OPTIONAL, type=F.TYPE_STRING, json_name="key"
            )
            value = entry.field.add(name="value", number=2, label=F.LABEL_OPTIONAL)
            value.json_name = "value"
            _set_type(value, field)
            fd.label = F.LABEL_REPEATED
            fd.type = F.TYPE_MESSAGE
            fd.type_name = f".{msg.full_name}.{entry.name}"
            continue
        fd.label = F.LABEL_REPEATED if field.label == "repeated" else F.LABEL_OPTIONAL
        _set_type(fd, field)
        if field.label == "optional":
            fd.proto3_optional = True
            fd.oneof_index = len(synthetic)
            synthetic.append("_" + field.name)
    for name in synthetic:
        out.oneof_decl.add(name=name)
    out.nested_type.extend(_message(n) for n in msg.nested)
    for number in msg.reserved:
        out.reserved_range.add(start=number, end=number + 1)
    out.reserved_name.extend(msg.reserved_names)
    return out


def _enum(enum: ProtoEnum) -> descriptor_pb2.EnumDescriptorProto:
    out = descriptor_pb2.EnumDescriptorProto(name=enum.name)
    for value in enum.values:
        out.value.add(name=value.name, number=value.number)
    for number in enum.reserved:
        out.reserved_range.add(start=number, end=number)  # inclusive for enums
    out.reserved_name.extend(enum.reserved_names)
    return out


def file_descriptor(file: ProtoFile) -> descriptor_pb2.FileDescriptorProto:
    out = descriptor_pb2.FileDescriptorProto(
        name=file.import_path, package=file.package, syntax="proto3"
    )
    out.dependency.extend(file.imports)
    out.message_type.extend(_message(m) for m in file.messages)
    out.enum_type.extend(_enum(e) for e in file.enums)
    return out
