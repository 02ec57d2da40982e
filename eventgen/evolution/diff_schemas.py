"""Subject rules: value schemas through eventgen.compat, key schemas, formats and modes."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from eventgen.compat.result import CompatResult
from eventgen.evolution.errors import InputError
from eventgen.evolution.findings import Finding, finding
from eventgen.evolution.locate import locate, walk
from eventgen.evolution.protobuf_subjects import own_text, with_imports
from eventgen.evolution.snapshot import Snapshot
from eventgen.evolution.subjects import Subject, canonical

COMPAT_FORMAT = {"avro": "avro", "json": "json", "protobuf": "protobuf"}


def compat_check(fmt: str, previous: list[Any], new: Any, mode: str) -> CompatResult:
    """eventgen.compat.check with Confluent semantics; unparseable schemas are input errors."""
    from eventgen import compat
    from eventgen.compat.result import SchemaParseError

    try:
        return compat.check(COMPAT_FORMAT[fmt], new=new, mode=mode, history=previous)
    except SchemaParseError as exc:
        which = "the new schema"
        if exc.version_index is not None:
            which = f"previous version {exc.version_index + 1}"
        raise InputError(f"cannot parse {which}: {exc}") from exc


def previous_versions(old: Subject, old_snap: Snapshot, mode: str) -> list[Any]:
    """What the registry compares with: the latest version, or all of them when transitive."""
    if not mode.endswith("_TRANSITIVE"):
        return [old.schema]
    versions = list(old_snap.history().get(old.name, []))
    if old.format == "protobuf":
        # History files hold the context's own .proto text; the subject all its files.
        if not versions or versions[-1] != own_text(old.schema, old.main):
            versions.append(old.schema)
        return versions
    if not versions or canonical(versions[-1]) != canonical(old.schema):
        versions.append(old.schema)  # the old side was not built since its last change
    return versions


def diff_subjects(old: Snapshot, new: Snapshot) -> list[Finding]:
    """Findings for every subject of either side."""
    found: list[Finding] = []
    if old.format != new.format:
        found.append(
            finding(
                "D0105",
                new.project_loc,
                f"serialization changed from {old.format} to {new.format}: every subject "
                "gets a schema of another type, which the registry refuses",
                hint="keep the format, or publish the new format on new topics",
                old_loc=old.project_loc,
            )
        )
    for name, subject in new.subjects.items():
        previous = old.subjects.get(name)
        if previous is None:
            found.append(finding("D0103", subject.loc, f"new subject {name}", subject=name))
            continue
        found.extend(_mode_change(previous, subject))
        if canonical(previous.schema) == canonical(subject.schema) or old.format != new.format:
            continue
        if subject.part == "key":
            found.append(_key_change(previous, subject, old, new))
        else:
            found.extend(_value_change(previous, subject, old, new))
    for name, subject in old.subjects.items():
        if name not in new.subjects:
            topic = new.topics.get(subject.topic)
            gone = old.topics.get(subject.topic)
            context = new.context_locs.get(gone.context if gone else "", new.project_loc)
            loc = topic.loc if topic is not None else context
            found.append(
                finding(
                    "D0104",
                    loc,
                    f"subject {name} is no longer produced",
                    hint="consumers still reading it see no new data; delete the subject "
                    "in the registry once they are gone",
                    subject=name,
                    old_loc=subject.loc,
                )
            )
    return found


def _mode_change(old: Subject, new: Subject) -> list[Finding]:
    if old.compatibility == new.compatibility:
        return []
    return [
        finding(
            "D0106",
            new.loc,
            f"compatibility of {new.name} changes from {old.compatibility} to {new.compatibility}",
            hint="`eventgen registry push` sets the new mode; a weaker mode lets later "
            "changes break readers the old mode protected",
            subject=new.name,
            old_loc=old.loc,
        )
    ]


def _key_change(old: Subject, new: Subject, old_snap: Snapshot, new_snap: Snapshot) -> Finding:
    result = compat_check(new.format, [old.schema], new.schema, "FULL")
    verdict = "readable both ways" if result.compatible else "not even readable"
    topic = new_snap.topics.get(new.topic)
    return finding(
        "D0202",
        topic.loc if topic is not None else new.loc,
        f"key schema of {new.topic} changed ({verdict}): keys serialize to other bytes, so "
        "records of one key land on other partitions and per-key ordering breaks",
        hint="keep the key type; to change it, publish to a new topic and migrate consumers",
        subject=new.name,
        old_loc=old.loc,
        details=tuple(f"{f.rule} {f.path}: {f.message}" for f in result.findings),
    )


def _value_change(
    old: Subject, new: Subject, old_snap: Snapshot, new_snap: Snapshot
) -> list[Finding]:
    mode = new.compatibility
    if mode == "NONE":
        return [
            finding(
                "D0102",
                new.loc,
                f"{new.name} changed; compatibility NONE: the registry accepts any change",
                subject=new.name,
                old_loc=old.loc,
            )
        ]
    previous = previous_versions(old, old_snap, mode)
    if _branches_compatible(old, new, old_snap, new_snap, mode):
        result = None  # the union is compatible: its changed branches are
    elif new.format == "protobuf":
        # buf's WIRE_JSON rules; old history texts compile with the new side's imports.
        previous = [with_imports(v, new.schema, new.main) for v in previous]
        result = compat_check(new.format, previous, new.schema, mode)
    else:
        result = compat_check(new.format, previous, new.schema, mode)
    if result is None or result.compatible:
        return [
            finding(
                "D0102",
                new.loc,
                f"{new.name} changed compatibly under {mode}: the registry will take it "
                "as a new version",
                subject=new.name,
                old_loc=old.loc,
            )
        ]
    found = []
    if new.format == "protobuf":
        return [_protobuf_finding(f, old, new, mode, len(previous)) for f in result.findings]
    for f in result.findings:
        explained = _explain_branch(f, old, new, old_snap, new_snap, mode)
        if explained:
            found.extend(explained)
            continue
        loc, old_loc = locate(f.path, old, new, old_snap, new_snap)
        against = ""
        if len(previous) > 1:
            against = f" (against version {f.version_index + 1} of {len(previous)})"
        found.append(
            finding(
                "D0101",
                loc,
                f"{new.name} is not {mode} compatible{against}: {f.message}",
                hint=_hint(mode),
                subject=new.name,
                old_loc=old_loc,
                details=(f"{f.rule} at {f.path or '/'} ({f.direction})",),
            )
        )
    return found


def _protobuf_finding(f: Any, old: Subject, new: Subject, mode: str, versions: int) -> Finding:
    """A protobuf rule's finding, at the subject's spec position; the .proto place in details."""
    against = f" (against version {f.version_index + 1} of {versions})" if versions > 1 else ""
    return finding(
        "D0101",
        new.loc,
        f"{new.name} is not {mode} compatible{against}: {f.message}",
        hint="keep field numbers, names, types and cardinality; removed fields and enum "
        "values must stay reserved (the field-number lock does this: never edit it by hand)",
        subject=new.name,
        old_loc=old.loc,
        details=(f"{f.rule} at {f.path} ({f.direction})",),
    )


def _branches_compatible(
    old: Subject, new: Subject, old_snap: Snapshot, new_snap: Snapshot, mode: str
) -> bool:
    """True when an Avro union subject is compatible, judged by its changed branches alone.

    Avro resolves a union branch by record full name, so with the same messages on both
    sides the union is compatible when each message whose record changed is compatible
    with its own old record (unchanged branches match themselves). Comparing standalone
    records also catches a shared named type that changed inside another branch. False
    means "not shown here": the caller checks the whole subject, so an incompatible union
    gets exactly the findings of the whole check. Transitive modes and JSON Schema `oneOf`
    always take the whole check.
    """
    if new.format != "avro" or mode.endswith("_TRANSITIVE") or len(new.messages) < 2:
        return False
    if old.messages != new.messages:
        # A branch added or removed (or a side read from a generated tree, whose subjects
        # do not list their messages): the whole check says which way it breaks.
        return False
    for qualified in new.messages:
        before, after = old_snap.messages.get(qualified), new_snap.messages.get(qualified)
        if before is None or after is None or before.record is None or after.record is None:
            return False
        if canonical(before.record) == canonical(after.record):
            continue
        if not compat_check(new.format, [before.record], after.record, mode).compatible:
            return False
    return True


def _hint(mode: str) -> str:
    if mode.startswith("BACKWARD"):
        return "give added fields a default (or make them nullable); keep removed fields' readers"
    if mode.startswith("FORWARD"):
        return "only remove fields that have a default; old readers must read new data"
    return "add or remove only fields with defaults; FULL needs both directions to read"


def _explain_branch(
    f: Any, old: Subject, new: Subject, old_snap: Snapshot, new_snap: Snapshot, mode: str
) -> list[Finding]:
    """A union branch reported as a whole: check that message's own records to say why.

    Avro-Java reports a changed record inside a union only as a missing branch; the pairwise
    check of the message's old and new record names the field and the reason.
    """
    if len(new.messages) < 2:
        return []
    trail = walk(old.schema, f.path, dict(old.names))
    if trail and trail[-1][1] is not None:
        return []
    if trail and trail[-1][0] in new.messages:
        candidates = [trail[-1][0]]
    elif f.path.strip("#/") in ("", "oneOf", "anyOf"):
        # JSON Schema reports a changed `oneOf` as a whole: look at each changed branch.
        candidates = list(new.messages)
    else:
        return []
    out: list[Finding] = []
    for qualified in candidates:
        out.extend(_explain_message(f, qualified, old, new, old_snap, new_snap, mode))
    return out


def _explain_message(
    f: Any,
    qualified: str,
    old: Subject,
    new: Subject,
    old_snap: Snapshot,
    new_snap: Snapshot,
    mode: str,
) -> list[Finding]:
    before, after = old_snap.messages.get(qualified), new_snap.messages.get(qualified)
    if before is None or after is None or before.record is None or after.record is None:
        return []
    if canonical(before.record) == canonical(after.record):
        return []
    base = mode.removesuffix("_TRANSITIVE")
    pair = compat_check(new.format, [before.record], after.record, base)
    single_old = replace(old, schema=before.record, names=(*old.names, ("", qualified)))
    single_new = replace(new, schema=after.record, names=(*new.names, ("", qualified)))
    out = []
    for g in pair.findings:
        loc, old_loc = locate(g.path, single_old, single_new, old_snap, new_snap)
        out.append(
            finding(
                "D0101",
                loc,
                f"{new.name} is not {mode} compatible: {qualified}: {g.message}",
                hint=_hint(mode),
                subject=new.name,
                old_loc=old_loc,
                details=(
                    f"{f.rule} at {f.path or '/'} ({f.direction})",
                    f"{g.rule} at {qualified}:{g.path or '/'} ({g.direction})",
                ),
            )
        )
    return out
