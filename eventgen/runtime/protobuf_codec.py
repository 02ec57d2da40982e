"""Value codecs for `serialization: protobuf`: bare messages with the envelope in headers, and
Confluent framing under a Schema Registry.

- `ProtobufHeaderCodec` (no `schema_registry_url`): the value is the bare protobuf message of
  the payload; `type` + `schema_version` headers pick the class, as with the Avro and JSON
  header codecs.
- `RegistryProtobufCodec`: Confluent's protobuf wire format: magic byte 0, the 4-byte
  big-endian schema id, the message-index array (zigzag varints: the count, then the path
  of indexes to the message in its file; the common `[0]` as the single byte 0), then the
  message bytes. The value subject holds the context's `.proto` (`<topic>-value` or, under
  the record strategy, the message's full name); imported contexts are schema references
  (subject = their file name, as confluent-kafka's serializer names them).

Versions: a protobuf payload is read with the current message only. Upcasters are not run
(the old fields they read are reserved, not in the message), and reading an older payload by
field number would silently give proto3 defaults where the upcast gives values, so an older
`schema_version`, like a newer one, is `unsupported_version` (dead-lettered). serde imports this module only for protobuf routes.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from google.protobuf import descriptor_pb2
from google.protobuf.message import DecodeError as ProtoDecodeError

from eventgen.runtime.errors import DecodeError
from eventgen.runtime.headers import envelope_fields, envelope_headers, field_text
from eventgen.runtime.model import Envelope, Message
from eventgen.runtime.protobuf import binding, decode_protobuf, encode_protobuf, load_module
from eventgen.runtime.registry_client import RegistryClient, SchemaNotFound
from eventgen.runtime.serde import (
    _HeaderCodec,
    _require_value,
    checked_type,
    envelope_from,
    head_values,
)
from eventgen.runtime.spec import Route
from eventgen.runtime.transport import RecordLike
from eventgen.runtime.varint import read_long, write_long

MAGIC = 0
PROTOBUF = "PROTOBUF"
_MAX_INDEXES = 64  # nesting deeper than this is no schema anyone wrote: a corrupt frame


# -- the message-index array ------------------------------------------------------------


def write_indexes(indexes: tuple[int, ...] | list[int]) -> bytes:
    """Confluent's message-index array; `[0]` (the first message of the file) is `b"\\x00"`."""
    if list(indexes) == [0]:
        return b"\x00"
    return write_long(len(indexes)) + b"".join(write_long(index) for index in indexes)


def read_indexes(data: bytes, pos: int = 0) -> tuple[tuple[int, ...], int]:
    """The message-index array at `pos`: (indexes, position after it); ValueError if bad."""
    count, pos = read_long(data, pos)
    if count == 0:
        return (0,), pos
    if not 0 < count <= _MAX_INDEXES:
        raise ValueError(f"message-index count {count}")
    out: list[int] = []
    for _ in range(count):
        index, pos = read_long(data, pos)
        if index < 0:
            raise ValueError(f"negative message index {index}")
        out.append(index)
    return tuple(out), pos


def frame(schema_id: int, indexes: tuple[int, ...], payload: bytes) -> bytes:
    return bytes((MAGIC,)) + schema_id.to_bytes(4, "big") + write_indexes(indexes) + payload


def unframe(value: bytes) -> tuple[int, tuple[int, ...], bytes]:
    """(schema id, message indexes, message bytes) of a framed value; DecodeError if bad."""
    if len(value) < 6 or value[0] != MAGIC:
        raise DecodeError("bad_magic", "not a Confluent-framed protobuf value")
    try:
        indexes, pos = read_indexes(value, 5)
    except ValueError as exc:
        raise DecodeError("corrupt_payload", f"message-index array: {exc}") from None
    return int.from_bytes(value[1:5], "big"), indexes, value[pos:]


# -- versions -----------------------------------------------------------------------------


def _checked_version(cls: type[Message], version: int) -> None:
    if version > cls.VERSION:
        raise DecodeError(
            "unsupported_version", f"v{version} is newer than this build's v{cls.VERSION}",
            cls.TYPE,
        )  # fmt: skip
    if version < cls.VERSION:
        # Read by the current message, an older payload would lose what its upcast does: a
        # renamed field's value sits under a reserved number, an added field would take its
        # proto3 default instead of the upcast's value. Dead-lettered, never decoded wrong.
        raise DecodeError(
            "unsupported_version",
            f"v{version} of a protobuf message is not upcast; this build reads v{cls.VERSION}",
            cls.TYPE,
        )


# -- header codec -------------------------------------------------------------------------


