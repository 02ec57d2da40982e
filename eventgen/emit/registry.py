"""Which emitters run, in what order, and the check that each writes exactly what it claims."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from eventgen.emit import (
    asyncapi,
    avro,
    catalog,
    diagrams,
    jsonschema,
    layout,
    protobuf,
    python_models,
    resolved,
    services,
    topics,
)
from eventgen.emit.files import Files, GeneratedFile, project_sources
from eventgen.emit.services import example_tests
from eventgen.ir.model import Project
from eventgen.schemas import Schemas


@dataclass(frozen=True)
class Emitter:
    name: str
    kind: str  # manifest kind: python | avro | jsonschema | topics | json | ...
    emit: Callable[..., Any]  # -> Files, or path -> bytes for a file spanning the project
    per_environment: bool = False  # gets every environment's Project, not one
    shares_schemas: bool = False  # gets the build's eventgen.schemas.Schemas too
    reads_proto_lock: bool = False  # gets (project, the protobuf lock read from the output)


EMITTERS = (
    Emitter("resolved", "json", resolved.emit),
    Emitter("avro", "avro", avro.emit, shares_schemas=True),
    Emitter("jsonschema", "jsonschema", jsonschema.emit, shares_schemas=True),
    Emitter("python", "python", python_models.emit, shares_schemas=True),
    Emitter("topics", "topics", topics.emit, per_environment=True),
    Emitter("services", services.KIND, services.emit),
    Emitter("sql", services.SQL_KIND, services.emit_sql),
    Emitter("connect", services.CONNECT_KIND, services.emit_connect),
    Emitter("example_tests", example_tests.KIND, example_tests.emit),
    Emitter("docs", diagrams.KIND, diagrams.emit),
    Emitter("asyncapi", asyncapi.KIND, asyncapi.emit, shares_schemas=True),
    Emitter("protobuf", protobuf.KIND, protobuf.emit, reads_proto_lock=True),
    Emitter("protobuf_python", protobuf.PYTHON_KIND, protobuf.emit_python, reads_proto_lock=True),
    Emitter("catalog", catalog.KIND, catalog.emit, shares_schemas=True),
)


def emit_all(
    project: Project,
    by_env: Mapping[str, Project],
    schemas: Schemas | None = None,
    proto_lock: Any = None,
) -> Files:
    """All files of the pure emitters, by path, each with its kind and sources.

    The rules refused every spec whose paths meet (layout.claims), so each emitter must write
    exactly the paths it claims: anything else (a path written twice inside an emitter is
    one fewer file) is a bug in eventgen, an internal error rather than a lost file.
    """
    schemas = schemas or Schemas(project)
    claimed: dict[str, list[str]] = {}
    for claim in layout.claims(project):
        claimed.setdefault(claim.emitter, []).append(claim.path)
    files: Files = {}
    folded: dict[str, str] = {}
    for emitter in EMITTERS:
        if emitter.per_environment:
            produced = emitter.emit(by_env)
        elif emitter.reads_proto_lock:
            produced = emitter.emit(project, proto_lock)
        elif emitter.shares_schemas:
            produced = emitter.emit(project, schemas)
        else:
            produced = emitter.emit(project)
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
                raise RuntimeError(
                    f"emitters {files[other].kind} and {emitter.kind} both write {path}"
                )
            files[path] = _file(produced[path], path, emitter, project)
    return files


def _file(
    made: GeneratedFile | bytes, path: str, emitter: Emitter, project: Project
) -> GeneratedFile:
    # An emitter of one project-wide file (resolved-spec.json) may return bare bytes: such a
    # file derives from every spec file, which is what it is given here.
    if isinstance(made, GeneratedFile):
        if made.kind != emitter.kind or made.path != path:
            raise RuntimeError(f"emitter {emitter.name} mislabelled {path} as {made.kind}")
        return made
    return GeneratedFile(path, made, emitter.kind, project_sources(project))
