"""What an emitter returns: each file with its manifest kind and the spec files it comes from."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from eventgen.ir.model import Context, Project


@dataclass(frozen=True)
class GeneratedFile:
    """One output file. `sources` are spec files relative to the specs folder, as the
    manifest lists them; the emitter knows them from the IR item it renders."""

    path: str
    data: bytes
    kind: str  # manifest kind: python | avro | jsonschema | topics | json | schema-history
    sources: tuple[str, ...]


Files = dict[str, GeneratedFile]  # by path


def project_sources(project: Project) -> tuple[str, ...]:
    """A file that spans the project derives from every spec file."""
    return tuple(project.spec_files)


def context_sources(project: Project, ctx: Context) -> tuple[str, ...]:
    """A file of one context derives from that context's files and the project file
    (which holds the defaults every context inherits)."""
    project_file = {f for f in project.spec_files if f.startswith("eventgen.y")}
    return tuple(sorted(set(ctx.files) | project_file))


def files_of(items: Iterable[GeneratedFile]) -> Files:
    return {f.path: f for f in items}
