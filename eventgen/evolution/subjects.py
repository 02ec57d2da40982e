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
from eventgen.ir import naming
from eventgen.ir.model import Message, Project, Topic
from eventgen.schemas import Schemas

Strategy = Literal["topic", "record"]
STRATEGIES: tuple[str, ...] = ("topic", "record")


@dataclass(frozen=True)
class Subject:
    """One registry subject: its schema, compatibility mode and where it comes from."""

    name: str
    part: Literal["key", "value"]
    format: Literal["avro", "json", "protobuf"]
    compatibility: str
    schema: Any = field(compare=False)
    topic: str  # Kafka topic name
    messages: tuple[str, ...] = ()  # qualified names, in union branch order
    # Named schema (Avro full name or JSON `$defs` key) -> qualified spec name, for positions.
    names: tuple[tuple[str, str], ...] = ()
    loc: Loc = field(default=Loc("<none>"), compare=False)
    # Protobuf value subjects: the import path of the context file in `schema` (a mapping of
    # import path -> .proto text); empty for Avro and JSON Schema subjects.
    main: str = ""
    # Protobuf value subjects: each file of `schema` with the project files it imports
    # directly (the registry references); well-known imports are left out, registries and
    # protoc bring those themselves.
    imports: tuple[tuple[str, tuple[str, ...]], ...] = ()


def canonical(schema: Any) -> str:
    """Compact, key-sorted JSON: two schemas are the same version when these are equal."""
    return json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def subjects(
    project: Project,
    strategy: Strategy = "topic",
    schemas: Schemas | None = None,
    proto_lock: Any = None,
) -> dict[str, Subject]:
    """Every subject of the project by name, for the project's serialization format.

    `schemas` is the build's (or snapshot's) builder, whose records are shared; by default
    one is made for this call. `proto_lock` numbers protobuf fields (serialization protobuf
    only; None = no lock yet). Keys stay Avro under protobuf.
    """
    builder = _Subjects(project, schemas or Schemas(project), proto_lock)
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


class _Subjects:
    """Subject schemas from the build's schema builder (eventgen.schemas)."""

    def __init__(self, project: Project, schemas: Schemas, proto_lock: Any = None) -> None:
        self.project = project
        self.schemas = schemas
        self.format: Literal["avro", "json", "protobuf"] = project.defaults.serialization
        self._names: tuple[tuple[str, str], ...] | None = None
        self._lock = proto_lock
        self._proto: dict[str, tuple[str, str, tuple[str, ...]]] | None = None

    def key_subject(self, name: str, topic: Topic) -> Subject:
        assert topic.key_type is not None
        key_format: Literal["avro", "json", "protobuf"] = self.format
        if self.format in ("avro", "protobuf"):
            schema = self.schemas.avro_key_document(topic)
            names = self._avro_names()
            key_format = "avro"  # keys stay bare Avro under protobuf (runtime encode_key)
        else:
            schema, names = self.schemas.json_key(topic)
        return Subject(
            name,
            "key",
            key_format,
            topic.compatibility,
            schema,
            topic.kafka_name,
            (),
            names,
            topic.loc,
        )

    def value_subject(self, name: str, topic: Topic, messages: list[Message]) -> Subject:
        qualified = [m.qualified for m in messages]
        schema: Any
        main = ""
        imports: tuple[tuple[str, tuple[str, ...]], ...] = ()
        if self.format == "protobuf":
            from eventgen.evolution.protobuf_subjects import proto_texts, subject_schema

            if self._proto is None:
                self._proto = proto_texts(self.project, self._lock)
            schema = subject_schema(self._proto, topic.context)
            main = self._proto[topic.context][0]
            imports = _project_imports(self._proto, schema)
            names = self._avro_names()
        elif self.format == "avro":
            branches = self.schemas.avro_union(messages)
            schema = branches[0] if len(branches) == 1 else branches
            names = self._avro_names()
        elif len(messages) == 1:
            schema, names = self.schemas.json_record(messages[0])
        else:
            schema, names = self.schemas.json_union(qualified)
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
            main,
            imports,
        )

    def _avro_names(self) -> tuple[tuple[str, str], ...]:
        if self._names is None:
            named = [*self.project.all_types(), *self.project.all_messages()]
            pairs = {
                naming.avro_fullname(self.project.name, n.qualified): n.qualified for n in named
            }
            self._names = tuple(sorted(pairs.items()))
        return self._names


def _project_imports(
    texts: dict[str, tuple[str, str, tuple[str, ...]]], schema: dict[str, str]
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Every file of a protobuf subject's schema with the files of `schema` it imports."""
    by_path = {path: imports for path, _text, imports in texts.values()}
    return tuple((path, tuple(i for i in by_path[path] if i in schema)) for path in schema)
