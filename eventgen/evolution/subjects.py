"""Schema Registry subjects of a project and the schema each one gets.

TopicNameStrategy (the default): `<kafka-topic>-value` holds the record of the one message
type on the topic, or a union of every message record on it (Avro union, JSON Schema `oneOf`)
when several share the topic; `<kafka-topic>-key` holds the topic's key type.
RecordNameStrategy: one value subject per message record, named by its Avro full name; key
subjects keep the topic name (Confluent's serializers pick the key strategy separately and
primitive keys have no record name).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from eventgen.diagnostics import Loc
from eventgen.emit.avro import AvroBuilder
from eventgen.emit.jsonschema import DIALECT, SchemaBuilder
from eventgen.emit.layout import TypeIndex
from eventgen.ir import naming
from eventgen.ir.model import Field, Message, Named, Project, RecordType, Topic

Strategy = Literal["topic", "record"]
STRATEGIES: tuple[str, ...] = ("topic", "record")


@dataclass(frozen=True)
class Subject:
    """One registry subject: its schema, compatibility mode and where it comes from."""

    name: str
    part: Literal["key", "value"]
    format: Literal["avro", "json"]
    compatibility: str
    schema: Any = field(compare=False)
    topic: str  # Kafka topic name
    messages: tuple[str, ...] = ()  # qualified names, in union branch order
    # Named schema (Avro full name or JSON `$defs` key) -> qualified spec name, for positions.
    names: tuple[tuple[str, str], ...] = ()
    loc: Loc = field(default=Loc("<none>"), compare=False)


def canonical(schema: Any) -> str:
    """Compact, key-sorted JSON: two schemas are the same version when these are equal."""
    return json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def subjects(project: Project, strategy: Strategy = "topic") -> dict[str, Subject]:
    """Every subject of the project by name, for the project's serialization format."""
    builder = _Builders(project)
    on_topic: dict[str, list[Message]] = {}
    for message in project.all_messages():
        if message.topic is not None:
            on_topic.setdefault(message.topic, []).append(message)
    found: dict[str, Subject] = {}
    for topic in project.all_topics():
        if topic.key_type is not None:
            name = naming.subject(topic.kafka_name, "key")
            found[name] = builder.key_subject(name, topic)
        messages = sorted(on_topic.get(topic.qualified, ()), key=lambda m: m.qualified)
        if not messages:
            continue
        if strategy == "topic":
            name = naming.subject(topic.kafka_name, "value")
            found[name] = builder.value_subject(name, topic, messages)
        else:
            for message in messages:
                name = naming.avro_fullname(project.name, message.qualified)
                found[name] = builder.value_subject(name, topic, [message])
    return dict(sorted(found.items()))


def message_record(
    project: Project, message: Message, fields: tuple[Field, ...], fmt: str | None = None
) -> Any:
    """One message version's standalone record schema in `fmt` (default: the project's)."""
    builder = _Builders(project)
    record = RecordType(message.qualified, message.context, message.name, fields, message.doc)
    if (fmt or project.defaults.serialization) == "avro":
        return AvroBuilder(builder.index).named(record)
    builder.index.types[message.qualified] = record
    schema, _ = builder.json_root([message.qualified], union=False)
    return schema


class _Builders:
    """Builds subject schemas with the emitters' own Avro and JSON Schema builders."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.format: Literal["avro", "json"] = project.defaults.serialization
        self.index = TypeIndex(project)
        self._names: tuple[tuple[str, str], ...] | None = None

    def key_subject(self, name: str, topic: Topic) -> Subject:
        assert topic.key_type is not None
        if self.format == "avro":
            key = AvroBuilder(self.index).type(topic.key_type)
            schema = key if isinstance(key, dict) else {"type": key}
            names = self._avro_names()
        else:
            root = RecordType("<key>", "", "<key>", (Field("key", topic.key_type),))
            json_builder = SchemaBuilder(self.index, root)
            schema = {"$schema": DIALECT, **json_builder.type(topic.key_type)}
            if json_builder.defs:
                schema["$defs"] = json_builder.defs
            names = tuple(sorted((k, q) for q, k in json_builder.keys.items()))
        return Subject(
            name,
            "key",
            self.format,
            topic.compatibility,
            schema,
            topic.kafka_name,
            (),
            names,
            topic.loc,
        )

    def value_subject(self, name: str, topic: Topic, messages: list[Message]) -> Subject:
        for m in messages:
            record = RecordType(m.qualified, m.context, m.name, m.fields, m.doc)
            self.index.types.setdefault(m.qualified, record)
        qualified = [m.qualified for m in messages]
        if self.format == "avro":
            avro = AvroBuilder(self.index)
            branches = [avro.named(self.index[q]) for q in qualified]
            schema: Any = branches[0] if len(branches) == 1 else branches
            names = self._avro_names()
        else:
            schema, names = self.json_root(qualified, union=len(qualified) > 1)
        loc = messages[0].loc if len(messages) == 1 else topic.loc
        return Subject(
            name,
            "value",
            self.format,
            topic.compatibility,
            schema,
            topic.kafka_name,
            tuple(qualified),
            names,
            loc,
        )

    def json_root(
        self, qualified: list[str], *, union: bool
    ) -> tuple[dict[str, Any], tuple[tuple[str, str], ...]]:
        """A `oneOf` of `$defs` references, or the single record with its `$defs`."""
        if union:
            refs = tuple(Field(f"m{i}", Named(q)) for i, q in enumerate(qualified))
            json_builder = SchemaBuilder(self.index, RecordType("<union>", "", "<union>", refs))
            schema: dict[str, Any] = {
                "oneOf": [{"$ref": f"#/$defs/{json_builder.keys[q]}"} for q in qualified]
            }
        else:
            root = self.index[qualified[0]]
            json_builder = SchemaBuilder(self.index, root)
            schema = json_builder.named(root)
        schema["$schema"] = DIALECT
        if json_builder.defs:
            schema["$defs"] = json_builder.defs
        keys = dict(json_builder.keys)
        if not union:
            keys[qualified[0]] = ""  # the root itself
        return schema, tuple(sorted((k, q) for q, k in keys.items()))

    def _avro_names(self) -> tuple[tuple[str, str], ...]:
        if self._names is None:
            named = [*self.project.all_types(), *self.project.all_messages()]
            pairs = {
                naming.avro_fullname(self.project.name, n.qualified): n.qualified for n in named
            }
            self._names = tuple(sorted(pairs.items()))
        return self._names
