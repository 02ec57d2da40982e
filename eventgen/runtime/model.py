"""Base classes of generated models and the Envelope every message travels in."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Generic, Self, TypeVar
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict

from eventgen.runtime.scalars import INT32, IntRange, Timestamp, Uuid


class Record(BaseModel):
    """A generated record: immutable, closed content model, wire names as aliases."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        # Validators are compiled on a class's first use, not at import: a service that
        # imports a whole platform's models pays only for the messages it touches.
        defer_build=True,
        # eventgen.ir.naming escapes every field name that is, or starts with, a BaseModel
        # name (`model_dump` -> `model_dump_`), so pydantic's guard of its namespaces has
        # nothing left to guard and would only warn on import about those escapes.
        protected_namespaces=(),
    )


class OpenRecord(Record):
    """A record of an open content model: unknown properties are accepted and dropped."""

    model_config = ConfigDict(extra="ignore")


class Message(Record):
    """A generated event, command or query payload."""

    TYPE: ClassVar[str]  # the envelope `type`, e.g. "orders.OrderPlaced"
    VERSION: ClassVar[int]  # current schema version
    SCHEMAS: ClassVar[str]  # module whose SCHEMAS[TYPE][version] is the Avro schema
    # Module (`<package>._upcast.<context>`) whose `upcast(type, version, payload) -> payload`
    # lifts an older version's payload to VERSION; None: older versions cannot be decoded.
    UPCASTS: ClassVar[str | None] = None

    def partition_key(self) -> Any:
        """The Kafka record key; generated messages on keyed topics override this."""
        return None

    def envelope(
        self,
        *,
        event_id: UUID | None = None,
        occurred_at: datetime | None = None,
        correlation_id: str | None = None,
        causation_id: UUID | None = None,
    ) -> Envelope[Self]:
        """Wrap this payload in an envelope (a fresh event_id and the current time by default)."""
        return Envelope(
            event_id=event_id or uuid4(),
            type=self.TYPE,
            schema_version=self.VERSION,
            occurred_at=occurred_at or datetime.now(UTC),
            correlation_id=correlation_id,
            causation_id=causation_id,
            payload=self,
        )


class OpenMessage(Message):
    """A message of an open content model."""

    model_config = ConfigDict(extra="ignore")


P = TypeVar("P", bound=Message)


class EnvelopeHead(BaseModel):
    """Metadata every message carries; `event_id` is the idempotency key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: Uuid
    type: str
    schema_version: Annotated[int, IntRange(1, INT32[1])]
    occurred_at: Timestamp
    correlation_id: str | None = None
    causation_id: Uuid | None = None


class Envelope(EnvelopeHead, Generic[P]):
    """The envelope with its typed payload."""

    payload: P
