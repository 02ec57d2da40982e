"""The library generated code imports: model bases, wire scalars, envelope and codecs.

It imports nothing else from eventgen, so a generated package needs only this subpackage.
"""

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
from eventgen.runtime.jsoncodec import decode_envelope, decode_json, encode_envelope, encode_json
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

__all__ = [
    "Bytes", "ConfluentCodec", "Date", "DecimalSpec", "DecodeError", "Envelope", "EnvelopeHead",
    "Float32", "Float64", "FloatRange", "Int32", "Int64", "IntRange", "Message",
    "MessageRegistry", "OpenMessage", "OpenRecord", "Record", "SchemaIdResolver",
    "StaticSchemaIds", "Str", "String", "Time", "Timestamp", "TopicBinding", "Upcaster", "Uuid",
    "avro_schema", "decode_avro", "decode_envelope", "decode_json", "decode_key",
    "decode_record", "encode_avro", "encode_envelope", "encode_json", "encode_key", "encode_record",
    "envelope_headers", "read_head", "with_payload",
]  # fmt: skip
