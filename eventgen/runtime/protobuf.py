"""Protobuf values of generated models: message classes from the build's descriptors, and
converters model <-> proto message compiled once per message class.

`eventgen build` with `serialization: protobuf` writes `<package>/_proto/<ctx>.py` per
context (eventgen/emit/protobuf/python.py): the serialized FileDescriptorProto
(`DESCRIPTOR`), the modules of the contexts it imports (`DEPENDENCIES`), the `.proto` text
(`PROTO`, what the registry codec registers), and the proto message name and Confluent
message index of every message type (`MESSAGES`, `INDEXES`). The model of a context finds
its module from `Message.SCHEMAS` (`<package>._avro.<ctx>` -> `<package>._proto.<ctx>`).

Converters are straight-line Python, generated from the model's fields and the message's
descriptor and compiled on a class's first use (no reflection per value): the mapping is
the one in docs/interop.md (uuid/date/time/decimal as their JSON wire text, timestamps as
google.protobuf.Timestamp, nullable scalars as `optional`, wrapper messages for what proto3
cannot say directly). Decoding builds the field values and validates them with the model's
validator, so a proto value that breaks a constraint is `invalid_payload`.

google.protobuf is imported here only: serde imports this module only for protobuf routes.
"""

from __future__ import annotations

import importlib
import threading
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar
from uuid import UUID, SafeUUID

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError as ProtoDecodeError
from google.protobuf.message import Message as ProtoMessage
from google.protobuf.timestamp_pb2 import Timestamp as ProtoTimestamp
from pydantic import ValidationError

from eventgen.runtime.errors import DecodeError
from eventgen.runtime.model import Message, Record
from eventgen.runtime.scalars import (
    DateWire,
    DecimalSpec,
    TimestampWire,
    TimeWire,
    UuidWire,
)

M = TypeVar("M", bound=Message)
TIMESTAMP = "google.protobuf.Timestamp"
TIMESTAMP_FILE = ProtoTimestamp.DESCRIPTOR.file.serialized_pb
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# -- descriptors and message classes ---------------------------------------------------------

# One pool per generated package: two builds may both have an `orders.proto` (file names
# are the context's), and a pool holds one file per name. Not the default pool either, so
# protoc-generated classes of the same files can live beside these in one process.
_pools: dict[str, descriptor_pool.DescriptorPool] = {}  # generated package -> its pool
_loaded: set[str] = set()  # generated `_proto` module names added to their pool
_pool_lock = threading.RLock()


def proto_module_name(cls: type[Message]) -> str:
    """`<package>._proto.<ctx>` of a message class (from its Avro module's name)."""
    package, _, ctx = cls.SCHEMAS.rpartition(".")
    return f"{package.rpartition('.')[0]}._proto.{ctx}"


def pool_of(module_name: str) -> descriptor_pool.DescriptorPool:
    """The pool of the generated package a `<package>._proto.<ctx>` module belongs to."""
    package = module_name.rpartition("._proto.")[0]
    with _pool_lock:
        pool = _pools.get(package)
        if pool is None:
            pool = _pools[package] = descriptor_pool.DescriptorPool()
            pool.Add(descriptor_pb2.FileDescriptorProto.FromString(TIMESTAMP_FILE))
    return pool


def load_module(name: str) -> Any:
    """Import a generated `_proto` module and add its file (imports first) to its pool."""
    module = importlib.import_module(name)
    with _pool_lock:
        if name in _loaded:
            return module
        for dependency in module.DEPENDENCIES:
            load_module(dependency)
        pool_of(name).Add(descriptor_pb2.FileDescriptorProto.FromString(module.DESCRIPTOR))
        _loaded.add(name)
    return module


def message_class(pool: descriptor_pool.DescriptorPool, full_name: str) -> type[ProtoMessage]:
    """The proto message class of a full name in `pool` (its file loaded already)."""
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(full_name))


# -- model types, as the converters see them ------------------------------------------------


