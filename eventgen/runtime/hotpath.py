"""The consumer's per-record decoder for the header codecs, fused into one function.

`serde.decoder_for` hands a consumer loop this decoder for routes whose envelope travels in
headers (bare Avro or JSON values). It gives exactly what `_HeaderCodec.decode_handled`
gives, the same envelopes, the same None for skipped types and the same errors, because
every record it is not sure of goes through that general path: a `type` header not seen
before, a missing or older `schema_version`, a missing `event_id` or `occurred_at`, no value,
any header that does not parse. What it saves on the common record is what the general path
pays again per record for facts of the stream (which class a `type` header names, whether
it is handled, the version's upcaster) and a dozen nested calls; the benchmark in
docs/performance.md measures it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from eventgen.runtime.headers import envelope_fields
from eventgen.runtime.model import Envelope, Message
from eventgen.runtime.transport import RecordLike

if TYPE_CHECKING:
    from eventgen.runtime.serde import _HeaderCodec
    from eventgen.runtime.spec import Route

Decoder = Callable[[RecordLike], "Envelope[Message] | None"]
PayloadDecoder = Callable[[type[Message], bytes], Message]

# Distinct `type` / `schema_version` header values remembered per decoder: a stream has a
# handful; a hostile one with a new value per record costs the general path, never memory.
MAX_REMEMBERED = 1024
_SKIP = object()  # a remembered `type` the consumer skips (not handled, or not on the topic)


@dataclass
class Memory:
    """What one decoder learned of its stream (bounded by MAX_REMEMBERED each)."""

    kinds: dict[bytes, Any] = field(default_factory=dict)  # raw `type` -> (text, class) or _SKIP
    versions: dict[bytes, int] = field(default_factory=dict)  # raw `schema_version` -> version


def header_decoder(
    codec: _HeaderCodec,
    route: Route,
    handles: frozenset[str] | set[str],
    payload: PayloadDecoder,
    memory: Memory | None = None,
) -> Decoder:
    """The fused decoder of `codec` on `route`; `payload(cls, value)` decodes a current-version
    value (what the codec's `decode_fields` does when no upcaster is needed). `memory`: where
    it keeps what it learned (a fresh one by default; tests pass one to look into)."""
    from eventgen.runtime.serde import _construct, _timestamp, _uuid

    general = codec.decode_handled
    memory = memory or Memory()
    kinds = memory.kinds
    versions = memory.versions

    def learn(record: RecordLike, fields: dict[str, bytes]) -> Envelope[Message] | None:
        """The general path, remembering what the record's headers taught about the stream."""
        envelope = general(record, route, handles)
        raw_type = fields.get("type")
        if raw_type is not None and len(kinds) < MAX_REMEMBERED:
            # Reached only when the type header is well formed (else `general` raised).
            if envelope is None:
                kinds[raw_type] = _SKIP
            else:
                kinds[raw_type] = (envelope.type, route.topic.registry.get(envelope.type))
        raw_version = fields.get("schema_version")
        if envelope is not None and raw_version is not None and len(versions) < MAX_REMEMBERED:
            versions[raw_version] = envelope.schema_version
        return envelope

    def decode(record: RecordLike) -> Envelope[Message] | None:
        fields = envelope_fields(record.headers())
        get = fields.get
        known = kinds.get(get("type"))  # type: ignore[arg-type]
        if known is _SKIP:
            return None
        if known is None:
            return learn(record, fields)
        message_type, cls = known
        version = versions.get(get("schema_version"))  # type: ignore[arg-type]
        raw_id = get("event_id")
        raw_at = get("occurred_at")
        value = record.value()
        if (
            version != cls.VERSION  # unknown, older or newer: the general path's errors
            or not raw_id
            or not raw_at
            or value is None
        ):
            return learn(record, fields)
        raw_cause = get("causation_id")
        raw_correlation = get("correlation_id")
        try:
            event_id = _uuid(raw_id.decode())
            occurred_at = _timestamp(raw_at.decode())
            causation_id = None if raw_cause is None else _uuid(raw_cause.decode())
            correlation_id = None if raw_correlation is None else raw_correlation.decode()
        except (ValueError, OverflowError):  # UnicodeDecodeError too: the general path names it
            return learn(record, fields)
        return _construct(
            Envelope,
            {
                "event_id": event_id,
                "type": message_type,
                "schema_version": version,
                "occurred_at": occurred_at,
                "correlation_id": correlation_id,
                "causation_id": causation_id,
                "payload": payload(cls, value),
            },
        )

    return decode
