"""One build's schema dicts, each built once and shared by every stage that needs it.

The Avro emitter, the Python `_avro` modules, the schema history and `diff` all need the
standalone Avro record of each message version (and each topic's key schema). A `Schemas`
object belongs to one build (or one `diff` side): it memoizes by qualified name and version,
so nothing is cached across projects. Results are shared: callers must never mutate them.
"""

from __future__ import annotations

from typing import Any

from eventgen.emit import layout
from eventgen.emit.layout import NamedType, TypeIndex
from eventgen.ir.model import Field, Message, Named, Project, RecordType, Topic
from eventgen.schemas.avro import AvroBuilder, record_schema
from eventgen.schemas.jsonschema import DIALECT, SchemaBuilder, document

Names = tuple[tuple[str, str], ...]  # schema name ($defs key or "") -> qualified spec name


class MessageIndex(TypeIndex):
    """Named types plus every message's current record, so a union can `$ref` its messages.

    Built complete up front: the builders only ever read it.
    """

    def __init__(self, project: Project) -> None:
        super().__init__(project)
        for m in project.all_messages():
            self.types.setdefault(m.qualified, message_type(m, m.fields))


def message_type(message: Message, fields: tuple[Field, ...]) -> RecordType:
    return RecordType(message.qualified, message.context, message.name, fields, message.doc)


class Schemas:
    """The schema builders of one project, with a memo keyed by qualified name and version."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.index = MessageIndex(project)
        self._records: dict[tuple[str, int], dict[str, Any]] = {}
        self._refs: dict[tuple[str, int], frozenset[str]] = {}
        self._keys: dict[str, Any] = {}

    # -- Avro -------------------------------------------------------------------------

    def avro_record(self, message: Message, version: int | None = None) -> dict[str, Any]:
        """The standalone record of one message version (named types defined inline)."""
        key = (message.qualified, message.version if version is None else version)
        found = self._records.get(key)
        if found is None:
            fields = self.fields(message, key[1])
            found = record_schema(self.index, message.qualified, fields, message.doc)
            self._records[key] = found
        return found

    def avro_type(self, named: NamedType) -> dict[str, Any]:
        return AvroBuilder(self.index).named(named)

    def avro_key(self, topic: Topic) -> Any:
        """The key type of a keyed topic as Avro: a primitive name or a named schema."""
        assert topic.key_type is not None
        if topic.qualified not in self._keys:
            self._keys[topic.qualified] = AvroBuilder(self.index).type(topic.key_type)
        return self._keys[topic.qualified]

    def avro_key_document(self, topic: Topic) -> dict[str, Any]:
        """The key schema as a document (a primitive wrapped as `{"type": ...}`)."""
        key = self.avro_key(topic)
        return key if isinstance(key, dict) else {"type": key}

    def avro_union(self, messages: list[Message]) -> list[dict[str, Any]]:
        """Union branches: a named type is defined in the first branch that uses it.

        A branch that uses no type an earlier branch defined is its standalone record.
        """
        builder = AvroBuilder(self.index)
        branches = []
        for m in messages:
            refs = self.referenced(m, m.version)
            if refs & builder.defined:
                branches.append(builder.named(self.index[m.qualified]))
                continue
            branches.append(self.avro_record(m))
            builder.defined |= refs | {m.qualified}
        return branches

    def avro_module_record(
        self, message: Message, version: int, elsewhere: frozenset[str]
    ) -> dict[str, Any]:
        """A record for the Python schema modules: types in `elsewhere` by full name only."""
        if not self.referenced(message, version):
            return self.avro_record(message, version)  # no named types: the same dict
        fields = self.fields(message, version)
        return record_schema(self.index, message.qualified, fields, message.doc, elsewhere)

    def avro_module_type(self, named: NamedType, elsewhere: frozenset[str]) -> dict[str, Any]:
        builder = AvroBuilder(self.index)
        builder.defined.update(elsewhere)
        return builder.named(named)

    # -- JSON Schema ------------------------------------------------------------------

    def json_document(self, root: NamedType, ident: str, sources: tuple[str, ...]) -> Any:
        """A standalone file document (with `$id` and the provenance `$comment`)."""
        return document(self.index, root, ident, sources)

    def json_record(
        self, message: Message, version: int | None = None
    ) -> tuple[dict[str, Any], Names]:
        """One message version's record with its `$defs` (a registry subject schema)."""
        if version is None or version == message.version:
            root = self.index[message.qualified]
        else:
            root = message_type(message, self.fields(message, version))
        builder = SchemaBuilder(self.index, root)
        schema = builder.named(root)
        schema["$schema"] = DIALECT
        if builder.defs:
            schema["$defs"] = builder.defs
        keys = dict(builder.keys)
        keys[message.qualified] = ""  # the root itself
        return schema, tuple(sorted((k, q) for q, k in keys.items()))

    def json_union(self, qualified: list[str]) -> tuple[dict[str, Any], Names]:
        """A `oneOf` of `$defs` references to each message record."""
        refs = tuple(Field(f"m{i}", Named(q)) for i, q in enumerate(qualified))
        builder = SchemaBuilder(self.index, RecordType("<union>", "", "<union>", refs))
        schema: dict[str, Any] = {
            "oneOf": [{"$ref": f"#/$defs/{builder.keys[q]}"} for q in qualified]
        }
        schema["$schema"] = DIALECT
        if builder.defs:
            schema["$defs"] = builder.defs
        return schema, tuple(sorted((k, q) for q, k in builder.keys.items()))

    def json_key(self, topic: Topic) -> tuple[dict[str, Any], Names]:
        assert topic.key_type is not None
        root = RecordType("<key>", "", "<key>", (Field("key", topic.key_type),))
        builder = SchemaBuilder(self.index, root)
        schema = {"$schema": DIALECT, **builder.type(topic.key_type)}
        if builder.defs:
            schema["$defs"] = builder.defs
        return schema, tuple(sorted((k, q) for q, k in builder.keys.items()))

    # -- shared ---

    def record(self, message: Message, version: int, fmt: str) -> Any:
        """One message version's standalone record in `fmt` ("avro" or "json")."""
        if fmt == "avro":
            return self.avro_record(message, version)
        return self.json_record(message, version)[0]

    def fields(self, message: Message, version: int) -> tuple[Field, ...]:
        if version == message.version:
            return message.fields
        return dict(layout.versions(message))[version]

    def referenced(self, message: Message, version: int) -> frozenset[str]:
        """Qualified names of the named types one message version uses, transitively."""
        key = (message.qualified, version)
        if key not in self._refs:
            used = self.index.referenced(self.fields(message, version))
            self._refs[key] = frozenset(t.qualified for t in used)
        return self._refs[key]
