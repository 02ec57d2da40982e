"""`<package>/<context>_sagas.py` (placeholder until its emitter lands)."""

from __future__ import annotations

from eventgen.emit import layout
from eventgen.ir.model import Context, Project


def sagas_source(project: Project, ctx: Context) -> str:
    header = "# " + layout.header(project.spec_files).replace("\n", "\n# ")
    return f'{header}\n"""Placeholder: the sagas of context {ctx.name!r} are not generated yet."""\n'
