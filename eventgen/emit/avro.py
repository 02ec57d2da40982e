"""Avro schemas (.avsc) of messages, named types and topic keys.

The dicts come from eventgen.schemas (built once per build and shared with the Python schema
modules and the history); this module only lays them out as files.
.avsc files carry no provenance header: an extra top-level attribute would travel into the
Schema Registry with every registration, and the manifest already names each file's sources.
"""

from __future__ import annotations

from eventgen.canonical import dumps
from eventgen.emit import layout
from eventgen.emit.files import Files, GeneratedFile, context_sources, project_sources
from eventgen.ir.model import Project
from eventgen.schemas import Schemas

KIND = "avro"


def emit(project: Project, schemas: Schemas | None = None) -> Files:
    """Every .avsc file of the project."""
    schemas = schemas or Schemas(project)
    files: Files = {}

    def add(path: str, schema: object, sources: tuple[str, ...]) -> None:
        files[path] = GeneratedFile(path, dumps(schema), KIND, sources)

    for ctx in project.contexts:
        sources = context_sources(project, ctx)
        for named in ctx.types:
            add(layout.avro_path(ctx.name, named.name), schemas.avro_type(named), sources)
        for message in ctx.messages:
            for version, _ in layout.versions(message):
                suffix = None if version == message.version else version
                path = layout.avro_path(ctx.name, message.name, suffix)
                add(path, schemas.avro_record(message, version), sources)
    for topic in project.all_topics():
        if topic.key_type is not None:
            # A key may be a type of any context: the key file spans the project.
            add(
                layout.key_schema_path(topic),
                schemas.avro_key_document(topic),
                project_sources(project),
            )
    return files
