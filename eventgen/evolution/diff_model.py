"""Message and topic rules: pairs by qualified message name and by Kafka topic name."""

from __future__ import annotations

from typing import Any

from eventgen.diagnostics import Loc
from eventgen.evolution.diff_schemas import compat_check
from eventgen.evolution.findings import Finding, finding
from eventgen.evolution.snapshot import MessageSnap, Snapshot
from eventgen.evolution.subjects import canonical

_DOC_KEYS = frozenset({"doc", "description", "deprecated", "$comment", "$id"})


def without_docs(schema: Any) -> Any:
    """A schema without docs, fields sorted by name: neither changes what a payload holds."""
    if isinstance(schema, dict):
        out = {k: without_docs(v) for k, v in schema.items() if k not in _DOC_KEYS}
        if isinstance(out.get("fields"), list):
            out["fields"] = sorted(out["fields"], key=lambda f: str(f.get("name", "")))
        if isinstance(out.get("required"), list):
            out["required"] = sorted(map(str, out["required"]))
        return out
    if isinstance(schema, list):
        return [without_docs(v) for v in schema]
    return schema


def diff_messages(old: Snapshot, new: Snapshot) -> list[Finding]:
    """Moved, re-keyed, re-versioned, added and removed messages."""
    found: list[Finding] = []
    for qualified, m in new.messages.items():
        before = old.messages.get(qualified)
        if before is None:
            found.append(finding("D0407", m.loc, f"new {m.kind} {qualified}"))
            continue
        found.extend(_placement(before, m))
        found.extend(_versioning(before, m, old, new))
    for qualified, before in old.messages.items():
        if qualified not in new.messages:
            found.append(_removed(before, old, new))
    return found


def _placement(before: MessageSnap, m: MessageSnap) -> list[Finding]:
    if before.topic is not None and before.topic != m.topic:
        where = f"moved from {before.topic} to {m.topic}" if m.topic else "no longer published"
        return [
            finding(
                "D0401",
                m.topic_loc or m.loc,
                f"{m.qualified} {where} (was on {before.topic}): consumers of the old topic "
                "stop seeing it, and its order relative to older records is lost",
                hint="keep the topic; to move, publish to both topics until every consumer "
                "subscribed to the new one",
                old_loc=before.topic_loc or before.loc,
            )
        ]
    if before.topic is not None and before.key != m.key:
        was = ".".join(before.key) if before.key else "none"
        now = ".".join(m.key) if m.key else "none"
        return [
            finding(
                "D0201",
                m.key_loc or m.loc,
                f"partition key of {m.qualified} changed from {was} to {now}: records of one "
                "entity spread over partitions, so consumers see them out of order",
                hint="keep the key; a new key needs a new topic (or a drained one)",
                old_loc=before.key_loc or before.loc,
            )
        ]
    return []


def _versioning(before: MessageSnap, m: MessageSnap, old: Snapshot, new: Snapshot) -> list[Finding]:
    if m.version < before.version:
        return [
            finding(
                "D0406",
                m.version_loc or m.loc,
                f"{m.qualified} went from version {before.version} down to {m.version}: "
                f"data already written as version {before.version} has no schema any more",
                hint="versions only go up",
                old_loc=before.version_loc or before.loc,
            )
        ]
    comparable = old.format == new.format and before.record is not None
    if m.version > before.version:
        if before.version not in m.upcasts_from:
            # Missing upcaster: the finding is about the bump the author wrote.
            what = f"has no upcaster from version {before.version}"
            return [_bump(m, before, what, at=m.version_loc)]
        rebuilt = m.versions.get(before.version)
        if comparable and rebuilt is not None and _same(rebuilt, before.record) is False:
            return [
                _bump(
                    m,
                    before,
                    f"has upcasters whose version {before.version} differs from the "
                    f"version {before.version} published at {old.label}",
                )
            ]
        return []
    topic = new.topics.get(m.topic) if m.topic else None
    mode = topic.compatibility if topic is not None else None
    if mode is None or mode == "NONE":
        return []
    if new.format == "protobuf":
        return []  # the value subject's protobuf rules judge record changes
    if not comparable or m.record is None or _same(before.record, m.record):
        return _constraints(before, m, mode) if new.format == "avro" else []
    result = compat_check(new.format, [before.record], m.record, mode)
    if result.compatible:
        return _constraints(before, m, mode) if new.format == "avro" else []
    return [
        finding(
            "D0405",
            m.loc,
            f"{m.qualified} changed incompatibly ({mode}) but stays version {m.version}: "
            "readers cannot tell old payloads from new ones",
            hint=f"set `version: {m.version + 1}` and add `upcast: [{{from: {m.version}, ops: "
            "[...]}]` that turns old payloads into new ones",
            old_loc=before.loc,
            details=tuple(f"{f.rule} at {f.path or '/'}: {f.message}" for f in result.findings),
        )
    ]


# JSON Schema rules about value constraints: Avro cannot see them, the generated models enforce them.
_CONSTRAINT_RULES = ("length", "pattern", "maximum", "minimum", "multiple_of", "items")