class ProtobufHeaderCodec(_HeaderCodec):
    """Bare protobuf value (no framing); `type` and `schema_version` headers pick the class."""

    def encode(
        self, envelope: Envelope[Message], route: Route
    ) -> tuple[bytes, list[tuple[str, bytes]]]:
        return encode_protobuf(envelope.payload), envelope_headers(envelope)

    def decode_fields(
        self, record: RecordLike, route: Route, fields: dict[str, bytes], message_type: str
    ) -> Envelope[Message]:
        head, cls = self._head(record, route, fields, message_type)
        value = _require_value(record, cls.TYPE)
        _checked_version(cls, head["schema_version"])
        head["payload"] = decode_protobuf(cls, value)
        return envelope_from(head)


# -- writer schemas: which message an index path names -------------------------------------

_COMMENT = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.DOTALL)
_TOKEN = re.compile(r"\.?[A-Za-z_][A-Za-z0-9_.]*|[{}<>;=,]")
_PUNCTUATION = frozenset("{}<>;=,")


@dataclass(frozen=True)
class WriterFile:
    """What the codec needs of a registered schema: its package and message tree."""

    package: str
    messages: tuple[tuple[str, WriterFile | None], ...]  # (name, nested) in file order

    def full_name(self, indexes: tuple[int, ...]) -> str | None:
        """The message an index path names (`[1, 0]`: the first nested message of the second)."""
        names: list[str] = []
        level: WriterFile | None = self
        for index in indexes:
            if level is None or index >= len(level.messages):
                return None
            name, level = level.messages[index]
            names.append(name)
        return ".".join([self.package, *names] if self.package else names)


def _from_descriptor(package: str, messages: Any) -> WriterFile:
    return WriterFile(
        package,
        tuple(
            (m.name, _from_descriptor("", m.nested_type) if m.nested_type else None)
            for m in messages
        ),
    )


def _entry_name(field: str) -> str:
    """protoc's name of a map field's entry message: `line_items` -> `LineItemsEntry`."""
    return "".join(part[:1].upper() + part[1:] for part in field.split("_")) + "Entry"


def parse_writer(text: str) -> WriterFile:
    """The package and message tree of a schema as a registry returns it: `.proto` text, or a
    base64 FileDescriptorProto (what confluent-kafka's serializer registers)."""
    try:
        raw = base64.b64decode(text, validate=True)
        proto = descriptor_pb2.FileDescriptorProto.FromString(raw)
        if proto.message_type:
            return _from_descriptor(proto.package, proto.message_type)
    except (binascii.Error, ValueError, ProtoDecodeError):
        pass
    tokens = _TOKEN.findall(_COMMENT.sub(" ", text))
    package = ""
    stack: list[list[tuple[str, Any]]] = [[]]  # the messages of each open message scope
    scopes: list[bool] = []  # per open brace: a message's (True) or another block's
    i = 0
    while i < len(tokens):
        ahead = tokens[i : i + 8]
        if ahead[:1] == ["package"] and not scopes and len(ahead) > 1:
            package = ahead[1]
        elif ahead[:1] == ["message"] and ahead[2:3] == ["{"] and ahead[1] not in _PUNCTUATION:
            stack[-1].append((ahead[1], None))
            stack.append([])
            scopes.append(True)
            i += 2
        elif ahead[:2] == ["map", "<"] and scopes and scopes[-1] and ahead[7:8] == ["="]:
            # `map<K, V> name = n;`: protoc nests an entry message here, in field order.
            stack[-1].append((_entry_name(ahead[6]), None))
            i += 7
        elif ahead[:1] == ["{"]:
            scopes.append(False)
        elif ahead[:1] == ["}"] and scopes and scopes.pop():
            nested = stack.pop()
            name, _ = stack[-1][-1]
            stack[-1][-1] = (name, nested)
        i += 1

    def build(items: list[tuple[str, Any]]) -> tuple[tuple[str, WriterFile | None], ...]:
        return tuple((n, WriterFile("", build(sub)) if sub else None) for n, sub in items)

    return WriterFile(package, build(stack[0]))


# -- registry codec -----------------------------------------------------------------------