@dataclass(frozen=True)
class Node:
    """A model field type: `kind` is scalar, uuid, date, time, decimal, timestamp, enum,
    record, list, map or nullable; `of` the item/inner type, `cls` the enum or record."""

    kind: str
    of: Node | None = None
    cls: Any = None
    marker: Any = None  # uuid, date, time, decimal: the scalars marker whose wire rule applies


_MARKERS = ((UuidWire, "uuid"), (TimestampWire, "timestamp"), (DateWire, "date"),
            (TimeWire, "time"), (DecimalSpec, "decimal"))  # fmt: skip
_PLAIN = {UUID: "uuid", datetime: "timestamp", date: "date", time: "time", Decimal: "decimal"}
_DEFAULT_MARKERS: dict[str, Any] = {"uuid": UuidWire(), "date": DateWire(), "time": TimeWire()}


def node_of(annotation: Any, metadata: list[Any] | tuple[Any, ...] = ()) -> Node:
    """The Node of a pydantic field annotation (with the metadata pydantic lifted off it)."""
    for marker in metadata:
        for marker_type, kind in _MARKERS:
            if isinstance(marker, marker_type):
                return Node(kind, marker=marker)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return node_of(args[0], args[1:])
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if len(inner) != 1 or len(args) != 2:
            raise TypeError(f"unsupported union {annotation!r}")
        return Node("nullable", node_of(inner[0]))
    if origin in (tuple, list):
        return Node("list", node_of(args[0]))
    if origin is dict:
        return Node("map", node_of(args[1]))
    if isinstance(annotation, type):
        if annotation in _PLAIN:
            kind = _PLAIN[annotation]
            return Node(kind, marker=_DEFAULT_MARKERS.get(kind))
        if issubclass(annotation, Enum):
            return Node("enum", cls=annotation)
        if issubclass(annotation, Record):
            return Node("record", cls=annotation)
        if annotation in (str, int, float, bool, bytes):
            return Node("scalar")
    raise TypeError(f"no protobuf mapping for {annotation!r}")


def fields_of(cls: type[Record]) -> list[tuple[str, str, Node]]:
    """(attribute, wire name, Node) of every field of a model, in declaration order."""
    return [
        (name, info.alias or name, node_of(info.annotation, info.metadata))
        for name, info in cls.model_fields.items()
    ]


# -- converter source ---------------------------------------------------------------------


def _upper_key(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch.isalnum())


