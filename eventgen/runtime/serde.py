"""Value codecs of the runtime: one interface, three wire formats, upcasting in every one.

`codec_for(route, config)` picks the codec of a route:

- `serialization: avro` without `schema_registry_url`: the value is the bare Avro binary of
  the record, the envelope travels in headers, `type` + `schema_version` pick the schema
  (`AvroHeaderCodec`);
- `serialization: avro` with a registry: Confluent framing (magic byte, schema id) under the
  configured subject strategy (`eventgen.runtime.confluent.RegistryAvroCodec`);
- `serialization: json`: the value is the JSON payload, the envelope in headers
  (`JsonHeaderCodec`).

Every codec writes the six envelope headers whatever the value format, so tools route and
dedupe without decoding. Decoding an older `schema_version` runs the message's generated
upcaster (`Message.UPCASTS`); without one it is `DecodeError("unsupported_version")`.
docs/wire-format.md has the bytes.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar
from uuid import NAMESPACE_URL, UUID, SafeUUID, uuid5

from pydantic_core import from_json

from eventgen.runtime.avro import Upcaster, decode_avro, encode_avro, lift, upcaster_for
from eventgen.runtime.avro import encode_key as _encode_avro_key
from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.errors import DecodeError
from eventgen.runtime.headers import envelope_fields, envelope_headers, field_text
from eventgen.runtime.jsoncodec import decode_json, encode_json
from eventgen.runtime.model import Envelope, EnvelopeHead, Message
from eventgen.runtime.scalars import INT32, TimestampWire, UuidWire
from eventgen.runtime.spec import Route
from eventgen.runtime.transport import RecordLike

# `context.Name` (contexts may hold hyphens); anything else in a `type` header is not a type.
TYPE_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_-]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
MAX_TYPE_LENGTH = 255
_MAX_VERSION = INT32[1]
# The patterns behind `EnvelopeHead`'s `Uuid` / `Timestamp` fields (scalars.UuidWire,
# TimestampWire), applied to header text.
_UUID_PATTERN = UuidWire().regex
_UNKNOWN_SAFETY = SafeUUID.unknown  # an enum member read once (the lookup is a descriptor call)
_TIMESTAMP_PATTERN = TimestampWire().regex


class ValueCodec(Protocol):
    """Encodes envelopes into record values + headers and decodes records back."""

    def encode(
        self, envelope: Envelope[Message], route: Route
    ) -> tuple[bytes, list[tuple[str, bytes]]]:
        """Value bytes and the envelope headers (always the envelope headers, any format)."""
        ...

    def decode(self, record: RecordLike, route: Route) -> Envelope[Message]:
        """The envelope of a record of `route`'s topic; DecodeError when it cannot be read.

        The reason is `unknown_type` only when the type is well formed but not on the topic.
        """
        ...

    def message_type(self, record: RecordLike, route: Route) -> str:
        """The envelope type without decoding the payload; DecodeError when none can be found."""
        ...


# -- envelope heads ---------------------------------------------------------------------


def checked_type(text: str | None) -> str:
    """A `type` header value, or DecodeError: `no_type` when absent, `bad_envelope` if malformed."""
    if text is None:
        raise DecodeError("no_type", "the record has no `type` header")
    if len(text) > MAX_TYPE_LENGTH or not TYPE_PATTERN.fullmatch(text):
        raise DecodeError("bad_envelope", f"`type` header {text[:80]!r} is not a message type")
    return text


def record_event_id(record: RecordLike) -> UUID:
    """The stable event id of a record that carries none: its coordinates, hashed (uuid5).

    Redelivery of the same record yields the same id, so the inbox dedupes it.
    """
    return uuid5(NAMESPACE_URL, f"kafka:{record.topic()}/{record.partition()}/{record.offset()}")


def record_time(record: RecordLike) -> datetime:
    """The record timestamp (epoch when the broker gave none), for records without headers."""
    kind, millis = record.timestamp()
    if kind == 0 or millis < 0:  # TIMESTAMP_NOT_AVAILABLE
        millis = 0
    return datetime.fromtimestamp(millis / 1000, UTC)


def read_record_head(
    record: RecordLike,
    message_type: str,
    schema_version: int | None = None,
    fields: dict[str, bytes] | None = None,
) -> EnvelopeHead:
    """The envelope metadata of a record whose type is known (see `head_values`)."""
    return _construct(EnvelopeHead, head_values(record, message_type, schema_version, fields))


def head_values(
    record: RecordLike,
    message_type: str,
    schema_version: int | None = None,
    fields: dict[str, bytes] | None = None,
) -> dict[str, Any]:
    """The envelope metadata of a record whose type is known, as `EnvelopeHead` field values.

    `schema_version` given: the value's framing said it (it wins over a header); else the
    `schema_version` header is required. A missing `event_id` / `occurred_at` falls back to
    the record's coordinates and timestamp; present but malformed is `bad_envelope`.
    `fields`: the record's `envelope_fields`, when the caller has read them already.

    Each value is checked by the same rules as `EnvelopeHead`'s (the `Uuid` and `Timestamp`
    wire validators, the int32 version range), once, and the head is built without a second
    validation pass.
    """
    if fields is None:
        fields = envelope_fields(record.headers())
    get = fields.get
    name = "schema_version"  # the header being read, for the error
    try:
        if schema_version is None:
            raw = get("schema_version")
            text = None if raw is None else raw.decode()
            if text is None or not text.isascii() or not text.isdigit():
                raise DecodeError(
                    "bad_envelope",
                    f"`schema_version` header {text!r} is not a version",
                    message_type,
                )
            schema_version = int(text)
        if not 1 <= schema_version <= _MAX_VERSION:
            raise DecodeError(
                "bad_envelope", f"schema_version {schema_version} is out of range", message_type
            )
        name = "event_id"
        raw = get("event_id")
        text = raw.decode() if raw else ""
        event_id = _uuid(text) if text else record_event_id(record)
        name = "occurred_at"
        raw = get("occurred_at")
        text = raw.decode() if raw else ""
        occurred_at = _timestamp(text) if text else record_time(record)
        name = "causation_id"
        raw = get("causation_id")
        causation_id = None if raw is None else _uuid(raw.decode())
        name = "correlation_id"
        raw = get("correlation_id")
        correlation_id = None if raw is None else raw.decode()
    except UnicodeDecodeError:
        raise DecodeError(
            "bad_envelope", f"header {name!r} is not UTF-8 text", message_type
        ) from None
    except (ValueError, OverflowError) as exc:
        raise DecodeError("bad_envelope", f"header {name!r}: {exc}", message_type) from None
    return {
        "event_id": event_id,
        "type": message_type,
        "schema_version": schema_version,
        "occurred_at": occurred_at,
        "correlation_id": correlation_id,
        "causation_id": causation_id,
    }


def _uuid(text: str) -> UUID:
    """`Uuid`'s wire rule (the 8-4-4-4-12 hex form only), inlined for the hot path.

    The pattern admits exactly 32 hex digits, so the value is built from them directly
    (what `UUID(hex)` ends with, without its re-parsing of braces and prefixes).
    """
    if _UUID_PATTERN.search(text) is None:
        raise ValueError(f"not a valid UUID: {text[:80]!r}")
    value = object.__new__(UUID)
    object.__setattr__(value, "int", int(text.replace("-", ""), 16))
    object.__setattr__(value, "is_safe", _UNKNOWN_SAFETY)
    return value


def _timestamp(text: str) -> datetime:
    """`Timestamp`'s wire rule (RFC 3339 with an offset, normalised to UTC), inlined."""
    if _TIMESTAMP_PATTERN.search(text) is None:
        raise ValueError(f"not a valid timestamp: {text[:80]!r}")
    instant = datetime.fromisoformat(text)
    return instant if instant.tzinfo is UTC else instant.astimezone(UTC)


