"""The library generated code imports: model bases, wire scalars, envelope and codecs, and the
service runtime (publishers, consumer apps, outbox writer and relay, the runner, the in-memory
broker for unit tests).

It imports nothing else from eventgen, so a generated package needs only this subpackage, which
ships alone as the `eventgen-runtime` distribution (runtime/pyproject.toml, docs/running.md).

Attributes load on first use (PEP 562), so `import eventgen.runtime.patterns` (the emitters do)
does not import pydantic and fastavro.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eventgen.runtime.app import ConsumerApp, Context, RunStats, StartupError
    from eventgen.runtime.avro import (
        Upcaster,
        avro_schema,
        decode_avro,
        decode_key,
        encode_avro,
        encode_key,
    )
    from eventgen.runtime.config import ConfigError, RuntimeConfig, load_config
    from eventgen.runtime.confluent import ConfluentCodec, SchemaIdResolver, StaticSchemaIds
    from eventgen.runtime.db import Store
    from eventgen.runtime.errors import (
        CommandRejected,
        ConcurrencyError,
        DecodeError,
        DeliveryError,
        StoredEventError,
        StoreError,
    )
    from eventgen.runtime.es.aggregate import AggregateRepository
    from eventgen.runtime.es.projector import Projector
    from eventgen.runtime.es.spec import CommandMeta
    from eventgen.runtime.es.store import EventStore, StoredEvent
    from eventgen.runtime.failures import REPLAY_HEADER, ParkedKeys, ReplayReport, replay
    from eventgen.runtime.headers import (
        decode_record,
        encode_record,
        envelope_headers,
        read_head,
        with_payload,
    )
    from eventgen.runtime.inbox import Inbox
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
    from eventgen.runtime.outbox import OutboxWriter
    from eventgen.runtime.publisher import Publisher
    from eventgen.runtime.registry import MessageRegistry, TopicBinding
    from eventgen.runtime.relay import PollingRelay, RelayStats
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
    from eventgen.runtime.spec import (
        ConsumerSpec,
        OutboxSpec,
        PublisherSpec,
        RetryPolicy,
        Route,
    )
    from eventgen.runtime.testing import InMemoryBroker
    from eventgen.runtime.transport import KafkaTransport, Transport
    from eventgen.runtime.version import RUNTIME_VERSION, require_runtime

# Name -> the module under eventgen.runtime that defines it (imported on first use).
_HOMES = {
    "AggregateRepository": "es.aggregate",
    "Boolean": "scalars",
    "Bytes": "scalars",
    "CommandMeta": "es.spec",
    "CommandRejected": "errors",
    "ConcurrencyError": "errors",
    "ConfigError": "config",
    "ConfluentCodec": "confluent",
    "ConsumerApp": "app",
    "ConsumerSpec": "spec",
    "Context": "app",
    "Date": "scalars",
    "DecimalSpec": "scalars",
    "DecodeError": "errors",
    "DeliveryError": "errors",
    "Envelope": "model",
    "EnvelopeHead": "model",
    "EventStore": "es.store",
    "Float32": "scalars",
    "Float64": "scalars",
    "FloatRange": "scalars",
    "InMemoryBroker": "testing",
    "Inbox": "inbox",
    "Int32": "scalars",
    "Int64": "scalars",
    "IntRange": "scalars",
    "KafkaTransport": "transport",
    "Message": "model",
    "MessageRegistry": "registry",
    "OpenMessage": "model",
    "OpenRecord": "model",
    "OutboxSpec": "spec",
    "OutboxWriter": "outbox",
    "ParkedKeys": "failures",
    "PollingRelay": "relay",
    "Projector": "es.projector",
    "Publisher": "publisher",
    "PublisherSpec": "spec",
    "REPLAY_HEADER": "failures",
    "RUNTIME_VERSION": "version",
    "Record": "model",
    "RelayStats": "relay",
    "ReplayReport": "failures",
    "RetryPolicy": "spec",
    "Route": "spec",
    "RunStats": "app",
    "RuntimeConfig": "config",
    "SchemaIdResolver": "confluent",
    "StartupError": "errors",
    "StaticSchemaIds": "confluent",
    "Store": "db",
    "StoreError": "errors",
    "StoredEvent": "es.store",
    "StoredEventError": "errors",
    "Str": "scalars",
    "String": "scalars",
    "Time": "scalars",
    "Timestamp": "scalars",
    "TopicBinding": "registry",
    "Transport": "transport",
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
    "load_config": "config",
    "read_head": "headers",
    "replay": "failures",
    "require_runtime": "version",
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
    "REPLAY_HEADER",
    "RUNTIME_VERSION",
    "AggregateRepository",
    "Boolean",
    "Bytes",
    "CommandMeta",
    "CommandRejected",
    "ConcurrencyError",
    "ConfigError",
    "ConfluentCodec",
    "ConsumerApp",
    "ConsumerSpec",
    "Context",
    "Date",
    "DecimalSpec",
    "DecodeError",
    "DeliveryError",
    "Envelope",
    "EnvelopeHead",
    "EventStore",
    "Float32",
    "Float64",
    "FloatRange",
    "InMemoryBroker",
    "Inbox",
    "Int32",
    "Int64",
    "IntRange",
    "KafkaTransport",
    "Message",
    "MessageRegistry",
    "OpenMessage",
    "OpenRecord",
    "OutboxSpec",
    "OutboxWriter",
    "ParkedKeys",
    "PollingRelay",
    "Projector",
    "Publisher",
    "PublisherSpec",
    "Record",
    "RelayStats",
    "ReplayReport",
    "RetryPolicy",
    "Route",
    "RunStats",
    "RuntimeConfig",
    "SchemaIdResolver",
    "StartupError",
    "StaticSchemaIds",
    "Store",
    "StoreError",
    "StoredEvent",
    "StoredEventError",
    "Str",
    "String",
    "Time",
    "Timestamp",
    "TopicBinding",
    "Transport",
    "Upcaster",
    "Uuid",
    "avro_schema",
    "decode_avro",
    "decode_envelope",
    "decode_json",
    "decode_key",
    "decode_record",
    "encode_avro",
    "encode_envelope",
    "encode_json",
    "encode_key",
    "encode_record",
    "envelope_headers",
    "load_config",
    "read_head",
    "replay",
    "require_runtime",
    "with_payload",
]  # fmt: skip
