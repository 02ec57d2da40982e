"""One side of a diff, reduced to what the diff rules compare, with display positions.

A snapshot comes from a loaded Project (new specs, old specs from git or a directory) or from
a previously generated tree (see `generated.py`). Positions are display-ready: the new side's
files are prefixed with the specs path as typed, the old side's with `REF:path/`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eventgen.diagnostics import Loc
from eventgen.emit import layout
from eventgen.evolution.history import History
from eventgen.evolution.subjects import Strategy, Subject, subjects
from eventgen.ir.model import Project
from eventgen.schemas import Schemas


@dataclass(frozen=True)
class MessageSnap:
    qualified: str
    kind: str
    version: int
    topic: str | None  # Kafka name
    key: tuple[str, ...] | None
    record: Any  # current version's record schema (project format); None when unknown
    versions: dict[int, Any]  # reconstructible version -> record schema
    upcasts_from: frozenset[int]
    loc: Loc
    # field name -> position, for findings about one field
    field_locs: dict[str, Loc] = field(default_factory=dict)
    # The current version as JSON Schema, whatever the wire format: it carries the validation
    # constraints (lengths, patterns, ranges, decimal digits) that Avro schemas cannot express.
    constraints: Any = None
    key_loc: Loc | None = None  # the `key:` line, for a re-keying finding
    topic_loc: Loc | None = None  # the `topic:` line, for a moved message
    version_loc: Loc | None = None  # the `version:` line, for a version finding


@dataclass(frozen=True)
class TopicSnap:
    kafka_name: str
    partitions: int
    cleanup: tuple[str, ...]
    retention_ms: int | None  # -1 infinite, None broker default
    retention_bytes: int | None
    compatibility: str
    loc: Loc
    context: str = ""
    attr_locs: dict[str, Loc] = field(default_factory=dict)  # `partitions:` etc., by name

    def at(self, attr: str) -> Loc:
        """Where attribute `attr` is written, so a finding lands on the line that changed."""
        return self.attr_locs.get(attr, self.loc)


@dataclass(frozen=True)
class ConsumerSnap:
    qualified: str
    handles: tuple[str, ...]
    loc: Loc


@dataclass
class Snapshot:
    """Everything the rules need from one side."""

    label: str
    format: str
    messages: dict[str, MessageSnap]
    topics: dict[str, TopicSnap]
    consumers: dict[str, ConsumerSnap]
    subjects: dict[str, Subject]
    context_locs: dict[str, Loc]  # context -> its first spec file, for deletions
    project_loc: Loc
    named_locs: dict[str, tuple[Loc, dict[str, Loc]]]  # qualified type/message -> loc, fields
    history_loader: Callable[[], History] = field(default=dict)
    _history: History | None = None

    def history(self) -> History:
        """The committed schema history of this side (read on first use only)."""
        if self._history is None:
            self._history = self.history_loader()
        return self._history


def from_project(
    project: Project,
    prefix: str,
    label: str,
    strategy: Strategy = "topic",
    proto_lock: Any = None,
) -> Snapshot:
    """A snapshot of a loaded project; `prefix` turns spec-relative files into display paths.

    `proto_lock` is that side's committed field-number lock (serialization: protobuf).
    """

    def at(loc: Loc) -> Loc:
        return Loc(prefix + loc.file, loc.line, loc.col) if loc.file != "<none>" else loc

    schemas = Schemas(project)  # one builder: the subjects reuse the records built here
    fmt = project.defaults.serialization
    topics_by_id = {t.qualified: t for t in project.all_topics()}
    messages: dict[str, MessageSnap] = {}
    named_locs: dict[str, tuple[Loc, dict[str, Loc]]] = {}
    for m in project.all_messages():
        versions = {v: schemas.record(m, v, fmt) for v, _ in layout.versions(m)}
        field_locs = {f.name: at(f.loc) for f in m.fields}
        named_locs[m.qualified] = (at(m.loc), field_locs)
        messages[m.qualified] = MessageSnap(
            qualified=m.qualified,
            kind=m.kind,
            version=m.version,
            topic=topics_by_id[m.topic].kafka_name if m.topic in topics_by_id else None,
            key=m.key,
            record=versions[m.version],
            versions=versions,
            upcasts_from=frozenset(u.from_version for u in m.upcasts),
            loc=at(m.loc),
            field_locs=field_locs,
            constraints=schemas.record(m, m.version, "json"),
            key_loc=at(m.at_key()),
            topic_loc=at(m.topic_loc) if m.topic_loc.file != "<none>" else None,
            version_loc=at(m.version_loc) if m.version_loc.file != "<none>" else None,
        )
    for t in project.all_types():
        fields = getattr(t, "fields", ())
        named_locs[t.qualified] = (at(t.loc), {f.name: at(f.loc) for f in fields})
    topics = {
        t.kafka_name: TopicSnap(
            t.kafka_name,
            t.partitions,
            t.cleanup,
            t.retention_ms,
            t.retention_bytes,
            t.compatibility,
            at(t.loc),
            t.context,
            {attr: at(loc) for attr, loc in t.attr_locs},
        )
        for t in project.all_topics()
    }
    consumers = {
        c.qualified: ConsumerSnap(c.qualified, c.handles, at(c.loc))
        for ctx in project.contexts
        for c in ctx.consumers
    }
    project_file = next((f for f in project.spec_files if f.startswith("eventgen.y")), "")
    return Snapshot(
        label=label,
        format=project.defaults.serialization,
        messages=messages,
        topics=topics,
        consumers=consumers,
        subjects={
            name: _relocated(s, at)
            for name, s in subjects(project, strategy, schemas, proto_lock).items()
        },
        context_locs={c.name: Loc(prefix + c.files[0]) for c in project.contexts if c.files},
        project_loc=Loc(prefix + project_file),
        named_locs=named_locs,
    )


def _relocated(subject: Subject, at: Callable[[Loc], Loc]) -> Subject:
    from dataclasses import replace

    return replace(subject, loc=at(subject.loc))
