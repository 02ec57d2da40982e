"""Projectors: apply row operations with the checkpoint in the same transaction; rebuilds.

INTERFACE STUB: implemented by the projection-runtime work; signatures are binding.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, Generic

from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.es.spec import ProjectionDefinition, R
from eventgen.runtime.es.store import EventStore


class ProjectionTable(Generic[R]):
    """The read-model table: DDL, and typed reads for queries."""

    def __init__(self, definition: ProjectionDefinition[R]) -> None:
        self.definition = definition

    @property
    def name(self) -> str:
        return self.definition.spec.table

    def ensure_schema(self, conn: Any) -> None:
        raise NotImplementedError

    def get(self, conn: Any, key: object) -> R | None:
        raise NotImplementedError

    def find(self, conn: Any, where: Mapping[str, object], limit: int | None = None) -> list[R]:
        raise NotImplementedError


class Projector(Generic[R]):
    """A runnable for the runner (`python -m eventgen.runtime run MODULE:ATTR`)."""

    def __init__(
        self, definition: ProjectionDefinition[R], event_store: EventStore | None = None
    ) -> None:
        self.definition = definition
        self.event_store = event_store
        self.table = ProjectionTable(definition)

    def run(
        self,
        *,
        config: RuntimeConfig | None = None,
        transport: Any = None,
        max_messages: int | None = None,
        idle_exit_s: float | None = None,
        stop: threading.Event | None = None,
    ) -> Any:
        raise NotImplementedError

    def rebuild(
        self,
        *,
        config: RuntimeConfig | None = None,
        progress: Callable[[str], None] | None = None,
        stop: threading.Event | None = None,
    ) -> Any:
        raise NotImplementedError

    def wait_until(self, conn: Any, position: int, timeout_s: float = 10.0) -> None:
        raise NotImplementedError
