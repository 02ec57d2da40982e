"""Schema Registry check and push through confluent-kafka's SchemaRegistryClient.

`check` asks the registry's compatibility endpoint whether each subject's current schema would
be accepted. `push` sets each subject's compatibility mode from the spec, then registers the
subject's committed history in order followed by the current schema; registering a schema the
subject already has is a no-op in the registry, so a push is safe to repeat.

Protobuf value subjects register their context's `.proto` text (schema type PROTOBUF) with a
reference for every project file it imports. Each imported file is a subject of its own,
named by its import path (`common.proto`: Confluent's default reference subject name
strategy, so serializers that register references find the same subjects), registered before
the subjects that import it and reported as an outcome of its own; well-known imports
(`google/protobuf/*.proto`) need no reference. An import subject gets the strictest mode of
the subjects importing it (BACKWARD and FORWARD make FULL; any transitive one makes it
transitive): registries check a subject's own text only, not what it imports (Apicurio 2.6
accepts an incompatible change of an imported message under the importer's BACKWARD), so the
imported file must keep every importer's promise itself. An old history version is replayed with the current imports (the history keeps only the
context's own text).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from eventgen.evolution.history import History
from eventgen.evolution.protobuf_subjects import own_text
from eventgen.evolution.subjects import Subject, canonical

SCHEMA_TYPES = {"avro": "AVRO", "json": "JSON", "protobuf": "PROTOBUF"}
SUBJECT_NOT_FOUND = 40401
VERSION_NOT_FOUND = 40402
SCHEMA_NOT_FOUND = 40403
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


def _schema(subject: Subject, schema: Any, references: list[Any] | None = None) -> Any:
    from confluent_kafka.schema_registry import Schema

    if subject.format == "protobuf":
        return Schema(str(own_text(schema, subject.main)), "PROTOBUF", references or [])
    return Schema(json.dumps(schema, sort_keys=True), SCHEMA_TYPES[subject.format])


def _current(subject: Subject) -> Any:
    """The subject's schema as its history stores it (protobuf: the context's own text)."""
    return (
        own_text(subject.schema, subject.main) if subject.format == "protobuf" else subject.schema
    )


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


def register_all(registry: Any, subject: str, mode: str, schemas: list[Any]) -> list[int]:
    """Set `subject`'s mode, then register `schemas` in order; their schema ids."""
    ids = []
    try:
        registry.set_compatibility(subject, mode)
    except _registry_errors() as exc:
        # Apicurio 2.6 keeps a mode as a rule of an existing subject and refuses NONE (no
        # rule) on a new one; a subject's first version passes any mode, so it goes first.
        if _error_code(exc) != SUBJECT_NOT_FOUND:
            raise
        ids.append(registry.register_schema(subject, schemas[0]))
        registry.set_compatibility(subject, mode)
    ids.extend(registry.register_schema(subject, s) for s in schemas[len(ids) :])
    return ids


def strictest(modes: Iterable[str]) -> str:
    """The mode that keeps all of `modes`' promises (`NONE` for none)."""
    found = set(modes)
    backward = any(m.startswith(("BACKWARD", "FULL")) for m in found)
    forward = any(m.startswith(("FORWARD", "FULL")) for m in found)
    if not (backward or forward):
        return "NONE"
    mode = "FULL" if backward and forward else "BACKWARD" if backward else "FORWARD"
    return mode + "_TRANSITIVE" if any(m.endswith("_TRANSITIVE") for m in found) else mode


def _import_modes(subjects: list[Subject]) -> dict[str, str]:
    users: dict[str, list[str]] = {}
    for subject in subjects:
        for path in subject.schema if subject.format == "protobuf" else ():
            if path != subject.main:
                users.setdefault(path, []).append(subject.compatibility)
    return {path: strictest(modes) for path, modes in users.items()}


