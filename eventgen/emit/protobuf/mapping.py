"""The spec -> proto3 mapping of one context, before numbering (see docs: interop, Protobuf).

`context_shape` gives the messages and enums of a context's file with every number 0;
`plan` numbers them from the lock. Wrapper messages for values proto cannot say directly
(nullable lists and maps, lists/maps of nullable items or of lists/maps) are nested in the
message that owns the field and named from the field's PascalCase name:

    tags: list[string]?        -> TagsList tags = n;     message TagsList { repeated string values = 1; }
    tags: list[string?]        -> repeated TagsItem tags; message TagsItem { optional string value = 1; }
    grid: list[list[int]]      -> repeated GridItem grid; message GridItem { repeated int32 value = 1; }
    attrs: map[string?]        -> map<string, AttrsItem> attrs
    attrs: map[int]?           -> AttrsMap attrs;        message AttrsMap { map<string, int32> values = 1; }

Wrappers nest by appending to the name (`GridItem` of a `list[list[int]?]` holds a
`GridItemList`). Two fields whose wrappers get the same name are refused by E0912.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from eventgen.emit import layout
from eventgen.emit.protobuf.model import (
    TIMESTAMP,
    TIMESTAMP_IMPORT,
    Label,
    ProtoEnum,
    ProtoEnumValue,
    ProtoField,
    ProtoMessage,
    ValueKind,
    WrapperKind,
)
from eventgen.ir import naming
from eventgen.ir.model import (
    EnumType,
    Field,
    ListOf,
    MapOf,
    Message,
    Named,
    Project,
    RecordType,
    Scalar,
    TypeRef,
)

SCALAR_TYPES = {
    "string": "string", "int": "int32", "long": "int64", "float": "float",
    "double": "double", "boolean": "bool", "bytes": "bytes", "uuid": "string",
    "date": "string", "time": "string", "decimal": "string",
}  # fmt: skip
UNSPECIFIED = "UNSPECIFIED"


@dataclass(frozen=True)
class ContextShape:
    package: str
    messages: tuple[ProtoMessage, ...]  # sorted by name; numbers 0
    enums: tuple[ProtoEnum, ...]  # sorted by name; value numbers 0
    imports: tuple[str, ...]  # sorted
    # Field-level facts the checks need: (owner lock key, wrapper names in creation order).
    wrapper_names: tuple[tuple[str, tuple[str, ...]], ...] = ()


def pascal(field_name: str) -> str:
    """`line_items` -> `LineItems` (the base name of a field's wrappers)."""
    return "".join(part[:1].upper() + part[1:] for part in field_name.split("_"))


def upper_snake(name: str) -> str:
    """`OrderStatus` -> `ORDER_STATUS`, `inStock` -> `IN_STOCK` (buf's enum value style)."""
    return naming.snake(name).upper()


def enum_value_name(enum_name: str, symbol: str | None) -> str:
    return f"{upper_snake(enum_name)}_{UNSPECIFIED if symbol is None else upper_snake(symbol)}"


_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def doc_lines(text: str | None) -> tuple[str, ...]:
    """A spec doc as `//` comment lines: split on every line break, control and bidi
    characters written as `\\uXXXX` (a comment then cannot end early or read differently
    from how it is stored), trailing blanks dropped."""
    if not text:
        return ()
    lines = [
        _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", unicodedata.normalize("NFC", line))
        for line in text.splitlines()
    ]
    lines = [line.rstrip() for line in lines]
    while lines and not lines[-1]:
        lines.pop()
    return tuple(lines)


def type_context(qualified: str) -> str:
    return qualified.split(".", 1)[0]


class _ContextMapper:
    def __init__(self, project: Project, context: str) -> None:
        self.project = project
        self.context = context
        self.package = layout.proto_package(project, context)
        self.imports: set[str] = set()
        self.wrapper_names: list[tuple[str, tuple[str, ...]]] = []

    def full_name(self, qualified: str) -> str:
        ctx = type_context(qualified)
        if ctx != self.context:
            self.imports.add(layout.proto_import(ctx))
        return f"{layout.proto_package(self.project, ctx)}.{qualified.split('.', 1)[1]}"

    def message(
        self, name: str, origin: str, qualified: str, fields: tuple[Field, ...], doc: str | None
    ) -> ProtoMessage:
        full = f"{self.package}.{name}"
        nested: list[ProtoMessage] = []
        proto_fields = []
        for f in fields:
            sink = _Sink(self, full, name, nested)
            label, kind, type_, wrapper = sink.field(f.type, pascal(f.name))
            proto_fields.append(
                ProtoField(
                    f.name, 0, label, kind, type_, f.type, wrapper, f.deprecated, doc_lines(f.doc)
                )
            )
        self.wrapper_names.append((name, tuple(m.name for m in nested)))
        unique = {m.name: m for m in reversed(nested)}  # first wins; E0912 reports the rest
        return ProtoMessage(
            name,
            full,
            name,
            origin,  # type: ignore[arg-type]
            qualified,
            tuple(proto_fields),
            tuple(unique[k] for k in sorted(unique)),
            doc=doc_lines(doc),
        )


class _Sink:
    """Maps one spec field's type, collecting the wrappers it needs into `nested`."""

    def __init__(
        self, mapper: _ContextMapper, owner_full: str, owner: str, nested: list[ProtoMessage]
    ) -> None:
        self.mapper = mapper
        self.owner_full = owner_full
        self.owner = owner
        self.nested = nested

    def field(self, t: TypeRef, base: str) -> tuple[Label, ValueKind, str, WrapperKind | None]:
        match t:
            case Scalar(name="timestamp"):
                self.mapper.imports.add(TIMESTAMP_IMPORT)
                return "", "message", TIMESTAMP, None
            case Scalar():
                return ("optional" if t.nullable else ""), "scalar", SCALAR_TYPES[t.name], None
            case Named():
                target = self.mapper.project.named_type(t.name)
                full = self.mapper.full_name(t.name)
                if isinstance(target, EnumType):
                    return ("optional" if t.nullable else ""), "enum", full, None
                return "", "message", full, None
            case ListOf() | MapOf():
                is_list = isinstance(t, ListOf)
                kind, type_, elem_wrapper = self.element(t.item, base)
                if not t.nullable:
                    return ("repeated" if is_list else "map"), kind, type_, elem_wrapper
                wrapper: WrapperKind = "list" if is_list else "map"
                name = base + ("List" if is_list else "Map")
                inner = ProtoField(
                    "values",
                    0,
                    "repeated" if is_list else "map",
                    kind,
                    type_,
                    t,
                    elem_wrapper,
                )
                return "", "message", self.add(name, inner, wrapper, t), wrapper
        raise AssertionError(t)  # pragma: no cover - TypeRef is closed

    def element(self, t: TypeRef, base: str) -> tuple[ValueKind, str, WrapperKind | None]:
        """The element type of a repeated field / value type of a map field."""
        if isinstance(t, (Scalar, Named)) and not t.nullable:
            _, kind, type_, _ = self.field(t, base)
            return kind, type_, None
        name = base + "Item"
        label, kind, type_, wrapper = self.field(t, name)
        inner = ProtoField("value", 0, label, kind, type_, t, wrapper)
        return "message", self.add(name, inner, "item", t), "item"

    def add(self, name: str, inner: ProtoField, wrapper: WrapperKind, source: TypeRef) -> str:
        full = f"{self.owner_full}.{name}"
        self.nested.append(
            ProtoMessage(
                name,
                full,
                f"{self.owner}.{name}",
                "wrapper",
                "",
                (inner,),
                wrapper=wrapper,
                source=source,
            )
        )
        return full


def _enum(mapper: _ContextMapper, enum: EnumType) -> ProtoEnum:
    values = (ProtoEnumValue(enum_value_name(enum.name, None), 0, None),) + tuple(
        ProtoEnumValue(enum_value_name(enum.name, s), 0, s) for s in enum.symbols
    )
    return ProtoEnum(
        enum.name, f"{mapper.package}.{enum.name}", enum.qualified, values, doc=doc_lines(enum.doc)
    )


# (id(project), context) -> (project, shape). The name check (rules) and the emitters of
# one build ask for the same shapes; the project is kept so its id cannot be reused, and
# the memo holds the last few projects only (a long-lived process builds many).
_SHAPES: dict[tuple[int, str], tuple[Project, ContextShape]] = {}
_SHAPES_KEPT = 64


def context_shape(project: Project, context: str) -> ContextShape:
    """The context's file shape, computed once per (project object, context)."""
    key = (id(project), context)
    hit = _SHAPES.get(key)
    if hit is not None and hit[0] is project:
        return hit[1]
    shape = _context_shape(project, context)
    if len(_SHAPES) >= _SHAPES_KEPT:
        _SHAPES.pop(next(iter(_SHAPES)))
    _SHAPES[key] = (project, shape)
    return shape


def _context_shape(project: Project, context: str) -> ContextShape:
    ctx = project.context(context)
    mapper = _ContextMapper(project, context)
    messages: list[ProtoMessage] = []
    enums: list[ProtoEnum] = []
    for t in ctx.types:
        if isinstance(t, RecordType):
            messages.append(mapper.message(t.name, "record", t.qualified, t.fields, t.doc))
        else:
            enums.append(_enum(mapper, t))
    for m in ctx.messages:
        msg = mapper.message(m.name, m.kind, m.qualified, m.fields, m.doc)
        messages.append(_with_version(msg, m))
    by_name = {m.name: m for m in reversed(messages)}  # first wins; E0911 reports the rest
    enum_by_name = {e.name: e for e in reversed(enums)}
    return ContextShape(
        mapper.package,
        tuple(by_name[k] for k in sorted(by_name)),
        tuple(enum_by_name[k] for k in sorted(enum_by_name)),
        tuple(sorted(mapper.imports)),
        tuple(mapper.wrapper_names),
    )


def _with_version(msg: ProtoMessage, message: Message) -> ProtoMessage:
    from dataclasses import replace

    return replace(msg, version=message.version)
