"""Frozen dataclasses of the resolved spec. Emitters read only these.

Conventions: every collection is a tuple sorted by name (fields keep declaration order,
because Avro field order is part of the schema). References are resolved to qualified names
`context.Name` (topics: `context.local-name`). Durations are milliseconds, sizes bytes.
JSON-like literal values (defaults, payload literals) are frozen: dicts become
`MappingProxyType` and lists tuples; `thaw()` turns them back. `loc` never takes part in
equality, so moving a spec line does not change the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any, Literal

from eventgen.diagnostics import Loc

NO_LOC = Loc("<none>")

ScalarName = Literal[
    "string", "int", "long", "float", "double", "boolean", "bytes",
    "uuid", "date", "time", "timestamp", "decimal",
]  # fmt: skip
SCALARS: tuple[str, ...] = (
    "string", "int", "long", "float", "double", "boolean", "bytes",
    "uuid", "date", "time", "timestamp", "decimal",
)  # fmt: skip


def freeze(value: Any) -> Any:
    """Make a JSON-like value immutable (dict -> MappingProxyType, list -> tuple)."""
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Inverse of `freeze`: plain dicts and lists, ready for json.dumps."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


def _mark(text: str, nullable: bool) -> str:
    return text + "?" if nullable else text


@dataclass(frozen=True)
class Scalar:
    """A built-in scalar (`string`, `decimal(12,2)`, ...); see eventgen/ir/scalars.py."""

    name: str  # one of SCALARS
    nullable: bool = False
    precision: int | None = None  # decimal only
    scale: int | None = None  # decimal only

    def __str__(self) -> str:
        if self.name == "decimal" and self.precision is not None:
            return _mark(f"decimal({self.precision},{self.scale})", self.nullable)
        return _mark(self.name, self.nullable)


@dataclass(frozen=True)
class ListOf:
    item: TypeRef
    nullable: bool = False

    def __str__(self) -> str:
        return _mark(f"list[{self.item}]", self.nullable)


@dataclass(frozen=True)
class MapOf:
    """A map with string keys; `item` is the value type."""

    item: TypeRef
    nullable: bool = False

    def __str__(self) -> str:
        return _mark(f"map[{self.item}]", self.nullable)


@dataclass(frozen=True)
class Named:
    """A record or enum, by qualified name `context.Name` once resolved (raw name before)."""

    name: str
    nullable: bool = False

    def __str__(self) -> str:
        return _mark(self.name, self.nullable)


# A field type: a tagged union handled with `match` (each member is frozen and hashable).
TypeRef = Scalar | ListOf | MapOf | Named


@dataclass(frozen=True)
class Constraints:
    minimum: int | float | None = None
    maximum: int | float | None = None
    min_length: int | None = None  # strings, bytes, lists (items) and maps (entries)
    max_length: int | None = None
    pattern: str | None = None


@dataclass(frozen=True)
class Field:
    name: str  # as written in the spec (snake_case); see naming.py for Python/Avro names
    type: TypeRef
    doc: str | None = None
    has_default: bool = False
    default: Any = None  # frozen JSON-like value; meaningful only when has_default
    constraints: Constraints = Constraints()
    deprecated: bool = False
    loc: Loc = field(default=NO_LOC, compare=False)


@dataclass(frozen=True)
class RecordType:
    qualified: str
    context: str
    name: str
    fields: tuple[Field, ...]
    doc: str | None = None
    loc: Loc = field(default=NO_LOC, compare=False)


@dataclass(frozen=True)
class EnumType:
    qualified: str
    context: str
    name: str
    symbols: tuple[str, ...]
    default: str | None = None  # reader fallback symbol (Avro enum default)
    doc: str | None = None
    loc: Loc = field(default=NO_LOC, compare=False)
    default_loc: Loc = field(default=NO_LOC, compare=False)  # the `default:` value
    symbol_locs: tuple[Loc, ...] = field(default=(), compare=False)  # one per symbol

    def symbol_at(self, index: int) -> Loc:
        """Where symbol `index` is written, else the enum."""
        return self.symbol_locs[index] if index < len(self.symbol_locs) else self.loc


@dataclass(frozen=True)
class Expr:
    """A value in declarative payloads: a path ($, $data, $state, $meta) or a literal."""

    root: Literal["$", "$data", "$state", "$meta"] | None
    path: tuple[str, ...] = ()
    literal: Any = None  # frozen; used when root is None
    loc: Loc = field(default=NO_LOC, compare=False)  # the value in the spec, for findings

    def __str__(self) -> str:
        if self.root is None:
            return repr(thaw(self.literal))
        return ".".join((self.root, *self.path))


Assignments = tuple[tuple[str, Expr], ...]  # (target field, value), in spec order


@dataclass(frozen=True)
class UpcastOp:
    """One upcaster op; `args` is the op's frozen spec mapping (see the spec reference)."""

    op: Literal["rename", "add", "remove", "split", "merge", "convert", "handler"]
    args: Any
    loc: Loc = field(default=NO_LOC, compare=False)