class RegistryProtobufCodec:
    """Confluent-framed protobuf: subjects hold the contexts' `.proto` files (see module doc)."""

    def __init__(
        self, client: RegistryClient, strategy: str = "topic", *, auto_register: bool = False
    ) -> None:
        if strategy not in ("topic", "record"):
            raise ValueError(f"subject strategy {strategy!r}: expected 'topic' or 'record'")
        self.client = client
        self.strategy = strategy
        self.auto_register = auto_register
        self._ids: dict[tuple[str, str], int] = {}  # (subject, module) -> schema id
        self._refs: dict[str, list[dict[str, Any]]] = {}  # module -> its schema references
        self._writers: dict[int, WriterFile] = {}
        self._lock = threading.Lock()

    # -- registry calls

    def _post(self, subject: str, module: Any, register: bool) -> dict[str, Any]:
        payload = {
            "schema": module.PROTO,
            "schemaType": PROTOBUF,
            "references": self._references(module),
        }
        path = f"/subjects/{quote(subject, safe='')}" + ("/versions" if register else "")
        try:
            body = self.client._call("POST", path, payload)
        except SchemaNotFound:
            raise SchemaNotFound(
                f"no protobuf schema {module.FILE} under subject {subject!r} in the Schema "
                f"Registry at {self.client.url}: register the build's schemas first",
                404,
            ) from None
        if not isinstance(body, dict) or not isinstance(body.get("id"), int):
            raise SchemaNotFound(f"subject {subject!r}: the registry's answer has no id", 404)
        return body

    def _references(self, module: Any) -> list[dict[str, Any]]:
        """Schema references of a module's imports: each file under its own name as subject."""
        found = self._refs.get(module.__name__)
        if found is not None:
            return found
        refs = []
        for name in module.DEPENDENCIES:
            dependency = load_module(name)
            body = self._post(dependency.FILE, dependency, self.auto_register)
            version = body.get("version")
            if not isinstance(version, int):  # a register answer holds the id only
                version = self._post(dependency.FILE, dependency, False).get("version")
            refs.append({"name": dependency.FILE, "subject": dependency.FILE, "version": version})
        with self._lock:
            self._refs[module.__name__] = refs
        return refs

    def subject(self, cls: type[Message], route: Route) -> str:
        if self.strategy == "record":
            return binding(cls).full_name
        return f"{route.topic.name}-value"

    def schema_id(self, cls: type[Message], route: Route) -> int:
        bound = binding(cls)
        subject = self.subject(cls, route)
        key = (subject, bound.module.__name__)
        found = self._ids.get(key)
        if found is None:
            found = int(self._post(subject, bound.module, self.auto_register)["id"])
            with self._lock:
                self._ids[key] = found
        return found

    # -- encoding

    def encode(
        self, envelope: Envelope[Message], route: Route
    ) -> tuple[bytes, list[tuple[str, bytes]]]:
        cls = type(envelope.payload)
        if cls not in route.topic.messages:
            raise ValueError(f"{cls.TYPE} is not a message of topic {route.topic.name}")
        bound = binding(cls)
        value = frame(self.schema_id(cls, route), bound.index, encode_protobuf(envelope.payload))
        return value, envelope_headers(envelope)

    # -- decoding

    def message_type(self, record: RecordLike, route: Route) -> str:
        text = field_text(envelope_fields(record.headers()), "type")
        if text is not None:
            return checked_type(text)
        return self._locate(record, route)[0].TYPE

    def decode(self, record: RecordLike, route: Route) -> Envelope[Message]:
        cls, body = self._locate(record, route)
        fields = envelope_fields(record.headers())
        header_type = field_text(fields, "type")
        if header_type is not None and header_type != cls.TYPE:
            raise DecodeError(
                "bad_envelope", f"`type` header {header_type!r} but the frame holds {cls.TYPE}",
                cls.TYPE,
            )  # fmt: skip
        version = None if "schema_version" in fields else cls.VERSION
        head = head_values(record, cls.TYPE, version, fields)
        _checked_version(cls, head["schema_version"])
        head["payload"] = decode_protobuf(cls, body)
        return envelope_from(head)

    def _locate(self, record: RecordLike, route: Route) -> tuple[type[Message], bytes]:
        value = record.value()
        if value is None:
            raise DecodeError("corrupt_payload", "the record has no value (a tombstone)")
        schema_id, indexes, body = unframe(value)
        name = self._writer(schema_id).full_name(indexes)
        if name is None:
            raise DecodeError(
                "corrupt_payload", f"message index {list(indexes)} of schema id {schema_id}"
            )
        for cls in route.topic.messages:
            if binding(cls).full_name == name:
                return cls, body
        raise DecodeError(
            "unknown_type", f"{name} (schema id {schema_id}) is not on topic {route.topic.name}"
        )

    def _writer(self, schema_id: int) -> WriterFile:
        found = self._writers.get(schema_id)
        if found is not None:
            return found
        try:
            body = self.client._call("GET", f"/schemas/ids/{int(schema_id)}", None)
        except SchemaNotFound:
            raise DecodeError("unknown_schema_id", f"schema id {schema_id}") from None
        text = body.get("schema") if isinstance(body, dict) else None
        kind = body.get("schemaType", "AVRO") if isinstance(body, dict) else None
        if not isinstance(text, str) or kind != PROTOBUF:
            raise DecodeError("unknown_schema_id", f"schema id {schema_id} is no protobuf schema")
        found = parse_writer(text)
        with self._lock:
            self._writers[schema_id] = found
        return found
