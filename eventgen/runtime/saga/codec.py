"""A saga instance as a row of the saga_instances table, and back.

`data` is the saga data model's JSON (its wire names), `state` the engine's bookkeeping per
step (statuses, attempts, request ids), `pivot_passed` and the pending timers, as JSON with
sorted keys. `data_hash` names the data schema the row was written under: a row of another
schema, or one whose JSON no longer validates, fails to load with SagaDataError naming the
instance (docs/sagas.md "Migrating saga data"), never with a bare pydantic error.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, cast, get_args

from pydantic import ValidationError

from eventgen.runtime.model import Record
from eventgen.runtime.saga.errors import SagaDataError
from eventgen.runtime.saga.spec import SagaDefinition, SagaStatus
from eventgen.runtime.saga.state import Phase, SagaInstance, StepState, StepStatus, Timer, TimerKind

COLUMNS = (
    "saga",
    "saga_id",
    "status",
    "step",
    "version",
    "data_hash",
    "data",
    "state",
    "reason",
    "started_at",
    "updated_at",
    "deadline_at",
)

_STATUSES = frozenset(get_args(SagaStatus))
_STEP_STATUSES = frozenset(get_args(StepStatus))
_TIMER_KINDS = frozenset(get_args(TimerKind))
_PHASES = frozenset(get_args(Phase))


def schema_hash(model: type[Record]) -> str:
    """sha256 of a data model's JSON schema (sorted keys): a `data_hash` for hand-built
    definitions; a build computes its own from the spec."""
    schema = json.dumps(model.model_json_schema(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(schema.encode("utf-8")).hexdigest()


def dump_instance(instance: SagaInstance, definition: SagaDefinition) -> dict[str, Any]:
    """The saga_instances columns of `instance` (times as aware datetimes)."""
    state = {
        "pivot_passed": instance.pivot_passed,
        "steps": [_dump_step(step) for step in instance.steps],
        "timers": [_dump_timer(timer) for timer in instance.timers],
    }
    return {
        "saga": instance.saga,
        "saga_id": instance.saga_id,
        "status": instance.status,
        "step": instance.step,
        "version": instance.version,
        "data_hash": definition.data_hash,
        "data": instance.data.model_dump_json(),
        "state": json.dumps(state, sort_keys=True, separators=(",", ":")),
        "reason": instance.reason,
        "started_at": instance.started_at,
        "updated_at": instance.updated_at,
        "deadline_at": instance.deadline_at,
    }


def load_instance(definition: SagaDefinition, row: Mapping[str, Any]) -> SagaInstance:
    """The instance of a saga_instances row; SagaDataError when it no longer fits the spec."""
    saga, saga_id = str(row["saga"]), str(row["saga_id"])

    def fail(detail: str) -> SagaDataError:
        return SagaDataError(saga, saga_id, detail)

    if row["data_hash"] != definition.data_hash:
        raise fail(
            f"it was written under data schema {row['data_hash']}, the spec's is "
            f"{definition.data_hash}"
        )
    try:
        data = definition.data_model.model_validate_json(row["data"])
    except ValidationError as error:
        raise fail(f"data does not validate as {definition.data_model.__name__}: {error}") from None
    try:
        state = json.loads(row["state"])
        steps = _load_steps(definition, state["steps"])
        timers = tuple(_load_timer(item) for item in state["timers"])
        pivot_passed = state["pivot_passed"]
        if not isinstance(pivot_passed, bool):
            raise TypeError("pivot_passed is not a boolean")
        status = str(row["status"])
        if status not in _STATUSES:
            raise ValueError(f"unknown status {status!r}")
        step = row["step"]
        if step is not None and step not in {s.name for s in definition.steps}:
            raise ValueError(f"unknown current step {step!r}")
        return SagaInstance(
            saga=saga,
            saga_id=saga_id,
            status=status,
            step=step,
            data=data,
            steps=steps,
            started_at=_moment(row["started_at"]),
            updated_at=_moment(row["updated_at"]),
            deadline_at=None if row["deadline_at"] is None else _moment(row["deadline_at"]),
            pivot_passed=pivot_passed,
            reason=row["reason"],
            version=int(row["version"]),
            timers=timers,
        )
    except (ValueError, KeyError, TypeError) as error:
        # json.JSONDecodeError is a ValueError
        raise fail(f"engine state is not readable: {type(error).__name__}: {error}") from None


def _dump_step(step: StepState) -> dict[str, Any]:
    return {
        "name": step.name,
        "status": step.status,
        "attempts": step.attempts,
        "request_ids": list(step.request_ids),
        "compensation_attempts": step.compensation_attempts,
        "compensation_request_ids": list(step.compensation_request_ids),
    }


def _load_steps(definition: SagaDefinition, items: Any) -> tuple[StepState, ...]:
    """Every step of the definition, in its order: a row that names others (a step added,
    removed or renamed since) is a spec change the data must be migrated for."""
    steps = tuple(_load_step(item) for item in items)
    stored = [step.name for step in steps]
    expected = [step.name for step in definition.steps]
    if stored != expected:
        raise ValueError(f"steps {stored} differ from the spec's {expected}")
    return steps


def _load_step(item: Any) -> StepState:
    status = item["status"]
    if status not in _STEP_STATUSES:
        raise ValueError(f"unknown step status {status!r}")
    return StepState(
        name=_text(item["name"]),
        status=cast(StepStatus, status),
        attempts=_count(item["attempts"]),
        request_ids=tuple(_text(rid) for rid in item["request_ids"]),
        compensation_attempts=_count(item["compensation_attempts"]),
        compensation_request_ids=tuple(_text(rid) for rid in item["compensation_request_ids"]),
    )


def _dump_timer(timer: Timer) -> dict[str, Any]:
    return {
        "kind": timer.kind,
        "step": timer.step,
        "attempt": timer.attempt,
        "due_at": timer.due_at.astimezone(UTC).isoformat(),
        "phase": timer.phase,
    }


def _load_timer(item: Any) -> Timer:
    kind, phase, step = item["kind"], item["phase"], item["step"]
    if kind not in _TIMER_KINDS or phase not in _PHASES:
        raise ValueError(f"unknown timer kind or phase {kind!r}/{phase!r}")
    if step is not None:
        step = _text(step)
    return Timer(
        kind=cast(TimerKind, kind),
        step=step,
        attempt=_count(item["attempt"]),
        due_at=_moment(item["due_at"]),
        phase=cast(Phase, phase),
    )


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value


def _count(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"expected a count, got {value!r}")
    return value


def _moment(value: Any) -> datetime:
    """An aware datetime from a datetime (psycopg) or ISO text (SQLite stores `...Z`)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError(f"expected an aware timestamp, got {value!r}")
    return value
