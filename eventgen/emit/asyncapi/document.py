"""Whole AsyncAPI 3.0.0 documents: a context's, and the platform's (every context)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from eventgen.emit.asyncapi import channels, messages, names, returns
from eventgen.ir.model import Context, Message, Project, Topic
from eventgen.schemas import Schemas

ASYNCAPI_VERSION = "3.0.0"
DOC_VERSION = "1.0.0"  # the spec language has no project version; the schemas carry theirs

SERVERS: dict[str, Any] = {
    "kafka": {
        "host": "{bootstrap}",
        "protocol": "kafka",
        "description": "The Kafka cluster; its address is a parameter of each deployment.",
        "variables": {
            "bootstrap": {
                "default": "localhost:9092",
                "description": "The bootstrap servers, `host:port`.",
            }
        },
    }
}


T = TypeVar("T")


class Parts:
    """Each channel, operation set, message object and schema set, built once per emit.

    The platform document repeats every context document's parts; built once, they are the
    same dicts in both, so the YAML writer (yamltext.Writer) writes each one's text once.
    """

    def __init__(self) -> None:
        self._built: dict[tuple[str, str], Any] = {}

    def get(self, kind: str, name: str, build: Callable[..., T], *args: Any) -> T:
        """`build(*args)`, the first time (kind, name) is asked for; the same object after."""
        key = (kind, name)
        if key not in self._built:
            self._built[key] = build(*args)
        result: T = self._built[key]
        return result


def context_document(
    project: Project, schemas: Schemas, ctx: Context, parts: Parts | None = None
) -> dict[str, Any]:
    """The context's topics, the foreign topics its consumers read, and their messages."""
    own = list(ctx.topics)
    foreign = sorted(
        {q for c in ctx.consumers for q in c.subscribe if project.topic(q).context != ctx.name}
    )
    topics = own + [project.topic(q) for q in foreign]
    title = f"{project.name}: {ctx.name}"
    info = _info(project, title, ctx.doc)
    info[names.X_CONTEXT] = ctx.name
    extra = list(ctx.messages)  # a context's own messages are there even with no topic
    parts = parts or Parts()
    return _document(
        project,
        schemas,
        info,
        topics,
        extra,
        {**_sends(project, ctx, parts), **_receives(project, ctx, parts)},
        parts,
    )


def _sends(project: Project, ctx: Context, parts: Parts) -> dict[str, Any]:
    return parts.get("send", ctx.name, channels.send_operations, project, ctx)


def _receives(project: Project, ctx: Context, parts: Parts) -> dict[str, Any]:
    return parts.get("receive", ctx.name, channels.receive_operations, project, ctx)


def _key_schemas(schemas: Schemas, topic: Topic) -> dict[str, Any]:
    return messages.key_schema(schemas, topic)[1]


def platform_document(
    project: Project, schemas: Schemas, parts: Parts | None = None
) -> dict[str, Any]:
    parts = parts or Parts()
    operations: dict[str, Any] = {}
    for ctx in project.contexts:
        operations.update(_sends(project, ctx, parts))
    for ctx in project.contexts:
        operations.update(_receives(project, ctx, parts))
    doc = "Every context of the platform: " + ", ".join(c.name for c in project.contexts) + "."
    return _document(
        project,
        schemas,
        _info(project, project.name, doc),
        list(project.all_topics()),
        list(project.all_messages()),
        operations,
        parts,
    )


def _info(project: Project, title: str, doc: str | None) -> dict[str, Any]:
    info: dict[str, Any] = {"title": title, "version": DOC_VERSION}
    if doc:
        info["description"] = doc
    info[names.X_PROJECT] = {
        "name": project.name,
        "package": project.package,
        "serialization": project.defaults.serialization,
        "compatibility": project.defaults.compatibility,
    }
    return info


def _document(
    project: Project,
    schemas: Schemas,
    info: dict[str, Any],
    topics: list[Topic],
    extra: list[Message],
    operations: dict[str, Any],
    parts: Parts,
) -> dict[str, Any]:
    chans: dict[str, Any] = {}
    for topic in topics:
        q = topic.qualified
        chans[names.channel_id(topic)] = parts.get("channel", q, channels.channel, project, topic)
        if topic.dlq is not None:
            chans[names.dlq_channel_id(topic)] = parts.get(
                "dlq", q, channels.dlq_channel, project, topic
            )
    used: dict[str, Message] = {}
    for topic in topics:
        for m in channels.topic_messages(project, topic):
            used.setdefault(m.qualified, m)
    for m in extra:
        used.setdefault(m.qualified, m)
    ordered = [used[q] for q in sorted(used)]
    component_schemas: dict[str, Any] = {}
    for m in ordered:
        component_schemas.update(
            parts.get("schemas", m.qualified, messages.json_schemas, schemas, m)
        )
        component_schemas.update(
            parts.get("returns", m.qualified, returns.json_schemas, project, schemas, m)
        )
    for topic in topics:
        if topic.key_type is not None:
            component_schemas.update(
                parts.get("key", topic.qualified, _key_schemas, schemas, topic)
            )
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": f"urn:eventgen:{names.safe_key(project.name)}:{names.safe_key(info['title'])}",
        "info": info,
        "defaultContentType": messages.content_type(project),
        "servers": SERVERS,
        "channels": chans,
        "operations": operations,
        "components": {
            "messages": {
                names.message_key(m): parts.get(
                    "message", m.qualified, messages.message_object, project, schemas, m
                )
                for m in ordered
            },
            "schemas": {k: component_schemas[k] for k in sorted(component_schemas)},
        },
    }
