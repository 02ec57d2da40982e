"""`docs/sagas/<Saga>.md` and `docs/choreographies/<Choreography>.md`: Mermaid diagrams.

Placeholder until the diagram emitter lands: one heading per claimed file.
"""

from __future__ import annotations

from eventgen.emit import layout
from eventgen.emit.files import Files, GeneratedFile, context_sources
from eventgen.ir.model import Project

KIND = "docs"


def emit(project: Project) -> Files:
    files: Files = {}
    for ctx in project.contexts:
        for saga in ctx.sagas:
            path = layout.saga_doc_path(saga.name)
            files[path] = GeneratedFile(
                path, f"# {saga.name}\n".encode(), KIND, context_sources(project, ctx)
            )
        for ch in ctx.choreographies:
            path = layout.choreography_doc_path(ch.name)
            files[path] = GeneratedFile(
                path, f"# {ch.name}\n".encode(), KIND, context_sources(project, ctx)
            )
    return files
