"""What a generated `<package>/<context>_sagas.py` tells the saga runtime: frozen data.

A build writes a `SagaDefinition` per saga as literals: its steps, the transition table (a
reviewer reads the state machine there, row by row) and the typed mapping functions the
table names. The runtime interprets the table (eventgen.runtime.saga.engine); it never
derives a transition the table does not list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from eventgen.runtime.model import Message, Record

SagaStatus = Literal["RUNNING", "COMPLETED", "COMPENSATING", "COMPENSATED", "STUCK", "FAILED"]
FINAL_STATUSES: frozenset[str] = frozenset({"COMPLETED", "COMPENSATED", "FAILED"})

# Pseudo-messages of the `on` column: what happens besides a reply.
TIMEOUT = "@timeout"  # the step's (or compensation's) timer fired with no matching reply
DONE = "@done"  # a local step's aggregate command was handled (events appended)
REJECTED = "@rejected"  # a local step's aggregate command was rejected (CommandRejected)

# Targets of the `target` / `exhausted` columns besides a step name.
COMPLETED = "@completed"  # the saga is COMPLETED
COMPENSATE = "@compensate"  # start compensating: the latest compensable step first
RETRY = "@retry"  # send the same step (or compensation) again after the backoff
NEXT_COMPENSATION = "@next-compensation"  # the previous compensable step, or COMPENSATED
STUCK = "@stuck"  # park: STUCK, for an operator
FAILED = "@failed"  # on_compensation_failure `then: fail`: FAILED (final)

Outcome = Literal["success", "failure", "timeout", "compensated"]


@dataclass(frozen=True)
class StepRetry:
    """Attempts and backoff of a step (spec `retry:`) or of compensations
    (`on_compensation_failure.retry`). Attempts count the first send. `retry_on` holds
    `timeout` and/or `failure` (a failure reply); a compensation retries on its timeout."""

    max_attempts: int = 1
    initial_ms: int = 1000
    multiplier: float = 2.0
    max_interval_ms: int = 60_000
    retry_on: tuple[str, ...] = ("timeout",)

    def backoff_ms(self, attempt: int) -> int:
        """Wait before attempt `attempt + 1` (attempt is 1-based): no jitter, so tests and
        replays are deterministic."""
        return int(min(self.max_interval_ms, self.initial_ms * self.multiplier ** (attempt - 1)))


@dataclass(frozen=True)
class CompensationSpec:
    command: str  # message TYPE, e.g. "inventory.ReleaseStock"
    build: Callable[[Any], Message]  # saga data -> the compensating command
    success: tuple[str, ...]  # reply TYPEs that mean "compensated"


@dataclass(frozen=True)
class StepSpec:
    name: str
    kind: Literal["send", "local"]
    command: str  # message TYPE
    build: Callable[[Any], Message]  # saga data -> the command (send or local)
    timeout_ms: int | None = None  # send steps; local steps run in the transaction
    retry: StepRetry | None = None
    compensation: CompensationSpec | None = None
    pivot: bool = False
    forward: bool = (
        False  # after the pivot: retried until done (or the deadline), never compensated
    )


@dataclass(frozen=True)
class Transition:
    """One row of the state machine: in `status` at `step`, `on` a reply TYPE (or TIMEOUT, DONE,
    REJECTED), record `outcome`, apply `save` (data, reply) -> data, and go to `target`.
    `exhausted` is where RETRY goes when no attempt is left."""

    status: Literal["RUNNING", "COMPENSATING"]
    step: str
    on: str
    outcome: Outcome
    target: str
    exhausted: str | None = None
    save: Callable[[Any, Any], Any] | None = None


@dataclass(frozen=True)
class SagaTables:
    instances: str
    log: str
    timers: str


@dataclass(frozen=True)
class SagaDefinition:
    """One spec saga, as the generated module writes it."""

    name: str  # spec name, e.g. "PlaceOrderSaga"
    context: str
    data_model: type[Record]
    data_hash: str  # sha256 of the data model's JSON schema: a stored instance with another
    # hash fails to load with SagaDataError naming it (docs/sagas.md: migrating)
    correlation: str  # data field whose str() is the saga id
    started_by: str  # message TYPE
    init: Callable[[Any], Any]  # started_by event -> data
    steps: tuple[StepSpec, ...]
    transitions: tuple[Transition, ...]
    deadline_ms: int | None = None
    compensation_retry: StepRetry = field(default_factory=StepRetry)
    compensation_then: Literal["park", "fail"] = "park"
    tables: SagaTables = SagaTables(
        "eventgen_saga_instances", "eventgen_saga_log", "eventgen_saga_timers"
    )

    def step(self, name: str) -> StepSpec:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    def reply_types(self) -> tuple[str, ...]:
        """Every message TYPE a transition reacts to (sorted, no pseudo-messages)."""
        return tuple(sorted({t.on for t in self.transitions if not t.on.startswith("@")}))
