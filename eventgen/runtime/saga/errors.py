"""Failures of the saga runtime that reach a user: stored data that no longer loads and an
operator command the saga's status does not allow."""

from __future__ import annotations

MIGRATING = "see docs/sagas.md 'Migrating saga data'"


class SagaError(Exception):
    """Base of the saga runtime's own errors."""


class SagaDataError(SagaError):
    """A stored instance whose data (or engine state) no longer matches the spec: its data model
    changed (another `data_hash`) or its JSON does not validate. Names the instance, so the
    dead-letter reason and the timer thread's log say which saga to migrate."""

    def __init__(self, saga: str, saga_id: str, detail: str) -> None:
        super().__init__(
            f"stored data of {saga} {saga_id} no longer matches the spec: {detail}; {MIGRATING}"
        )
        self.saga = saga
        self.saga_id = saga_id
        self.detail = detail


class OperatorRefused(SagaError):
    """An operator command the instance's status does not allow (a final status, or an action
    that makes no sense there): nothing was changed."""

    def __init__(self, saga: str, saga_id: str, status: str, message: str) -> None:
        super().__init__(f"{saga} {saga_id} is {status}: {message}")
        self.saga = saga
        self.saga_id = saga_id
        self.status = status
        self.message = message
