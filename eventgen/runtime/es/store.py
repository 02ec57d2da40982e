"""The event store: streams of events keyed by (stream id, version), and a global position.

INTERFACE STUB: implemented by the event-store work; signatures are binding for generated code.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventgen.runtime.es.spec import EventStoreSpec
from eventgen.runtime.model import Envelope, Message


@dataclass(frozen=True)
class StoredEvent:
    position: int  # global, commit-ordered: a reader tailing it never skips a late commit
    stream_id: str
    version: int  # 1-based within the stream
    envelope: Envelope[Message]  # payload upcast to the current version
    stored_version: int  # the schema version the event was written in

    @property
    def message(self) -> Message:
        return self.envelope.payload


class EventStore:
    """`append`, `read_stream`, `read_all` and snapshots on the caller's connection."""

    def __init__(self, spec: EventStoreSpec, messages: Sequence[type[Message]]) -> None:
        self.spec = spec
        self.messages = tuple(messages)

    def ensure_schema(self, conn: Any) -> None:
        raise NotImplementedError

    def append(
        self,
        conn: Any,
        stream_id: str,
        expected_version: int,
        events: Sequence[Message | Envelope[Message]],
        *,
        correlation_id: str | None = None,
        causation_id: UUID | None = None,
        occurred_at: datetime | None = None,
    ) -> int:
        raise NotImplementedError

    def read_stream(
        self, conn: Any, stream_id: str, from_version: int = 1
    ) -> Iterator[StoredEvent]:
        raise NotImplementedError

    def read_all(self, conn: Any, after_position: int = 0, limit: int = 1000) -> list[StoredEvent]:
        raise NotImplementedError

    def head_position(self, conn: Any) -> int:
        raise NotImplementedError

    def stream_version(self, conn: Any, stream_id: str) -> int:
        raise NotImplementedError

    def load_snapshot(self, conn: Any, stream_id: str, state_hash: str) -> tuple[int, bytes] | None:
        raise NotImplementedError

    def save_snapshot(
        self, conn: Any, stream_id: str, version: int, state_hash: str, state: bytes
    ) -> None:
        raise NotImplementedError
