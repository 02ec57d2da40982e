"""An AsyncAPI document (2.6 or 3.0) to eventgen spec trees: project file and contexts.

channels -> topics, messages -> events (or commands, `x-eventgen-kind`), receive operations
-> consumers; `x-eventgen-*` extensions (written by eventgen's exporter) restore what
AsyncAPI cannot say. Every finding goes to `table.found`, with pointer and position.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eventgen.interop.asyncapi import bindings, codes, extensions, names, restore
from eventgen.interop.asyncapi.avro_payload import AvroMapper
from eventgen.interop.asyncapi.document import Document
from eventgen.interop.asyncapi.export_payload import ExportMapper
from eventgen.interop.asyncapi.jsonschema_payload import JsonSchemaMapper
from eventgen.interop.asyncapi.refs import Node, Resolver
from eventgen.interop.asyncapi.types import TypeTable
from eventgen.ir.naming import avro_namespace
from eventgen.spec.nodes import PList, PMap

KEY_TYPES = {"string", "uuid", "int", "long", "bytes"}
_JSON_FORMATS = ("application/schema+json", "application/vnd.aai.asyncapi")


@dataclass
class Context:
    name: str
    doc: str | None = None
    table: TypeTable = field(default_factory=TypeTable)
    topics: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    commands: dict[str, dict[str, Any]] = field(default_factory=dict)
    queries: dict[str, dict[str, Any]] = field(default_factory=dict)
    projections: dict[str, dict[str, Any]] = field(default_factory=dict)
    consumers: dict[str, dict[str, Any]] = field(default_factory=dict)
    outbox: dict[str, Any] | None = None


@dataclass
class Imported:
    project: dict[str, Any]
    contexts: dict[str, Context]
    found: list[Any]


@dataclass(frozen=True)
class Channel:
    context: str
    topic: str  # the spec's topic name inside its context
    node: Node


class Importer:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.resolver = Resolver(doc)
        self.root = self.resolver.root()
        info = self.root.get("info")
        self.info = (
            info.value if info is not None and isinstance(info.value, PMap) else PMap(self.root.loc)
        )
        title = self.info.get("title") if isinstance(self.info.get("title"), str) else "imported"
        context = self.info.get("x-eventgen-context") or names.kebab(str(title)) or "imported"
        self.default_context = str(context)
        self.contexts: dict[str, Context] = {}
        self.channels: dict[str, Channel] = {}  # by the channel node's location (file + pointer)
        self.messages: dict[str, tuple[str, str]] = {}  # message location -> (context, name)
        self.formats: set[str] = set()
        self.exported = self._export_mapper()
        self.closed: bool | None = None  # the JSON twins' content model, when exported

    def _export_mapper(self) -> ExportMapper | None:
        """The mapper of an eventgen export (its info has `x-eventgen-project`), else None."""
        project = extensions.extension(self.info, extensions.PROJECT).get("name")
        if not isinstance(project, str):
            return None
        components = self.root.get("components")
        found = components.get("messages") if components is not None else None
        contexts = {self.default_context}
        for _, message in found.children() if found is not None else []:
            if isinstance(message.value, PMap):
                ctx = extensions.extension(message.value, extensions.MESSAGE).get("context")
                if isinstance(ctx, str):
                    contexts.add(ctx)
        schemas = components.get("schemas") if components is not None else None
        json_schemas = extensions.plain(schemas.value) if schemas is not None else {}
        namespaces = {avro_namespace(project, c): c for c in sorted(contexts)}
        return ExportMapper(
            lambda name: self.context(name).table, namespaces, dict(json_schemas or {})
        )

    def context(self, name: str) -> Context:
        if name not in self.contexts:
            self.contexts[name] = Context(name)
        return self.contexts[name]

    def run(self) -> Imported:
        ctx = self.context(self.default_context)
        if isinstance(self.info.get("description"), str):
            ctx.doc = self.info["description"]
        channels = self.root.get("channels")
        for key, node in channels.children() if channels is not None else []:
            self._channel(key, node)
        if self.doc.major == 3:
            operations = self.root.get("operations")
            for key, node in operations.children() if operations is not None else []:
                self._operation_v3(key, node)
        self._unrouted()
        found = [f for c in self.contexts.values() for f in c.table.found]
        return Imported(self._project(), self.contexts, [*self.resolver.found, *found])

    def _project(self) -> dict[str, Any]:
        title = str(self.info.get("title", "imported"))
        ext = extensions.extension(self.info, extensions.PROJECT)
        project = str(ext.get("name") or names.kebab(title) or "imported")
        package = str(ext.get("package") or names.snake(title) or "imported")
        serialization = ext.get("serialization")
        if not isinstance(serialization, str):
            serialization = "avro" if self.formats == {"avro"} else "json"
        defaults: dict[str, Any] = {"serialization": serialization}
        if isinstance(ext.get("compatibility"), str):
            defaults["compatibility"] = ext["compatibility"]
        if self.closed is not None:
            defaults["json_content_model"] = "closed" if self.closed else "open"
        return {
            "eventgen": 1,
            "project": project,
            "package": package,
            "output": "../generated",
            "defaults": defaults,
        }

    # channels --------------------------------------------------------------------------
    def _channel(self, key: str, raw: Node) -> None:
        node = self.resolver.deref(raw)
        if node is None or not isinstance(node.value, PMap):
            return
        value = node.value
        if extensions.DLQ_OF in value:
            return  # eventgen's DLQ of another channel: the `dlq` setting of that topic
        ext = extensions.extension(value, extensions.TOPIC)
        address = key if self.doc.major == 2 else value.get("address", key)
        binding = bindings.kafka(node, self.resolver)
        if binding is not None and isinstance(binding.value, PMap):
            address = binding.value.get("topic", address)
        context_name = str(
            ext.get("context") or value.get("x-eventgen-context", self.default_context)
        )
        ctx = self.context(context_name)
        kafka_name = names.kafka_topic(str(address)) if address is not None else None
        prefix = f"{context_name}."
        topic = ext.get("name")
        if not isinstance(topic, str):
            short = (
                kafka_name[len(prefix) :] if kafka_name and kafka_name.startswith(prefix) else None
            )
            topic = short if short and names.kebab(short) == short else names.kebab(key)
        if kafka_name is None or topic is None:
            ctx.table.report(
                codes.NAME,
                node.loc,
                node.pointer,
                f"channel address {address!r} cannot become a Kafka topic name",
                "topics are 1-249 characters of letters, digits, `.`, `_`, `-`",
            )
            return
        settings: dict[str, Any] = {}
        if isinstance(value.get("description"), str):
            settings["doc"] = value["description"]
        if kafka_name != f"{context_name}.{topic}":
            settings["name"] = kafka_name
        settings.update(bindings.topic_settings(binding, ctx.table))
        if kafka_name is not None:
            settings.update(extensions.topic_settings(ext, kafka_name))
        ctx.topics[topic] = settings
        channel = Channel(context_name, topic, node)
        self.channels[node.where] = channel
        if self.doc.major == 3:
            messages = node.get("messages")
            for msg_key, msg in messages.children() if messages is not None else []:
                self._message(msg_key, msg, channel)
            return
        for action in ("subscribe", "publish"):
            op = self.resolver.deref(node.get(action))
            if op is None:
                continue
            refs = self._v2_messages(op)
            for msg_key, msg in refs:
                self._message(msg_key, msg, channel)
            if action == "publish":  # 2.x: others publish, the application receives
                self._consumer(op, channel, [self._message_name(m) for _, m in refs])

    def _v2_messages(self, op: Node) -> list[tuple[str, Node]]:
        message = op.get("message")
        if message is None:
            return []
        options = message.get("oneOf")
        listed = options.items() if options is not None else [message]
        found = []
        for item in listed:
            ref = item.value.get("$ref") if isinstance(item.value, PMap) else None
            key = str(ref).rsplit("/", 1)[-1] if isinstance(ref, str) else ""
            found.append((key, item))
        return found

    # messages --------------------------------------------------------------------------
    def _message_name(self, raw: Node) -> str | None:
        node = self.resolver.deref(raw)
        return None if node is None else self.messages.get(node.where, (None, None))[1]

    def _message(self, key: str, raw: Node, channel: Channel | None) -> None:
        node = self.resolver.deref(raw)
        if node is None or not isinstance(node.value, PMap) or node.where in self.messages:
            return
        value = node.value
        ext = extensions.extension(value, extensions.MESSAGE)
        default_context = channel.context if channel is not None else self.default_context
        ctx = self.context(str(ext.get("context") or default_context))
        base = ext.get("name") or value.get("name") or value.get("messageId") or key
        name = names.pascal(str(base)) if base else None
        kind = {"command": "commands", "query": "queries"}.get(str(ext.get("kind")), "events")
        table = getattr(ctx, kind)
        if name is None or name in ctx.events or name in ctx.commands or name in ctx.queries:
            ctx.table.report(
                codes.NAME, node.loc, node.pointer, f"message name {base!r} cannot be mapped"
            )
            return
        self.messages[node.where] = (ctx.name, name)
        fields = self._payload(node, ctx, f"{ctx.name}.{name}" if ext else None)
        if fields is None:
            return
        message: dict[str, Any] = {}
        doc = value.get("description") or value.get("summary")
        if isinstance(doc, str):
            message["doc"] = doc
        message.update(extensions.message_settings(ext, ctx.name))
        upcasts = extensions.plain(value.get(extensions.UPCASTS))
        if isinstance(upcasts, list) and upcasts:
            message["upcast"] = upcasts
        if isinstance(ext.get("topic"), str):
            message["topic"] = extensions.local(ext["topic"], ctx.name)
        elif channel is not None:
            message["topic"] = (
                channel.topic
                if channel.context == ctx.name
                else f"{channel.context}.{channel.topic}"
            )
        key_list = ext.get("key")
        if isinstance(key_list, list) and key_list:
            message["key"] = key_list[0] if len(key_list) == 1 else key_list
        elif channel is not None:
            key_field = self._key(node, fields, ctx, channel)
            if key_field is None:
                return
            message["key"] = key_field
        message["params" if kind == "queries" else "fields"] = fields
        if self.exported is not None:
            version = ext.get("version")
            found = restore.examples(value, version if isinstance(version, int) else 1)
            if found:
                message["examples"] = found
            restore.returned(
                node, self.exported, lambda c: self.context(c).table, self._projections
            )
        table[name] = message

    def _projections(self, context: str) -> dict[str, dict[str, Any]]:
        return self.context(context).projections

    def _unrouted(self) -> None:
        """The messages of an eventgen export that no channel carries: commands run
        locally (e.g. by a saga) and queries (with what they return, `x-eventgen-returns`)."""
        components = self.root.get("components")
        listed = components.get("messages") if components is not None else None
        for key, raw in listed.children() if listed is not None else []:
            node = self.resolver.deref(raw)
            if node is None or not isinstance(node.value, PMap):
                continue
            ext = extensions.extension(node.value, extensions.MESSAGE)
            if ext.get("kind") in ("event", "command", "query") and "topic" not in ext:
                self._message(key, node, None)

    def _payload(self, node: Node, ctx: Context, qualified: str | None) -> dict[str, Any] | None:
        payload = node.get("payload")
        if payload is not None and isinstance(payload.value, PMap) and "$ref" in payload.value:
            payload = self.resolver.deref(payload)  # e.g. a multi-format schema component
            if payload is None:
                return None
        fmt = node.value.get("schemaFormat")
        if (
            payload is not None
            and isinstance(payload.value, PMap)
            and "schemaFormat" in payload.value
        ):
            fmt = payload.value["schemaFormat"]  # 3.0 multi-format schema
            payload = payload.get("schema")
        if payload is None:
            ctx.table.report(codes.PAYLOAD, node.loc, node.pointer, "message has no payload")
            return None
        fmt = str(fmt) if fmt is not None else "application/schema+json"
        if fmt.startswith("application/vnd.apache.avro"):
            self.formats.add("avro")
            schema = self.resolver.deref(payload)
            if schema is None:
                return None
            if self.exported is not None and qualified is not None:
                self._content_model(qualified)
                return self.exported.message_fields(schema, ctx.name, qualified, ctx.table)
            return AvroMapper(ctx.table).record_fields(schema)
        if fmt.startswith(_JSON_FORMATS):
            self.formats.add("json")
            return JsonSchemaMapper(self.resolver, ctx.table).record_fields(payload)
        ctx.table.report(
            codes.SCHEMA_FORMAT,
            node.loc,
            node.pointer,
            f"schemaFormat `{fmt}` is not read",
            "payloads may be JSON Schema or Avro",
        )
        return None

    def _content_model(self, qualified: str) -> None:
        assert self.exported is not None
        twin = self.exported.json_schemas.get(qualified)
        if isinstance(twin, dict) and isinstance(twin.get("additionalProperties"), bool):
            self.closed = not twin["additionalProperties"]

    def _key(
        self, node: Node, fields: dict[str, Any], ctx: Context, channel: Channel
    ) -> str | None:
        """The partition-key field: `x-eventgen-key`, else the field the Kafka key binding
        names (`x-eventgen-field`), else a field called `id`, `key` or ending in `_id`."""
        explicit = node.value.get("x-eventgen-key")
        if isinstance(explicit, str):
            return explicit
        binding = bindings.kafka(node, self.resolver)
        key_schema = self.resolver.deref(binding.get("key")) if binding is not None else None
        if key_schema is not None and isinstance(key_schema.value, PMap):
            named = key_schema.value.get("x-eventgen-field")
            if isinstance(named, str) and named in fields:
                return named
        candidates = [n for n in fields if n in ("id", "key") or n.endswith("_id")]
        for name in candidates:
            field_type = fields[name] if isinstance(fields[name], str) else fields[name]["type"]
            if field_type.removesuffix("?") in KEY_TYPES:
                # The partition key is never null in eventgen: an optional `id` becomes
                # required (AsyncAPI documents seldom list `required`).
                field_type = field_type.removesuffix("?")
                if isinstance(fields[name], str):
                    fields[name] = field_type
                else:
                    fields[name]["type"] = field_type
                topic = ctx.topics.get(channel.topic) if channel.context == ctx.name else None
                if topic is not None:
                    topic.setdefault("key", field_type)
                return name
        ctx.table.report(
            codes.NO_KEY,
            node.loc,
            node.pointer,
            "no partition key field can be derived",
            "add `x-eventgen-key: <field>` to the message, or a required string/uuid/int/long"
            " field named `id`, `key` or `<something>_id`",
        )
        return None

    # operations ------------------------------------------------------------------------
    def _operation_v3(self, key: str, raw: Node) -> None:
        op = self.resolver.deref(raw)
        if op is None or not isinstance(op.value, PMap):
            return
        if op.value.get("action") == "send":
            producer = extensions.extension(op.value, restore.PRODUCER)
            outbox = restore.outbox(producer)
            if outbox is not None and isinstance(producer.get("context"), str):
                self.context(producer["context"]).outbox = outbox
            return
        if op.value.get("action") != "receive":
            return
        channel_node = self.resolver.deref(op.get("channel"))
        channel = self.channels.get(channel_node.where) if channel_node is not None else None
        if channel is None:
            return
        listed = op.get("messages")
        items = listed.items() if listed is not None else []
        if not items:
            on_channel = channel.node.get("messages")
            items = [n for _, n in on_channel.children()] if on_channel is not None else []
        self._consumer(op, channel, [self._message_name(m) for m in items], key)

    def _consumer(
        self, op: Node, channel: Channel, handled: list[str | None], key: str | None = None
    ) -> None:
        value = op.value
        ext = extensions.extension(value, extensions.CONSUMER)
        base = ext.get("name") or value.get("operationId") or key
        ctx = self.context(str(ext.get("context") or channel.context))
        name = names.kebab(str(base)) if base else None
        if ext and name is not None:
            if name not in ctx.consumers:  # each receive operation repeats the whole consumer
                ctx.consumers[name] = extensions.consumer_settings(ext, ctx.name)
            return
        if name is None or name in ctx.consumers:
            ctx.table.report(codes.NAME, op.loc, op.pointer, f"operation {base!r} cannot be mapped")
            return
        binding = bindings.kafka(op, self.resolver)
        group = bindings.schema_constant(binding.get("groupId"), self.resolver) if binding else None

        def here(context: str, name: str) -> str:  # a name as seen from `ctx`
            return name if context == ctx.name else f"{context}.{name}"

        handles = []
        for message in handled:
            if message is not None:
                owner = next(c for c, n in self.messages.values() if n == message)
                handles.append(here(owner, message))
        consumer: dict[str, Any] = {}
        doc = value.get("description") or value.get("summary")
        if isinstance(doc, str):
            consumer["doc"] = doc
        consumer["group"] = group or f"{ctx.name}.{name}"
        consumer["subscribe"] = [here(channel.context, channel.topic)]
        consumer["handles"] = handles
        ctx.consumers[name] = consumer


def import_document(doc: Document) -> Imported:
    return Importer(doc).run()


__all__ = ["Imported", "PList", "import_document"]
