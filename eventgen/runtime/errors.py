"""Typed failures of the runtime: codecs, publishers, and start-up of apps and relays."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Reason = Literal[
    "bad_envelope",  # JSON envelope or headers missing, malformed or inconsistent
    "no_type",  # a header-codec record without a `type` header: nothing says what it is
    "unknown_type",  # a well-formed `type` that is not a message of this topic/registry
    "unknown_schema_id",  # Confluent framing names a schema id the registry does not know
    "bad_magic",  # Confluent framing: first byte is not 0, or the frame is too short
    "unsupported_version",  # a schema version without schema or upcaster
    "corrupt_payload",  # bytes that do not parse under the writer schema
    "invalid_payload",  # parsed, but the model rejects the values (constraints, formats)
]


class DecodeError(Exception):
    """A message could not be decoded; `reason` says why, for DLQ routing and metrics.

    Every reason but `unknown_type` means the record is unusable (a dead letter); a consumer
    that does not handle a well-formed type skips it instead.
    """

    def __init__(self, reason: Reason, detail: str, message_type: str | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason: Reason = reason
        self.kind: Reason = reason  # the design's name for it
        self.detail = detail
        self.message_type = message_type


class RegistryError(Exception):
    """The Schema Registry could not answer (unreachable, timeout, missing subject, HTTP error).

    Not a DecodeError: the record may be fine and a retry may succeed, so a consumer must not
    dead-letter it. `status` is the HTTP status when there was one.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class DeliveryFailure:
    """One record the broker did not acknowledge."""

    topic: str
    key: bytes | None
    event_id: str | None
    error: str


class DeliveryError(Exception):
    """Records a producer could not deliver; `failures` lists every one of them."""

    def __init__(self, failures: list[DeliveryFailure]) -> None:
        self.failures = list(failures)
        shown = "; ".join(
            f"{f.topic} event {f.event_id or '?'}: {f.error}" for f in self.failures[:10]
        )
        more = f" (and {len(self.failures) - 10} more)" if len(self.failures) > 10 else ""
        super().__init__(f"{len(self.failures)} record(s) not delivered: {shown}{more}")


class StartupError(Exception):
    """An app or relay cannot start: missing handlers, broker or database out of reach, a
    missing topic or DLQ topic, a relay of the wrong kind. The message is one clear line.

    One class for every runnable of the runtime, so the runner exits 2 on it by class.
    """


class StoreError(Exception):
    """The store cannot be opened or used; the message is one line naming the cause.

    Here rather than in db.py so that the runner catches it by class without importing the
    store (nor psycopg)."""


class ConcurrencyError(Exception):
    """An append whose `expected` stream version is not the stream's `actual` one.

    Raised by `EventStore.append` (optimistic concurrency): another writer appended first. On
    PostgreSQL a conflict found by the unique (stream_id, version) index also aborts the
    caller's transaction: roll it back, reload and decide again (apps retry this by class).
    """

    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        super().__init__(
            f"stream {stream_id!r}: expected version {expected}, the stream is at {actual}"
        )
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class CommandRejected(Exception):
    """A command whose `requires` guard is false on the aggregate's state.

    `guard` is the spec's guard text, `state` the values of the state fields it names (as they
    were when the command was decided), so the message says why without a debugger.
    """

    def __init__(
        self,
        aggregate: str,
        command: str,
        guard: str,
        state: dict[str, object],
        aggregate_id: object = None,
    ) -> None:
        values = ", ".join(f"{name}={value!r}" for name, value in state.items())
        super().__init__(
            f"{aggregate} {aggregate_id!s}: {command} rejected: `{guard}` is false ({values})"
        )
        self.aggregate = aggregate
        self.command = command
        self.guard = guard
        self.state = state
        self.aggregate_id = aggregate_id


class StoredEventError(Exception):
    """A stored event the current build cannot read: unknown type or version, or a payload
    that no longer decodes. Never skipped silently: it names the stream and version."""

    def __init__(self, stream_id: str, version: int, position: int, detail: str) -> None:
        super().__init__(f"stream {stream_id!r} version {version} (position {position}): {detail}")
        self.stream_id = stream_id
        self.version = version
        self.position = position
        self.detail = detail
