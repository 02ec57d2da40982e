"""Confluent wire format: magic byte 0, 4-byte big-endian schema id, Avro binary payload.

`ConfluentCodec` frames a message's own record with ids from a resolver you supply.
`RegistryAvroCodec` is the runtime's codec when a Schema Registry is configured: ids come
from the registry under the subject strategy `eventgen registry push` used, including the
TopicNameStrategy union of a shared topic.
"""

from __future__ import annotations

import importlib
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from io import BytesIO
from typing import Any, Protocol, cast

from fastavro import parse_schema, schemaless_reader
from fastavro.read import SchemaResolutionError

from eventgen.runtime.avro import Upcaster, avro_schema, decode_avro, encode_avro, validate_payload
from eventgen.runtime.errors import DecodeError
from eventgen.runtime.headers import envelope_headers, header_text
from eventgen.runtime.model import Envelope, Message
from eventgen.runtime.registry import MessageRegistry
from eventgen.runtime.registry_client import RegistryClient, SchemaNotFound
from eventgen.runtime.serde import checked_type, envelope_of, read_record_head, upcast_for
from eventgen.runtime.spec import Route
from eventgen.runtime.transport import RecordLike
from eventgen.runtime.varint import read_long, write_long

MAGIC = b"\x00"


class SchemaIdResolver(Protocol):
    """Maps (message type, schema version) to Schema Registry ids and back."""

    def schema_id(self, message_type: str, version: int) -> int:
        """The registry id of this message's schema version (register it if needed)."""
        ...

    def message_version(self, schema_id: int) -> tuple[str, int]:
        """The (type, version) a schema id stands for; KeyError when unknown."""
        ...


class StaticSchemaIds:
    """A fixed resolver, e.g. from a deploy-time registration or for tests."""

    def __init__(self, ids: Mapping[tuple[str, int], int]) -> None:
        self._ids = dict(ids)
        self._back = {schema_id: key for key, schema_id in ids.items()}

    def schema_id(self, message_type: str, version: int) -> int:
        return self._ids[(message_type, version)]

    def message_version(self, schema_id: int) -> tuple[str, int]:
        return self._back[schema_id]


class ConfluentCodec:
    """Encode and decode generated messages framed for Confluent's Schema Registry serdes."""

    def __init__(self, resolver: SchemaIdResolver, upcast: Upcaster | None = None) -> None:
        self.resolver = resolver
        self.upcast = upcast

    def encode(self, message: Message) -> bytes:
        """Frame the Avro payload with the schema id of the message's current version."""
        schema_id = self.resolver.schema_id(message.TYPE, message.VERSION)
        return MAGIC + schema_id.to_bytes(4, "big") + encode_avro(message)

    def decode(self, data: bytes, registry: MessageRegistry) -> Message:
        """Decode a framed value, choosing the class by the schema id's message type."""
        if len(data) < 5 or data[:1] != MAGIC:
            raise DecodeError("bad_magic", "not a Confluent-framed value")
        schema_id = int.from_bytes(data[1:5], "big")
        try:
            message_type, version = self.resolver.message_version(schema_id)
        except KeyError:
            raise DecodeError("unknown_schema_id", f"schema id {schema_id}") from None
        cls = registry.get(message_type)
        return decode_avro(cls, data[5:], version, self.upcast)


# -- the registry codec: Confluent framing under a subject strategy ------------------------

PRIMITIVES = frozenset(
    ("null", "boolean", "int", "long", "float", "double", "bytes", "string")
)  # fmt: skip
NAMED = frozenset(("record", "error", "enum", "fixed"))
# What identifies a schema's shape (Avro's Parsing Canonical Form plus logical types): docs,
# defaults, aliases and order do not change the bytes, so they do not tell versions apart.
SHAPE_KEYS = ("type", "name", "fields", "symbols", "items", "values", "size", "logicalType",
              "precision", "scale")  # fmt: skip


def fullname(schema: Mapping[str, Any], namespace: str | None) -> str:
    """The Avro full name of a named schema, in the enclosing `namespace`."""
    name = str(schema["name"])
    if "." in name:
        return name
    space = schema.get("namespace", namespace)
    return f"{space}.{name}" if space else name


def _ref(name: str, namespace: str | None) -> str:
    return name if "." in name or not namespace else f"{namespace}.{name}"


