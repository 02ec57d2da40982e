"""The proto3 model of one context's `.proto` file, numbers applied (issue 12).

`plan.proto_files` builds it from the IR and the field-number lock; `render.render_proto`
turns it into text and `descriptor.file_descriptor` into the FileDescriptorProto protoc
would make of that text. Every field keeps the IR `TypeRef` it stands for, so the runtime
codec (eventgen/emit/protobuf/python.py) can generate converters from the model alone.

Names: `full_name` values never start with a dot (`shop.orders.Order`,
`shop.orders.Order.TagsItem`, `google.protobuf.Timestamp`); the renderer writes message and
enum references with a leading dot, so no name of a scope can shadow them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from eventgen.ir.model import TypeRef

# "" = singular without explicit presence (proto3 implicit), "optional" = explicit presence
# (a nullable scalar or enum), "repeated" = a list, "map" = map<string, value_type>.
Label = Literal["", "optional", "repeated", "map"]
# What a field's value type is: a proto scalar keyword, a message or an enum.
ValueKind = Literal["scalar", "message", "enum"]
# A wrapper message holds one spec value the proto type system cannot say directly:
#   "list": `<Base>List { repeated E values = 1; }` (a nullable list),
#   "map":  `<Base>Map { map<string, E> values = 1; }` (a nullable map),
#   "item": `<Base>Item { <T> value = 1; }` (one element of a list / value of a map that is
#           nullable or itself a list or map).
WrapperKind = Literal["list", "map", "item"]
# Where a top-level message comes from.
Origin = Literal["record", "event", "command", "query", "wrapper"]

TIMESTAMP = "google.protobuf.Timestamp"
TIMESTAMP_IMPORT = "google/protobuf/timestamp.proto"


@dataclass(frozen=True)
class ProtoField:
    name: str  # the spec's snake_case name; "value"/"values" in wrappers
    number: int
    label: Label
    kind: ValueKind
    type: str  # scalar keyword (`int64`) or full name of the message / enum (map: the value)
    # The IR type this field carries: the spec field's type for a spec field, the held value's
    # type for a wrapper's field (`values` of a list wrapper: the list type itself).
    source: TypeRef
    # When `type` is a wrapper message generated for this field: its kind, else None.
    wrapper: WrapperKind | None = None
    deprecated: bool = False
    doc: tuple[str, ...] = ()  # comment lines, already made safe


@dataclass(frozen=True)
class ProtoEnumValue:
    name: str  # full value name: `ORDER_STATUS_PAID`, `ORDER_STATUS_UNSPECIFIED`
    number: int
    symbol: str | None  # the spec symbol; None for the zero `_UNSPECIFIED` value


@dataclass(frozen=True)
class ProtoEnum:
    name: str  # `OrderStatus`
    full_name: str  # `shop.orders.OrderStatus`
    qualified: str  # the IR name `orders.OrderStatus`
    values: tuple[ProtoEnumValue, ...]  # by number, UNSPECIFIED (0) first
    reserved: tuple[int, ...] = ()  # sorted numbers of removed symbols
    reserved_names: tuple[str, ...] = ()  # sorted full value names of removed symbols
    doc: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProtoMessage:
    name: str  # `Order`, or a wrapper's local name `TagsItem`
    full_name: str  # `shop.orders.Order`, `shop.orders.Order.TagsItem`
    lock_key: str  # the message's key in the lock: `Order`, `Order.TagsItem`
    origin: Origin
    qualified: str  # IR name of the record/message (`orders.Order`); a wrapper: its owner's
    fields: tuple[ProtoField, ...]  # declaration order (the spec's), not by number
    nested: tuple[ProtoMessage, ...] = ()  # wrappers, sorted by name
    wrapper: WrapperKind | None = None
    source: TypeRef | None = None  # a wrapper: the IR type of the value it holds
    reserved: tuple[int, ...] = ()  # sorted numbers of removed fields
    reserved_names: tuple[str, ...] = ()  # sorted names of removed fields
    deprecated: bool = False
    doc: tuple[str, ...] = ()
    version: int | None = None  # events/commands/queries: the current version it encodes


@dataclass(frozen=True)
class ProtoFile:
    context: str
    path: str  # output-relative `protobuf/<module>.proto`
    import_path: str  # `<module>.proto` (protoc -I <output>/protobuf)
    package: str  # `shop.orders`
    imports: tuple[str, ...]  # sorted import paths
    messages: tuple[ProtoMessage, ...]  # sorted by name
    enums: tuple[ProtoEnum, ...]  # sorted by name
    doc: tuple[str, ...] = ()

    def message(self, name: str) -> ProtoMessage:
        """A top-level message by its local name."""
        for msg in self.messages:
            if msg.name == name:
                return msg
        raise KeyError(name)

    def enum(self, name: str) -> ProtoEnum:
        for enum in self.enums:
            if enum.name == name:
                return enum
        raise KeyError(name)
