"""The one-way pipeline: load -> structure -> IR -> rules. Emitting and writing live elsewhere."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from eventgen.diagnostics import Diagnostic, has_errors, normalize
from eventgen.ir.model import Project
from eventgen.ir.resolve.builder import add_consumer_dlqs, build_project
from eventgen.rules.catalog import RULES
from eventgen.rules.checks_depth import check_nesting
from eventgen.rules.registry import run_checks
from eventgen.rules.suppress import apply_suppressions
from eventgen.spec.nodes import PMap
from eventgen.spec.project import SpecDoc, SpecSet, check_specs, read_specs, with_environment


def load_project(
    specs_dir: Path, env: str | None = None
) -> tuple[Project | None, list[Diagnostic]]:
    """Load and validate a specs directory; the Project is None when any error was found."""
    base, found = read_specs(specs_dir)
    if base.project is None:
        return None, _finish(base, found)
    project, more = _resolve(base, env)
    found = _finish(base, found + more)
    return (None if has_errors(found) else project), found


def load_project_envs(
    specs_dir: Path, env: str | None = None
) -> tuple[Project | None, dict[str, Project], list[Diagnostic]]:
    """The selected Project plus one per declared environment (`default` = no overlay).

    YAML is parsed once; each environment is an overlay on the same documents.
    """
    base, found = read_specs(specs_dir)
    if base.project is None:
        return None, {}, _finish(base, found)
    memo: dict[int, list[Diagnostic]] = {}
    project, more = _resolve(base, env, memo)
    found = _finish(base, found + more)
    if project is None or has_errors(found):
        return None, {}, found
    by_env: dict[str, Project] = {}
    for name in (None, *base.environments):
        key = name or DEFAULT_ENV
        if name == env:
            by_env[key] = project
            continue
        if env is None and name is not None and _empty_overlay(base, name):
            # An environment that overrides nothing resolves to the base project.
            by_env[key] = replace(project, environment=name)
            continue
        other: Project | None = None
        other_found: list[Diagnostic] = []
        if env is None and name is not None and _topics_only(base, name):
            other, other_found = _resolve_topics(base, project, name, memo)
        if other is None:
            other, other_found = _resolve(base, name, memo)
        if other is None or has_errors(other_found):
            found = normalize(found + [d for d in other_found if d.severity.value == "error"])
            return None, {}, found
        by_env[key] = other
    return project, by_env, found


DEFAULT_ENV = "default"


def _finish(base: SpecSet, found: list[Diagnostic]) -> list[Diagnostic]:
    # The one place `suppress:` applies: every phase's warnings pass here, once.
    return normalize(apply_suppressions(found, base))


def _empty_overlay(base: SpecSet, name: str) -> bool:
    assert base.project is not None
    envs = base.project.root.get("environments")
    return isinstance(envs, dict) and envs.get(name) in ({}, None)


def _topics_only(base: SpecSet, name: str) -> bool:
    """An overlay that can change topics and nothing else: `defaults.topic` and `topics:`
    sections of contexts. Everything else (serialization, delivery, messages...) may change
    any part of the IR, so such an overlay is resolved in full."""
    assert base.project is not None
    envs = base.project.root.get("environments")
    overlay = envs.get(name) if isinstance(envs, dict) else None
    if not isinstance(overlay, dict) or not set(overlay) <= {"defaults", "contexts"}:
        return False
    defaults, contexts = overlay.get("defaults", {}), overlay.get("contexts", {})
    return (
        isinstance(defaults, dict)
        and set(defaults) <= {"topic"}
        and isinstance(contexts, dict)
        and all(isinstance(o, dict) and set(o) <= {"topics"} for o in contexts.values())
    )


# What a topic's resolution reads from a context file: its name, topics, and the types a
# topic key may name.
_TOPIC_SECTIONS = ("context", "topics", "types")


def _resolve_topics(
    base: SpecSet, project: Project, name: str, memo: dict[int, list[Diagnostic]]
) -> tuple[Project | None, list[Diagnostic]]:
    """Environment `name` as the base project with its own topics (None: resolve in full).

    Only the topics are resolved again, from the overlaid documents cut down to their topic
    sections; messages, consumers and the rest are the base project's, which the overlay
    cannot change (_topics_only). DLQs that consumers ask for are added as the resolver
    does. Any error sends the environment through the full resolution, so its findings are
    exactly what they were.
    """
    specset, found = with_environment(base, name)
    found = found + check_specs(specset, memo)
    if has_errors(found):
        return None, []
    cut = SpecSet(
        specset.specs_dir,
        specset.project,
        [SpecDoc(d.path, _cut(d.root)) for d in specset.contexts],
        specset.environments,
    )
    topics_only, resolved = build_project(cut, name)
    if has_errors(resolved):
        return None, []
    own = {c.name: c.topics for c in topics_only.contexts}
    contexts = add_consumer_dlqs([replace(c, topics=own.get(c.name, ())) for c in project.contexts])
    other = replace(topics_only, contexts=tuple(contexts))
    return other, found + run_checks(other, RULES)


def _cut(root: PMap) -> PMap:
    cut = PMap(root.loc)
    for key in _TOPIC_SECTIONS:
        if key in root:
            cut.put(key, root[key], root.key_loc(key), root.value_loc(key))
    return cut


def _resolve(
    base: SpecSet, env: str | None, memo: dict[int, list[Diagnostic]] | None = None
) -> tuple[Project | None, list[Diagnostic]]:
    specset, found = (base, []) if env is None else with_environment(base, env)
    if any(d.code == "E0114" for d in found):
        return None, found
    found = found + check_specs(specset, memo)
    malformed = has_errors(found)
    project, resolved = build_project(specset, env)
    found.extend(_without_cascades(resolved, found))
    # Checks over the IR assume well-formed input; on malformed specs they would mostly
    # repeat what the structure check said, so they run once the structure is clean.
    if not malformed:
        # The other checks (and the emitters) walk types recursively: a project nested
        # deeper than they support stops here, with its E0514s.
        too_deep = list(check_nesting(project))
        found.extend(too_deep)
        if not too_deep:
            found.extend(run_checks(project, RULES))
    return project, found


def _without_cascades(resolved: list[Diagnostic], earlier: list[Diagnostic]) -> list[Diagnostic]:
    # A value the structure check already rejected is often unresolvable too: say it once.
    taken = {(d.loc.file, d.loc.line, d.loc.col) for d in earlier}
    return [d for d in resolved if (d.loc.file, d.loc.line, d.loc.col) not in taken]


__all__ = ["DEFAULT_ENV", "SpecSet", "load_project", "load_project_envs"]