def collect_names(schema: Any, namespace: str | None, into: dict[str, Any]) -> None:
    """Every named type a schema document defines, by full name (first definition wins)."""
    if isinstance(schema, list):
        for branch in schema:
            collect_names(branch, namespace, into)
    elif isinstance(schema, dict):
        kind = schema.get("type")
        if kind in NAMED:
            name = fullname(schema, namespace)
            into.setdefault(name, schema)
            inner = name.rpartition(".")[0] or None
            for item in schema.get("fields", ()):
                collect_names(item["type"], inner, into)
        elif kind == "array":
            collect_names(schema["items"], namespace, into)
        elif kind == "map":
            collect_names(schema["values"], namespace, into)
        elif isinstance(kind, (dict, list)):
            collect_names(kind, namespace, into)


def inline(schema: Any, names: Mapping[str, Any], defined: set[str], namespace: str | None) -> Any:
    """`schema` with each named type defined where it is first used, later by full name.

    This is how `eventgen registry push` writes subject schemas (a union defines a named type
    in the first branch that uses it), so the same walk over the generated SCHEMAS modules
    gives the same document. `defined` carries across the branches of a union.
    """
    if isinstance(schema, str):
        if schema in PRIMITIVES:
            return schema
        name = _ref(schema, namespace)
        if name in defined or name not in names:
            return schema
        return inline(names[name], names, defined, name.rpartition(".")[0] or None)
    if isinstance(schema, list):
        return [inline(branch, names, defined, namespace) for branch in schema]
    if not isinstance(schema, dict):
        return schema
    kind = schema.get("type")
    if kind in NAMED:
        name = fullname(schema, namespace)
        if name in defined:
            return name
        defined.add(name)
        if "fields" not in schema:
            return dict(schema)
        inner = name.rpartition(".")[0] or None
        fields = [{**item, "type": inline(item["type"], names, defined, inner)}
                  for item in schema["fields"]]  # fmt: skip
        return {**schema, "fields": fields}
    if kind == "array":
        return {**schema, "items": inline(schema["items"], names, defined, namespace)}
    if kind == "map":
        return {**schema, "values": inline(schema["values"], names, defined, namespace)}
    if isinstance(kind, (dict, list)) or (isinstance(kind, str) and kind not in PRIMITIVES):
        return {**schema, "type": inline(kind, names, defined, namespace)}
    return dict(schema)


def shape(
    schema: Any, names: Mapping[str, Any], namespace: str | None, stack: tuple[str, ...] = ()
) -> Any:
    """A schema fully expanded and reduced to what fixes its bytes, for comparing versions."""
    if isinstance(schema, str):
        if schema in PRIMITIVES:
            return schema
        name = _ref(schema, namespace)
        if name in stack or name not in names:
            return name
        return shape(names[name], names, name.rpartition(".")[0] or None, stack)
    if isinstance(schema, list):
        return [shape(branch, names, namespace, stack) for branch in schema]
    if not isinstance(schema, dict):
        return schema
    kind = schema.get("type")
    out: dict[str, Any] = {}
    if kind in NAMED:
        name = fullname(schema, namespace)
        if name in stack:
            return name
        out["name"] = name
        inner = name.rpartition(".")[0] or None
        if "fields" in schema:
            out["fields"] = [
                {"name": f["name"], "type": shape(f["type"], names, inner, (*stack, name))}
                for f in schema["fields"]
            ]
    for key in SHAPE_KEYS:
        if key in schema and key not in ("name", "fields"):
            value = schema[key]
            if key == "items" or key == "values" or (key == "type" and not isinstance(value, str)):
                value = shape(value, names, namespace, stack)
            out[key] = value
    if set(out) == {"type"}:
        return out["type"]
    return out


def _schemas_module(cls: type[Message]) -> Any:
    return importlib.import_module(cls.SCHEMAS)


def _module_names(classes: Sequence[type[Message]]) -> dict[str, Any]:
    """The named types of the schema modules of `classes`, by full name."""
    names: dict[str, Any] = {}
    for module in dict.fromkeys(_schemas_module(cls) for cls in classes):
        for schema in getattr(module, "TYPES", ()):
            collect_names(schema, None, names)
    return names


def message_schema(cls: type[Message], version: int | None = None) -> dict[str, Any]:
    """The generated record of `cls` at `version` (default: current), as its module has it."""
    version = cls.VERSION if version is None else version
    found = _schemas_module(cls).SCHEMAS.get(cls.TYPE, {}).get(version)
    if found is None:
        raise DecodeError("unsupported_version", f"no Avro schema for v{version}", cls.TYPE)
    return cast(dict[str, Any], found)


def record_document(cls: type[Message], version: int | None = None) -> dict[str, Any]:
    """The standalone record of one message version (RecordNameStrategy's subject schema)."""
    return cast(
        dict[str, Any], inline(message_schema(cls, version), _module_names([cls]), set(), None)
    )


