"""Emitters of the generated services: app modules, upcasters, SQL DDL, connector configs.

- `emit`: `<package>/<context>_app.py` for every context with consumers, an outbox, aggregates
  or projections (services/apps.py), `<package>/<context>_aggregates.py` (services/aggregates.py)
  and `<package>/<context>_projections.py` (services/projections.py), and `<package>/_upcast/<context>.py` for every context whose messages
  have upcasters (services/upcasters.py), formatted like the models (kind `python`);
- `emit_sql`: `sql/<context>/<table>.<dialect>.sql` from the runtime's own DDL
  (`eventgen.runtime.sql.table_ddl`), so the files and `ensure_schema` never disagree;
- `emit_connect`: `connect/<context>-outbox.json` for `relay: debezium`
  (eventgen.emit.connect builds the config).

Paths come from layout.py, which also claims them (layout.claims).
"""

from __future__ import annotations

from eventgen.canonical import dumps
from eventgen.emit import layout
from eventgen.emit.files import Files, GeneratedFile, context_sources, project_sources
from eventgen.emit.format import format_sources
from eventgen.emit.pymodels.literals import py_comment, py_docstring
from eventgen.emit.pymodels.render import environment
from eventgen.emit.services.aggregates import aggregates_source
from eventgen.emit.services.apps import app_module_view
from eventgen.emit.services.projections import projection_sql, projections_source
from eventgen.emit.services.reactions import reactions_source
from eventgen.emit.services.sagas import sagas_source
from eventgen.emit.services.upcasters import upcast_view
from eventgen.ir.model import Project

KIND = "python"
SQL_KIND = "sql"
CONNECT_KIND = "connect"


def emit(project: Project) -> Files:
    env = environment()
    sources: dict[str, str] = {}
    origin: dict[str, tuple[str, ...]] = {}
    if any(layout.has_upcasts(ctx) for ctx in project.contexts):
        init = layout.upcast_init_path(project)
        sources[init] = env.get_template("package.py.jinja").render(
            header=py_comment(layout.header(project.spec_files)),
            docstring=py_docstring(
                "Upcasters by context; eventgen.runtime imports them when it decodes an older "
                "version."
            ),
            require=None,
        )
        origin[init] = project_sources(project)
    for ctx in project.contexts:
        if layout.has_upcasts(ctx):
            path = layout.upcast_module_path(project, ctx.name)
            view = upcast_view(project, ctx)
            sources[path] = env.get_template("upcast.py.jinja").render(view=view)
            origin[path] = context_sources(project, ctx)
        if layout.has_services(ctx):
            path = layout.app_module_path(project, ctx.name)
            module = app_module_view(project, ctx)
            sources[path] = env.get_template("app.py.jinja").render(module=module)
            origin[path] = tuple(module.sources)
        if layout.has_aggregates(ctx):
            path = layout.aggregates_module_path(project, ctx.name)
            sources[path] = aggregates_source(project, ctx)
            origin[path] = tuple(module.sources)
        if layout.has_projections(ctx):
            path = layout.projections_module_path(project, ctx.name)
            sources[path] = projections_source(project, ctx)
            origin[path] = tuple(module.sources)
        if layout.has_sagas(ctx):
            path = layout.sagas_module_path(project, ctx.name)
            sources[path] = sagas_source(project, ctx)
            origin[path] = tuple(module.sources)
        if layout.has_reactions(project, ctx):
            path = layout.reactions_module_path(project, ctx.name)
            sources[path] = reactions_source(project, ctx)
            origin[path] = tuple(module.sources)
    formatted = format_sources(sources)
    return {
        path: GeneratedFile(path, text.encode(), KIND, origin[path])
        for path, text in formatted.items()
    }


def emit_sql(project: Project) -> Files:
    from eventgen.runtime.sql import table_ddl

    files: Files = {}
    for ctx in project.contexts:
        if not layout.has_services(ctx):
            continue
        for dialect, kind, table in layout.service_tables(ctx):
            path = layout.sql_path(ctx.name, table, dialect)
            head = "-- " + layout.header(ctx.files) + "\n"
            text = head + table_ddl(dialect, kind, table)
            if not text.endswith("\n"):
                text += "\n"
            files[path] = GeneratedFile(
                path, text.encode(), SQL_KIND, context_sources(project, ctx)
            )
        for path, ddl in projection_sql(project, ctx).items():
            text = "-- " + layout.header(ctx.files) + "\n" + ddl
            if not text.endswith("\n"):
                text += "\n"
            files[path] = GeneratedFile(
                path, text.encode(), SQL_KIND, context_sources(project, ctx)
            )
    return files


def emit_connect(project: Project) -> Files:
    from eventgen.emit.connect import connector_config

    files: Files = {}
    for ctx in project.contexts:
        if ctx.outbox is not None and ctx.outbox.relay == "debezium":
            path = layout.connector_path(ctx.name)
            data = dumps(connector_config(project, ctx))
            files[path] = GeneratedFile(path, data, CONNECT_KIND, context_sources(project, ctx))
    return files
