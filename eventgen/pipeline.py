"""The one-way pipeline: load -> structure -> IR -> rules. Emitting and writing live elsewhere."""

from __future__ import annotations

from pathlib import Path

from eventgen.diagnostics import Diagnostic, has_errors, normalize
from eventgen.ir.build.builder import build_project
from eventgen.ir.model import Project
from eventgen.rules.registry import run_checks
from eventgen.spec.project import SpecSet, load_specs


def load_project(specs_dir: Path, env: str | None = None) -> tuple[Project | None, list[Diagnostic]]:
    """Load and validate a specs directory; the Project is None when any error was found."""
    specset, found = load_specs(specs_dir, env)
    if specset.project is None or any(d.code in ("E0114",) for d in found):
        return None, normalize(found)
    project, resolved = build_project(specset, env)
    found.extend(_without_cascades(resolved, found))
    found.extend(run_checks(project))
    found = normalize(found)
    return (None if has_errors(found) else project), found


def environments(specs_dir: Path) -> tuple[str, ...]:
    """Environment names the project file declares (for per-environment outputs)."""
    specset, _ = load_specs(specs_dir, None)
    return specset.environments


def _without_cascades(resolved: list[Diagnostic], earlier: list[Diagnostic]) -> list[Diagnostic]:
    # A value the structure check already rejected is often unresolvable too: say it once.
    taken = {(d.loc.file, d.loc.line, d.loc.col) for d in earlier}
    return [d for d in resolved if (d.loc.file, d.loc.line, d.loc.col) not in taken]


__all__ = ["SpecSet", "environments", "load_project"]