def _constraints(before: MessageSnap, m: MessageSnap, mode: str) -> list[Finding]:
    """Avro-compatible changes whose tighter constraints make generated consumers reject data."""
    if before.constraints is None or m.constraints is None:
        return []
    if _same(before.constraints, m.constraints):
        return []
    result = compat_check("json", [before.constraints], m.constraints, mode)
    tightened = [f for f in result.findings if any(word in f.rule for word in _CONSTRAINT_RULES)]
    if not tightened:
        return []
    return [
        finding(
            "D0408",
            m.loc,
            f"{m.qualified}: validation constraints tightened ({mode}); the Avro schema is "
            "unchanged, but generated consumers validate on decode and reject payloads that "
            "producers of the previous version still write",
            hint="loosen the constraint, or bump `version` and add an upcaster that fixes old payloads",
            old_loc=before.loc,
            details=tuple(f"{f.rule} at {f.path or '/'}: {f.message}" for f in tightened),
        )
    ]


def _same(a: Any, b: Any) -> bool:
    return canonical(without_docs(a)) == canonical(without_docs(b))


def _bump(m: MessageSnap, before: MessageSnap, what: str, *, at: Loc | None = None) -> Finding:
    return finding(
        "D0404",
        at or m.loc,
        f"{m.qualified} went from version {before.version} to {m.version} but {what}: "
        f"consumers cannot upcast version {before.version} payloads already on the topic",
        hint=f"add `upcast: [{{from: {before.version}, ops: [...]}}]` whose ops turn the old "
        "fields into the new ones (rename, add, remove, convert)",
        old_loc=before.loc,
    )


def _removed(before: MessageSnap, old: Snapshot, new: Snapshot) -> Finding:
    context = before.qualified.rpartition(".")[0]
    handlers = sorted(c.qualified for c in old.consumers.values() if before.qualified in c.handles)
    surviving = [new.consumers[h] for h in handlers if h in new.consumers]
    loc: Loc = surviving[0].loc if surviving else new.context_locs.get(context, new.project_loc)
    if handlers:
        return finding(
            "D0402",
            loc,
            f"{before.qualified} was removed but consumer(s) {', '.join(handlers)} handled it "
            f"at {old.label}: deployed consumers still expect it, and records of it are "
            "still on the topic",
            hint="deprecate first: stop producing it, let consumers drop it from `handles`, "
            "remove it once the topic's retention has passed",
            old_loc=before.loc,
        )
    return finding(
        "D0403",
        loc,
        f"{before.qualified} was removed; records of it may still be on its topic",
        old_loc=before.loc,
    )


def diff_topics(old: Snapshot, new: Snapshot) -> list[Finding]:
    """Partition count, cleanup policy and retention changes; removed topics."""
    found: list[Finding] = []
    for name, t in new.topics.items():
        before = old.topics.get(name)
        if before is None:
            continue
        if before.partitions != t.partitions:
            found.append(
                finding(
                    "D0301",
                    t.at("partitions"),
                    f"{name}: partitions {before.partitions} -> {t.partitions}: the default "
                    "partitioner maps keys to other partitions, so per-key ordering breaks "
                    "across the change"
                    + ("; Kafka cannot shrink a topic" if t.partitions < before.partitions else ""),
                    hint="size topics up front; to grow, create a new topic and migrate",
                    old_loc=before.at("partitions"),
                )
            )
        if before.cleanup != t.cleanup:
            found.append(
                finding(
                    "D0302",
                    t.at("cleanup"),
                    f"{name}: cleanup.policy {','.join(before.cleanup)} -> {','.join(t.cleanup)}: "
                    "compaction keeps only the last record per key, deletion drops old "
                    "records; consumers replaying the topic see other data",
                    hint="keep the policy; derive a new topic for the other policy",
                    old_loc=before.at("cleanup"),
                )
            )
        found.extend(
            _retention(
                name,
                before.retention_ms,
                t.retention_ms,
                "retention",
                t.at("retention"),
                before.at("retention"),
            )
        )
        found.extend(
            _retention(
                name,
                before.retention_bytes,
                t.retention_bytes,
                "retention_bytes",
                t.at("retention_bytes"),
                before.at("retention_bytes"),
            )
        )
    for name, before in old.topics.items():
        if name not in new.topics:
            loc = new.context_locs.get(before.context, new.project_loc)
            found.append(finding("D0304", loc, f"topic {name} removed", old_loc=before.loc))
    return found


def _retention(
    name: str, old: int | None, new: int | None, what: str, loc: Loc, old_loc: Loc
) -> list[Finding]:
    def size(value: int) -> float:
        return float("inf") if value < 0 else float(value)

    if old is None or new is None or size(new) >= size(old):
        return []
    shown = "infinite" if old < 0 else str(old)
    return [
        finding(
            "D0303",
            loc,
            f"{name}: {what} shrinks from {shown} to {new}: older records are deleted, so "
            "replays and late consumers lose data",
            hint="keep the retention, or make sure no consumer needs the older records",
            old_loc=old_loc,
        )
    ]
