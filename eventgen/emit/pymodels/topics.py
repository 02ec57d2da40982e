"""View models of the package-level modules: topics, Avro schema modules, __init__."""

from __future__ import annotations

from dataclasses import dataclass

from eventgen.emit import layout
from eventgen.emit.pymodels.imports import Imports
from eventgen.emit.pymodels.literals import py_comment, py_docstring, py_literal, py_str
from eventgen.emit.pymodels.views import ModuleView
from eventgen.ir import naming
from eventgen.ir.model import Context, Project
from eventgen.schemas import Schemas


@dataclass
class TopicView:
    name: str
    constant: str
    union_name: str
    union: str
    union_doc: str
    type_alias: str
    binding: str
    binding_doc: str
    messages: str
    key_schema: str


def topics_module(project: Project, schemas: Schemas) -> tuple[ModuleView, list[TopicView]]:
    """Per topic: a union of its message classes and a TopicBinding for decoding by type."""
    by_topic: dict[str, list[str]] = {}
    for message in project.all_messages():
        if message.topic:
            by_topic.setdefault(message.topic, []).append(message.qualified)
    topics = [t for t in project.all_topics() if t.qualified in by_topic]
    defined = {_union_name(t.qualified) for t in topics} | {_constant(t.qualified) for t in topics}
    imports = Imports(project.package, defined)
    views = []
    for topic in topics:
        classes = []
        for qualified in sorted(by_topic[topic.qualified]):
            message = project.message(qualified)
            module = f"{project.package}.{naming.py_module(message.context)}"
            prefer = naming.pascal(message.context) + naming.py_class(message.name)
            classes.append(imports.use(module, naming.py_class(message.name), prefer))
        key = None
        if topic.key_type is not None:
            key = schemas.avro_key(topic)
        views.append(
            TopicView(
                name=py_str(topic.kafka_name),
                constant=_constant(topic.qualified),
                union_name=_union_name(topic.qualified),
                union=" | ".join(classes),
                union_doc=py_docstring(f"Any message on {topic.kafka_name}."),
                type_alias=imports.use("typing", "TypeAlias"),
                binding=imports.use("eventgen.runtime", "TopicBinding"),
                binding_doc=py_docstring(_binding_doc(topic.kafka_name, topic.doc)),
                messages=", ".join(classes),
                key_schema=py_literal(key),
            )
        )
    view = ModuleView(
        header=py_comment(layout.header(project.spec_files)),
        docstring=py_docstring(f"Kafka topics of the {project.name} platform and their messages."),
        imports=imports.lines(),
        classes=[],
        exports=[],
    )
    return view, views


def _binding_doc(kafka_name: str, doc: str | None) -> str:
    text = f"{kafka_name}: decode by envelope `type` with `.registry`."
    return f"{text}\n\n{doc.strip()}" if doc and doc.strip() else text


def _union_name(qualified: str) -> str:
    return naming.pascal(qualified.replace(".", "_"))


def _constant(qualified: str) -> str:
    return qualified.replace(".", "_").replace("-", "_").upper()


def schema_module(project: Project, schemas: Schemas, ctx: Context) -> dict[str, str]:
    """Template values of `<package>/_avro/<module>.py`: every version's Avro schema.

    Named types are written once (`TYPES`, dependencies first) and referenced by full name in
    the message schemas; the runtime parses them into the messages' named schemas. The .avsc
    files stay self-contained.
    """
    versions = [(m, v, fields) for m in ctx.messages for v, fields in layout.versions(m)]
    shared = schemas.index.referenced(tuple(f for _, _, fields in versions for f in fields))
    elsewhere = frozenset(t.qualified for t in shared)
    types = [schemas.avro_module_type(named, elsewhere) for named in shared]
    by_type: dict[str, dict[int, object]] = {}
    for message, version, _ in versions:
        by_type.setdefault(naming.message_type(message.qualified), {})[version] = (
            schemas.avro_module_record(message, version, elsewhere)
        )
    doc = f"Avro schemas of the {ctx.name} context by message type and version (see avro/{ctx.name}/)."
    return {
        "header": py_comment(layout.header(ctx.files)),
        "docstring": py_docstring(doc),
        "types": py_literal(_sorted(types)),
        "schemas": py_literal(_sorted(by_type)),
    }


def _sorted(value: object) -> object:
    # Key order is part of the output bytes: sort like the .avsc files do.
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value
