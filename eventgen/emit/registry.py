"""Which emitters run, what kind of file each makes, and which spec files each file comes from."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from eventgen.ir import naming
from eventgen.ir.model import Project

FileMap = dict[str, bytes]


@dataclass(frozen=True)
class Emitter:
    name: str
    kind: str  # manifest kind: python | avro | jsonschema | topics | json | ...
    module: str
    per_environment: bool = False  # gets every environment's Project, not one


EMITTERS = (
    Emitter("resolved", "json", "eventgen.emit.resolved"),
    Emitter("avro", "avro", "eventgen.emit.avro"),
    Emitter("jsonschema", "jsonschema", "eventgen.emit.jsonschema"),
    Emitter("python", "python", "eventgen.emit.python_models"),
    Emitter("topics", "topics", "eventgen.emit.topics", per_environment=True),
)


def available() -> list[tuple[Emitter, Callable[..., FileMap]]]:
    """Emitters whose module is present (later issues add modules; none are optional at release)."""
    found = []
    for emitter in EMITTERS:
        try:
            module = importlib.import_module(emitter.module)
        except ModuleNotFoundError as exc:
            if exc.name != emitter.module:
                raise
            continue
        found.append((emitter, module.emit))
    return found


def emit_all(project: Project, by_env: Mapping[str, Project]) -> tuple[FileMap, dict[str, str]]:
    """All files and their kinds; two emitters claiming one path is a bug."""
    files: FileMap = {}
    kinds: dict[str, str] = {}
    for emitter, func in available():
        produced = func(by_env) if emitter.per_environment else func(project)
        for path in sorted(produced):
            if path in files:
                raise RuntimeError(f"emitters {kinds[path]} and {emitter.kind} both write {path}")
            files[path] = produced[path]
            kinds[path] = emitter.kind
    return files, kinds


def sources_of(path: str, project: Project) -> list[str]:
    """Spec files a generated file derives from: its context's files plus the project file.

    Emitters lay files out by context (a path segment or module named after it); files that
    span contexts derive from every spec file.
    """
    stem_parts = {p.rsplit(".", 1)[0] for p in path.split("/")}
    project_file = [f for f in project.spec_files if f.startswith("eventgen.y")]
    for ctx in project.contexts:
        if ctx.name in stem_parts or naming.py_module(ctx.name) in stem_parts:
            return sorted(set(ctx.files) | set(project_file))
    return list(project.spec_files)


def emit_history(project: Project, out: Path) -> tuple[FileMap, dict[str, str]]:
    """The schema history: the one output that depends on what is already on disk.

    `eventgen.evolution.history.emit(project, previous)` gets the history files already in
    the output directory and returns all of them plus any new version; old versions are
    returned unchanged, so the writer never rewrites or removes them.
    """
    try:
        history = importlib.import_module("eventgen.evolution.history")
    except ModuleNotFoundError as exc:
        if exc.name not in ("eventgen.evolution", "eventgen.evolution.history"):
            raise
        return {}, {}
    previous = history.read(out)
    files: FileMap = history.emit(project, previous)
    return files, {path: "schema-history" for path in files}
