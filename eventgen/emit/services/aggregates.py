"""`<package>/<context>_aggregates.py`: state models, apply, guarded deciders, repositories.

STUB: implemented by the aggregates-emitter work. `aggregates_source` returns the module's
unformatted source, a placeholder while unimplemented.
"""

from __future__ import annotations

from eventgen.ir.model import Context, Project


def aggregates_source(project: Project, ctx: Context) -> str:
    return f'"""The aggregates of context {ctx.name}: not generated yet."""\n'
