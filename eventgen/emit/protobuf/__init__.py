"""Protobuf: proto3 files per context and the committed field-number lock (issue 12).

`emit(project, lock)` gets the lock the build read back from the output directory
(eventgen.emit.protobuf.lock; None = no lock yet) and writes every `.proto` file and the
updated lock. `emit_python` writes the descriptor modules the runtime codec reads
(serialization: protobuf only).

Stub: being written; paths are claimed in eventgen/emit/layout.py.
"""

from __future__ import annotations

from typing import Any

from eventgen.ir.model import Project

KIND = "protobuf"
PYTHON_KIND = "python"


def emit(project: Project, lock: Any = None) -> dict[str, bytes]:
    from eventgen.emit import layout

    return {c.path: b"" for c in layout.claims(project) if c.emitter == "protobuf"}


def emit_python(project: Project, lock: Any = None) -> dict[str, bytes]:
    from eventgen.emit import layout

    return {c.path: b"" for c in layout.claims(project) if c.emitter == "protobuf_python"}
