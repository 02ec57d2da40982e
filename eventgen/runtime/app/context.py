"""What a handler gets besides its message: the envelope, the record's place, db and publish."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar, cast
from uuid import UUID

from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.model import Envelope, Message
from eventgen.runtime.spec import PublisherSpec

M = TypeVar("M", bound=Message)


@dataclass
class Output:
    """One record `ctx.publish` asked for, encoded; the loop produces it after the handler."""

    topic: str
    value: bytes
    key: bytes | None
    headers: list[tuple[str, bytes]]
    envelope: Envelope[Message]


class Outputs:
    """Encodes `ctx.publish` messages with the consumer's publisher routes.

    Records are buffered, not produced, while the handler runs: a handler that fails after
    publishing leaves nothing behind (nothing reaches Kafka, nothing enters the transaction),
    so a retry or a dead letter never duplicates its partial output.
    """

    def __init__(self, spec: PublisherSpec | None, config: RuntimeConfig, consumer: str) -> None:
        self.spec = spec
        self.config = config
        self.consumer = consumer

    def encode(
        self,
        message: Message,
        *,
        correlation_id: str | None,
        causation_id: UUID | None,
        headers: Mapping[str, str | bytes] | None,
        event_id: UUID | None = None,
    ) -> Output:
        from eventgen.runtime.serde import codec_for, encode_key

        if self.spec is None:
            raise ValueError(f"consumer {self.consumer} has no publisher: it cannot publish")
        try:
            route = self.spec.route(message.TYPE)
        except KeyError:
            raise ValueError(
                f"consumer {self.consumer} cannot publish {message.TYPE}: not a message of "
                f"context {self.spec.context}"
            ) from None
        envelope: Envelope[Message] = message.envelope(
            event_id=event_id, correlation_id=correlation_id, causation_id=causation_id
        )
        value, envelope_headers = codec_for(route, self.config).encode(envelope, route)
        extra = [
            (name, raw if isinstance(raw, bytes) else raw.encode())
            for name, raw in (headers or {}).items()
        ]
        return Output(
            route.topic.name, value, encode_key(route, message), envelope_headers + extra, envelope
        )


class Context(Generic[M]):
    """The record a handler is called for: envelope fields, where it came from, db, publish.

    `attempt` is 1-based (2 on the first retry). `db` is the open connection of the
    idempotency store's transaction (the inbox row is written in it), None when the store is
    `none`. `publish` sends a message through the consumer's publisher; by default the
    output's causation_id is this record's event_id and its correlation_id this record's
    correlation_id (or its event_id when it has none).

    Built once per record on the hot path, so it holds the record and reads its place
    (`topic`, `partition`, `offset`, `key`, `headers`) only when a handler asks.
    """

    __slots__ = ("_outputs", "_record", "attempt", "db", "envelope", "published")

    def __init__(
        self,
        record: Any,
        envelope: Envelope[M],
        attempt: int,
        db: Any,
        outputs: Outputs,
    ) -> None:
        self._record = record
        self.envelope = envelope
        self.attempt = attempt
        self.db = db
        self._outputs = outputs
        self.published: list[Output] = []

    def __repr__(self) -> str:
        return (
            f"Context(type={self.type!r}, event_id={self.event_id}, topic={self.topic!r}, "
            f"partition={self.partition}, offset={self.offset}, attempt={self.attempt})"
        )

    @property
    def topic(self) -> str:
        return cast(str, self._record.topic())

    @property
    def partition(self) -> int:
        return cast(int, self._record.partition())

    @property
    def offset(self) -> int:
        return cast(int, self._record.offset())

    @property
    def key(self) -> bytes | None:
        return cast("bytes | None", self._record.key())

    @property
    def headers(self) -> list[tuple[str, bytes | None]]:
        """The record's headers (a copy: changing it changes nothing)."""
        return list(self._record.headers() or ())

    @property
    def message(self) -> M:
        return self.envelope.payload

    @property
    def event_id(self) -> UUID:
        return self.envelope.event_id

    @property
    def type(self) -> str:
        return self.envelope.type

    @property
    def schema_version(self) -> int:
        return self.envelope.schema_version

    @property
    def occurred_at(self) -> datetime:
        return self.envelope.occurred_at

    @property
    def correlation_id(self) -> str | None:
        return self.envelope.correlation_id

    @property
    def causation_id(self) -> UUID | None:
        return self.envelope.causation_id

    def publish(
        self,
        message: Message,
        *,
        correlation_id: str | None = None,
        causation_id: UUID | None = None,
        headers: Mapping[str, str | bytes] | None = None,
        event_id: UUID | None = None,
    ) -> Envelope[Message]:
        """Queue `message` for the consumer's publisher; sent once the handler has returned.

        At-least-once: produced and acknowledged before the record's offset is committed.
        Exactly-once: produced in the Kafka transaction that commits the offset.

        `event_id` is the output's envelope event id (a fresh uuid4 by default). Give a
        deterministic one (e.g. a uuid5 of this record's event id) when a handler that runs
        again for the same record must publish the same message, so the receiver's inbox can
        drop the repeat: at-least-once acknowledges the output before the inbox commit, so a
        crash in between runs the handler a second time.
        """
        output = self._outputs.encode(
            message,
            correlation_id=correlation_id or self.correlation_id or str(self.event_id),
            causation_id=causation_id or self.event_id,
            headers=headers,
            event_id=event_id,
        )
        self.published.append(output)
        return output.envelope
