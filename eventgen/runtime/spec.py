"""What a generated service module tells the runtime: plain frozen data, written as literals.

`eventgen build` writes one `<package>/<context>_app.py` per context that has consumers or an
outbox; it builds these records from the spec and hands them to the runtime's classes
(`ConsumerApp`, `Publisher`, `OutboxWriter`, `PollingRelay`). Nothing here reads the
environment or connects anywhere: configuration is read when an app starts or a publisher
first publishes (eventgen.runtime.config).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from eventgen.runtime.registry import TopicBinding

Delivery = Literal["at-most-once", "at-least-once", "exactly-once"]
StoreKind = Literal["sqlite", "postgres", "none"]
Serialization = Literal["avro", "json", "protobuf"]
OnFailure = Literal["dead-letter", "park-key"]
Jitter = Literal["none", "full", "equal"]

INBOX_TABLE = "eventgen_inbox"
PARKED_TABLE = "eventgen_parked_keys"


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts and backoff of a consumer (spec `retry:`); attempts count the first try."""

    max_attempts: int = 1
    initial_ms: int = 200
    multiplier: float = 2.0
    max_interval_ms: int = 30_000
    jitter: Jitter = "full"
    # Exception class names (`TimeoutError`, `mypkg.errors.Transient`) that are retried;
    # empty: every exception is. Matched against the class and its bases, by simple or
    # qualified name.
    retry_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class Route:
    """Where a message type goes: its topic binding, codec and producer compression."""

    topic: TopicBinding
    serialization: Serialization = "avro"
    compression: str | None = None  # librdkafka compression.type; None: producer default
    dlq: str | None = None  # full Kafka name of the topic's DLQ, when it has one


@dataclass(frozen=True)
class PublisherSpec:
    """A context's publisher: the route of every message the context may publish."""

    context: str
    routes: tuple[tuple[str, Route], ...]  # (message TYPE, route), sorted by TYPE

    def route(self, message_type: str) -> Route:
        for name, route in self.routes:
            if name == message_type:
                return route
        raise KeyError(message_type)


@dataclass(frozen=True)
class ConsumerSpec:
    """One spec consumer: what it reads, how it delivers, retries, dead-letters and dedupes."""

    name: str  # spec name, e.g. "reserve-stock"
    context: str
    group: str
    topics: tuple[Route, ...]  # subscribed topics (their bindings decode every record)
    handles: tuple[str, ...]  # message TYPEs it must have handlers for, sorted
    delivery: Delivery = "at-least-once"
    processing: Literal["stream", "batch"] = "stream"
    batch_max_records: int = 500
    batch_max_wait_ms: int = 200
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    dlq: bool = True
    on_failure: OnFailure = "dead-letter"
    idempotency: StoreKind = "sqlite"
    idempotency_retention_ms: int | None = 7 * 24 * 3600 * 1000
    inbox_table: str = INBOX_TABLE
    parked_table: str = PARKED_TABLE
    timeout_ms: int = 30_000  # spec `timeout`: a handler call's budget (reported, not killed)
    publisher: PublisherSpec | None = None  # routes for ctx.publish (the context's publisher)
    # A module whose import registers generated handlers (an aggregate's command consumer:
    # `<package>.<context>_aggregates`); imported at start when handlers are missing.
    handlers_module: str | None = None


@dataclass(frozen=True)
class OutboxSpec:
    """A context's outbox (spec `outbox:`): its table, store and relay."""

    context: str
    table: str
    relay: Literal["polling", "debezium"]
    store: Literal["sqlite", "postgres"] = "sqlite"
    batch: int = 500
    poll_interval_ms: int = 100
    retention_ms: int = 0  # published rows: 0 = delete in the relay's transaction
    publisher: PublisherSpec | None = None  # routes of the messages it may carry
