"""Protobuf: proto3 files per context and the committed field-number lock (issue 12).

`emit(project, lock)` gets the lock the build read back from the output directory
(eventgen.emit.protobuf.lock; None = no lock yet) and writes every `.proto` file and the
updated lock. `emit_python` writes the descriptor modules the runtime codec reads
(serialization: protobuf only).

Paths are claimed in eventgen/emit/layout.py; the mapping is in mapping.py, numbering in
plan.py, the lock format in lock.py.
"""

from __future__ import annotations

from typing import Any

from eventgen.emit.files import Files
from eventgen.ir.model import Project

KIND = "protobuf"
PYTHON_KIND = "python"


def emit(project: Project, lock: Any = None) -> dict[str, bytes]:
    """Every context's `.proto` file (whatever the serialization) and the updated lock."""
    from eventgen.emit import layout
    from eventgen.emit.protobuf.lock import Lock
    from eventgen.emit.protobuf.plan import files_and_lock
    from eventgen.emit.protobuf.render import render_proto

    files, numbered = files_and_lock(project, lock if isinstance(lock, Lock) else None)
    out = {f.path: render_proto(f).encode() for f in files.values()}
    out[layout.PROTO_LOCK] = numbered.dumps()
    return out


def emit_python(project: Project, lock: Any = None) -> Files:
    """`<package>/_proto/<ctx>.py` per context (serialization: protobuf only), formatted."""
    from eventgen.emit import layout

    if not layout.uses_protobuf(project):
        return {}  # before the imports: descriptor_pb2 loads only for protobuf builds
    from eventgen.emit.files import GeneratedFile, context_sources, project_sources
    from eventgen.emit.format import format_sources
    from eventgen.emit.protobuf.lock import Lock
    from eventgen.emit.protobuf.plan import proto_files
    from eventgen.emit.protobuf.python import init_source, module_source

    files = proto_files(project, lock if isinstance(lock, Lock) else None)
    sources = {layout.proto_init_path(project): init_source(project)}
    origin = {layout.proto_init_path(project): project_sources(project)}
    for ctx in project.contexts:
        path = layout.proto_module_path(project, ctx.name)
        origin[path] = context_sources(project, ctx)
        sources[path] = module_source(project, files[ctx.name], origin[path])
    formatted = format_sources(sources)
    return {
        path: GeneratedFile(path, text.encode(), PYTHON_KIND, origin[path])
        for path, text in formatted.items()
    }
