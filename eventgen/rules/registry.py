"""Rules as data: one record per diagnostic code, and the runner of their checks.

A Rule says what a code means (severity, one-line purpose, the phase that reports it) and,
for codes found over the resolved IR, which check reports it. Codes raised while loading or
resolving have no check: the loader and resolver report them. The full, ordered ruleset is
composed explicitly in eventgen.rules.catalog; nothing registers itself on import.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from eventgen.diagnostics import Diagnostic, Severity
from eventgen.ir.model import Project

Check = Callable[[Project], Iterable[Diagnostic]]
Phase = Literal["load", "structure", "resolve", "rule", "kafka"]
PHASES: tuple[Phase, ...] = ("load", "structure", "resolve", "rule", "kafka")


@dataclass(frozen=True)
class Rule:
    """One diagnostic code: what it means, when it is found, and the check that finds it."""

    code: str
    severity: Severity
    purpose: str
    phase: Phase
    # A check usually reports several codes, so several rules share one; it runs once.
    check: Check | None = None


def declare(
    code: str, severity: str, phase: Phase, purpose: str, check: Check | None = None
) -> Rule:
    """A Rule from the literal table form `(code, severity, phase, purpose)`."""
    return Rule(code, Severity(severity), purpose, phase, check)


def checks_of(rules: Sequence[Rule]) -> tuple[Check, ...]:
    """Every distinct check of `rules`, in the order the rules list them."""
    seen: dict[int, Check] = {}
    for r in rules:
        if r.check is not None and id(r.check) not in seen:
            seen[id(r.check)] = r.check
    return tuple(seen.values())


def validate_ruleset(rules: Sequence[Rule]) -> tuple[Rule, ...]:
    """`rules` as a tuple, refusing duplicates and mismatched severities (programming errors)."""
    codes: set[str] = set()
    for r in rules:
        if r.code in codes:
            raise ValueError(f"diagnostic code {r.code} listed twice")
        codes.add(r.code)
        letter = "W" if r.severity is Severity.WARNING else "E"
        if r.code[:1] != letter:
            raise ValueError(f"diagnostic code {r.code} is a {r.severity.value}")
    return tuple(rules)


def run_checks(project: Project, rules: Sequence[Rule]) -> list[Diagnostic]:
    """Run each check of `rules` once over the resolved IR (suppression is the caller's)."""
    found: list[Diagnostic] = []
    for func in checks_of(rules):
        found.extend(func(project))
    return found