def envelope_of(head: EnvelopeHead, payload: Message) -> Envelope[Message]:
    """Join metadata (from `read_record_head`: validated) and a decoded payload, unvalidated."""
    return envelope_from({**head.__dict__, "payload": payload})


def envelope_from(values: dict[str, Any]) -> Envelope[Message]:
    """An envelope of `head_values` plus `payload` (all validated already), not revalidated."""
    return _construct(Envelope, values)


_T = TypeVar("_T", bound=EnvelopeHead)
_HEAD_FIELDS = frozenset(EnvelopeHead.model_fields)
_ENVELOPE_FIELDS = frozenset(Envelope.model_fields)


def _construct(cls: type[_T], values: dict[str, Any]) -> _T:
    """`cls.model_construct(**values)` for these two field-only models (no defaults to fill,
    no extras, no private attributes) at a third of its cost: what model_construct sets."""
    model = object.__new__(cls)
    setattr_ = object.__setattr__
    setattr_(model, "__dict__", values)
    setattr_(
        model, "__pydantic_fields_set__", set(_ENVELOPE_FIELDS if cls is Envelope else _HEAD_FIELDS)
    )
    setattr_(model, "__pydantic_extra__", None)
    setattr_(model, "__pydantic_private__", None)
    return model


# -- versions and upcasting ---------------------------------------------------------------


