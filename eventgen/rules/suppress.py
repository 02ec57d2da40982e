"""`suppress: [Wxxxx]` on a message or consumer, applied once to every warning whatever found it.

An item silences a warning that lies inside its own YAML mapping: the span runs from the
item's name to the last position anything inside it was read from. Working on positions,
not on the checks' knowledge of which item a warning is about, is what lets one filter serve
the loader, the structure check, the resolver and the rules alike. Errors are never silenced.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from eventgen.diagnostics import Diagnostic, Loc, Severity
from eventgen.spec.nodes import PList, PMap
from eventgen.spec.project import SpecSet

# Sections whose items take `suppress:` (the published schema allows it there and only there).
SUPPRESSIBLE_SECTIONS = ("events", "commands", "queries", "consumers")


@dataclass(frozen=True)
class Silence:
    """Warnings `codes` are silenced from `start` to `end` (inclusive) in `file`."""

    file: str
    start: tuple[int, int]
    end: tuple[int, int]
    codes: frozenset[str]

    def covers(self, d: Diagnostic) -> bool:
        at = (d.loc.line, d.loc.col)
        return d.code in self.codes and d.loc.file == self.file and self.start <= at <= self.end


def _locs(node: Any) -> Iterator[Loc]:
    # An explicit stack: a deeply nested message must not hit the recursion limit.
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, PMap):
            yield item.loc
            yield from item.key_locs.values()
            yield from item.value_locs.values()
            stack.extend(item.values())
        elif isinstance(item, PList):
            yield item.loc
            yield from item.item_locs
            stack.extend(item)


def silences(specset: SpecSet) -> tuple[Silence, ...]:
    """Every message's and consumer's `suppress:` list with the span it applies to."""
    found: list[Silence] = []
    for doc in specset.contexts:
        for section in SUPPRESSIBLE_SECTIONS:
            messages = doc.root.get(section)
            if not isinstance(messages, PMap):
                continue
            for name, node in messages.items():
                codes = node.get("suppress") if isinstance(node, PMap) else None
                if not isinstance(codes, list):
                    continue
                start = messages.key_loc(name)
                at = (start.line, start.col)
                end = max(
                    ((loc.line, loc.col) for loc in _locs(node) if loc.file == start.file),
                    default=at,
                )
                words = frozenset(c for c in codes if isinstance(c, str))
                found.append(Silence(start.file, at, end, words))
    return tuple(found)


def apply_suppressions(found: Iterable[Diagnostic], specset: SpecSet) -> list[Diagnostic]:
    """`found` without the warnings a message or consumer silenced."""
    rules = silences(specset)
    if not rules:
        return list(found)
    return [
        d
        for d in found
        if d.severity is not Severity.WARNING or not any(s.covers(d) for s in rules)
    ]
