"""JSON Schema (draft 2020-12) files of messages and named types, built as dicts.

String-encoded scalars (uuid, date, time, timestamp, decimal, bytes) carry the same regexes the
runtime validates with (`eventgen.runtime.patterns`), so a document is valid against the schema
exactly when the generated model accepts it in JSON mode.
"""

from __future__ import annotations

from eventgen.canonical import dumps
from eventgen.emit import layout
from eventgen.emit.files import Files, GeneratedFile, context_sources
from eventgen.ir.model import Project, RecordType
from eventgen.schemas import Schemas

KIND = "jsonschema"


def emit(project: Project, schemas: Schemas | None = None) -> Files:
    """Every JSON Schema file of the project (the dicts come from eventgen.schemas)."""
    schemas = schemas or Schemas(project)
    files: Files = {}
    for ctx in project.contexts:
        sources = context_sources(project, ctx)
        for named in ctx.types:
            doc = schemas.json_document(named, f"{named.qualified}", ctx.files)
            path = layout.jsonschema_path(ctx.name, named.name)
            files[path] = GeneratedFile(path, dumps(doc), KIND, sources)
        for message in ctx.messages:
            for version, fields in layout.versions(message):
                record = RecordType(message.qualified, ctx.name, message.name, fields, message.doc)
                doc = schemas.json_document(record, f"{message.qualified}:v{version}", ctx.files)
                suffix = None if version == message.version else version
                path = layout.jsonschema_path(ctx.name, message.name, suffix)
                files[path] = GeneratedFile(path, dumps(doc), KIND, sources)
    return files
