"""Aggregate repositories: load (snapshot + tail), decide, append and outbox in one transaction.

`AggregateRepository(definition, store, outbox)` is what a generated `<context>_aggregates.py`
builds per spec aggregate. Everything runs on the caller's connection and inside the caller's
transaction (a `sqlite3.Connection` after an explicit BEGIN, or a `psycopg.Connection`):

- `load` reads the newest snapshot stored under the definition's current `state_hash` (a
  snapshot under another hash, i.e. of another state schema, is never returned by the store;
  one that does not decode is logged and ignored), then folds the stream's tail with the
  generated `apply`. No snapshot (or no `snapshot:` in the spec, which never looks for one):
  the full stream from the initial state.
- `handle` loads, decides (the generated decider raises CommandRejected when its guard is
  false: nothing is written), appends the events with `expected_version` = the loaded version
  (a concurrent writer makes the append raise ConcurrencyError), adds every event the outbox
  has a route for to the outbox with the SAME event_id and occurred_at as stored, and writes a
  snapshot when the new version crosses a multiple of `snapshot_every`.
- `handle_consumed` is the command consumer app's handler: `handle` in the app's transaction,
  which also holds the inbox row of the command (a redelivered command is a duplicate and is
  never decided twice). A rejection is a business answer, not a failure: the command's
  failure reply goes to the outbox in the same transaction, or a warning is logged.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Generic

from pydantic import ValidationError

from eventgen.runtime.errors import CommandRejected
from eventgen.runtime.es.spec import AggregateDefinition, CommandMeta, S
from eventgen.runtime.es.store import EventStore
from eventgen.runtime.model import Envelope, EnvelopeHead, Message
from eventgen.runtime.outbox import OutboxWriter

log = logging.getLogger("eventgen.runtime.es")


class AggregateRepository(Generic[S]):
    """Loads and changes the instances of one aggregate through its event store."""

    def __init__(
        self,
        definition: AggregateDefinition[S],
        store: EventStore,
        outbox: OutboxWriter | None = None,
    ) -> None:
        self.definition = definition
        self.store = store
        self.outbox = outbox
        publisher = outbox.spec.publisher if outbox is not None else None
        # The event types the outbox carries to Kafka; the others stay in the store only.
        self._routed = frozenset(name for name, _ in publisher.routes) if publisher else frozenset()
        # The last connection whose tables handle_consumed created (the app uses one).
        self._schema_conn: Any = None

    # -- loading ----------------------------------------------------------------------------

    def load(self, conn: Any, aggregate_id: object) -> tuple[S, int]:
        """The instance's current state and version (0: no events yet, initial state)."""
        definition = self.definition
        stream_id = definition.stream_id(aggregate_id)
        state, version = self._snapshot(conn, stream_id)
        apply = definition.apply
        for stored in self.store.read_stream(conn, stream_id, from_version=version + 1):
            state = apply(state, stored.envelope.payload)
            version = stored.version
        return state, version

    def _snapshot(self, conn: Any, stream_id: str) -> tuple[S, int]:
        definition = self.definition
        if not definition.snapshot_every:
            # No `snapshot:` in the spec: none are taken, so none is looked for (one query
            # less per command; a snapshot left by an older build is not needed either).
            return definition.state(), 0
        found = self.store.load_snapshot(conn, stream_id, definition.state_hash)
        if found is not None:
            version, data = found
            try:
                return definition.state.model_validate_json(data), version
            except (ValidationError, ValueError, TypeError) as exc:
                log.warning(
                    "%s: snapshot of %r at version %d does not decode under state hash %s; "
                    "ignored, replaying the whole stream: %s",
                    definition.qualified,
                    stream_id,
                    version,
                    definition.state_hash,
                    _first_line(exc),
                )
        return definition.state(), 0

    # -- commands ---------------------------------------------------------------------------

    def handle(
        self, conn: Any, command: Message, *, meta: CommandMeta | EnvelopeHead | None = None
    ) -> list[Message]:
        """Decide `command` on the current state and record its events; the events.

        Raises CommandRejected (nothing written) when the command's guard is false, and
        ConcurrencyError when another transaction appended to the stream since the load
        (roll back, then handle again: the retry reloads and decides on the new state).
        """
        definition = self.definition
        meta = _meta(meta)
        decide = definition.decider(type(command))
        aggregate_id = getattr(command, definition.id_field)
        stream_id = definition.stream_id(aggregate_id)
        state, version = self.load(conn, aggregate_id)
        events = list(decide(state, command, meta))
        if not events:
            return []
        # The command's id is the events' cause; its correlation (or, for the first command of
        # a conversation, its id) correlates them, as ctx.publish does.
        correlation_id = meta.correlation_id or str(meta.event_id)
        occurred_at = datetime.now(UTC)
        envelopes = [
            event.envelope(
                occurred_at=occurred_at, correlation_id=correlation_id, causation_id=meta.event_id
            )
            for event in events
        ]
        last = self.store.append(
            conn,
            stream_id,
            version,
            envelopes,
            correlation_id=correlation_id,
            causation_id=meta.event_id,
            occurred_at=occurred_at,
        )
        if self.outbox is not None:
            for envelope in envelopes:
                if envelope.type in self._routed:
                    self._to_outbox(conn, envelope)
        every = definition.snapshot_every
        if every and last // every > version // every:
            for event in events:
                state = definition.apply(state, event)
            self.store.save_snapshot(
                conn, stream_id, last, definition.state_hash, state.model_dump_json().encode()
            )
        return events

    def handle_consumed(self, command: Message, ctx: Any) -> None:
        """The command-handler app's handler: `handle` in the app's transaction (`ctx.db`).

        A rejected command is answered, not failed: its `replies.failure` message is added to
        the outbox in the same transaction (or, without an outbox, published with
        `ctx.publish`); a command without a failure reply is logged as a warning. Either way
        the handler returns, the inbox row commits, and a redelivery is a duplicate. Other
        errors (ConcurrencyError, a database error) propagate: the app rolls back and retries.
        """
        conn = ctx.db
        if conn is None:
            raise RuntimeError(
                f"{self.definition.qualified}: the command consumer has no store (ctx.db is "
                "None); an aggregate's commands need `idempotency: {store: sqlite|postgres}`"
            )
        self._ensure_schema(conn)
        meta = CommandMeta.of(ctx.envelope)
        try:
            self.handle(conn, command, meta=meta)
        except CommandRejected as rejection:
            self._rejected(conn, ctx, command, rejection, meta)
        except BaseException:
            # The app rolls the transaction back, and with it tables created in it.
            self._schema_conn = None
            raise

    def _rejected(
        self,
        conn: Any,
        ctx: Any,
        command: Message,
        rejection: CommandRejected,
        meta: CommandMeta,
    ) -> None:
        reply = self.definition.failure_reply(type(command))
        if reply is None:
            log.warning("%s (command %s)", rejection, meta.event_id)
            return
        message = reply(command, rejection, meta)
        log.info("%s (command %s): replying %s", rejection, meta.event_id, message.TYPE)
        correlation_id = meta.correlation_id or str(meta.event_id)
        if self.outbox is not None and message.TYPE in self._routed:
            self.outbox.add(
                conn, message, correlation_id=correlation_id, causation_id=meta.event_id
            )
        else:
            ctx.publish(message, correlation_id=correlation_id, causation_id=meta.event_id)

    def _to_outbox(self, conn: Any, envelope: Envelope[Message]) -> None:
        assert self.outbox is not None
        self.outbox.add(
            conn,
            envelope.payload,
            event_id=envelope.event_id,
            occurred_at=envelope.occurred_at,
            correlation_id=envelope.correlation_id,
            causation_id=envelope.causation_id,
        )

    def _ensure_schema(self, conn: Any) -> None:
        """The event store's (and outbox's) tables in the app's database, once per connection.

        CREATE TABLE IF NOT EXISTS in the handler's transaction: the command consumer app only
        creates its inbox tables, and a runner-started handler must work on a fresh database.
        """
        if self._schema_conn is conn:
            return
        self.store.ensure_schema(conn)
        if self.outbox is not None:
            self.outbox.ensure_schema(conn)
        self._schema_conn = conn


def _meta(meta: CommandMeta | EnvelopeHead | None) -> CommandMeta:
    if meta is None:
        return CommandMeta.now()
    if isinstance(meta, EnvelopeHead):
        return CommandMeta.of(meta)
    return meta


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
