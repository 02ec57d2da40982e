"""JSON encoding of messages and envelopes; decoding validates in strict JSON mode."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import ValidationError
from pydantic_core import from_json

from eventgen.runtime.avro import Upcaster
from eventgen.runtime.errors import DecodeError
from eventgen.runtime.model import Envelope, Message
from eventgen.runtime.registry import MessageRegistry

M = TypeVar("M", bound=Message)


def encode_json(message: Message) -> bytes:
    """The payload as compact JSON with wire names."""
    return message.model_dump_json().encode()


def decode_json(cls: type[M], data: bytes | str) -> M:
    """Validate a JSON payload exactly as the emitted JSON Schema describes it."""
    try:
        return cls.model_validate_json(data, strict=True)
    except ValidationError as exc:
        if _is_json_error(exc):
            raise DecodeError("corrupt_payload", str(exc), cls.TYPE) from exc
        raise DecodeError("invalid_payload", str(exc), cls.TYPE) from exc


def encode_envelope(envelope: Envelope[Any]) -> bytes:
    """The envelope and its payload as one JSON object."""
    return envelope.model_dump_json().encode()


def decode_envelope(
    data: bytes | str, registry: MessageRegistry, upcast: Upcaster | None = None
) -> Envelope[Message]:
    """Decode a JSON envelope, choosing the payload class by its `type`."""
    try:
        head = from_json(data)
    except ValueError as exc:
        raise DecodeError("corrupt_payload", f"not JSON: {exc}") from exc
    if not isinstance(head, dict) or not isinstance(head.get("type"), str):
        raise DecodeError("bad_envelope", "expected an object with a string `type`")
    cls = registry.get(head["type"])
    version = head.get("schema_version")
    if version != cls.VERSION:
        if upcast is None or type(version) is not int or not isinstance(head.get("payload"), dict):
            raise DecodeError("unsupported_version", f"schema_version {version!r}", cls.TYPE)
        head["payload"] = upcast(cls.TYPE, version, head["payload"])
        head["schema_version"] = cls.VERSION
        data = json.dumps(head)
    try:
        return Envelope[cls].model_validate_json(data, strict=True)  # type: ignore[valid-type]
    except ValidationError as exc:
        in_payload = all(err["loc"][:1] == ("payload",) for err in exc.errors())
        raise DecodeError(
            "invalid_payload" if in_payload else "bad_envelope", str(exc), cls.TYPE
        ) from exc


def _is_json_error(exc: ValidationError) -> bool:
    return any(err["type"] == "json_invalid" for err in exc.errors())
