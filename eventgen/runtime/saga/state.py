"""A saga instance as the engine sees it, and what a decision asks the worker to do.

Plain frozen data: the engine (engine.py) maps (instance, input, now) -> Decision without
I/O; the worker (worker.py) persists the instance (store.py), writes the log and timers,
adds the commands to the outbox and runs a local command, all in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from eventgen.runtime.model import Message

StepStatus = Literal[
    "PENDING",  # not sent yet
    "RUNNING",  # sent, waiting for a reply (or its retry backoff)
    "SUCCEEDED",
    "FAILED",  # a failure reply (or a rejected local command): no effect to undo
    "UNKNOWN",  # timed out for good: its effect may exist, so it is compensated
    "COMPENSATING",
    "COMPENSATED",
    "SKIPPED",  # an operator's skip-step
]
TimerKind = Literal["timeout", "retry", "deadline"]
Phase = Literal["step", "compensation"]


@dataclass(frozen=True)
class StepState:
    name: str
    status: StepStatus = "PENDING"
    attempts: int = 0  # sends of the step
    request_ids: tuple[str, ...] = ()  # event ids of every send (a reply's causation_id)
    compensation_attempts: int = 0
    compensation_request_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class SagaInstance:
    saga: str  # SagaDefinition.name
    saga_id: str  # str(data.<correlation>)
    status: str  # spec.SagaStatus
    step: str | None  # the current step (forward) or the step being compensated
    data: Any  # the saga's typed data model
    steps: tuple[StepState, ...]  # in definition order
    started_at: datetime
    updated_at: datetime
    deadline_at: datetime | None = None
    pivot_passed: bool = False
    reason: str | None = None  # why it failed, was parked or compensated
    version: int = 0  # optimistic version: the store bumps it on every write
    # The instance's pending timers (at most one per kind): the engine decides on them, so they
    # travel with the instance (codec: in `state`); the worker mirrors them into the timers
    # table, which the timer thread polls.
    timers: tuple[Timer, ...] = ()

    def step_state(self, name: str) -> StepState:
        for state in self.steps:
            if state.name == name:
                return state
        raise KeyError(name)


@dataclass(frozen=True)
class Timer:
    """A wake-up of one instance; at most one per kind (setting one replaces it)."""

    kind: TimerKind
    step: str | None
    attempt: int
    due_at: datetime
    phase: Phase = "step"


@dataclass(frozen=True)
class OutgoingCommand:
    """A command to add to the outbox: `request_id` is its envelope event_id, so the reply's
    causation_id names the step, phase and attempt it answers."""

    message: Message
    request_id: UUID
    step: str
    phase: Phase
    attempt: int


@dataclass(frozen=True)
class LocalCommand:
    """An aggregate command to run in this transaction (a `local` step)."""

    message: Message
    request_id: UUID
    step: str
    attempt: int


@dataclass(frozen=True)
class LogEntry:
    cause: str  # "start", "reply inventory.StockReserved", "timer timeout", "operator abort", ...
    from_status: str | None
    to_status: str
    step: str | None
    detail: str = ""
    actor: str | None = None  # operator commands: who
    reason: str | None = None  # operator commands: why


@dataclass(frozen=True)
class Decision:
    """What one input did. `instance` None: nothing changed (`ignored` says why: "duplicate
    start", "stale reply", "duplicate reply", "unknown reply"); otherwise the new instance and
    its effects. `timers` is the instance's whole timer set after the decision (the worker
    replaces the stored set)."""

    instance: SagaInstance | None
    commands: tuple[OutgoingCommand, ...] = ()
    local: LocalCommand | None = None
    timers: tuple[Timer, ...] = ()
    log: tuple[LogEntry, ...] = ()
    ignored: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
