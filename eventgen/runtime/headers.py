"""Envelope metadata as Kafka record headers, for Avro values that carry only the payload."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from eventgen.runtime.avro import Upcaster, decode_avro, encode_avro
from eventgen.runtime.errors import DecodeError
from eventgen.runtime.model import Envelope, EnvelopeHead, Message
from eventgen.runtime.registry import MessageRegistry

HEADER_FIELDS = (
    "event_id", "type", "schema_version", "occurred_at", "correlation_id", "causation_id",
)  # fmt: skip
Headers = Sequence[tuple[str, bytes | None]]
_FIELD_SET = frozenset(HEADER_FIELDS)


def envelope_headers(envelope: EnvelopeHead) -> list[tuple[str, bytes]]:
    """The envelope fields (without the payload) as UTF-8 header values; None is omitted."""
    wire = envelope.model_dump(mode="json", include=set(HEADER_FIELDS))
    return [(name, str(wire[name]).encode()) for name in HEADER_FIELDS if wire[name] is not None]


def read_head(headers: Headers) -> EnvelopeHead:
    """The envelope metadata from record headers (type and schema_version pick the schema)."""
    wire: dict[str, Any] = {}
    for name, value in headers:
        if name in HEADER_FIELDS and value is not None:
            wire[name] = value.decode(errors="replace")
    version = wire.get("schema_version", "")
    if version.isdigit():
        wire["schema_version"] = int(version)
    try:
        return EnvelopeHead.model_validate_json(json.dumps(wire), strict=True)
    except ValidationError as exc:
        raise DecodeError("bad_envelope", str(exc), wire.get("type")) from exc


def with_payload(head: EnvelopeHead, payload: Message) -> Envelope[Message]:
    """Join decoded metadata and payload into one envelope."""
    return Envelope(**dict(head), payload=payload)


def encode_record(envelope: Envelope[Message]) -> tuple[bytes, list[tuple[str, bytes]]]:
    """A Kafka record value (Avro payload) and headers (the envelope metadata)."""
    return encode_avro(envelope.payload), envelope_headers(envelope)


def decode_record(
    value: bytes, headers: Headers, registry: MessageRegistry, upcast: Upcaster | None = None
) -> Envelope[Message]:
    """Inverse of `encode_record`: the class comes from the `type` header."""
    head = read_head(headers)
    cls = registry.get(head.type)
    return with_payload(head, decode_avro(cls, value, head.schema_version, upcast))


def envelope_fields(headers: Headers | None) -> dict[str, bytes]:
    """The envelope headers of a record in one pass: name -> the last non-null value.

    Other headers are not looked at; the values stay bytes (`field_text` decodes the ones a
    reader needs), so a header that is never read is never judged.
    """
    found: dict[str, bytes] = {}
    for key, value in headers or ():
        if value is not None and key in _FIELD_SET:
            found[key] = value
    return found


def field_text(fields: dict[str, bytes], name: str) -> str | None:
    """A value of `envelope_fields` as text; None when absent. Not UTF-8 is `bad_envelope`."""
    return _text(name, fields.get(name))


def header_text(headers: Headers | None, name: str) -> str | None:
    """The last value of header `name` as text; None when absent or null.

    Not UTF-8 is `DecodeError("bad_envelope")`: the envelope headers are text by contract.
    """
    found: bytes | None = None
    for key, value in headers or ():
        if key == name and value is not None:
            found = value
    return _text(name, found)


def _text(name: str, found: bytes | None) -> str | None:
    if found is None:
        return None
    try:
        return found.decode()
    except UnicodeDecodeError:
        raise DecodeError("bad_envelope", f"header {name!r} is not UTF-8 text") from None
