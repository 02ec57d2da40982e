"""The registry of every diagnostic code: id, severity, one-line purpose, optional check.

Codes raised while loading or resolving specs are described here too, so `eventgen rules`
lists everything a user can see. Checks over the resolved IR register with `@check`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from eventgen.diagnostics import Diagnostic, Severity
from eventgen.ir.model import Project

Check = Callable[[Project], Iterable[Diagnostic]]


@dataclass(frozen=True)
class RuleInfo:
    code: str
    severity: Severity
    purpose: str
    phase: str  # load | structure | resolve | rule | compat | kafka


CODES: dict[str, RuleInfo] = {}
CHECKS: list[tuple[str, Check]] = []


def describe(code: str, severity: str, purpose: str, phase: str) -> None:
    """Register a diagnostic code; duplicates are a programming error."""
    if code in CODES:
        raise ValueError(f"diagnostic code {code} registered twice")
    CODES[code] = RuleInfo(code, Severity(severity), purpose, phase)


def check(name: str) -> Callable[[Check], Check]:
    """Register a check over the resolved IR, run by `run_checks`."""

    def register(func: Check) -> Check:
        CHECKS.append((name, func))
        return func

    return register


def run_checks(project: Project) -> list[Diagnostic]:
    """Run every registered check, dropping warnings an item silenced with `suppress`."""
    from eventgen.rules import catalog  # noqa: F401  (registers the codes and checks)

    found: list[Diagnostic] = []
    for _name, func in CHECKS:
        found.extend(func(project))
    return found
