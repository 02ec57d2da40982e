"""AsyncAPI 3.0 documents: one per context and one for the platform (issue 12).

Built as dicts (document.py, channels.py, messages.py) and dumped as deterministic YAML
(yamltext.py); the extension keys the importer reads back are named in names.py.
"""

from __future__ import annotations

from eventgen.emit import layout
from eventgen.emit.asyncapi.document import Parts, context_document, platform_document
from eventgen.emit.asyncapi.yamltext import Writer
from eventgen.emit.files import context_sources, project_sources
from eventgen.ir.model import Project
from eventgen.schemas import Schemas

KIND = "asyncapi"


def emit(project: Project, schemas: Schemas) -> dict[str, bytes]:
    # One Parts and one Writer for all documents: the platform document's channels,
    # operations, messages and schemas are the context documents' own dicts, written once.
    parts, writer = Parts(), Writer()
    files: dict[str, bytes] = {}
    for ctx in project.contexts:
        header = layout.header(context_sources(project, ctx))
        files[layout.asyncapi_path(ctx.name)] = writer.dump(
            context_document(project, schemas, ctx, parts), header
        )
    header = layout.header(project_sources(project))
    files[layout.ASYNCAPI_PLATFORM] = writer.dump(
        platform_document(project, schemas, parts), header
    )
    return files
