"""Aggregate repositories: load (snapshot + tail), decide, append and outbox in one transaction.

INTERFACE STUB: implemented by the aggregate-runtime work; signatures are binding.
"""

from __future__ import annotations

from typing import Any, Generic

from eventgen.runtime.es.spec import AggregateDefinition, CommandMeta, S
from eventgen.runtime.es.store import EventStore
from eventgen.runtime.model import EnvelopeHead, Message
from eventgen.runtime.outbox import OutboxWriter


class AggregateRepository(Generic[S]):
    def __init__(
        self,
        definition: AggregateDefinition[S],
        store: EventStore,
        outbox: OutboxWriter | None = None,
    ) -> None:
        self.definition = definition
        self.store = store
        self.outbox = outbox

    def load(self, conn: Any, aggregate_id: object) -> tuple[S, int]:
        raise NotImplementedError

    def handle(
        self, conn: Any, command: Message, *, meta: CommandMeta | EnvelopeHead | None = None
    ) -> list[Message]:
        raise NotImplementedError

    def handle_consumed(self, command: Message, ctx: Any) -> None:
        """The command-handler app's handler: `handle` in the app's transaction (`ctx.db`)."""
        raise NotImplementedError
