"""The library generated code imports: model bases, wire scalars, envelope and codecs.

It imports nothing else from eventgen, so a generated package needs only this subpackage.

Attributes load on first use (PEP 562), so `import eventgen.runtime.patterns` (the emitters do)
does not import pydantic and fastavro.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eventgen.runtime.avro import (
        Upcaster,
        avro_schema,
        decode_avro,
        decode_key,
        encode_avro,
        encode_key,
    )
    from eventgen.runtime.confluent import ConfluentCodec, SchemaIdResolver, StaticSchemaIds
    from eventgen.runtime.errors import DecodeError
    from eventgen.runtime.headers import (
        decode_record,
        encode_record,
        envelope_headers,
        read_head,
        with_payload,
    )
    from eventgen.runtime.jsoncodec import (
        decode_envelope,
        decode_json,
        encode_envelope,
        encode_json,
    )
    from eventgen.runtime.model import (
        Envelope,
        EnvelopeHead,
        Message,
        OpenMessage,
        OpenRecord,
        Record,
    )
    from eventgen.runtime.registry import MessageRegistry, TopicBinding
    from eventgen.runtime.scalars import (
        Boolean,
        Bytes,
        Date,
        DecimalSpec,
        Float32,
        Float64,
        FloatRange,
        Int32,
        Int64,
        IntRange,
        Str,
        String,
        Time,
        Timestamp,
        Uuid,
    )

_HOMES = {
    "Boolean": "scalars",
    "Bytes": "scalars",
    "ConfluentCodec": "confluent",
    "Date": "scalars",
    "DecimalSpec": "scalars",
    "DecodeError": "errors",
    "Envelope": "model",
    "EnvelopeHead": "model",
    "Float32": "scalars",
    "Float64": "scalars",
    "FloatRange": "scalars",
    "Int32": "scalars",
    "Int64": "scalars",
    "IntRange": "scalars",
    "Message": "model",
    "MessageRegistry": "registry",
    "OpenMessage": "model",
    "OpenRecord": "model",
    "Record": "model",
    "SchemaIdResolver": "confluent",
    "StaticSchemaIds": "confluent",
    "Str": "scalars",
    "String": "scalars",
    "Time": "scalars",
    "Timestamp": "scalars",
    "TopicBinding": "registry",
    "Upcaster": "avro",
    "Uuid": "scalars",
    "avro_schema": "avro",
    "decode_avro": "avro",
    "decode_envelope": "jsoncodec",
    "decode_json": "jsoncodec",
    "decode_key": "avro",
    "decode_record": "headers",
    "encode_avro": "avro",
    "encode_envelope": "jsoncodec",
    "encode_json": "jsoncodec",
    "encode_key": "avro",
    "encode_record": "headers",
    "envelope_headers": "headers",
    "read_head": "headers",
    "with_payload": "headers",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"eventgen.runtime.{home}"), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


__all__ = [
    "Boolean", "Bytes", "ConfluentCodec", "Date", "DecimalSpec", "DecodeError", "Envelope", "EnvelopeHead",
    "Float32", "Float64", "FloatRange", "Int32", "Int64", "IntRange", "Message",
    "MessageRegistry", "OpenMessage", "OpenRecord", "Record", "SchemaIdResolver",
    "StaticSchemaIds", "Str", "String", "Time", "Timestamp", "TopicBinding", "Upcaster", "Uuid",
    "avro_schema", "decode_avro", "decode_envelope", "decode_json", "decode_key",
    "decode_record", "encode_avro", "encode_envelope", "encode_json", "encode_key", "encode_record",
    "envelope_headers", "read_head", "with_payload",
]  # fmt: skip
