"""Load a specs directory: the project file, context files, and the `--env` overlay."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from eventgen.diagnostics import Diagnostic, Loc, error
from eventgen.spec.nodes import PMap
from eventgen.spec.structure import check_structure
from eventgen.spec.yamlload import load_yaml
from eventgen.suggest import did_you_mean

PROJECT_FILES = ("eventgen.yaml", "eventgen.yml")
DEFAULT_OUTPUT = "../generated"  # relative to the specs directory, as `output:` is


@dataclass
class SpecDoc:
    """One spec file: its path relative to the specs dir (POSIX) and its root mapping."""

    path: str
    root: PMap


@dataclass
class SpecSet:
    specs_dir: Path
    project: SpecDoc | None = None
    contexts: list[SpecDoc] = field(default_factory=list)
    environments: tuple[str, ...] = ()


def discover(specs_dir: Path) -> list[Path]:
    """Every *.yaml / *.yml below the directory, sorted, skipping hidden directories."""
    found = [
        p
        for p in specs_dir.rglob("*")
        if p.suffix in (".yaml", ".yml")
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(specs_dir).parts)
    ]
    return sorted(found, key=lambda p: p.relative_to(specs_dir).as_posix())


def read_specs(specs_dir: Path) -> tuple[SpecSet, list[Diagnostic]]:
    """Parse every spec file once; no environment applied, no structure checked."""
    found: list[Diagnostic] = []
    specset = SpecSet(specs_dir)
    for path in discover(specs_dir):
        rel = path.relative_to(specs_dir).as_posix()
        root, diagnostics = load_yaml(path.read_bytes(), rel)
        found.extend(diagnostics)
        if root is None:
            continue
        doc = SpecDoc(rel, root)
        if rel in PROJECT_FILES:
            specset.project = doc
        else:
            specset.contexts.append(doc)
    if specset.project is None:
        found.append(
            error(
                "E0112",
                Loc(PROJECT_FILES[0]),
                f"no project file `{PROJECT_FILES[0]}` at the top of {specs_dir}",
                "create it with `eventgen: 1`, `project:` and `package:`",
            )
        )
        return specset, found
    envs = specset.project.root.get("environments")
    specset.environments = tuple(sorted(envs)) if isinstance(envs, dict) else ()
    return specset, found


def check_specs(
    specset: SpecSet, memo: dict[int, list[Diagnostic]] | None = None
) -> list[Diagnostic]:
    """Structure findings for every document of a (possibly overlaid) spec set.

    `memo` (by document identity) lets several environments share the checks of the
    documents an overlay did not replace.
    """
    memo = {} if memo is None else memo
    found: list[Diagnostic] = []
    for doc in [d for d in [specset.project] if d] + specset.contexts:
        kind = "project_file" if doc is specset.project else "context_file"
        if id(doc.root) not in memo:
            memo[id(doc.root)] = check_structure(doc.root, kind)
        found.extend(memo[id(doc.root)])
    return found


def with_environment(base: SpecSet, env: str) -> tuple[SpecSet, list[Diagnostic]]:
    """A new spec set with `environments.<env>` deep-merged; `base` is left untouched."""
    assert base.project is not None
    project = base.project.root
    envs = project.get("environments")
    overlay = envs.get(env) if isinstance(envs, PMap) else None
    if not isinstance(overlay, PMap):
        hint = did_you_mean(env, base.environments) or (
            f"defined: {', '.join(base.environments)}" if base.environments else None
        )
        return base, [
            error("E0114", project.key_loc("environments"), f"unknown environment `{env}`", hint)
        ]
    result = SpecSet(base.specs_dir, base.project, list(base.contexts), base.environments)
    if isinstance(overlay.get("defaults"), PMap):
        root = merged(project, PMap.single("defaults", overlay["defaults"], overlay))
        result.project = SpecDoc(base.project.path, root)
    found: list[Diagnostic] = []
    contexts = overlay.get("contexts")
    for name, override in (contexts or {}).items() if isinstance(contexts, PMap) else ():
        indexes = [i for i, d in enumerate(result.contexts) if d.root.get("context") == name]
        if not indexes and isinstance(contexts, PMap):
            found.append(
                error(
                    "E0114",
                    contexts.key_loc(name),
                    f"environment `{env}` overrides unknown context `{name}`",
                )
            )
        elif isinstance(override, PMap):
            _merge_into_context(result, indexes, override)
    return result, found


def _merge_into_context(specset: SpecSet, indexes: list[int], override: PMap) -> None:
    """Merge each section item into the file that defines it (else the first file)."""
    for section, items in override.items():
        entries = items.items() if isinstance(items, PMap) else [(None, items)]
        for name, value in entries:
            home = next(
                (
                    i
                    for i in indexes
                    if name is not None
                    and isinstance(specset.contexts[i].root.get(section), dict)
                    and name in specset.contexts[i].root[section]
                ),
                indexes[0],
            )
            doc = specset.contexts[home]
            if name is None:
                patch = PMap.single(section, value, override)
            else:
                assert isinstance(items, PMap)
                patch = PMap.single(section, PMap.single(name, value, items), override)
            specset.contexts[home] = SpecDoc(doc.path, merged(doc.root, patch))


def merged(base: PMap, overlay: PMap) -> PMap:
    """Copy-on-write deep merge: mappings merge recursively, anything else replaces."""
    result = base.copy_shallow()
    for key, value in overlay.items():
        current = base.get(key)
        if isinstance(current, PMap) and isinstance(value, PMap):
            result.put(key, merged(current, value), base.key_loc(key), base.value_loc(key))
        else:
            result.put(
                key, value, base.key_locs.get(key, overlay.key_loc(key)), overlay.value_loc(key)
            )
    return result
