"""Typed decoding failures a consumer can route to a dead-letter topic."""

from __future__ import annotations

from typing import Literal

Reason = Literal[
    "bad_envelope",  # JSON envelope or headers missing, malformed or inconsistent
    "unknown_type",  # the `type` is not a message of this topic/registry
    "unknown_schema_id",  # Confluent framing names a schema id the resolver does not know
    "bad_magic",  # Confluent framing: first byte is not 0, or the frame is too short
    "unsupported_version",  # a schema version without schema or upcaster
    "corrupt_payload",  # bytes that do not parse under the writer schema
    "invalid_payload",  # parsed, but the model rejects the values (constraints, formats)
]


class DecodeError(Exception):
    """A message could not be decoded; `reason` says why, for DLQ routing and metrics."""

    def __init__(self, reason: Reason, detail: str, message_type: str | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason: Reason = reason
        self.detail = detail
        self.message_type = message_type
