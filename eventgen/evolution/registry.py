"""Schema Registry check and push through confluent-kafka's SchemaRegistryClient.

`check` asks the registry's compatibility endpoint whether each subject's current schema would
be accepted. `push` sets each subject's compatibility mode from the spec, then registers the
subject's committed history in order followed by the current schema; registering a schema the
subject already has is a no-op in the registry, so a push is safe to repeat.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from eventgen.evolution.history import History
from eventgen.evolution.subjects import Subject, canonical

SCHEMA_TYPES = {"avro": "AVRO", "json": "JSON"}
SUBJECT_NOT_FOUND = 40401
VERSION_NOT_FOUND = 40402
NOT_CONFIGURED = 40408
TIMEOUT_S = 10

Status = Literal["ok", "new", "incompatible", "failed"]


@dataclass(frozen=True)
class Outcome:
    """What the registry said about one subject."""

    subject: str
    status: Status
    message: str
    registry_mode: str | None = None
    spec_mode: str | None = None


class RegistryUnavailable(Exception):
    """The registry could not be reached or answered with an unexpected error."""


def client(url: str) -> Any:
    """A SchemaRegistryClient with bounded timeouts and retries."""
    from confluent_kafka.schema_registry import SchemaRegistryClient

    return SchemaRegistryClient(
        {"url": url, "timeout": TIMEOUT_S, "max.retries": 1, "retries.wait.ms": 200}
    )


def _schema(subject: Subject, schema: Any) -> Any:
    from confluent_kafka.schema_registry import Schema

    return Schema(json.dumps(schema, sort_keys=True), SCHEMA_TYPES[subject.format])


def _error_code(exc: Exception) -> int | None:
    return getattr(exc, "error_code", None)


def _registry_errors() -> tuple[type[Exception], ...]:
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    return (SchemaRegistryError,)


def _mode(registry: Any, subject: str) -> str | None:
    errors = _registry_errors()
    try:
        return str(registry.get_compatibility(subject))
    except errors as exc:
        if _error_code(exc) not in (NOT_CONFIGURED, SUBJECT_NOT_FOUND):
            raise
    try:
        return str(registry.get_compatibility())
    except errors:
        return None


def check(registry: Any, subjects: Iterable[Subject]) -> list[Outcome]:
    """Ask the registry whether each subject's schema is compatible with what it holds."""
    errors = _registry_errors()
    out: list[Outcome] = []
    for subject in subjects:
        try:
            mode = _mode(registry, subject.name)
            try:
                ok = registry.test_compatibility(subject.name, _schema(subject, subject.schema))
            except errors as exc:
                if _error_code(exc) in (SUBJECT_NOT_FOUND, VERSION_NOT_FOUND):
                    out.append(
                        Outcome(
                            subject.name,
                            "new",
                            "not in the registry yet",
                            mode,
                            subject.compatibility,
                        )
                    )
                    continue
                raise
        except errors as exc:
            out.append(Outcome(subject.name, "failed", str(exc), None, subject.compatibility))
            continue
        except Exception as exc:
            raise RegistryUnavailable(f"{subject.name}: {exc}") from exc
        status: Status = "ok" if ok else "incompatible"
        text = f"compatible under the registry's {mode}" if ok else f"rejected under {mode}"
        out.append(Outcome(subject.name, status, text, mode, subject.compatibility))
    return out


def push(registry: Any, subjects: Iterable[Subject], history: History) -> list[Outcome]:
    """Set each subject's mode from the spec, then register its history and current schema."""
    errors = _registry_errors()
    out: list[Outcome] = []
    for subject in subjects:
        versions = list(history.get(subject.name, []))
        if not versions or canonical(versions[-1]) != canonical(subject.schema):
            versions.append(subject.schema)
        try:
            registry.set_compatibility(subject.name, subject.compatibility)
            ids = [registry.register_schema(subject.name, _schema(subject, v)) for v in versions]
        except errors as exc:
            status: Status = (
                "incompatible" if getattr(exc, "http_status_code", 0) == 409 else "failed"
            )
            out.append(Outcome(subject.name, status, str(exc), None, subject.compatibility))
            continue
        except Exception as exc:
            raise RegistryUnavailable(f"{subject.name}: {exc}") from exc
        out.append(
            Outcome(
                subject.name,
                "ok",
                f"registered as schema id {ids[-1]} ({len(versions)} version(s) replayed)",
                subject.compatibility,
                subject.compatibility,
            )
        )
    return out
