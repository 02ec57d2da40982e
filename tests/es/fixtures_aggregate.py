"""A hand-written aggregate, written as a build would write one: a counter.

Messages, a frozen state model, `apply`, guarded deciders and a failure reply, wired into an
`AggregateDefinition`. The repository tests run on this instead of the generated module, so
they do not depend on the aggregates emitter; the example's generated module is exercised in
test_aggregate_kafka.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import ClassVar

from eventgen.runtime.errors import CommandRejected
from eventgen.runtime.es.spec import AggregateDefinition, CommandMeta, Decider, EventStoreSpec
from eventgen.runtime.model import Message, Record
from eventgen.runtime.outbox import OutboxWriter
from eventgen.runtime.registry import TopicBinding
from eventgen.runtime.spec import OutboxSpec, PublisherSpec, Route


class _Counter(Message):
    SCHEMAS: ClassVar[str] = "tests.es.fixtures_aggregate"
    VERSION: ClassVar[int] = 1


# -- events -----------------------------------------------------------------------------------


class Opened(_Counter):
    TYPE: ClassVar[str] = "counters.Opened"
    counter_id: str
    name: str


class Added(_Counter):
    TYPE: ClassVar[str] = "counters.Added"
    counter_id: str
    amount: int


class Noted(_Counter):
    """An event the outbox has no route for: it stays in the store."""

    TYPE: ClassVar[str] = "counters.Noted"
    counter_id: str
    text: str


class Closed(_Counter):
    TYPE: ClassVar[str] = "counters.Closed"
    counter_id: str


class OpenRejected(_Counter):
    """The failure reply of Open (not an event of the aggregate: never stored)."""

    TYPE: ClassVar[str] = "counters.OpenRejected"
    counter_id: str
    reason: str


# -- commands ---------------------------------------------------------------------------------


class Open(_Counter):
    TYPE: ClassVar[str] = "counters.Open"
    counter_id: str
    name: str


class Add(_Counter):
    TYPE: ClassVar[str] = "counters.Add"
    counter_id: str
    amounts: list[int]  # one Added event per amount: a command may emit several events


class Note(_Counter):
    TYPE: ClassVar[str] = "counters.Note"
    counter_id: str
    text: str


class Close(_Counter):
    TYPE: ClassVar[str] = "counters.Close"
    counter_id: str


EVENTS: tuple[type[Message], ...] = (Added, Closed, Noted, Opened)


# -- the aggregate ----------------------------------------------------------------------------


class CounterState(Record):
    status: str = "NEW"
    name: str | None = None
    total: int = 0
    adds: int = 0
    notes: tuple[str, ...] = ()


def apply_counter(state: CounterState, event: Message) -> CounterState:
    match event:
        case Opened():
            return state.model_copy(update={"status": "OPEN", "name": event.name})
        case Added():
            return state.model_copy(
                update={"total": state.total + event.amount, "adds": state.adds + 1}
            )
        case Noted():
            return state.model_copy(update={"notes": (*state.notes, event.text)})
        case Closed():
            return state.model_copy(update={"status": "CLOSED"})
    return state


def decide_open(state: CounterState, command: Open, meta: CommandMeta) -> list[Message]:
    if not (state.status == "NEW"):
        raise CommandRejected(
            "Counter", Open.TYPE, "status == NEW", {"status": state.status}, command.counter_id
        )
    return [Opened(counter_id=command.counter_id, name=command.name)]


def decide_add(state: CounterState, command: Add, meta: CommandMeta) -> list[Message]:
    if not (state.status == "OPEN"):
        raise CommandRejected(
            "Counter", Add.TYPE, "status == OPEN", {"status": state.status}, command.counter_id
        )
    return [Added(counter_id=command.counter_id, amount=amount) for amount in command.amounts]


def decide_note(state: CounterState, command: Note, meta: CommandMeta) -> list[Message]:
    if not (state.status != "NEW"):
        raise CommandRejected(
            "Counter", Note.TYPE, "status != NEW", {"status": state.status}, command.counter_id
        )
    return [Noted(counter_id=command.counter_id, text=command.text)]


def decide_close(state: CounterState, command: Close, meta: CommandMeta) -> list[Message]:
    if not (state.status == "OPEN"):
        raise CommandRejected(
            "Counter", Close.TYPE, "status == OPEN", {"status": state.status}, command.counter_id
        )
    return [Closed(counter_id=command.counter_id)]


def reject_open(command: Open, rejection: CommandRejected, meta: CommandMeta) -> OpenRejected:
    return OpenRejected(counter_id=command.counter_id, reason=str(rejection)[:200])


COMMANDS: tuple[tuple[type[Message], Decider], ...] = (
    (Open, decide_open),
    (Add, decide_add),
    (Note, decide_note),
    (Close, decide_close),
)

COUNTER = AggregateDefinition(
    name="Counter",
    qualified="counters.Counter",
    context="counters",
    id_field="counter_id",
    state=CounterState,
    state_hash="counter-state-v1",
    snapshot_every=3,
    events=EVENTS,
    apply=apply_counter,
    commands=COMMANDS,
    failure_replies=((Open, reject_open),),
)


def counter(
    *, snapshot_every: int | None = 3, state_hash: str = "counter-state-v1"
) -> AggregateDefinition[CounterState]:
    """COUNTER with another snapshot interval or state hash (a changed state schema)."""
    return replace(COUNTER, snapshot_every=snapshot_every, state_hash=state_hash)


def replay(events: Sequence[Message]) -> CounterState:
    """The state a full replay of `events` gives, without any store."""
    state = CounterState()
    for event in events:
        state = apply_counter(state, event)
    return state


# -- store and outbox specs -------------------------------------------------------------------


def store_spec(suffix: str, store: str = "sqlite") -> EventStoreSpec:
    assert store in ("sqlite", "postgres")
    return EventStoreSpec(
        context="counters",
        table=f"counters_events_{suffix}",
        snapshot_table=f"counters_snapshots_{suffix}",
        store="postgres" if store == "postgres" else "sqlite",
    )


def outbox_writer(suffix: str, store: str = "sqlite") -> OutboxWriter:
    """An outbox with routes for every event but Noted, and for the failure reply."""
    topic = TopicBinding(f"counters.events-{suffix}", (Added, Closed, OpenRejected, Opened))
    route = Route(topic, serialization="json")
    publisher = PublisherSpec(
        "counters", tuple(sorted((cls.TYPE, route) for cls in topic.messages))
    )
    return OutboxWriter(
        OutboxSpec(
            context="counters",
            table=f"counters_outbox_{suffix}",
            relay="polling",
            store="postgres" if store == "postgres" else "sqlite",
            publisher=publisher,
        )
    )