def upcast_for(cls: type[Message], version: int) -> Upcaster | None:
    """None for the current version; the upcaster for an older one; DecodeError otherwise."""
    if version == cls.VERSION:
        return None
    if version > cls.VERSION:
        raise DecodeError(
            "unsupported_version",
            f"v{version} is newer than this build's v{cls.VERSION}",
            cls.TYPE,
        )
    function = upcaster_for(cls)
    if function is None:
        raise DecodeError("unsupported_version", f"v{version} needs an upcaster", cls.TYPE)
    return _guarded(function)


def _guarded(function: Upcaster) -> Upcaster:
    """An upcaster whose failures on a payload are that payload's DecodeError."""

    def upcast(message_type: str, version: int, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            lifted = function(message_type, version, payload)
        except DecodeError:
            raise
        except Exception as exc:  # a payload the upcaster cannot lift
            raise DecodeError(
                "invalid_payload", f"upcast from v{version}: {type(exc).__name__}: {exc}",
                message_type,
            ) from exc  # fmt: skip
        if not isinstance(lifted, dict):
            raise DecodeError("invalid_payload", f"upcast from v{version} gave no object")
        return lifted

    return upcast


def _require_value(record: RecordLike, message_type: str | None = None) -> bytes:
    value = record.value()
    if value is None:
        raise DecodeError("corrupt_payload", "the record has no value (a tombstone)", message_type)
    return value


# -- header codecs ------------------------------------------------------------------------


class _HeaderCodec:
    """Shared part of the codecs whose envelope is only in headers."""

    def message_type(self, record: RecordLike, route: Route) -> str:
        return checked_type(field_text(envelope_fields(record.headers()), "type"))

    def decode(self, record: RecordLike, route: Route) -> Envelope[Message]:
        fields = envelope_fields(record.headers())
        return self.decode_fields(record, route, fields, checked_type(field_text(fields, "type")))

    def decode_handled(
        self, record: RecordLike, route: Route, handles: frozenset[str] | set[str]
    ) -> Envelope[Message] | None:
        """`decode`, or None when the type is not in `handles` (or not on the topic); the
        headers are read once for the type and the head."""
        fields = envelope_fields(record.headers())
        message_type = checked_type(field_text(fields, "type"))
        if message_type not in handles:
            return None
        try:
            return self.decode_fields(record, route, fields, message_type)
        except DecodeError as exc:
            if exc.reason == "unknown_type":
                return None
            raise

    def decode_fields(
        self, record: RecordLike, route: Route, fields: dict[str, bytes], message_type: str
    ) -> Envelope[Message]:
        raise NotImplementedError

    def _head(
        self, record: RecordLike, route: Route, fields: dict[str, bytes], message_type: str
    ) -> tuple[dict[str, Any], type[Message]]:
        cls = route.topic.registry.get(message_type)  # unknown_type: not on this topic
        return head_values(record, message_type, None, fields), cls


class AvroHeaderCodec(_HeaderCodec):
    """Bare Avro value (no framing); `type` and `schema_version` headers pick the schema."""

    def encode(
        self, envelope: Envelope[Message], route: Route
    ) -> tuple[bytes, list[tuple[str, bytes]]]:
        return encode_avro(envelope.payload), envelope_headers(envelope)

    def decode_fields(
        self, record: RecordLike, route: Route, fields: dict[str, bytes], message_type: str
    ) -> Envelope[Message]:
        head, cls = self._head(record, route, fields, message_type)
        value = _require_value(record, cls.TYPE)
        upcast = upcast_for(cls, head["schema_version"])
        head["payload"] = decode_avro(cls, value, head["schema_version"], upcast)
        return envelope_from(head)


class JsonHeaderCodec(_HeaderCodec):
    """JSON payload as the value (wire names, strict JSON-mode validation), envelope in headers."""

    def encode(
        self, envelope: Envelope[Message], route: Route
    ) -> tuple[bytes, list[tuple[str, bytes]]]:
        return encode_json(envelope.payload), envelope_headers(envelope)

    def decode_fields(
        self, record: RecordLike, route: Route, fields: dict[str, bytes], message_type: str
    ) -> Envelope[Message]:
        head, cls = self._head(record, route, fields, message_type)
        value = _require_value(record, cls.TYPE)
        upcast = upcast_for(cls, head["schema_version"])
        if upcast is None:
            head["payload"] = decode_json(cls, value)
            return envelope_from(head)
        try:
            raw = from_json(value)
        except ValueError as exc:
            raise DecodeError("corrupt_payload", f"not JSON: {exc}", cls.TYPE) from exc
        if not isinstance(raw, dict):
            raise DecodeError("invalid_payload", "the payload is not a JSON object", cls.TYPE)
        head["payload"] = lift(cls, head["schema_version"], raw, upcast)
        return envelope_from(head)


# -- selection --------------------------------------------------------------------------

_codecs: dict[tuple[str, str | None, str], ValueCodec] = {}
_codecs_lock = threading.Lock()


def codec_for(route: Route, config: RuntimeConfig) -> ValueCodec:
    """The codec of `route` under `config`, one per (format, registry URL, subject strategy)."""
    url = config.schema_registry_url if route.serialization != "json" else None
    key = (route.serialization, url, config.subject_strategy if url else "")
    codec = _codecs.get(key)
    if codec is None:
        with _codecs_lock:
            codec = _codecs.get(key)
            if codec is None:
                codec = _codecs[key] = _make(route, url, config)
    return codec


def _make(route: Route, url: str | None, config: RuntimeConfig) -> ValueCodec:
    if route.serialization == "protobuf":
        # google.protobuf (the runtime's `protobuf` extra) is imported for protobuf routes only.
        from eventgen.runtime import protobuf_codec
        from eventgen.runtime.registry_client import RegistryClient

        if url is None:
            return protobuf_codec.ProtobufHeaderCodec()
        client = RegistryClient(url, timeout_s=min(config.connect_timeout_s, 30.0))
        return protobuf_codec.RegistryProtobufCodec(client, config.subject_strategy)
    if route.serialization == "json":
        return JsonHeaderCodec()
    if url is None:
        return AvroHeaderCodec()
    from eventgen.runtime.confluent import RegistryAvroCodec  # only registry users pay for it
    from eventgen.runtime.registry_client import RegistryClient

    timeout = min(config.connect_timeout_s, 30.0)
    return RegistryAvroCodec(RegistryClient(url, timeout_s=timeout), config.subject_strategy)


def decode_handled(
    codec: ValueCodec, record: RecordLike, route: Route, handles: frozenset[str] | set[str]
) -> Envelope[Message] | None:
    """The envelope of a record whose type is in `handles`, else None (the consumer skips it).

    A well-formed type that is not on the topic (`unknown_type`) is None too. Header codecs
    read the headers once for the type and the head; other codecs (Confluent framing) are
    asked for the type first, then decode.
    """
    if isinstance(codec, _HeaderCodec):
        return codec.decode_handled(record, route, handles)
    if codec.message_type(record, route) not in handles:
        return None
    try:
        return codec.decode(record, route)
    except DecodeError as exc:
        if exc.reason == "unknown_type":
            return None
        raise


def decoder_for(
    codec: ValueCodec, route: Route, handles: frozenset[str] | set[str]
) -> Callable[[RecordLike], Envelope[Message] | None]:
    """`decode_handled` with its codec, route and handled types bound (a consumer's hot path).

    The header codecs get the fused decoder of `eventgen.runtime.hotpath` (the same results).
    """
    from eventgen.runtime.hotpath import header_decoder

    if isinstance(codec, AvroHeaderCodec):
        return header_decoder(codec, route, handles, decode_avro)  # no version: the current
    if isinstance(codec, JsonHeaderCodec):
        return header_decoder(codec, route, handles, decode_json)
    return lambda record: decode_handled(codec, record, route, handles)


def encode_key(route: Route, message: Message) -> bytes | None:
    """The record key: bare Avro of `partition_key()` under the topic's key schema.

    None when the topic is unkeyed (no key schema): the record then has no key and Kafka
    spreads such records over the partitions.
    """
    schema = route.topic.key_schema
    if schema is None:
        return None
    value = message.partition_key()
    if value is None:
        raise ValueError(
            f"{message.TYPE}.partition_key() is None, but topic {route.topic.name} is keyed"
        )
    return _encode_avro_key(schema, value)
