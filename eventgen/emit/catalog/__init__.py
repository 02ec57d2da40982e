"""The event catalog: Markdown pages under `docs/` that render on GitHub (issue 12).

Stub: being written; paths are claimed in eventgen/emit/layout.py. `history_page` renders
`docs/schema-history.md` from the full schema history (the history stage calls it, since
the history is read from the output directory).
"""

from __future__ import annotations

from eventgen.ir.model import Project
from eventgen.schemas import Schemas

KIND = "docs"


def emit(project: Project, schemas: Schemas) -> dict[str, bytes]:
    from eventgen.emit import layout

    return {c.path: b"" for c in layout.claims(project) if c.emitter == "catalog"}


def history_page(project: Project, history: dict[str, bytes]) -> bytes:
    """`docs/schema-history.md` from every file under schemas-history/ (path -> bytes)."""
    return b"# Schema history\n"