@dataclass(frozen=True)
class Upcast:
    from_version: int  # transforms a payload of this version into from_version + 1
    ops: tuple[UpcastOp, ...]
    loc: Loc = field(default=NO_LOC, compare=False)


@dataclass(frozen=True)
class MessageVersion:
    """The field list of one schema version, reconstructed from the upcaster chain.

    `complete` is False when an op hides an older field's type (e.g. `remove: [x]`,
    `handler`); emitters then skip that version's schema.
    """

    version: int
    fields: tuple[Field, ...]
    complete: bool = True


@dataclass(frozen=True)
class Example:
    version: int
    payload: Any  # frozen mapping
    loc: Loc = field(default=NO_LOC, compare=False)
    # Where each value of the payload is, by path (`()` is the payload itself), so a bad
    # value is reported at its own line; kept out of equality like every position.
    value_locs: tuple[tuple[tuple[str | int, ...], Loc], ...] = field(default=(), compare=False)
    # `expect:` (frozen mapping or None): the payload at the current version that upcasting
    # `payload` must give; the generated example tests compare the two byte for byte.
    expect: Any = None
    expect_locs: tuple[tuple[tuple[str | int, ...], Loc], ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class Message:
    """An event, command or query. `fields` is the current version (== versions[-1])."""

    kind: Literal["event", "command", "query"]
    qualified: str
    context: str
    name: str
    fields: tuple[Field, ...]
    version: int = 1
    versions: tuple[MessageVersion, ...] = ()
    doc: str | None = None
    topic: str | None = None  # qualified topic id
    key: tuple[str, ...] | None = None  # partition key field path
    event_kind: Literal["domain", "integration"] | None = None
    pattern: Literal["notification", "state-transfer"] | None = None
    aggregate: str | None = None  # qualified aggregate name
    upcasts: tuple[Upcast, ...] = ()
    examples: tuple[Example, ...] = ()
    replies_success: tuple[str, ...] = ()  # commands
    replies_failure: tuple[str, ...] = ()
    returns: str | None = None  # queries: qualified projection or type
    suppress: tuple[str, ...] = ()  # warning codes silenced for this item
    loc: Loc = field(default=NO_LOC, compare=False)
    key_loc: Loc = field(default=NO_LOC, compare=False)  # the `key:` value, when written
    topic_loc: Loc = field(default=NO_LOC, compare=False)  # the `topic:` value, when written
    version_loc: Loc = field(default=NO_LOC, compare=False)  # the `version:` value, when written

    def at_key(self) -> Loc:
        """Where a finding about the partition key belongs: its `key:` line, else the message."""
        return self.key_loc if self.key_loc != NO_LOC else self.loc


@dataclass(frozen=True)
class Retry:
    max_attempts: int
    initial_ms: int
    multiplier: float
    max_interval_ms: int
    jitter: Literal["none", "full", "equal"] = "full"
    retry_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class Dlq:
    topic: str  # full Kafka name
    retention_ms: int | None = None


@dataclass(frozen=True)
class Topic:
    qualified: str  # `context.local-name`
    context: str
    local_name: str
    kafka_name: str
    partitions: int
    replication_factor: int
    min_insync_replicas: int | None
    retention_ms: int | None  # -1 = infinite; None = broker default
    retention_bytes: int | None
    cleanup: tuple[str, ...]  # sorted subset of ("compact", "delete")
    compression: str | None
    key_type: TypeRef | None
    dlq: Dlq | None
    compatibility: str
    config: tuple[tuple[str, str], ...]  # passthrough, Kafka names, values as Kafka strings
    doc: str | None = None
    loc: Loc = field(default=NO_LOC, compare=False)
    config_locs: tuple[tuple[str, Loc], ...] = field(default=(), compare=False)
    # Where each typed attribute's value was written (the topic or the project's topic
    # defaults), so a finding lands on the line an author would change.
    attr_locs: tuple[tuple[str, Loc], ...] = field(default=(), compare=False)

    def at(self, attr: str) -> Loc:
        """The position of typed attribute `attr` (`partitions`, `key`, ...), else the topic."""
        return next((loc for name, loc in self.attr_locs if name == attr), self.loc)


@dataclass(frozen=True)
class Consumer:
    qualified: str
    context: str
    name: str
    group: str
    subscribe: tuple[str, ...]  # qualified topic ids
    handles: tuple[str, ...]  # qualified message names
    delivery: Literal["at-most-once", "at-least-once", "exactly-once"]
    processing: Literal["stream", "batch"]
    batch_max_records: int | None
    batch_max_wait_ms: int | None
    retry: Retry
    dlq: bool
    idempotency_store: Literal["sqlite", "postgres", "none"]
    idempotency_retention_ms: int | None
    timeout_ms: int
    handler: str | None = None
    # After the last attempt: dead-letter the record, or also park its key so later records
    # with that key follow it to the DLQ until a replay releases it (per-key order holds).
    on_failure: Literal["dead-letter", "park-key"] = "dead-letter"
    suppress: tuple[str, ...] = ()  # warning codes silenced for this consumer
    loc: Loc = field(default=NO_LOC, compare=False)
    # Where each written attribute's value sits (`delivery`, `dlq`, `idempotency`, ...), so a
    # finding lands on the line an author would change; absent ones fall back to the name.
    attr_locs: tuple[tuple[str, Loc], ...] = field(default=(), compare=False)

    def at(self, attr: str) -> Loc:
        """The position of attribute `attr` when the spec wrote it, else the consumer's name."""
        return next((loc for name, loc in self.attr_locs if name == attr), self.loc)


@dataclass(frozen=True)
class Outbox:
    context: str
    table: str
    relay: Literal["polling", "debezium"]
    batch: int
    poll_interval_ms: int
    store: Literal["sqlite", "postgres"] = "sqlite"  # the database the writer and relay use
    retention_ms: int = 0  # published rows: 0 = deleted in the relay's transaction
    loc: Loc = field(default=NO_LOC, compare=False)
    attr_locs: tuple[tuple[str, Loc], ...] = field(default=(), compare=False)

    def at(self, attr: str) -> Loc:
        """The position of attribute `attr` when the spec wrote it, else the `outbox:` mapping."""
        return next((loc for name, loc in self.attr_locs if name == attr), self.loc)


@dataclass(frozen=True)
class ApplyRule:
    """How an aggregate or projection reacts to one message."""

    message: str  # qualified
    op: Literal["set", "inc", "append", "handler", "upsert", "delete"]
    assignments: Assignments = ()
    handler: str | None = None
    key: Expr | None = None  # projections: row key when not the projection key field
    loc: Loc = field(default=NO_LOC, compare=False)


@dataclass(frozen=True)
class AggregateCommand:
    command: str  # qualified
    requires: str | None  # guard source text; parsed by the guard module
    emits: tuple[tuple[str, Assignments], ...]
    loc: Loc = field(default=NO_LOC, compare=False)


@dataclass(frozen=True)
class Aggregate:
    qualified: str
    context: str
    name: str
    id_field: str
    state: tuple[Field, ...]
    snapshot_every: int | None
    applies: tuple[ApplyRule, ...]
    commands: tuple[AggregateCommand, ...]
    loc: Loc = field(default=NO_LOC, compare=False)


@dataclass(frozen=True)
class Projection:
    qualified: str
    context: str
    name: str
    key: str
    fields: tuple[Field, ...]
    on: tuple[ApplyRule, ...]
    loc: Loc = field(default=NO_LOC, compare=False)


@dataclass(frozen=True)
class Reaction:
    """A saga step's expected reply, or a reaction's trigger, with what to save."""

    message: str  # qualified
    saves: Assignments = ()


@dataclass(frozen=True)
class Compensation:
    command: str
    payload: Assignments
    expect_success: tuple[str, ...]


@dataclass(frozen=True)
class SagaStep:
    name: str
    kind: Literal["send", "local"]
    command: str  # qualified
    payload: Assignments = ()
    success: tuple[Reaction, ...] = ()
    failure: tuple[Reaction, ...] = ()
    timeout_ms: int | None = None
    retry: Retry | None = None
    compensate: Compensation | None = None
    pivot: bool = False
    loc: Loc = field(default=NO_LOC, compare=False)


@dataclass(frozen=True)
class Saga:
    qualified: str
    context: str
    name: str
    started_by: str
    correlation: str
    data: tuple[Field, ...]
    init: Assignments
    deadline_ms: int | None
    steps: tuple[SagaStep, ...]
    compensation_retry: Retry | None
    compensation_then: Literal["park", "fail"] | None
    loc: Loc = field(default=NO_LOC, compare=False)
    doc: str | None = None


@dataclass(frozen=True)
class ChoreographyReaction:
    service: str  # context name
    on: str  # qualified message
    do: str  # qualified command
    emits_success: str | None
    emits_failure: str | None
    loc: Loc = field(default=NO_LOC, compare=False)


@dataclass(frozen=True)
class Choreography:
    qualified: str
    context: str
    name: str
    correlation: str
    started_by: str
    reactions: tuple[ChoreographyReaction, ...]
    outcomes_success: tuple[str, ...]
    outcomes_failure: tuple[str, ...]
    deadline_ms: int = 3_600_000  # a flow still RUNNING this long after its start is OVERDUE
    doc: str | None = None
    loc: Loc = field(default=NO_LOC, compare=False)


@dataclass(frozen=True)
class Context:
    name: str
    doc: str | None
    files: tuple[str, ...]
    types: tuple[RecordType | EnumType, ...]
    messages: tuple[Message, ...]
    topics: tuple[Topic, ...]
    consumers: tuple[Consumer, ...]
    outbox: Outbox | None
    aggregates: tuple[Aggregate, ...]
    projections: tuple[Projection, ...]
    sagas: tuple[Saga, ...]
    choreographies: tuple[Choreography, ...]
    loc: Loc = field(default=NO_LOC, compare=False)  # the `context:` value in its first file

    def event_store_kind(self) -> Literal["sqlite", "postgres"]:
        """The event store's database: the outbox's (one transaction for both), else SQLite."""
        return self.outbox.store if self.outbox is not None else "sqlite"

    def aggregate_command_consumers(self) -> dict[str, str]:
        """Consumers whose handlers the aggregates module generates: {consumer: aggregate}.

        A consumer qualifies when every message it handles is a command of one aggregate of
        this context; its handler loads, decides, appends and writes the outbox.
        """
        owner = {cmd.command: agg.name for agg in self.aggregates for cmd in agg.commands}
        found: dict[str, str] = {}
        for consumer in self.consumers:
            owners = [owner.get(h) for h in consumer.handles]
            first = owners[0] if owners else None
            if first is not None and all(o == first for o in owners):
                found[consumer.name] = first
        return found


@dataclass(frozen=True)
class Defaults:
    serialization: Literal["avro", "json", "protobuf"]
    compatibility: str
    json_content_model: Literal["closed", "open"]
    delivery: Literal["at-most-once", "at-least-once", "exactly-once"]
    timeout_ms: int
    retry: Retry


@dataclass(frozen=True)
class Project:
    name: str
    package: str  # Python import name of the generated package
    output: str  # output dir, relative to the specs dir as written
    environment: str | None
    defaults: Defaults
    contexts: tuple[Context, ...]
    spec_files: tuple[str, ...]  # every spec file, relative to the specs dir, sorted
    # Positions for findings about the project file: values by key (`package`, `output`)
    # and every declared environment's name (their names pick output file names).
    project_locs: tuple[tuple[str, Loc], ...] = field(default=(), compare=False)
    environment_locs: tuple[tuple[str, Loc], ...] = field(default=(), compare=False)

    def context(self, name: str) -> Context:
        for ctx in self.contexts:
            if ctx.name == name:
                return ctx
        raise KeyError(name)

    def all_messages(self) -> tuple[Message, ...]:
        return tuple(m for c in self.contexts for m in c.messages)

    def all_types(self) -> tuple[RecordType | EnumType, ...]:
        return tuple(t for c in self.contexts for t in c.types)

    def all_topics(self) -> tuple[Topic, ...]:
        return tuple(t for c in self.contexts for t in c.topics)

    def all_sagas(self) -> tuple[Saga, ...]:
        return tuple(s for c in self.contexts for s in c.sagas)

    def all_choreographies(self) -> tuple[Choreography, ...]:
        return tuple(ch for c in self.contexts for ch in c.choreographies)

    # Lookup tables by qualified name, built on first use (the model is immutable, so they
    # never go stale; cached_property writes the instance dict, which frozen allows).
    @cached_property
    def messages_by_name(self) -> Mapping[str, Message]:
        return MappingProxyType({m.qualified: m for m in self.all_messages()})

    @cached_property
    def types_by_name(self) -> Mapping[str, RecordType | EnumType]:
        return MappingProxyType({t.qualified: t for t in self.all_types()})

    @cached_property
    def topics_by_name(self) -> Mapping[str, Topic]:
        return MappingProxyType({t.qualified: t for t in self.all_topics()})

    def message(self, qualified: str) -> Message:
        return self.messages_by_name[qualified]

    def named_type(self, qualified: str) -> RecordType | EnumType:
        return self.types_by_name[qualified]

    def topic(self, qualified: str) -> Topic:
        return self.topics_by_name[qualified]
