"""What a saga's generated module derives from the IR: the transition table and the messages.

One authority for the state machine of a spec saga: the saga module writes these rows as
`Transition(...)` literals (eventgen.emit.services.sagas) and the diagram emitter draws them
(eventgen.emit.diagrams), so the code that runs and the picture a reviewer reads never differ.
Pure functions of the IR; no names of generated code are decided here.

The rules, per step (the pivot is the step with `pivot: true`; the steps after it are
`forward`: they retry until done or the deadline, and are never compensated):

- a send step's success reply: the next step, or COMPLETED after the last;
- its failure reply: COMPENSATE before the pivot passed (RETRY first, exhausted COMPENSATE, when
  its `retry.retry_on` lists `failure`), RETRY after it (exhausted STUCK);
- its TIMEOUT: before the pivot passed RETRY with exhausted COMPENSATE when it has a `retry`
  that retries on `timeout` (the default of `retry_on`), else COMPENSATE at once; after the
  pivot RETRY (exhausted STUCK); the pivot's own TIMEOUT: RETRY with exhausted STUCK (no
  `retry:`: no further attempt; a `retry` whose `retry_on` omits `timeout`: STUCK at once),
  since its outcome is unknown and it cannot be undone, so it is never compensated around;
- a local step: DONE -> the next step or COMPLETED; REJECTED -> COMPENSATE before the pivot
  passed, STUCK after it;
- every compensation: (COMPENSATING, step, each `expect.success`) -> NEXT_COMPENSATION and
  (COMPENSATING, step, TIMEOUT) -> RETRY with exhausted STUCK (`then: park`, the default) or
  FAILED (`then: fail`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from eventgen.ir import naming
from eventgen.ir.model import Assignments, Context, Message, Project, Retry, Saga, SagaStep, Topic

# The runtime's pseudo-messages and targets (eventgen.runtime.saga.spec), as literals: the
# generator does not import the runtime.
TIMEOUT = "@timeout"
DONE = "@done"
REJECTED = "@rejected"
COMPLETED = "@completed"
COMPENSATE = "@compensate"
RETRY = "@retry"
NEXT_COMPENSATION = "@next-compensation"
STUCK = "@stuck"
FAILED = "@failed"

Outcome = Literal["success", "failure", "timeout", "compensated"]
# The runtime's StepRetry.retry_on values; a spec `retry_on` lists other words too (consumer
# exception names share the key), which a saga step ignores.
STEP_RETRY_ON = ("timeout", "failure")


@dataclass(frozen=True)
class TransitionRow:
    """One row: in `status` at `step`, `on` a reply (its message TYPE) or a pseudo-message,
    record `outcome`, apply the reply's `save` (when `saves` is not empty), go to `target`;
    `exhausted` is where RETRY goes when no attempt is left. `reply` is the reply's qualified
    name (None for pseudo-messages), for emitters that name its save function."""

    status: Literal["RUNNING", "COMPENSATING"]
    step: str
    on: str
    outcome: Outcome
    target: str
    exhausted: str | None = None
    reply: str | None = None
    saves: Assignments = ()


def pivot_index(saga: Saga) -> int | None:
    return next((i for i, s in enumerate(saga.steps) if s.pivot), None)


def is_forward(saga: Saga, index: int) -> bool:
    """Steps after the pivot: the saga can no longer be undone, so they retry until done."""
    pivot = pivot_index(saga)
    return pivot is not None and index > pivot


def step_retry_on(retry: Retry | None) -> tuple[str, ...]:
    """What a step's retry retries: the spec's `retry_on` words the runtime knows (sorted),
    `timeout` when it names none."""
    if retry is None:
        return ()
    found = tuple(sorted(w for w in set(retry.retry_on) if w in STEP_RETRY_ON))
    return found or ("timeout",)


def saga_transitions(saga: Saga) -> list[TransitionRow]:
    """The state machine of `saga`: the forward rows in step order (success, failure, timeout),
    then the compensation rows in step order."""
    rows: list[TransitionRow] = []
    steps = saga.steps
    for i, step in enumerate(steps):
        after = steps[i + 1].name if i + 1 < len(steps) else COMPLETED
        forward = is_forward(saga, i)
        if step.kind == "local":
            rows.append(TransitionRow("RUNNING", step.name, DONE, "success", after))
            rows.append(
                TransitionRow(
                    "RUNNING", step.name, REJECTED, "failure", STUCK if forward else COMPENSATE
                )
            )
            continue
        retry_on = step_retry_on(step.retry)
        for reply in step.success:
            rows.append(_reply_row(step, reply.message, reply.saves, "success", after, None))
        for reply in step.failure:
            if forward:
                target, exhausted = RETRY, STUCK
            elif "failure" in retry_on:
                target, exhausted = RETRY, COMPENSATE
            else:
                target, exhausted = COMPENSATE, None
            rows.append(_reply_row(step, reply.message, reply.saves, "failure", target, exhausted))
        if forward or (step.pivot and (step.retry is None or "timeout" in retry_on)):
            # The pivot's outcome is unknown after a timeout (the card may be charged) and it
            # has no compensation: send it again as its retry says (without `retry:` no
            # further attempt), then park for an operator; never compensated around.
            rows.append(TransitionRow("RUNNING", step.name, TIMEOUT, "timeout", RETRY, STUCK))
        elif step.pivot:
            rows.append(TransitionRow("RUNNING", step.name, TIMEOUT, "timeout", STUCK))
        elif "timeout" in retry_on:
            rows.append(TransitionRow("RUNNING", step.name, TIMEOUT, "timeout", RETRY, COMPENSATE))
        else:
            rows.append(TransitionRow("RUNNING", step.name, TIMEOUT, "timeout", COMPENSATE))
    given_up = FAILED if saga.compensation_then == "fail" else STUCK
    for step in steps:
        if step.compensate is None:
            continue
        for reply_name in step.compensate.expect_success:
            rows.append(
                TransitionRow(
                    "COMPENSATING",
                    step.name,
                    naming.message_type(reply_name),
                    "compensated",
                    NEXT_COMPENSATION,
                    reply=reply_name,
                )
            )
        rows.append(TransitionRow("COMPENSATING", step.name, TIMEOUT, "timeout", RETRY, given_up))
    return rows


def _reply_row(
    step: SagaStep,
    reply: str,
    saves: Assignments,
    outcome: Outcome,
    target: str,
    exhausted: str | None,
) -> TransitionRow:
    return TransitionRow(
        "RUNNING",
        step.name,
        naming.message_type(reply),
        outcome,
        target,
        exhausted,
        reply=reply,
        saves=saves,
    )


# -- the messages of a saga ----------------------------------------------------------------


def sent_commands(saga: Saga) -> list[str]:
    """Qualified commands the saga adds to its context's outbox (steps' and compensations'
    `send`), each once, in step order; local commands are not sent."""
    found: dict[str, None] = {}
    for step in saga.steps:
        if step.kind == "send":
            found[step.command] = None
        if step.compensate is not None:
            found[step.compensate.command] = None
    return list(found)


def reply_messages(saga: Saga) -> list[str]:
    """Qualified replies the saga waits for (success, failure, compensation success), each
    once, in step order."""
    found: dict[str, None] = {}
    for step in saga.steps:
        if step.kind == "send":
            found.update(dict.fromkeys(r.message for r in (*step.success, *step.failure)))
        if step.compensate is not None:
            found.update(dict.fromkeys(step.compensate.expect_success))
    return list(found)


def handled_messages(saga: Saga) -> list[str]:
    """What the saga's worker consumes: started_by and every reply, sorted by TYPE."""
    names = {saga.started_by, *reply_messages(saga)}
    return sorted(names, key=naming.message_type)


