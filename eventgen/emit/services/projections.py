"""`<package>/<context>_projections.py`: row models, projectors and queries of one context.

STUB: implemented by the projections-emitter work. `projections_source` returns the module's
unformatted source, a placeholder while unimplemented; `projection_sql` the read-model DDL files.
"""

from __future__ import annotations

from eventgen.ir.model import Context, Project


def projections_source(project: Project, ctx: Context) -> str:
    return f'"""The projections of context {ctx.name}: not generated yet."""\n'


def projection_sql(project: Project, ctx: Context) -> dict[str, str]:
    """{generated path: DDL text} of the context's read-model tables, both dialects."""
    return {}