class _Imports:
    """The imported `.proto` files of protobuf subjects, each under its import-path subject.

    `push` registers a file (its own imports first) the first time a subject needs it; `check`
    only looks it up and tests it. Either way each file gets one outcome, listed before the
    first subject that imports it, and the registry version a reference to it names.
    """

    def __init__(
        self, registry: Any, register: bool, out: list[Outcome], subjects: list[Subject]
    ) -> None:
        self.registry = registry
        self.register = register
        self.out = out
        self.modes = _import_modes(subjects)
        # import path -> registry version of the current text; None = not registered;
        # a str = why no reference can be given (the file or one of its imports failed).
        self.versions: dict[str, int | str | None] = {}

    def references(self, subject: Subject, path: str) -> list[Any] | str | None:
        """The references of `path` (a file of `subject`), None when one is not registered
        yet (check only), or the reason they cannot be given."""
        from confluent_kafka.schema_registry import SchemaReference

        refs = []
        for imported in dict(subject.imports).get(path, ()):
            version = self._version(subject, imported)
            if version is None or isinstance(version, str):
                return version
            refs.append(SchemaReference(imported, imported, version))
        return refs

    def _version(self, subject: Subject, path: str) -> int | str | None:
        if path in self.versions:
            return self.versions[path]
        self.versions[path] = f"imports {path} in a cycle"  # protoc refuses cyclic imports
        refs = self.references(subject, path)
        if refs is None or isinstance(refs, str):
            self.versions[path] = refs
            return refs
        from confluent_kafka.schema_registry import Schema

        schema = Schema(subject.schema[path], "PROTOBUF", refs)
        version, outcome = self._file(path, schema, subject.name)
        self.out.append(outcome)
        self.versions[path] = version
        return version

    def _file(self, path: str, schema: Any, user: str) -> tuple[int | str | None, Outcome]:
        errors = _registry_errors()
        spec = self.modes[path]
        mode = None
        try:
            if self.register:
                schema_id = register_all(self.registry, path, spec, [schema])[-1]
                version = int(self.registry.lookup_schema(path, schema).version)
                text = (
                    f"registered as schema id {schema_id}, version {version} (imported by {user})"
                )
                return version, Outcome(path, "ok", text, spec, spec)
            mode = _mode(self.registry, path)
            try:
                version = int(self.registry.lookup_schema(path, schema).version)
                text = f"registered as version {version}"
                return version, Outcome(path, "ok", text, mode, spec)
            except errors as exc:
                if _error_code(exc) == SUBJECT_NOT_FOUND:
                    return None, Outcome(path, "new", "not in the registry yet", mode, spec)
                if _error_code(exc) != SCHEMA_NOT_FOUND:
                    raise
            if not self.registry.test_compatibility(path, schema):
                outcome = Outcome(path, "incompatible", f"rejected under {mode}", mode, spec)
                return f"its import {path} is rejected", outcome
            text = f"compatible under the registry's {mode}"
            return None, Outcome(path, "ok", text, mode, spec)
        except errors as exc:
            rejected = getattr(exc, "http_status_code", 0) == 409
            status: Status = "incompatible" if rejected else "failed"
            outcome = Outcome(path, status, str(exc), mode, spec)
            return f"its import {path} was not accepted", outcome
        except Exception as exc:
            raise RegistryUnavailable(f"{path}: {exc}") from exc


def _references(imports: _Imports, subject: Subject) -> list[Any] | str | None:
    if subject.format != "protobuf":
        return []
    return imports.references(subject, subject.main)


def check(registry: Any, subjects: Iterable[Subject]) -> list[Outcome]:
    """Ask the registry whether each subject's schema is compatible with what it holds."""
    errors = _registry_errors()
    out: list[Outcome] = []
    subjects = list(subjects)
    imports = _Imports(registry, False, out, subjects)
    for subject in subjects:
        refs = _references(imports, subject)
        if isinstance(refs, str):
            out.append(Outcome(subject.name, "failed", refs, None, subject.compatibility))
            continue
        try:
            mode = _mode(registry, subject.name)
            if refs is None:
                # A new import: the registry could not resolve this text yet; push registers
                # the import first, then the subject is checked as it is registered.
                text = "imports a file whose current text the registry lacks (push adds it)"
                out.append(Outcome(subject.name, "new", text, mode, subject.compatibility))
                continue
            try:
                ok = registry.test_compatibility(
                    subject.name, _schema(subject, _current(subject), refs)
                )
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
    """Set each subject's mode from the spec, then register its history and current schema
    (protobuf: its imported files first, see the module doc)."""
    errors = _registry_errors()
    out: list[Outcome] = []
    subjects = list(subjects)
    imports = _Imports(registry, True, out, subjects)
    for subject in subjects:
        versions = list(history.get(subject.name, []))
        current = _current(subject)
        if not versions or canonical(versions[-1]) != canonical(current):
            versions.append(current)
        refs = _references(imports, subject)
        if refs is None or isinstance(refs, str):
            text = refs or "an import was not registered"
            out.append(Outcome(subject.name, "failed", text, None, subject.compatibility))
            continue
        try:
            schemas = [_schema(subject, v, refs) for v in versions]
            ids = register_all(registry, subject.name, subject.compatibility, schemas)
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
