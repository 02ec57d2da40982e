"""The saga state machine: (instance, input, now) -> Decision, with no I/O.

The engine interprets a saga's Transition table literally (eventgen.runtime.saga.spec): a row
(status, step, on) says what the reply, timeout or local result `on` means there, what it saves
and where the saga goes. What the table cannot say is fixed here, once, for every saga: how a
reply is matched to the request it answers, the order of compensations, the deadline, late
successes and the operator actions. docs/sagas.md describes the same rules for users.

Every method returns a `Decision` (eventgen.runtime.saga.state); the worker persists it in one
transaction. `now` is always passed in and request ids are uuid5 of the saga, instance, step,
phase and attempt, so the same inputs give the same decision: replays and tests are exact.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from eventgen.runtime.model import Message
from eventgen.runtime.saga.errors import OperatorRefused
from eventgen.runtime.saga.spec import (
    COMPENSATE,
    COMPLETED,
    DONE,
    FAILED,
    FINAL_STATUSES,
    NEXT_COMPENSATION,
    REJECTED,
    RETRY,
    STUCK,
    TIMEOUT,
    SagaDefinition,
    StepRetry,
    StepSpec,
    Transition,
)
from eventgen.runtime.saga.state import (
    Decision,
    LocalCommand,
    LogEntry,
    OutgoingCommand,
    Phase,
    SagaInstance,
    StepState,
    StepStatus,
    Timer,
    TimerKind,
)

# Fixed forever: request ids are derived from it, and a participant's inbox deduplicates on
# them, so changing it would make every in-flight command look new.
SAGA_NAMESPACE = UUID("9ec2e5a8-c303-4159-9341-0f4cd7ac9a8d")

# A compensation's reply timeout when its step has none (local steps have no timeout).
DEFAULT_COMPENSATION_TIMEOUT_MS = 30_000

OPERATOR_ACTIONS = ("resume", "retry-step", "skip-step", "abort")

_PSEUDO_MESSAGES = frozenset({TIMEOUT, DONE, REJECTED})
# Where a row may go besides a step name; RETRY only as `target` (it needs an `exhausted`).
_ENDS = frozenset({COMPLETED, COMPENSATE, NEXT_COMPENSATION, STUCK, FAILED})
_OUTCOMES = frozenset({"success", "failure", "timeout", "compensated"})
# Step statuses whose effect may exist, so a compensation undoes them.
_UNDOABLE = frozenset({"SUCCEEDED", "UNKNOWN", "SKIPPED"})


def request_id(saga: str, saga_id: str, step: str, phase: Phase, attempt: int) -> UUID:
    """The envelope event_id of a saga command: the same send always gets the same id, so a
    re-sent command is deduplicated by the participant's inbox and its reply's causation_id
    names the step, phase and attempt it answers."""
    return uuid5(SAGA_NAMESPACE, f"{saga}/{saga_id}/{step}/{phase}/{attempt}")


def _row_status(phase: Phase) -> str:
    return "RUNNING" if phase == "step" else "COMPENSATING"


def _row_text(row: Transition) -> str:
    exhausted = f" (exhausted: {row.exhausted})" if row.exhausted else ""
    return f"({row.status}, {row.step}, {row.on}) -> {row.outcome}, {row.target}{exhausted}"


def validate_definition(definition: SagaDefinition) -> None:
    """Raise ValueError naming the first row (or step) the engine could not interpret."""
    names = [step.name for step in definition.steps]
    if len(set(names)) != len(names):
        raise ValueError(f"{definition.name}: step names repeat: {names}")
    if sum(step.pivot for step in definition.steps) > 1:
        raise ValueError(f"{definition.name}: more than one pivot step")
    steps = {step.name: step for step in definition.steps}
    seen: set[tuple[str, str, str]] = set()
    for row in definition.transitions:
        problem = _row_problem(row, steps, seen)
        if problem:
            raise ValueError(f"{definition.name}: transition {_row_text(row)}: {problem}")
        seen.add((row.status, row.step, row.on))


def _row_problem(
    row: Transition, steps: dict[str, StepSpec], seen: set[tuple[str, str, str]]
) -> str | None:
    if (row.status, row.step, row.on) in seen:
        return "a second row for the same (status, step, on)"
    if row.status not in ("RUNNING", "COMPENSATING"):
        return "status must be RUNNING or COMPENSATING"
    step = steps.get(row.step)
    if step is None:
        return f"no step named {row.step!r}"
    if row.on.startswith("@") and row.on not in _PSEUDO_MESSAGES:
        return f"unknown pseudo-message {row.on!r}"
    if row.on in (DONE, REJECTED) and step.kind != "local":
        return f"{row.on} is for local steps, {row.step} sends"
    if row.status == "COMPENSATING" and step.compensation is None:
        return f"step {row.step} has no compensation"
    if row.outcome not in _OUTCOMES:
        return f"unknown outcome {row.outcome!r}"
    if row.target == RETRY:
        if row.exhausted is None:
            return "@retry needs an `exhausted` target"
        if row.exhausted not in _ENDS and row.exhausted not in steps:
            return f"unknown exhausted target {row.exhausted!r}"
    elif row.target not in _ENDS and row.target not in steps:
        return f"unknown target {row.target!r}"
    return None


class _Run:
    """The decision being built for one input: the instance as it changes, the commands, the
    local command and the log. Internal; the machine's helpers all take one."""

    def __init__(
        self,
        instance: SagaInstance,
        cause: str,
        now: datetime,
        *,
        actor: str | None = None,
        reason: str | None = None,
    ) -> None:
        self.instance = instance
        self.cause = cause
        self.now = now
        self.actor = actor
        self.reason = reason
        self.commands: list[OutgoingCommand] = []
        self.local: LocalCommand | None = None
        self.log: list[LogEntry] = []

    # -- the instance ------------------------------------------------------------------------

    def set(self, **changes: Any) -> None:
        self.instance = replace(self.instance, **changes)

    def state(self, step: str) -> StepState:
        return self.instance.step_state(step)

    def set_step(self, step: str, **changes: Any) -> None:
        self.set(
            steps=tuple(
                replace(state, **changes) if state.name == step else state
                for state in self.instance.steps
            )
        )

    def move(self, status: str, detail: str, step: str | None) -> None:
        """Change status and current step, logging the transition."""
        self.log_entry(self.instance.status, status, step, detail)
        self.set(status=status, step=step)

    def note(self, detail: str, step: str | None = None) -> None:
        """Log something that does not change the status."""
        status = self.instance.status
        self.log_entry(status, status, step if step is not None else self.instance.step, detail)

    def log_entry(self, before: str | None, after: str, step: str | None, detail: str) -> None:
        self.log.append(
            LogEntry(self.cause, before, after, step, detail, actor=self.actor, reason=self.reason)
        )

    # -- timers ------------------------------------------------------------------------------

    def set_timer(self, timer: Timer) -> None:
        """At most one timer per kind: a new one replaces the old."""
        self.drop_timers(timer.kind)
        self.set(timers=(*self.instance.timers, timer))

    def drop_timers(self, *kinds: TimerKind) -> None:
        self.set(timers=tuple(t for t in self.instance.timers if t.kind not in kinds))

    def after_ms(self, ms: int) -> datetime:
        return self.now + timedelta(milliseconds=ms)

    def decision(self) -> Decision:
        instance = replace(self.instance, updated_at=self.now)
        return Decision(
            instance=instance,
            commands=tuple(self.commands),
            local=self.local,
            timers=instance.timers,
            log=tuple(self.log),
        )