class _Compiler:
    """Writes the encoder and decoder functions of one message class and what they use."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.names: dict[str, Any] = {
            "_EPOCH": _EPOCH, "_timedelta": timedelta, "_format": format,
        }  # fmt: skip
        self.done: dict[tuple[Any, str], str] = {}  # (record class, proto name) -> suffix
        self.pending: list[tuple[type[Record], Descriptor, str]] = []
        self._count = 0

    def constant(self, prefix: str, value: Any) -> str:
        self._count += 1
        name = f"_{prefix}{self._count}"
        self.names[name] = value
        return name

    def record(self, cls: type[Record], desc: Descriptor) -> str:
        key = (cls, desc.full_name)
        suffix = self.done.get(key)
        if suffix is None:
            suffix = self.done[key] = str(len(self.done))
            self.pending.append((cls, desc, suffix))
        return suffix

    def run(self) -> None:
        while self.pending:
            cls, desc, suffix = self.pending.pop()
            self._write(cls, desc, suffix)

    def _write(self, cls: type[Record], desc: Descriptor, suffix: str) -> None:
        message = self.constant("Msg", message_factory.GetMessageClass(desc))
        encode: list[str] = []
        decode: list[str] = []
        for attr, wire, node in fields_of(cls):
            fd = desc.fields_by_name.get(wire)
            if fd is None:
                raise TypeError(f"{desc.full_name} has no field {wire!r} ({cls.__name__})")
            encode.append(f"{wire}={self.enc_field(node, fd, f'v.{attr}')}")
            decode.append(f"{wire!r}: {self.dec_field(node, fd, 'm')}")
        self.lines.append(f"def _enc{suffix}(v):\n    return {message}({', '.join(encode)})\n")
        self.lines.append(f"def _dec{suffix}(m):\n    return {{{', '.join(decode)}}}\n")

    # encoding: a model value expression `x` -> the value given to a proto constructor

    def enc_field(self, node: Node, fd: FieldDescriptor, x: str) -> str:
        if _is_collection(fd):
            return self.enc_collection(node, fd, x)
        if node.kind == "nullable":
            inner = node.of
            assert inner is not None
            return f"(None if {x} is None else {self.enc_field(inner, fd, x)})"
        if node.kind in ("list", "map"):  # a wrapper message around the collection
            inner_fd = _single_field(fd)
            wrapper = self.constant("Msg", message_factory.GetMessageClass(_message_type(fd)))
            return f"{wrapper}({inner_fd.name}={self.enc_collection(node, inner_fd, x)})"
        return self.enc_leaf(node, fd, x)

    def enc_collection(self, node: Node, fd: FieldDescriptor, x: str) -> str:
        item = node.of
        if node.kind not in ("list", "map") or item is None:
            raise TypeError(f"{fd.full_name} is repeated but the model type is {node.kind}")
        y = f"y{self._count}"
        self._count += 1
        if node.kind == "map":
            value_fd = _message_type(fd).fields_by_name["value"]
            return f"{{k: {self.enc_element(item, value_fd, y)} for k, {y} in {x}.items()}}"
        if item.kind == "scalar":
            return x
        return f"[{self.enc_element(item, fd, y)} for {y} in {x}]"

    def enc_element(self, item: Node, fd: FieldDescriptor, y: str) -> str:
        """An element of a repeated field or map value; null/collection items are wrapped."""
        if item.kind in ("nullable", "list", "map"):
            inner_fd = _single_field(fd)
            wrapper = self.constant("Msg", message_factory.GetMessageClass(_message_type(fd)))
            return f"{wrapper}({inner_fd.name}={self.enc_field(item, inner_fd, y)})"
        return self.enc_leaf(item, fd, y)

    def enc_leaf(self, node: Node, fd: FieldDescriptor, x: str) -> str:
        kind = node.kind
        if kind == "scalar":
            return x
        if kind == "uuid":
            return f"str({x})"
        if kind in ("date", "time"):
            return f"{x}.isoformat()"
        if kind == "decimal":
            return f"_format({x}, 'f')"
        if kind == "timestamp":
            return f"_ts({x})"
        if kind == "enum":
            return f"{self.constant('E', _enum_numbers(node.cls, fd))}[{x}]"
        if kind == "record":
            return f"_enc{self.record(node.cls, _message_type(fd))}({x})"
        raise TypeError(f"{fd.full_name}: no leaf encoding for {kind}")

    # decoding: the proto field `name` of message expression `m` -> a model field value

    def dec_field(self, node: Node, fd: FieldDescriptor, m: str) -> str:
        read = f"{m}.{fd.name}"
        if _is_collection(fd):
            return self.dec_collection(node, fd, read)
        inner = node.of if node.kind == "nullable" else node
        assert inner is not None
        if inner.kind in ("list", "map"):
            inner_fd = _single_field(fd)
            value = self.dec_collection(inner, inner_fd, f"{read}.{inner_fd.name}")
        else:
            value = self.dec_leaf(inner, fd, read)
        if fd.has_presence:  # nullable (optional / message) or a required message
            return f"({value} if {m}.HasField({fd.name!r}) else None)"
        return value

    def dec_collection(self, node: Node, fd: FieldDescriptor, read: str) -> str:
        item = node.of
        if node.kind not in ("list", "map") or item is None:
            raise TypeError(f"{fd.full_name} is repeated but the model type is {node.kind}")
        y = f"y{self._count}"
        self._count += 1
        if node.kind == "map":
            value_fd = _message_type(fd).fields_by_name["value"]
            return f"{{k: {self.dec_element(item, value_fd, y)} for k, {y} in {read}.items()}}"
        if item.kind == "scalar":
            return f"list({read})"
        return f"[{self.dec_element(item, fd, y)} for {y} in {read}]"

    def dec_element(self, item: Node, fd: FieldDescriptor, y: str) -> str:
        if item.kind in ("nullable", "list", "map"):
            return self.dec_field(item, _single_field(fd), y)
        return self.dec_leaf(item, fd, y)

    def dec_leaf(self, node: Node, fd: FieldDescriptor, read: str) -> str:
        kind = node.kind
        if kind == "scalar":
            return read
        if kind in ("uuid", "date", "time", "decimal"):
            # The JSON wire text: parsed by the marker's JSON-mode rule (the models' python
            # mode takes only instances), so a proto string passes the rules JSON text does.
            if node.marker is None:
                raise TypeError(f"{fd.full_name}: {kind} without its wire rule")
            reader = _wire_reader(node.marker, kind, fd.full_name)
            return f"{self.constant('W', reader)}({read})"
        if kind == "timestamp":
            return f"_dt({read})"
        if kind == "enum":
            symbols = {n: s for s, n in _enum_numbers(node.cls, fd).items()}
            return f"{self.constant('D', symbols)}.get({read})"
        if kind == "record":
            return f"_dec{self.record(node.cls, _message_type(fd))}({read})"
        raise TypeError(f"{fd.full_name}: no leaf decoding for {kind}")


_PARSERS: dict[str, Callable[[str], Any]] = {
    "decimal": Decimal, "date": date.fromisoformat, "time": time.fromisoformat,
}  # fmt: skip


def _wire_reader(marker: Any, kind: str, where: str) -> Callable[[str], Any]:
    """The value of a proto string holding `kind`'s JSON wire text, by the marker's pattern.

    The pattern is the JSON rule (a UUID only as 8-4-4-4-12, a decimal in plain notation);
    what it lets through parses, and the model's validator then checks the rest (a
    decimal's precision and scale) as for any Python value. ValueError names the field.
    """
    search = marker.regex.search
    if kind == "uuid":
        new, set_, unknown = object.__new__, object.__setattr__, SafeUUID.unknown

        def read_uuid(text: str) -> Any:
            if search(text) is None:
                raise ValueError(f"{where}: not a UUID: {text[:80]!r}")
            # 32 hex digits, as the pattern checked: what UUID(hex) ends with, without its
            # re-parsing of braces and prefixes (the hot path of every keyed message).
            value = new(UUID)
            set_(value, "int", int(text.replace("-", ""), 16))
            set_(value, "is_safe", unknown)
            return value

        return read_uuid
    parse = _PARSERS[kind]

    def read(text: str) -> Any:
        if search(text) is None:
            raise ValueError(f"{where}: not a {kind}: {text[:80]!r}")
        return parse(text)

    return read


def _is_collection(fd: FieldDescriptor) -> bool:
    return bool(fd.is_repeated)


def _message_type(fd: FieldDescriptor) -> Descriptor:
    if fd.message_type is None:
        raise TypeError(f"{fd.full_name} is no message field")
    return fd.message_type


def _single_field(fd: FieldDescriptor) -> FieldDescriptor:
    """The one field of a wrapper message (`values` of a list, `value` of an item...)."""
    fields = _message_type(fd).fields
    if len(fields) != 1:
        raise TypeError(f"{fd.full_name}: expected a wrapper message with one field")
    return fields[0]


def _enum_numbers(cls: type[Enum], fd: FieldDescriptor) -> dict[str, int]:
    """Model symbol -> proto enum number (`<ENUM>_<SYMBOL>`, the zero value excluded)."""
    enum = fd.enum_type
    if enum is None:
        raise TypeError(f"{fd.full_name} is no enum field")
    zero = enum.values_by_number[0].name
    prefix = zero.removesuffix("UNSPECIFIED")
    by_key = {_upper_key(v.name.removeprefix(prefix)): v.number for v in enum.values if v.number}
    out: dict[str, int] = {}
    for member in cls:
        number = by_key.get(_upper_key(str(member.value)))
        if number is None:
            raise TypeError(f"{enum.full_name} has no value for {cls.__name__}.{member.name}")
        out[str(member.value)] = number
    return out


def _timestamp_encoder(cls: type[ProtoMessage]) -> Callable[[datetime], ProtoMessage]:
    """datetime -> Timestamp of `cls`: the class of this module's pool (not timestamp_pb2's,
    whose instances a message of another pool refuses)."""

    def ts(value: datetime) -> ProtoMessage:
        delta = value - _EPOCH
        return cls(seconds=delta.days * 86_400 + delta.seconds, nanos=delta.microseconds * 1000)

    return ts


def _dt(value: Any, epoch: datetime = _EPOCH, delta: type[timedelta] = timedelta) -> datetime:
    # Nanoseconds below a microsecond are dropped: the models hold microseconds.
    return epoch + delta(0, value.seconds, value.nanos // 1000)


# -- per class: the proto class, its converters, the Confluent index --------------------------


@dataclass(frozen=True)
class ProtoBinding:
    """What the codecs need of one message class under protobuf."""

    proto: type[ProtoMessage]
    full_name: str
    index: tuple[int, ...]  # Confluent message index path in its file
    module: Any  # the generated `_proto` module (PROTO text, FILE, DEPENDENCIES)
    to_proto: Callable[[Message], ProtoMessage]
    from_proto: Callable[[ProtoMessage], dict[str, Any]]


_bindings: dict[type[Message], ProtoBinding] = {}


def binding(cls: type[Message]) -> ProtoBinding:
    """The binding of a message class (built and compiled on first use)."""
    found = _bindings.get(cls)
    if found is None:
        with _pool_lock:
            found = _bindings.get(cls)
            if found is None:
                found = _bindings[cls] = _bind(cls)
    return found


def _bind(cls: type[Message]) -> ProtoBinding:
    module = load_module(proto_module_name(cls))
    name = module.MESSAGES.get(cls.TYPE)
    if name is None:
        raise DecodeError("unknown_type", "no protobuf message for this type", cls.TYPE)
    full_name = f"{module.PACKAGE}.{name}"
    pool = pool_of(module.__name__)
    desc = pool.FindMessageTypeByName(full_name)
    compiler = _Compiler()
    compiler.names["_ts"] = _timestamp_encoder(message_class(pool, TIMESTAMP))
    compiler.names["_dt"] = _dt
    root = compiler.record(cls, desc)
    compiler.run()
    scope = dict(compiler.names)
    exec(compile("\n".join(compiler.lines), f"<protobuf {cls.TYPE}>", "exec"), scope)  # noqa: S102
    return ProtoBinding(
        message_factory.GetMessageClass(desc),
        full_name,
        tuple(module.INDEXES[cls.TYPE]),
        module,
        scope[f"_enc{root}"],
        scope[f"_dec{root}"],
    )


def encode_protobuf(message: Message) -> bytes:
    """The payload as a bare protobuf message of its current version."""
    return binding(type(message)).to_proto(message).SerializeToString()


def read_protobuf(cls: type[Message], data: bytes) -> dict[str, Any]:
    """The field values of a protobuf payload (unvalidated); DecodeError when unreadable."""
    bound = binding(cls)
    try:
        proto = bound.proto.FromString(data)
    except ProtoDecodeError as exc:
        raise DecodeError("corrupt_payload", f"not a {bound.full_name}: {exc}", cls.TYPE) from exc
    try:
        return bound.from_proto(proto)
    except (ValueError, OverflowError) as exc:  # e.g. a Timestamp out of datetime's range
        raise DecodeError("invalid_payload", f"{type(exc).__name__}: {exc}", cls.TYPE) from exc


def decode_protobuf(cls: type[M], data: bytes) -> M:
    """A model from a bare protobuf payload of its current version; DecodeError on failure."""
    values = read_protobuf(cls, data)
    try:
        return cls.model_validate(values)
    except ValidationError as exc:
        raise DecodeError("invalid_payload", str(exc), cls.TYPE) from exc
