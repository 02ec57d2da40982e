"""Records nested in records deeper than the generator supports (E0514).

Emitters, the other rules and pydantic walk types recursively, one or more frames per level;
a chain of a few hundred records (T0 holds T1 holds T2 ...) made `build` crash with a
RecursionError while `validate` said ok. This check runs on its own, iteratively, before the
other rules: when it fires, nothing recursive runs on the project.
"""

from __future__ import annotations

from collections.abc import Iterator

from eventgen.diagnostics import Diagnostic, Loc, error
from eventgen.ir.model import Field, ListOf, MapOf, Named, Project, RecordType, TypeRef
from eventgen.ir.types import MAX_NESTING
from eventgen.rules.registry import Rule, declare


def _wrappers_and_name(ref: TypeRef) -> tuple[int, str | None]:
    depth = 0
    while isinstance(ref, (ListOf, MapOf)):
        depth, ref = depth + 1, ref.item
    return depth, ref.name if isinstance(ref, Named) else None


def record_depths(project: Project) -> dict[str, int]:
    """Nesting depth of every record: 1 + its deepest field (lists and maps count a level).

    An explicit stack, so depth itself cannot overflow Python's; a cycle (already E0507) is
    cut where it closes.
    """
    records = {t.qualified: t for t in project.all_types() if isinstance(t, RecordType)}
    depths: dict[str, int] = {}
    on_stack: set[str] = set()
    for root in records:
        if root in depths:
            continue
        stack: list[tuple[str, bool]] = [(root, False)]
        while stack:
            name, expanded = stack.pop()
            if expanded:
                on_stack.discard(name)
                depths[name] = 1 + _deepest_field(records[name].fields, depths)
                continue
            if name in depths or name in on_stack:
                continue
            on_stack.add(name)
            stack.append((name, True))
            for fld in records[name].fields:
                _, inner = _wrappers_and_name(fld.type)
                if inner in records and inner not in depths and inner not in on_stack:
                    stack.append((inner, False))
    return depths


def check_nesting(project: Project) -> Iterator[Diagnostic]:
    """Messages, and the outermost records, whose types nest deeper than MAX_NESTING levels.

    A chain is reported at its top, not at each of its hundreds of members.
    """
    depths = record_depths(project)
    records = [t for t in project.all_types() if isinstance(t, RecordType)]
    too_deep = {r.qualified for r in records if depths.get(r.qualified, 0) > MAX_NESTING}
    held = {
        inner
        for r in records
        if r.qualified in too_deep
        for fld in r.fields
        if (inner := _wrappers_and_name(fld.type)[1]) is not None
    }
    for record in records:
        if record.qualified in too_deep and record.qualified not in held:
            yield _too_deep("type", record.name, depths[record.qualified], record.loc)
    for message in project.all_messages():
        depth = 1 + _deepest_field(message.fields, depths)
        if depth > MAX_NESTING:
            yield _too_deep(message.kind, message.name, depth, message.loc)


def _deepest_field(fields: tuple[Field, ...], depths: dict[str, int]) -> int:
    """The deepest of `fields`: its list/map levels plus the depth of the record inside."""
    deepest = 0
    for fld in fields:
        wrappers, inner = _wrappers_and_name(fld.type)
        deepest = max(deepest, wrappers + depths.get(inner or "", 0))
    return deepest


def _too_deep(kind: str, name: str, depth: int, loc: Loc) -> Diagnostic:
    return error(
        "E0514",
        loc,
        f"{kind} `{name}` nests records {depth} levels deep; at most {MAX_NESTING} are supported",
        "flatten the chain of nested types",
    )


# Run by eventgen.pipeline ahead of the other rules (they recurse), so no check here.
RULES: tuple[Rule, ...] = (
    declare(
        "E0514",
        "error",
        "resolve",
        f"records nested deeper than {MAX_NESTING} levels",
    ),
)
