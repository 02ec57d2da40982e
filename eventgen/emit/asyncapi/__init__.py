"""AsyncAPI 3.0 documents: one per context and one for the platform (issue 12).

Stub: the emitter is being written; it claims its paths in eventgen/emit/layout.py.
"""

from __future__ import annotations

from eventgen.ir.model import Project
from eventgen.schemas import Schemas

KIND = "asyncapi"


def emit(project: Project, schemas: Schemas) -> dict[str, bytes]:
    from eventgen.emit import layout

    return {c.path: b"" for c in layout.claims(project) if c.emitter == "asyncapi"}