def topic_document(messages: Sequence[type[Message]]) -> Any:
    """The TopicNameStrategy value schema: the record, or the union of records by type name."""
    ordered = sorted(messages, key=lambda cls: cls.TYPE)
    names = _module_names(ordered)
    defined: set[str] = set()
    branches = [inline(message_schema(cls), names, defined, None) for cls in ordered]
    return branches[0] if len(branches) == 1 else branches


def schema_text(schema: Any) -> str:
    """The text `eventgen registry push` registers (sorted keys), so lookups find it."""
    return json.dumps(schema, sort_keys=True)


@dataclass(frozen=True)
class _Branch:
    """One record a writer schema can hold: its name, shape and self-contained schema."""

    name: str
    shape: Any
    document: Any


@dataclass(frozen=True)
class _Writer:
    union: bool
    branches: tuple[_Branch | None, ...]  # None: a branch that is not a record


@dataclass(frozen=True)
class _Target:
    subject: str
    schema: str
    branch: int | None  # union branch index, None: the subject holds the record itself


class RegistryAvroCodec:
    """Confluent-framed Avro under the subject strategy `eventgen registry push` used.

    `topic`: subject `<topic>-value`; several types on the topic make its schema a union
    and the value starts (after the 5-byte header) with the branch index. `record`: subject
    `<namespace>.<Name>`, the bare record. The envelope goes in headers as with every codec;
    a record without headers gets its event id from its coordinates (uuid5).
    """

    def __init__(
        self, client: RegistryClient, strategy: str = "topic", *, auto_register: bool = False
    ) -> None:
        if strategy not in ("topic", "record"):
            raise ValueError(f"subject strategy {strategy!r}: expected 'topic' or 'record'")
        self.client = client
        self.strategy = strategy
        self.auto_register = auto_register
        self._targets: dict[tuple[str, tuple[str, ...], str], _Target] = {}
        self._writers: dict[int, _Writer] = {}
        self._versions: dict[tuple[str, Any], int | None] = {}
        self._parsed: dict[tuple[int, int], Any] = {}
        self._record_names: dict[tuple[str, tuple[str, ...]], dict[str, type[Message]]] = {}
        self._lock = threading.Lock()

    # -- encoding

    def target(self, cls: type[Message], route: Route) -> _Target:
        """Subject, schema text and branch index of `cls` on `route`'s topic."""
        topic = route.topic
        key = (topic.name, tuple(m.TYPE for m in topic.messages), cls.TYPE)
        found = self._targets.get(key)
        if found is None:
            if cls not in topic.messages:
                raise ValueError(f"{cls.TYPE} is not a message of topic {topic.name}")
            if self.strategy == "record":
                document: Any = record_document(cls)
                found = _Target(fullname(document, None), schema_text(document), None)
            else:
                document = topic_document(topic.messages)
                ordered = sorted(m.TYPE for m in topic.messages)
                branch = ordered.index(cls.TYPE) if isinstance(document, list) else None
                found = _Target(f"{topic.name}-value", schema_text(document), branch)
            with self._lock:
                self._targets[key] = found
        return found

    def encode(
        self, envelope: Envelope[Message], route: Route
    ) -> tuple[bytes, list[tuple[str, bytes]]]:
        target = self.target(type(envelope.payload), route)
        if self.auto_register:
            schema_id = self.client.register(target.subject, target.schema)
        else:
            schema_id = self.client.lookup(target.subject, target.schema)
        index = b"" if target.branch is None else write_long(target.branch)
        value = MAGIC + schema_id.to_bytes(4, "big") + index + encode_avro(envelope.payload)
        return value, envelope_headers(envelope)

    # -- decoding

    def message_type(self, record: RecordLike, route: Route) -> str:
        text = header_text(record.headers(), "type")
        if text is not None:
            return checked_type(text)
        return self._locate(record, route)[0].TYPE

    def decode(self, record: RecordLike, route: Route) -> Envelope[Message]:
        cls, branch, body, schema_id, index = self._locate(record, route)
        header_type = header_text(record.headers(), "type")
        if header_type is not None and header_type != cls.TYPE:
            raise DecodeError(
                "bad_envelope",
                f"`type` header {header_type!r} but schema id {schema_id} holds {cls.TYPE}",
                cls.TYPE,
            )
        version = self._version(cls, branch)
        head = read_record_head(record, cls.TYPE, version or cls.VERSION)
        if version is not None:
            payload = decode_avro(cls, body, version, upcast_for(cls, version))
            return envelope_of(head, payload)
        # A writer schema that is no generated version (a foreign producer's): Avro schema
        # resolution from it to the current version, when the two are compatible.
        raw = self._resolve(cls, branch, body, schema_id, index)
        return envelope_of(head, validate_payload(cls, raw))

    def _locate(
        self, record: RecordLike, route: Route
    ) -> tuple[type[Message], _Branch, bytes, int, int]:
        value = record.value()
        if value is None:
            raise DecodeError("corrupt_payload", "the record has no value (a tombstone)")
        if len(value) < 5 or value[:1] != MAGIC:
            raise DecodeError("bad_magic", "not a Confluent-framed value")
        schema_id = int.from_bytes(value[1:5], "big")
        writer = self._writer(schema_id)
        body, index = value[5:], 0
        if writer.union:
            try:
                index, pos = read_long(body)
            except ValueError:
                raise DecodeError("corrupt_payload", "no union branch index") from None
            if not 0 <= index < len(writer.branches):
                raise DecodeError(
                    "corrupt_payload", f"union branch {index} of schema id {schema_id}"
                )
            body = body[pos:]
        branch = writer.branches[index]
        if branch is None:
            raise DecodeError("unknown_type", f"schema id {schema_id}: branch is no record")
        cls = self._by_record_name(route).get(branch.name)
        if cls is not None:
            return cls, branch, body, schema_id, index
        raise DecodeError(
            "unknown_type", f"record {branch.name} (schema id {schema_id}) is not on "
            f"topic {route.topic.name}",
        )  # fmt: skip

    def _by_record_name(self, route: Route) -> dict[str, type[Message]]:
        """The topic's message classes by the Avro full name of their record."""
        key = (route.topic.name, tuple(m.TYPE for m in route.topic.messages))
        found = self._record_names.get(key)
        if found is None:
            found = {fullname(message_schema(m), None): m for m in route.topic.messages}
            with self._lock:
                self._record_names[key] = found
        return found

    def _writer(self, schema_id: int) -> _Writer:
        found = self._writers.get(schema_id)
        if found is not None:
            return found
        try:
            text = self.client.schema(schema_id)
        except SchemaNotFound:
            raise DecodeError("unknown_schema_id", f"schema id {schema_id}") from None
        try:
            schema = json.loads(text)
        except ValueError:
            raise DecodeError("unknown_schema_id", f"schema id {schema_id}: not JSON") from None
        names: dict[str, Any] = {}
        collect_names(schema, None, names)
        union = isinstance(schema, list)
        branches: list[_Branch | None] = []
        for item in schema if union else [schema]:
            resolved = names.get(_ref(item, None)) if isinstance(item, str) else item
            if not isinstance(resolved, dict) or resolved.get("type") not in ("record", "error"):
                branches.append(None)
                continue
            branches.append(
                _Branch(
                    fullname(resolved, None),
                    shape(resolved, names, None),
                    inline(resolved, names, set(), None),
                )
            )
        found = _Writer(union, tuple(branches))
        with self._lock:
            self._writers[schema_id] = found
        return found

    def _version(self, cls: type[Message], branch: _Branch) -> int | None:
        """The generated version whose record has the writer's shape (newest first)."""
        key = (cls.TYPE, json.dumps(branch.shape, sort_keys=True))
        if key in self._versions:
            return self._versions[key]
        names = _module_names([cls])
        found = None
        for version in sorted(_schemas_module(cls).SCHEMAS.get(cls.TYPE, {}), reverse=True):
            if shape(message_schema(cls, version), names, None) == branch.shape:
                found = version
                break
        with self._lock:
            self._versions[key] = found
        return found

    def _resolve(
        self, cls: type[Message], branch: _Branch, body: bytes, schema_id: int, index: int
    ) -> Any:
        key = (schema_id, index)
        writer = self._parsed.get(key)
        if writer is None:
            try:
                writer = parse_schema(branch.document, named_schemas={})
            except Exception as exc:  # the registry holds a schema fastavro cannot parse
                raise DecodeError(
                    "unsupported_version", f"schema id {schema_id}: {exc}", cls.TYPE
                ) from exc
            self._parsed[key] = writer
        reader = avro_schema(cls)
        buffer = BytesIO(body)
        try:
            raw = schemaless_reader(buffer, writer, reader)
        except SchemaResolutionError as exc:
            raise DecodeError(
                "unsupported_version", f"schema id {schema_id} is no version of {cls.TYPE} "
                f"and does not resolve to v{cls.VERSION}: {exc}", cls.TYPE,
            ) from exc  # fmt: skip
        except Exception as exc:  # fastavro reports garbage as EOFError, ValueError, ...
            raise DecodeError("corrupt_payload", f"{type(exc).__name__}: {exc}", cls.TYPE) from exc
        if buffer.tell() != len(body):
            raise DecodeError("corrupt_payload", "trailing bytes after the record", cls.TYPE)
        return raw