def consumed_topics(project: Project, saga: Saga) -> list[Topic]:
    """The topics of the handled messages (sorted by qualified name, each once); a message
    without a topic is left out (E0837 refuses the build)."""
    found: dict[str, Topic] = {}
    for name in handled_messages(saga):
        message = _message(project, name)
        if message is not None and message.topic:
            found[message.topic] = project.topic(message.topic)
    return [found[q] for q in sorted(found)]


def context_saga_commands(project: Project, ctx: Context) -> list[Message]:
    """Commands the context's sagas send, with a topic (the context's publisher and outbox
    route them), sorted by qualified name."""
    found: dict[str, Message] = {}
    for saga in ctx.sagas:
        for name in sent_commands(saga):
            message = _message(project, name)
            if message is not None and message.topic:
                found[name] = message
    return [found[q] for q in sorted(found)]


def context_saga_topics(project: Project, ctx: Context) -> list[Topic]:
    """Every topic the context's saga workers read or their commands go to."""
    found: dict[str, Topic] = {}
    for saga in ctx.sagas:
        for t in consumed_topics(project, saga):
            found[t.qualified] = t
    for m in context_saga_commands(project, ctx):
        assert m.topic is not None
        found[m.topic] = project.topic(m.topic)
    return [found[q] for q in sorted(found)]


def _message(project: Project, name: str) -> Message | None:
    return project.messages_by_name.get(name)
