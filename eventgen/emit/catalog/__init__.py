"""The event catalog: Markdown pages under `docs/` that render on GitHub (issue 12).

- `docs/index.md` (index_page): contexts with counts, the platform flowchart, links.
- `docs/contexts/<context>.md` (context_page): every message and type with field tables,
  versions, upcasts and examples; topics with settings, producers and consumers.
- `docs/schema-history.md` (history_page): written by the history stage (eventgen/build.py),
  which alone reads the history from the output directory.

Every spec string goes through `markdown` (escaping) or `diagrams.label` (Mermaid).
"""

from __future__ import annotations

from eventgen.emit import layout
from eventgen.emit.catalog import history_doc
from eventgen.emit.catalog.context_page import context_page
from eventgen.emit.catalog.index_page import index_page
from eventgen.ir.model import Project
from eventgen.schemas import Schemas

KIND = "docs"


def emit(project: Project, schemas: Schemas) -> dict[str, bytes]:
    """Index and context pages; each names items of other contexts, so the registry gives
    them every spec file as sources. `schemas` is unused: pages read the IR only."""
    del schemas
    files = {layout.CATALOG_INDEX: index_page(project).encode()}
    for ctx in project.contexts:
        files[layout.catalog_context_path(ctx.name)] = context_page(project, ctx).encode()
    return files


def history_page(project: Project, history: dict[str, bytes]) -> bytes:
    """`docs/schema-history.md` from every file under schemas-history/ (path -> bytes)."""
    return history_doc.history_page(project, history).encode()
