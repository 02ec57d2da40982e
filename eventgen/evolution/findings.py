"""Diff findings as data, and the registry of every diff rule (listed by `eventgen rules`)."""

from __future__ import annotations

from typing import Literal, cast

from eventgen.diagnostics import Diagnostic, Loc, Severity

Level = Literal["breaking", "warning", "info"]
LEVELS: tuple[Level, ...] = ("breaking", "warning", "info")

# (id, severity, purpose). Ids are stable: CI configs and docs refer to them.
DIFF_RULES: tuple[tuple[str, Level, str], ...] = (
    ("D0101", "breaking", "subject schema incompatible under the subject's compatibility mode"),
    ("D0102", "info", "subject schema changed compatibly: a new version will be registered"),
    ("D0103", "info", "new subject"),
    ("D0104", "warning", "subject no longer produced (its topic or last message went away)"),
    ("D0105", "breaking", "serialization format changed (avro <-> json)"),
    ("D0106", "warning", "subject compatibility mode changed"),
    ("D0201", "breaking", "partition key path of a message changed (per-key ordering broken)"),
    ("D0202", "breaking", "key schema changed (key bytes, and so partitions, change)"),
    ("D0301", "breaking", "partition count changed (keys map to other partitions)"),
    ("D0302", "breaking", "cleanup policy changed"),
    ("D0303", "breaking", "retention shrunk (time or size)"),
    ("D0304", "warning", "topic removed"),
    ("D0401", "breaking", "message moved to another topic"),
    ("D0402", "breaking", "removed message was still handled by a consumer"),
    ("D0403", "warning", "message removed"),
    ("D0404", "breaking", "version bumped without an upcaster that reproduces the old version"),
    ("D0405", "breaking", "incompatible change without a version bump"),
    ("D0406", "breaking", "message version went down"),
    ("D0407", "info", "message added"),
    ("D0408", "breaking", "validation constraints tightened (generated consumers reject old data)"),
)
SEVERITY: dict[str, Level] = {rule: level for rule, level, _ in DIFF_RULES}


# A diff finding is the one finding type: `code` is the rule id, `severity` its level,
# `loc` the NEW spec position and `old_loc` where it was at the old ref.
Finding = Diagnostic


def sort_key(f: Finding) -> tuple[int, str, int, int, str, str]:
    return (
        LEVELS.index(cast(Level, f.severity.value)),
        f.loc.file,
        f.loc.line,
        f.loc.col,
        f.code,
        f.message,
    )


def finding(
    rule: str,
    loc: Loc,
    message: str,
    *,
    hint: str | None = None,
    subject: str | None = None,
    old_loc: Loc | None = None,
    details: tuple[str, ...] = (),
) -> Finding:
    """A Finding for a registered rule (an unknown id is a programming error)."""
    if rule not in SEVERITY:
        raise KeyError(f"unregistered diff rule {rule}")
    return Diagnostic(
        rule,
        Severity(SEVERITY[rule]),
        loc,
        message,
        hint,
        subject=subject,
        old_loc=old_loc,
        details=details,
    )


def normalize(found: list[Finding]) -> list[Finding]:
    """Sorted (breaking first, then by position) and de-duplicated."""
    return sorted(set(found), key=sort_key)