def _ignored(reason: str) -> Decision:
    return Decision(instance=None, ignored=reason)


class SagaMachine:
    """The state machine of one saga definition (validated at construction)."""

    def __init__(self, definition: SagaDefinition) -> None:
        validate_definition(definition)
        self.definition = definition
        self._rows: dict[tuple[str, str, str], Transition] = {
            (row.status, row.step, row.on): row for row in definition.transitions
        }
        self._messages = {row.on for row in definition.transitions} - _PSEUDO_MESSAGES
        self._order = {step.name: n for n, step in enumerate(definition.steps)}
        pivots = [n for n, step in enumerate(definition.steps) if step.pivot]
        self._pivot = pivots[0] if pivots else None

    # -- inputs ------------------------------------------------------------------------------

    def start(self, event: Message, *, event_id: UUID, now: datetime) -> Decision:
        """A new instance for its `started_by` event, at its first step."""
        definition = self.definition
        data = definition.init(event)
        saga_id = str(getattr(data, definition.correlation))
        deadline = (
            now + timedelta(milliseconds=definition.deadline_ms)
            if definition.deadline_ms is not None
            else None
        )
        instance = SagaInstance(
            saga=definition.name,
            saga_id=saga_id,
            status="RUNNING",
            step=None,
            data=data,
            steps=tuple(StepState(step.name) for step in definition.steps),
            started_at=now,
            updated_at=now,
            deadline_at=deadline,
            timers=(Timer("deadline", None, 0, deadline),) if deadline else (),
        )
        run = _Run(instance, "start", now)
        run.log_entry(None, "RUNNING", None, f"started by {event.TYPE} {event_id}")
        if definition.steps:
            self._enter(run, definition.steps[0].name, 1)
        else:
            self._finish(run, "COMPLETED", "no steps")
        return run.decision()

    def on_reply(
        self,
        instance: SagaInstance,
        message: Message,
        *,
        causation_id: UUID | None,
        now: datetime,
    ) -> Decision:
        """A participant's reply. Matched to a step and phase by its causation_id (one of the
        request ids the instance sent); without one, by TYPE alone when the current step has
        a row for it. Replies that answer nothing current are ignored, or are late successes."""
        kind = message.TYPE
        if kind not in self._messages:
            return _ignored("unknown reply")
        if causation_id is not None:
            found = self._sent(instance, causation_id)
            if found is None:
                return _ignored("unknown reply")
            step, phase = found
        else:
            current = self._current_phase(instance)
            if current is None or (_row_status(current), instance.step, kind) not in self._rows:
                return _ignored("stale reply")
            assert instance.step is not None
            step, phase = instance.step, current
        row = self._rows.get((_row_status(phase), step, kind))
        if row is None:
            return _ignored("stale reply")  # it answers this step, but in the other phase
        run = _Run(instance, f"reply {kind}", now)
        if instance.step == step and self._current_phase(instance) == phase:
            self._apply(run, row, message, phase, f"{step}: {kind}")
            return run.decision()
        state = instance.step_state(step)
        if phase == "step" and self._stuck_at_pivot(instance, step):
            self._pivot_reply(run, row, message)
            return run.decision()
        if phase == "step" and row.outcome == "success" and self._late(instance, state):
            self._late_success(run, row, message)
            return run.decision()
        if phase == "step" and row.outcome == "success" and self._was_out(instance, state):
            self._late_after_compensation(run, row, message)
            return run.decision()
        return _ignored("duplicate reply" if self._repeats(state, row, phase) else "stale reply")

    def on_timer(self, instance: SagaInstance, timer: Timer, *, now: datetime) -> Decision:
        """A due timer. Only a timer the instance still holds counts (same kind, step, phase
        and attempt): one replaced or cleared since it was read is a "stale timer"."""
        held = any(
            (t.kind, t.step, t.phase, t.attempt)
            == (timer.kind, timer.step, timer.phase, timer.attempt)
            for t in instance.timers
        )
        if not held or instance.status in FINAL_STATUSES:
            return _ignored("stale timer")
        if timer.kind != "deadline" and (
            timer.step != instance.step or self._current_phase(instance) != timer.phase
        ):
            return _ignored("stale timer")
        run = _Run(instance, f"timer {timer.kind}", now)
        run.drop_timers(timer.kind)
        if timer.kind == "deadline":
            self._deadline(run)
        elif timer.kind == "retry":
            assert timer.step is not None
            self._send_again(run, timer.step, timer.phase)
        else:
            assert timer.step is not None
            row = self._rows.get((_row_status(timer.phase), timer.step, TIMEOUT))
            if row is None:
                run.note(f"{timer.phase} timed out; no {TIMEOUT} row: still waiting for a reply")
            else:
                self._apply(run, row, None, timer.phase, f"{timer.step}: no reply in time")
        return run.decision()

    def on_local(
        self, instance: SagaInstance, *, step: str, ok: bool, detail: str, now: datetime
    ) -> Decision:
        """The result of a LocalCommand the worker ran in this transaction: DONE or REJECTED."""
        if (
            instance.status != "RUNNING"
            or instance.step != step
            or self.definition.step(step).kind != "local"
            or instance.step_state(step).status != "RUNNING"
        ):
            return _ignored("stale local result")
        on = DONE if ok else REJECTED
        run = _Run(instance, "local done" if ok else "local rejected", now)
        why = f"{step}: {detail}" if detail else step
        row = self._rows.get(("RUNNING", step, on))
        if row is None:
            # Nothing in the table says what this means: park it for an operator.
            run.set_step(step, status="SUCCEEDED" if ok else "FAILED")
            self._park(run, f"{why}: no transition for {on}")
        else:
            self._apply(run, row, None, "step", why)
        return run.decision()

    def on_operator(
        self, instance: SagaInstance, action: str, *, actor: str, reason: str, now: datetime
    ) -> Decision:
        """resume | retry-step | skip-step | abort, logged with who and why. Raises
        OperatorRefused (nothing changed) on a final status or an action the status does not
        allow; ValueError on an unknown action."""
        if action not in OPERATOR_ACTIONS:
            raise ValueError(f"unknown operator action {action!r}: expected {OPERATOR_ACTIONS}")
        status = instance.status
        if status in FINAL_STATUSES:
            raise OperatorRefused(instance.saga, instance.saga_id, status, f"{action} refused")
        if instance.step is None:
            raise OperatorRefused(instance.saga, instance.saga_id, status, "no current step")
        step = instance.step
        compensating = instance.step_state(step).status == "COMPENSATING"
        phase: Phase = "compensation" if compensating else "step"
        run = _Run(instance, f"operator {action}", now, actor=actor, reason=reason)
        refused = self._operator_refusal(action, status, phase)
        if refused:
            raise OperatorRefused(instance.saga, instance.saga_id, status, refused)
        if action in ("resume", "retry-step"):
            self._send_again(run, step, phase)
        elif action == "skip-step":
            self._skip(run, step, phase)
        else:
            self._abort(run, step)
        return run.decision()

    # -- matching ----------------------------------------------------------------------------

    def _sent(self, instance: SagaInstance, causation_id: UUID) -> tuple[str, Phase] | None:
        """The step and phase whose request (any attempt) has this id."""
        wanted = str(causation_id)
        for state in instance.steps:
            if wanted in state.request_ids:
                return state.name, "step"
            if wanted in state.compensation_request_ids:
                return state.name, "compensation"
        return None

    @staticmethod
    def _current_phase(instance: SagaInstance) -> Phase | None:
        """What the instance waits for at its current step: the step's reply (RUNNING), or its
        compensation's (COMPENSATING, or STUCK mid-compensation: a late compensation reply
        still counts, it moves the saga towards COMPENSATED)."""
        if instance.step is None:
            return None
        state = instance.step_state(instance.step).status
        if instance.status == "RUNNING" and state == "RUNNING":
            return "step"
        if instance.status in ("COMPENSATING", "STUCK") and state == "COMPENSATING":
            return "compensation"
        return None

    @staticmethod
    def _late(instance: SagaInstance, state: StepState) -> bool:
        """A success that must not be forgotten: the step had failed or timed out (and is not
        compensated yet), or the saga was parked while the step was out."""
        if state.status in ("FAILED", "UNKNOWN"):
            return True
        return instance.status == "STUCK" and state.status == "RUNNING"

    def _stuck_at_pivot(self, instance: SagaInstance, step: str) -> bool:
        """Parked at the pivot while its command's outcome is unknown (no reply yet)."""
        return (
            instance.status == "STUCK"
            and instance.step == step
            and self.definition.step(step).pivot
            and instance.step_state(step).status in ("RUNNING", "UNKNOWN")
        )

    def _was_out(self, instance: SagaInstance, state: StepState) -> bool:
        """A compensated step that was the one out when compensation began: the latest step
        entered (steps are entered in order and compensation never goes forward again). Its
        outcome was unknown (or it failed and a late success came): a success reply for it
        may carry values its compensation was sent without."""
        if state.status not in ("COMPENSATING", "COMPENSATED"):
            return False
        entered = [s.name for s in instance.steps if s.attempts > 0]
        return bool(entered) and entered[-1] == state.name

    def pivot_unknown_reason(self, step: str) -> str:
        """Why a saga is parked at its pivot: the command may have taken effect (a card
        charged) and the pivot has no compensation, so only an operator can tell."""
        command = self.definition.step(step).command
        return (
            f"the outcome of pivot step {step} is unknown: check {command}, then resume "
            "(ask again), skip-step (it succeeded) or abort (compensate)"
        )

    @staticmethod
    def _repeats(state: StepState, row: Transition, phase: Phase) -> bool:
        """The step already has the outcome this reply reports."""
        if phase == "compensation":
            return state.status == "COMPENSATED"
        if row.outcome == "success":
            return state.status in ("SUCCEEDED", "SKIPPED", "COMPENSATING", "COMPENSATED")
        return row.outcome == "failure" and state.status == "FAILED"

    # -- applying a row ----------------------------------------------------------------------

    def _apply(
        self, run: _Run, row: Transition, message: Message | None, phase: Phase, why: str
    ) -> None:
        """Interpret one row: save, then RETRY (or its `exhausted`), then the target."""
        if row.save is not None and message is not None:
            run.set(data=row.save(run.instance.data, message))
        target = row.target
        if target == RETRY:
            if self._may_retry(run, row.step, phase):
                self._schedule_retry(run, row.step, phase, why)
                return
            assert row.exhausted is not None  # validated
            target = row.exhausted
            why = f"{why}; attempts exhausted"
        pivot = self.definition.step(row.step).pivot
        if target == STUCK and phase == "step" and row.outcome == "timeout" and pivot:
            run.note(why, row.step)
            why = self.pivot_unknown_reason(row.step)
        self._record_outcome(run, row, phase)
        self._go(run, target, why)

    def _record_outcome(self, run: _Run, row: Transition, phase: Phase) -> None:
        """The step's status after a row that does not retry. A compensation that gives up
        leaves the step COMPENSATING: the saga is parked (or failed) in the middle of it."""
        status: StepStatus
        if phase == "compensation":
            if row.outcome != "compensated":
                return
            status = "COMPENSATED"
        elif row.outcome == "success":
            status = "SUCCEEDED"
        elif row.outcome == "failure":
            status = "FAILED"  # a failure reply or rejection: nothing to undo
        else:
            status = "UNKNOWN"  # timed out: its effect may exist, so it is compensated
        run.set_step(row.step, status=status)
        if status == "SUCCEEDED" and self.definition.step(row.step).pivot:
            run.set(pivot_passed=True)

    def _go(self, run: _Run, target: str, why: str) -> None:
        if target == COMPLETED:
            self._finish(run, "COMPLETED", why)
        elif target == COMPENSATE:
            self._start_compensation(run, why)
        elif target == NEXT_COMPENSATION:
            self._next_compensation(run, why)
        elif target == STUCK:
            self._park(run, why)
        elif target == FAILED:
            self._fail(run, why)
        else:
            self._enter(run, target, 1)

    def _may_retry(self, run: _Run, step: str, phase: Phase) -> bool:
        """Attempts left? A forward step (after the pivot) retries until the deadline."""
        spec = self.definition.step(step)
        state = run.state(step)
        if phase == "step" and spec.forward:
            deadline = run.instance.deadline_at
            return deadline is None or run.now < deadline
        attempts = state.attempts if phase == "step" else state.compensation_attempts
        return attempts < self._policy(spec, phase).max_attempts

    def _policy(self, spec: StepSpec, phase: Phase) -> StepRetry:
        if phase == "compensation":
            return self.definition.compensation_retry
        return spec.retry or StepRetry()

    def _schedule_retry(self, run: _Run, step: str, phase: Phase, why: str) -> None:
        """Wait the backoff (a `retry` timer), then send again with the next attempt. The
        step stays RUNNING (or COMPENSATING): a late reply to an earlier attempt still counts."""
        spec = self.definition.step(step)
        state = run.state(step)
        attempt = state.attempts if phase == "step" else state.compensation_attempts
        wait = self._policy(spec, phase).backoff_ms(attempt)
        run.drop_timers("timeout")
        run.set_timer(Timer("retry", step, attempt, run.after_ms(wait), phase))
        run.note(f"{why}; {phase} attempt {attempt + 1} in {wait} ms", step)

    # -- moving on ---------------------------------------------------------------------------

    def _enter(self, run: _Run, step: str, attempt: int) -> None:
        """Send the step (attempt n) with its timeout, or hand its local command to the worker."""
        spec = self.definition.step(step)
        instance = run.instance
        rid = request_id(instance.saga, instance.saga_id, step, "step", attempt)
        run.set_step(
            step,
            status="RUNNING",
            attempts=attempt,
            request_ids=(*run.state(step).request_ids, str(rid)),
        )
        run.move("RUNNING", f"{spec.kind} {spec.command} (attempt {attempt})", step)
        run.drop_timers("timeout", "retry")
        message = spec.build(run.instance.data)
        if spec.kind == "local":
            run.local = LocalCommand(message, rid, step, attempt)
            return
        run.commands.append(OutgoingCommand(message, rid, step, "step", attempt))
        if spec.timeout_ms is not None:
            run.set_timer(Timer("timeout", step, attempt, run.after_ms(spec.timeout_ms)))

    def _after(self, step: str) -> str:
        """Where a success of `step` leads, as its success row says (the next step by
        default): an operator's skip-step and a resumed late success go there too."""
        for row in self.definition.transitions:
            ok = row.outcome == "success" and row.target != RETRY
            if row.status == "RUNNING" and row.step == step and ok:
                return row.target
        n = self._order[step] + 1
        return self.definition.steps[n].name if n < len(self.definition.steps) else COMPLETED

    def _compensable(self, step: str) -> bool:
        """A step that has a compensation and lies not after the pivot (never undone)."""
        after_pivot = self._pivot is not None and self._order[step] > self._pivot
        return self.definition.step(step).compensation is not None and not after_pivot

    def _start_compensation(self, run: _Run, why: str) -> None:
        run.drop_timers("timeout", "retry")
        run.move("COMPENSATING", why, run.instance.step)
        run.set(reason=why)
        self._next_compensation(run, why)

    def _next_compensation(self, run: _Run, why: str) -> None:
        """The latest step that succeeded (an operator's skip-step counts as a success) or
        whose outcome is unknown, or COMPENSATED."""
        for state in reversed(run.instance.steps):
            if state.status in _UNDOABLE and self._compensable(state.name):
                self._compensate(run, state.name, state.compensation_attempts + 1)
                return
        self._finish(run, "COMPENSATED", run.instance.reason or why)

    def _compensate(self, run: _Run, step: str, attempt: int) -> None:
        compensation = self.definition.step(step).compensation
        assert compensation is not None
        instance = run.instance
        rid = request_id(instance.saga, instance.saga_id, step, "compensation", attempt)
        run.set_step(
            step,
            status="COMPENSATING",
            compensation_attempts=attempt,
            compensation_request_ids=(*run.state(step).compensation_request_ids, str(rid)),
        )
        run.move("COMPENSATING", f"compensate: {compensation.command} (attempt {attempt})", step)
        message = compensation.build(run.instance.data)
        run.commands.append(OutgoingCommand(message, rid, step, "compensation", attempt))
        timeout = self.definition.step(step).timeout_ms or DEFAULT_COMPENSATION_TIMEOUT_MS
        run.drop_timers("retry")
        run.set_timer(Timer("timeout", step, attempt, run.after_ms(timeout), "compensation"))

    def _send_again(self, run: _Run, step: str, phase: Phase) -> None:
        """A retry timer, resume or retry-step: the same step (or compensation), next attempt;
        a step that succeeded meanwhile (a late success while parked) goes on instead."""
        state = run.state(step)
        if phase == "compensation":
            self._compensate(run, step, state.compensation_attempts + 1)
        elif state.status in ("SUCCEEDED", "SKIPPED"):
            self._go(run, self._after(step), f"{step} had succeeded")
        else:
            self._enter(run, step, state.attempts + 1)

    def _park(self, run: _Run, why: str) -> None:
        """STUCK, for an operator. The deadline timer stays (it fires, is logged, changes nothing)."""
        run.drop_timers("timeout", "retry")
        run.move("STUCK", why, run.instance.step)
        run.set(reason=why)

    def _fail(self, run: _Run, why: str) -> None:
        run.set(timers=())
        run.move("FAILED", why, run.instance.step)
        run.set(reason=why)

    def _finish(self, run: _Run, status: str, why: str) -> None:
        run.set(timers=())
        run.move(status, why, None)

    # -- deadline, late success, operator ----------------------------------------------------

    def _deadline(self, run: _Run) -> None:
        """Before the pivot: compensate (a command still out counts as UNKNOWN), unless the
        command out is the pivot's: its outcome is unknown and cannot be undone, so park;
        after the pivot: park, since nothing may be undone any more; otherwise only logged."""
        instance = run.instance
        step = instance.step
        if instance.status != "RUNNING":
            run.note(f"deadline passed while {instance.status}: no change")
        elif instance.pivot_passed:
            self._park(run, "deadline passed after the pivot")
        elif (
            step is not None
            and self.definition.step(step).pivot
            and run.state(step).status in ("RUNNING", "UNKNOWN")
        ):
            run.set_step(step, status="UNKNOWN")
            run.note(f"deadline passed while pivot {step} was out", step)
            self._park(run, self.pivot_unknown_reason(step))
        else:
            if step is not None and run.state(step).status == "RUNNING":
                run.set_step(step, status="UNKNOWN")
            self._start_compensation(run, "deadline passed")

    def _pivot_reply(self, run: _Run, row: Transition, message: Message) -> None:
        """A reply of the pivot while the saga is parked on its unknown outcome (never
        forgotten): a success goes on forward (the steps after the pivot must complete), a
        failure means nothing was done: compensate."""
        step = row.step
        if row.save is not None:
            run.set(data=row.save(run.instance.data, message))
        was = run.state(step).status
        why = f"{step}: {message.TYPE} (late, while parked)"
        if row.outcome == "success":
            run.set_step(step, status="SUCCEEDED")
            run.set(pivot_passed=True, reason=None)
            run.note(f"late success of pivot {step} (was {was}): going on", step)
            self._go(run, row.target, why)
        else:
            run.set_step(step, status="FAILED")
            run.note(f"late failure of pivot {step} (was {was}): compensating", step)
            self._start_compensation(run, why)

    def _late_after_compensation(self, run: _Run, row: Transition, message: Message) -> None:
        """A success for the step whose outcome was unknown, after it was compensated: its
        save is applied; when the compensation built from the new data differs from the one
        sent, it is sent again (now, or after the compensation in progress)."""
        step = row.step
        compensation = self.definition.step(step).compensation
        assert compensation is not None  # it was compensated
        before = run.instance.data
        if row.save is not None:
            run.set(data=row.save(before, message))
        sent = compensation.build(before).model_dump()
        wanted = compensation.build(run.instance.data).model_dump()
        status = run.instance.status
        if sent == wanted:
            run.note(f"late success of {step} after its compensation: compensation unchanged", step)
            return
        again = "late success: compensated again with the saved values"
        if run.state(step).status == "COMPENSATING" or status == "COMPENSATED":
            run.note(again, step)
            self._compensate(run, step, run.state(step).compensation_attempts + 1)
        elif status in ("COMPENSATING", "STUCK"):
            # Another compensation is out (or parked): this one follows it.
            run.set_step(step, status="SUCCEEDED")
            run.note(f"{again} (after the current compensation)", step)
        else:
            run.note(f"late success of {step}: its compensation differs, not sent ({status})", step)

    def _late_success(self, run: _Run, row: Transition, message: Message) -> None:
        """A success for a step that had failed, timed out, or was out when the saga was
        parked: recorded (with its save) and, when it has one, compensated; never dropped."""
        step = row.step
        if row.save is not None:
            run.set(data=row.save(run.instance.data, message))
        was = run.state(step).status
        run.set_step(step, status="SUCCEEDED")
        if self.definition.step(step).pivot:
            run.set(pivot_passed=True)
        status = run.instance.status
        undoable = self._compensable(step)
        if status == "COMPENSATED" and undoable:
            run.note(f"late success of {step} (was {was}): compensating it", step)
            self._compensate(run, step, run.state(step).compensation_attempts + 1)
        elif status == "COMPENSATING" and undoable:
            run.note(f"late success of {step} (was {was}): compensated after the current one", step)
        elif status == "STUCK":
            run.note(f"late success of {step} (was {was}): recorded, resume goes on", step)
        else:
            effect = "it has no compensation, its effect stays" if not undoable else "recorded"
            run.note(f"late success of {step} (was {was}) while {status}: {effect}", step)

    @staticmethod
    def _operator_refusal(action: str, status: str, phase: Phase) -> str | None:
        if action == "resume" and status != "STUCK":
            return "resume needs a STUCK saga"
        if action == "abort" and (status == "COMPENSATING" or phase == "compensation"):
            return "abort: already compensating (resume, retry-step or skip-step instead)"
        return None

    def _skip(self, run: _Run, step: str, phase: Phase) -> None:
        """Treat the current step as done without its reply (or its compensation as done)."""
        if phase == "compensation":
            run.drop_timers("timeout", "retry")
            run.set_step(step, status="COMPENSATED")
            self._next_compensation(run, f"{step} compensation skipped")
            return
        run.drop_timers("timeout", "retry")
        run.set_step(step, status="SKIPPED")
        if self.definition.step(step).pivot:
            run.set(pivot_passed=True)
        self._go(run, self._after(step), f"{step} skipped")

    def _abort(self, run: _Run, step: str) -> None:
        """Compensate now: a command still out counts as UNKNOWN. Steps that succeeded but
        cannot be undone (no compensation, or after the pivot) are named in the log."""
        if run.state(step).status == "RUNNING":
            run.set_step(step, status="UNKNOWN")
        kept = _names(
            s.name
            for s in run.instance.steps
            if s.status in ("SUCCEEDED", "SKIPPED") and not self._compensable(s.name)
        )
        if kept:
            run.note(f"not compensable, their effect stays: {kept}")
        self._start_compensation(run, "aborted by an operator")


def _names(names: Iterable[str]) -> str:
    return ", ".join(names)
