"""The converters of the protobuf codec: straight-line Python written per message class from
the model's fields and the message's descriptor, compiled once (no reflection per value).

The mapping is docs/interop.md's: uuid/date/time/decimal as their JSON wire text (read back
by the same patterns JSON text must match), timestamps as google.protobuf.Timestamp,
nullable scalars and enums as proto3 `optional`, wrapper messages for what proto3 cannot say
directly (a nullable list or map, a nullable or collection element).

Decoding checks every rule the model's validator would on the values it makes (patterns,
string lengths, integer bounds, finite floats, decimal precision and scale, known enum
numbers, required messages present) and builds the model instances directly, as
`model_construct` would, for classes whose fields hold only the runtime's own markers and
that declare no validators of their own. Any other class is validated by its validator, as
its field values (dicts of wire names); both ways give equal models. Failures are ValueError
naming the field; eventgen.runtime.protobuf turns them into `invalid_payload`.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from pydantic import BaseModel

from eventgen.runtime.model import Record
from eventgen.runtime.protobuf_values import (
    enum_reader,
    float_check,
    int_check,
    str_check,
    wire_reader,
)
from eventgen.runtime.scalars import (
    INT32,
    INT64,
    BoolWire,
    BytesWire,
    DateWire,
    DecimalSpec,
    FloatRange,
    IntRange,
    Str,
    TimestampWire,
    TimeWire,
    UuidWire,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SLOTS: dict[str, Any] = dict(vars(BaseModel))  # its slots' descriptors: setters of instances


# -- model types, as the converters see them ------------------------------------------------


@dataclass(frozen=True)
class Node:
    """A model field type: `kind` is scalar, uuid, date, time, decimal, timestamp, enum,
    record, list, map or nullable; `of` the item/inner type, `cls` the enum or record."""

    kind: str
    of: Node | None = None
    cls: Any = None
    marker: Any = None  # the scalars marker of the value (its wire rule, its bounds)


_MARKERS = ((UuidWire, "uuid"), (TimestampWire, "timestamp"), (DateWire, "date"),
            (TimeWire, "time"), (DecimalSpec, "decimal"))  # fmt: skip
_PLAIN = {UUID: "uuid", datetime: "timestamp", date: "date", time: "time", Decimal: "decimal"}
_DEFAULT_MARKERS: dict[str, Any] = {"uuid": UuidWire(), "date": DateWire(), "time": TimeWire()}
_SCALAR_MARKERS = (Str, IntRange, FloatRange, BoolWire, BytesWire)
# The metadata a class may carry and still be built without its validator: the decoder
# checks what each of these checks.
_KNOWN = (*_SCALAR_MARKERS, UuidWire, TimestampWire, DateWire, TimeWire, DecimalSpec)
_TYPE_RANGES = {FieldDescriptor.TYPE_INT32: INT32, FieldDescriptor.TYPE_INT64: INT64}


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
            markers = [m for m in metadata if isinstance(m, _SCALAR_MARKERS)]
            return Node("scalar", marker=markers[0] if markers else None)
    raise TypeError(f"no protobuf mapping for {annotation!r}")


def _known(annotation: Any, metadata: Any = ()) -> bool:
    """Whether every marker in a field type is one the decoder checks by itself."""
    if not all(isinstance(m, _KNOWN) for m in metadata):
        return False
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _known(args[0], args[1:])
    return all(_known(a) for a in args)


def constructible(cls: type[Record]) -> bool:
    """Whether the decoder may build `cls` without its validator (see the module doc)."""
    decorators = cls.__pydantic_decorators__
    return (
        not (decorators.validators or decorators.field_validators or decorators.root_validators
             or decorators.model_validators)
        and cls.__pydantic_post_init__ is None
        and not cls.__private_attributes__
        and cls.model_config.get("extra") in ("forbid", "ignore")
        and all(_known(i.annotation, i.metadata) for i in cls.model_fields.values())
    )  # fmt: skip


def fields_of(cls: type[Record]) -> list[tuple[str, str, Node]]:
    """(attribute, wire name, Node) of every field of a model, in declaration order."""
    return [
        (name, info.alias or name, node_of(info.annotation, info.metadata))
        for name, info in cls.model_fields.items()
    ]


# -- converter source ---------------------------------------------------------------------


def _upper_key(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch.isalnum())


class Compiler:
    """Writes the encoder and decoder functions of one message class and what they use."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.names: dict[str, Any] = {
            "_EPOCH": _EPOCH, "_timedelta": timedelta, "_format": format, "_Decimal": Decimal,
            "_new": object.__new__, "_set": object.__setattr__,
            "_fields_set": _SLOTS["__pydantic_fields_set__"].__set__,
            "_extra": _SLOTS["__pydantic_extra__"].__set__,
            "_private": _SLOTS["__pydantic_private__"].__set__,
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
        direct = constructible(cls)
        for attr, wire, node in fields_of(cls):
            fd = desc.fields_by_name.get(wire)
            if fd is None:
                raise TypeError(f"{desc.full_name} has no field {wire!r} ({cls.__name__})")
            encode.append(f"{wire}={self.enc_field(node, fd, f'v.{attr}')}")
            decode.append(f"{attr if direct else wire!r}: {self.dec_field(node, fd, 'm')}")
        self.lines.append(f"def _enc{suffix}(v):\n    return {message}({', '.join(encode)})\n")
        values = f"{{{', '.join(decode)}}}"
        if not direct:
            check = self.constant("Validate", cls.__pydantic_validator__.validate_python)
            self.lines.append(f"def _dec{suffix}(m):\n    return {check}({values})\n")
            return
        # What model_construct sets (every field is given: no defaults to fill), inline:
        # a model per nested record is the decoder's main cost.
        model, names = self.constant("Cls", cls), self.constant("Names", set(cls.model_fields))
        self.lines.append(
            f"def _dec{suffix}(m):\n    o = _new({model})\n    _set(o, '__dict__', {values})\n"
            f"    _fields_set(o, {names}.copy())\n    _extra(o, None)\n    _private(o, None)\n"
            "    return o\n"
        )

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
            absent = "None" if node.kind == "nullable" else f"{self.missing(fd)}()"
            return f"({value} if {m}.HasField({fd.name!r}) else {absent})"
        return value

    def missing(self, fd: FieldDescriptor) -> str:
        def missing() -> Any:
            raise ValueError(f"{fd.full_name}: required, but not in the message")

        return self.constant("Missing", missing)

    def dec_collection(self, node: Node, fd: FieldDescriptor, read: str) -> str:
        item = node.of
        if node.kind not in ("list", "map") or item is None:
            raise TypeError(f"{fd.full_name} is repeated but the model type is {node.kind}")
        y = f"y{self._count}"
        self._count += 1
        if node.kind == "map":
            value_fd = _message_type(fd).fields_by_name["value"]
            return f"{{k: {self.dec_element(item, value_fd, y)} for k, {y} in {read}.items()}}"
        if item.kind == "scalar" and self.check(item, fd) is None:
            return f"tuple({read})"  # the models hold lists as tuples
        return f"tuple([{self.dec_element(item, fd, y)} for {y} in {read}])"

    def dec_element(self, item: Node, fd: FieldDescriptor, y: str) -> str:
        if item.kind in ("nullable", "list", "map"):
            return self.dec_field(item, _single_field(fd), y)
        return self.dec_leaf(item, fd, y)

    def dec_leaf(self, node: Node, fd: FieldDescriptor, read: str) -> str:
        kind = node.kind
        if kind == "scalar":
            check = self.check(node, fd)
            if check is None:
                return read
            return self.inline_check(node.marker, read, self.constant("Check", check))
        if kind == "decimal" and node.marker is not None:
            return self.inline_decimal(node.marker, read, fd.full_name)
        if kind in ("uuid", "date", "time", "decimal"):
            # The JSON wire text: parsed by the marker's JSON-mode rule (the models' python
            # mode takes only instances), so a proto string passes the rules JSON text does.
            if node.marker is None:
                raise TypeError(f"{fd.full_name}: {kind} without its wire rule")
            reader = wire_reader(node.marker, kind, fd.full_name)
            return f"{self.constant('W', reader)}({read})"
        if kind == "timestamp":  # nanoseconds below a microsecond dropped, as the models hold
            t = f"t{self._count}"
            self._count += 1
            return f"(_EPOCH + _timedelta(0, ({t} := {read}).seconds, {t}.nanos // 1000))"
        if kind == "enum":
            members = {n: node.cls(s) for s, n in _enum_numbers(node.cls, fd).items()}
            return f"{self.constant('Enum', enum_reader(members, fd.full_name))}({read})"
        if kind == "record":
            return f"_dec{self.record(node.cls, _message_type(fd))}({read})"
        raise TypeError(f"{fd.full_name}: no leaf decoding for {kind}")

    def local(self) -> str:
        self._count += 1
        return f"v{self._count}"

    def inline_check(self, marker: Any, read: str, check: str) -> str:
        """The common case of `check` inline (no call per value); `check` for the rest."""
        v = self.local()
        if isinstance(marker, IntRange):
            low, high = self.constant("Low", marker.minimum), self.constant("High", marker.maximum)
            return f"({v} if {low} <= ({v} := {read}) <= {high} else {check}({v}))"
        if isinstance(marker, Str):
            tests = [f"{marker.min_length or 0} <= len({v} := {read})"]
            if marker.max_length is not None:
                tests[0] += f" <= {marker.max_length}"
            if marker.regex is not None:
                tests.append(f"{self.constant('Search', marker.regex.search)}({v}) is not None")
            return f"({v} if {' and '.join(tests)} else {check}({v}))"
        return f"{check}({read})"

    def inline_decimal(self, marker: DecimalSpec, read: str, where: str) -> str:
        """`wire_reader`'s decimal fast case inline; the reader itself for anything else."""
        t, d = self.local(), self.local()
        search = self.constant("Search", marker.regex.search)
        quantum = self.constant("Quantum", marker.quantum)
        slow = self.constant("W", wire_reader(marker, "decimal", where))
        sign = "" if marker.signed else f" and not {d}.is_signed()"
        fast = (
            f"{search}({t} := {read}) is not None and ({d} := _Decimal({t})).same_quantum("
            f"{quantum}) and {d} and {d}.adjusted() < {marker.whole_digits}{sign}"
        )
        return f"({d} if {fast} else {slow}({t}))"

    def check(self, node: Node, fd: FieldDescriptor) -> Callable[[Any], Any] | None:
        """The check of a scalar the proto type does not make by itself, or None."""
        marker = node.marker
        if isinstance(marker, IntRange):
            if (marker.minimum, marker.maximum) == _TYPE_RANGES.get(fd.type):
                return None  # int32/int64 hold exactly the range
            return int_check(marker, fd.full_name)
        if isinstance(marker, Str):
            if marker.min_length is None and marker.max_length is None and not marker.pattern:
                return None  # protobuf strings are valid UTF-8 already
            return str_check(marker, fd.full_name)
        if isinstance(marker, FloatRange):  # NaN and infinities are refused
            return float_check(marker, fd.full_name)
        return None


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
