"""The frozen records generated event-sourcing code hands to the runtime.

A build writes these as literals in `<package>/<context>_aggregates.py` and
`<package>/<context>_projections.py`; the runtime objects built from them (EventStore,
AggregateRepository, Projector, ProjectionTable) read their configuration only when they first
touch a database, so importing a generated module connects to nothing.

Everything the generated code decides (applying an event, guarding and deciding a command,
projecting an event to row operations) is a plain typed function in the generated module; these
records only point at those functions. No spec text is evaluated at runtime.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar
from uuid import UUID, uuid4

from eventgen.runtime.errors import CommandRejected
from eventgen.runtime.model import EnvelopeHead, Message, Record
from eventgen.runtime.spec import Route

StoreKind = Literal["sqlite", "postgres"]
S = TypeVar("S", bound=Record)  # an aggregate's state model
R = TypeVar("R", bound=Record)  # a projection's row model

CHECKPOINT_TABLE = "eventgen_checkpoints"


@dataclass(frozen=True)
class EventStoreSpec:
    """A context's event store: its tables and the database its apps open.

    `store` is the database of the context's outbox (so that appending and the outbox rows
    share one transaction); a context without `outbox:` uses SQLite.
    """

    context: str
    table: str  # e.g. "orders_events"
    snapshot_table: str  # e.g. "orders_snapshots"
    store: StoreKind = "sqlite"


@dataclass(frozen=True)
class CommandMeta:
    """What `$meta.` reads while a command is decided: the command's envelope head.

    `occurred_at` is when the command was issued (`$meta.occurred_at` fills `placed_at` and the
    like); the events the command emits get fresh event ids, this `correlation_id`, and the
    command's `event_id` as their `causation_id`.
    """

    event_id: UUID
    occurred_at: datetime
    correlation_id: str | None = None
    causation_id: UUID | None = None

    @classmethod
    def now(cls, correlation_id: str | None = None) -> CommandMeta:
        """Meta of a command issued here and now (a direct `repository.handle` call)."""
        return cls(uuid4(), datetime.now(UTC), correlation_id)

    @classmethod
    def of(cls, head: EnvelopeHead) -> CommandMeta:
        """Meta of a command that arrived in an envelope (a consumed record)."""
        return cls(head.event_id, head.occurred_at, head.correlation_id, head.causation_id)


# decide(state, command, meta) -> the events; raises CommandRejected when the guard is false.
Decider = Callable[[Any, Any, CommandMeta], Sequence[Message]]
# reject(command, rejection, meta) -> the command's `replies.failure` message.
FailureReply = Callable[[Any, CommandRejected, CommandMeta], Message]


@dataclass(frozen=True)
class AggregateDefinition(Generic[S]):
    """One spec aggregate: its state model, how events change it, and its commands.

    `state_hash` is a digest of the state's schema (field names, types, defaults); a snapshot
    stored under another hash is ignored and the stream is replayed in full.
    """

    name: str  # "Order"
    qualified: str  # "orders.Order"
    context: str
    id_field: str  # the command and event field that holds the aggregate id ("order_id")
    state: type[S]
    state_hash: str
    snapshot_every: int | None
    events: tuple[type[Message], ...]  # the events `apply` takes
    apply: Callable[[S, Message], S]
    commands: tuple[tuple[type[Message], Decider], ...]  # (command class, decide), spec order
    failure_replies: tuple[tuple[type[Message], FailureReply], ...] = ()

    def stream_id(self, aggregate_id: object) -> str:
        """The event-store stream of one aggregate instance: `Order-<id>`."""
        return f"{self.name}-{aggregate_id}"

    def decider(self, command: type[Message]) -> Decider:
        for cls, decide in self.commands:
            if cls is command:
                return decide
        raise KeyError(f"{self.name} has no command {command.TYPE}")

    def failure_reply(self, command: type[Message]) -> FailureReply | None:
        return next((reply for cls, reply in self.failure_replies if cls is command), None)


# -- projections --------------------------------------------------------------------------

ColumnKind = Literal[
    "uuid", "string", "int", "long", "float", "double", "boolean", "decimal", "date", "time",
    "timestamp", "bytes", "enum", "json",
]  # fmt: skip


@dataclass(frozen=True)
class Column:
    """A read-model column. `json` holds lists, maps and records (jsonb / JSON text)."""

    name: str
    kind: ColumnKind
    nullable: bool = False
    precision: int | None = None  # decimal
    scale: int | None = None  # decimal
    default: Any = None  # the spec default as a JSON-ready value (applied on insert)
    has_default: bool = False


RowOpKind = Literal["upsert", "set", "inc", "append", "delete", "handler"]


@dataclass(frozen=True)
class RowOp:
    """One row operation a projected event asks for.

    - upsert: insert the row (`values` plus defaults) or update `values` on the existing one;
    - set: update `values` on the row; no row: nothing happens (counted as `missed`);
    - inc: add each value to its column (missing row: counted as `missed`);
    - append: append each value to its list column (missing row: counted as `missed`);
    - delete: delete the row (missing row: nothing happens);
    - handler: `handler(row_or_None, event)` returns the new row, or None to delete it.
    """

    kind: RowOpKind
    key: Any
    values: tuple[tuple[str, Any], ...] = ()
    handler: Callable[[Any, Message], Any] | None = None


@dataclass(frozen=True)
class ProjectionSpec:
    """One spec projection: its table, columns, and where its events come from.

    Events of the projection's own context that belong to an aggregate are read from the
    context's event store (`store_source`, checkpoint = store position); every other event is
    read from its Kafka topic (`topics`, checkpoint per topic-partition offset). Checkpoints
    live in `checkpoint_table`, written in the transaction that writes the rows.
    """

    name: str  # "OrderSummary"
    qualified: str  # "orders.OrderSummary"
    context: str
    table: str  # "order_summary"
    key: str  # the key column
    columns: tuple[Column, ...]
    handles: tuple[str, ...]  # message TYPEs it projects, sorted
    store: StoreKind = "sqlite"
    store_source: bool = False
    group: str = ""  # Kafka consumer group of its topic sources (offsets live in the DB)
    topics: tuple[Route, ...] = ()
    checkpoint_table: str = CHECKPOINT_TABLE
    batch: int = 500  # events per transaction


# project(event) -> the row operations it asks for (empty: the event changes nothing).
Project = Callable[[Message], Sequence[RowOp]]


@dataclass(frozen=True)
class ProjectionDefinition(Generic[R]):
    spec: ProjectionSpec
    row: type[R]  # the row model (also what queries return)
    project: Project
    messages: tuple[type[Message], ...] = field(default=())  # the classes of `spec.handles`
