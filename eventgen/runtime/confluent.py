"""Confluent wire format: magic byte 0, 4-byte big-endian schema id, Avro binary payload."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from eventgen.runtime.avro import Upcaster, decode_avro, encode_avro
from eventgen.runtime.errors import DecodeError
from eventgen.runtime.model import Message
from eventgen.runtime.registry import MessageRegistry

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
