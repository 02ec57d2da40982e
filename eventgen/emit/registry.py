"""Which emitters run, what kind of file each makes, and which spec files each file comes from."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from eventgen.emit import avro, jsonschema, layout, python_models, resolved, topics
from eventgen.evolution import history
from eventgen.ir import naming
from eventgen.ir.model import Project

FileMap = dict[str, bytes]


@dataclass(frozen=True)
class Emitter:
    name: str
    kind: str  # manifest kind: python | avro | jsonschema | topics | json | ...
    emit: Callable[..., FileMap]
    per_environment: bool = False  # gets every environment's Project, not one


EMITTERS = (
    Emitter("resolved", "json", resolved.emit),
    Emitter("avro", "avro", avro.emit),
    Emitter("jsonschema", "jsonschema", jsonschema.emit),
    Emitter("python", "python", python_models.emit),
    Emitter("topics", "topics", topics.emit, per_environment=True),
)


def emit_all(project: Project, by_env: Mapping[str, Project]) -> tuple[FileMap, dict[str, str]]:
    """All files and their kinds.

    The rules refused every spec whose paths meet (layout.claims), so each emitter must write
    exactly the paths it claims: anything else (a path written twice inside an emitter is
    one fewer file) is a bug in eventgen, an internal error rather than a lost file.
    """
    claimed: dict[str, list[str]] = {}
    for claim in layout.claims(project):
        claimed.setdefault(claim.emitter, []).append(claim.path)
    files: FileMap = {}
    kinds: dict[str, str] = {}
    folded: dict[str, str] = {}
    for emitter in EMITTERS:
        produced = emitter.emit(by_env) if emitter.per_environment else emitter.emit(project)
        expected = sorted(claimed.get(emitter.name, ()))
        if sorted(produced) != expected:
            extra = sorted(set(produced) - set(expected))[:5]
            missing = sorted(set(expected) - set(produced))[:5]
            raise RuntimeError(
                f"emitter {emitter.name} wrote {len(produced)} files for {len(expected)} claimed "
                f"paths (unclaimed: {extra}, not written or written twice: {missing})"
            )
        for path in sorted(produced):
            other = folded.setdefault(path.casefold(), path)
            if path in files or other != path:
                raise RuntimeError(f"emitters {kinds[other]} and {emitter.kind} both write {path}")
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
    previous = history.read(out)
    files: FileMap = history.emit(project, previous)
    return files, {path: "schema-history" for path in files}
