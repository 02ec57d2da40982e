"""Render the generated Python package from view models with thin Jinja templates."""

from __future__ import annotations

import functools
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import jinja2

from eventgen import __version__
from eventgen.emit import layout
from eventgen.emit.files import Files, GeneratedFile, context_sources, project_sources
from eventgen.emit.format import format_sources
from eventgen.emit.layout import TypeIndex
from eventgen.emit.pymodels.literals import py_comment, py_docstring, py_str
from eventgen.emit.pymodels.topics import schema_module, topics_module
from eventgen.emit.pymodels.views import context_module
from eventgen.ir.model import Project
from eventgen.schemas import Schemas

KIND = "python"
# The oldest eventgen-runtime that offers everything generated code calls (the service modules'
# ConsumerApp, Publisher, OutboxWriter, PollingRelay and the upcaster hook came with 0.2.0; the
# event store, aggregate repositories, projectors, query apps and example checks with 0.3.0; the
# saga engine and worker, reactions and flow trackers with 0.4.0).
MINIMUM_RUNTIME = "0.4.0"


def emit(project: Project, schemas: Schemas | None = None) -> Files:
    """The generated package: a module per context, topics, Avro schema modules."""
    schemas = schemas or Schemas(project)
    index = TypeIndex(project)
    whole = project_sources(project)
    origin: dict[str, tuple[str, ...]] = {}
    env = environment()
    init, schemas_init, typed = layout.package_init_paths(project)
    sources: dict[str, str] = {}
    header = py_comment(layout.header(project.spec_files))
    doc = f"Generated models of the {project.name} platform (eventgen)."
    require = f"{py_str(MINIMUM_RUNTIME)}, {py_str(__version__)}"
    sources[init] = env.get_template("package.py.jinja").render(
        header=header, docstring=py_docstring(doc), require=require
    )
    avro_doc = "Avro schemas by context; eventgen.runtime imports them on first use."
    sources[schemas_init] = env.get_template("package.py.jinja").render(
        header=header, docstring=py_docstring(avro_doc), require=None
    )
    context_template = env.get_template("context.py.jinja")
    schema_template = env.get_template("schemas.py.jinja")
    for ctx in project.contexts:
        view = context_module(project, index, ctx)
        module, schema_path = (
            layout.python_module_path(project, ctx.name),
            layout.schema_module_path(project, ctx.name),
        )
        sources[module] = context_template.render(module=view)
        values = schema_module(project, schemas, ctx)
        sources[schema_path] = schema_template.render(**values)
        origin[module] = origin[schema_path] = context_sources(project, ctx)
    module_view, topics = topics_module(project, schemas)
    if topics:
        sources[layout.topics_module_path(project)] = env.get_template("topics.py.jinja").render(
            module=module_view, topics=topics
        )
    formatted = format_sources(sources)
    sources.clear()  # a large package holds its text three times otherwise: drop as we go
    files: Files = {}
    for path in list(formatted):
        text = formatted.pop(path)
        files[path] = GeneratedFile(path, text.encode(), KIND, origin.get(path, whole))
    # PEP 561 marker; its content is read as "partial" flags
    files[typed] = GeneratedFile(typed, b"", KIND, whole)
    return files


@functools.cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(_load),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # Python source, not HTML; values are escaped by literals.py
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _load(name: str) -> str:
    return (_template_root() / "python" / name).read_text(encoding="utf-8")


@functools.cache
def _template_root() -> Traversable | Path:
    """`eventgen.templates` when installed; the checkout's top-level templates/ otherwise."""
    try:
        root = resources.files("eventgen.templates")
        if (root / "python").is_dir():
            return root
    except ModuleNotFoundError:
        pass
    return Path(__file__).resolve().parents[3] / "templates"
