"""The one naming authority: how spec names become Python, Avro, Kafka and SQL names.

Every emitter asks here; nobody else derives identifiers. Spec names are already validated
against the patterns below by the rules, so these functions only map, never sanitize silently
beyond the documented escapes (a trailing underscore for reserved Python names).
"""

from __future__ import annotations

import builtins
import enum
import keyword
import re
import sys

MESSAGE_NAME = re.compile(r"[A-Z][A-Za-z0-9]*")
TYPE_NAME = MESSAGE_NAME
FIELD_NAME = re.compile(r"[a-z][a-z0-9_]*")
CONTEXT_NAME = re.compile(r"[a-z][a-z0-9]*([_-][a-z0-9]+)*")
ITEM_NAME = CONTEXT_NAME  # consumers, saga steps, topics' local names
ENUM_SYMBOL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # Avro name rule
KAFKA_TOPIC = re.compile(r"[a-zA-Z0-9._-]+")
KAFKA_TOPIC_MAX = 249

ENVIRONMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")  # it names topics/<env>.json

# Names a generated pydantic model cannot use as attributes: BaseModel's own API (v2 and the
# deprecated v1 names it still defines; every `model_*` name is escaped by prefix below), what
# its metaclass adds (ABCMeta's `register`, type's `mro`: pydantic warns that a field named so
# "shadows an attribute in parent") and our generated helpers. tests/foundation/test_names.py
# derives this set from the runtime's Message class and fails when it is incomplete.
MODEL_RESERVED = frozenset(
    {
        "construct", "copy", "dict", "from_orm", "json", "parse_file", "parse_obj",
        "parse_raw", "schema", "schema_json", "update_forward_refs", "validate",
        "register", "mro",
        "fields", "partition_key", "to_avro", "to_json", "envelope", "TYPE", "VERSION",
        "UPCASTS",
    }
)  # fmt: skip
PY_RESERVED = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins))
# Names that generated class bodies use in annotations: a field called `date` or `str` would
# shadow them for every later annotation in the class (a classic pydantic pitfall).
GENERATED_CODE_NAMES = frozenset(
    {
        "str", "int", "float", "bool", "bytes", "list", "dict", "tuple", "set", "object",
        "type", "date", "datetime", "time", "timedelta", "Decimal", "UUID", "Any", "Literal",
        "Field", "Annotated", "ClassVar", "Union", "Optional", "BaseModel", "ConfigDict",
    }
)  # fmt: skip


# Generated modules and folders, by the role layout.py gives them; spec names that would land
# on one of them are refused (rules/checks_output.py) instead of overwriting it.
TOPICS_MODULE = "topics"  # <package>/topics.py: the topic bindings
PROTO_PACKAGE = "_proto"  # <package>/_proto/: protobuf descriptors (serialization: protobuf)
SCHEMAS_PACKAGE = "_avro"  # <package>/_avro/: the Avro schemas the runtime parses
KEYS_FOLDER = "keys"  # avro/keys/: one key schema per topic, named by its Kafka name
HISTORY_FOLDER = "schemas-history"  # schemas-history/<subject>/<n>.avsc: the append-only history
OUTPUT_FOLDERS = (
    "avro", "jsonschema", "topics", HISTORY_FOLDER, "asyncapi", "protobuf", "docs",
)  # fmt: skip  # top level of the output
# Context names taken by a generated module (the context's own module would be it) or folder
# (its schema files would share it with the key schemas, which are named by free Kafka names).
RESERVED_CONTEXTS = {
    TOPICS_MODULE: f"the topic-bindings module `<package>/{TOPICS_MODULE}.py`",
    KEYS_FOLDER: f"the key-schema folder `avro/{KEYS_FOLDER}/`",
}
# A context with consumers or an outbox gets `<package>/<context>_app.py`: a module whose fixed
# attributes are these, next to one app object per consumer (named by `py_app_attr`). A
# consumer whose attribute would be one of them is refused (rules/checks_runtime.py), not
# escaped: `outbox_` beside `outbox` would be a trap for whoever imports them.
APP_MODULE_SUFFIX = "_app"
APP_FIXED_NAMES = frozenset({"publisher", "outbox", "relay"})

# Tables the runtime creates: a plain lower-case SQL identifier (it is quoted in the DDL, but
# also names generated/sql/<context>/<table>.<dialect>.sql), short enough that PostgreSQL's
# 63-byte limit leaves room for index-name suffixes. Spelled as eventgen.runtime.sql checks
# them (the generator imports no runtime; tests/foundation/test_rules.py compares the two).
SQL_TABLE = re.compile(r"[a-z_][a-z0-9_]*")
SQL_TABLE_MAX = 48
# The runtime's own tables in an app's store, which an outbox table must not take.
RUNTIME_TABLES = frozenset({"eventgen_inbox", "eventgen_parked_keys"})

# The build without --env writes topics/default.json; an environment of that name would too.
DEFAULT_ENVIRONMENT = "default"

# Top-level modules a generated package must not be named after: it is imported from the
# output directory, which sits on sys.path ahead of site-packages, so it would shadow them.
# The generated code imports eventgen.runtime and pydantic; the runtime imports the rest
# (tests/foundation/test_names.py checks this against what importing a generated package loads).
GENERATED_IMPORTS = frozenset(
    {
        "eventgen", "pydantic", "pydantic_core", "annotated_types", "typing_extensions",
        "typing_inspection", "fastavro", "orjson", "confluent_kafka", "yaml", "jsonschema",
        "jsonschema_rs", "jinja2", "markupsafe", "click", "psycopg",
        "cython_runtime",  # what fastavro's Cython modules put in sys.modules
    }
)  # fmt: skip
# What `eventgen.runtime.registry` loads through confluent-kafka's Schema Registry client.
REGISTRY_CLIENT_IMPORTS = frozenset({"httpx", "httpx2", "authlib", "attrs", "attr", "cachetools"})
SHADOWED_PACKAGES = GENERATED_IMPORTS | REGISTRY_CLIENT_IMPORTS | frozenset(sys.stdlib_module_names)

# File systems (ext4, APFS, NTFS) allow 255 bytes per path component. A whole relative path
# is kept to 512 bytes so the output directory's own path keeps room under macOS's 1024.
FILE_NAME_MAX = 255
RELATIVE_PATH_MAX = 512


def is_python_reserved(name: str) -> bool:
    """True when `name` cannot be used verbatim as a generated attribute or module name."""
    return (
        keyword.iskeyword(name)
        or keyword.issoftkeyword(name)
        or name in MODEL_RESERVED
        or name.startswith(("model_", "_"))
    )


def py_attr(field_name: str) -> str:
    """Python attribute for a spec field; reserved names get a trailing underscore.

    The wire name stays the spec name (pydantic alias), so the escape never reaches data.
    """
    if is_python_reserved(field_name) or field_name in GENERATED_CODE_NAMES:
        return field_name + "_"
    return field_name


def attr_escape_reason(field_name: str) -> str:
    """Why `py_attr` escapes a field name, for the warning that says so."""
    if field_name in MODEL_RESERVED or field_name.startswith("model_"):
        return "is taken by the generated model's base classes (pydantic's BaseModel, eventgen's Message)"
    return "is reserved in Python"


def py_module(context: str) -> str:
    """Python module name for a context (`kebab-case` -> `snake_case`)."""
    name = context.replace("-", "_")
    return name + "_" if keyword.iskeyword(name) or name in PY_RESERVED else name


def app_module(context: str) -> str:
    """The context's generated service module (`orders` -> `orders_app`); never a keyword."""
    return context.replace("-", "_") + APP_MODULE_SUFFIX


def aggregates_module(context: str) -> str:
    """The context's generated event-sourcing module (`orders` -> `orders_aggregates`)."""
    return context.replace("-", "_") + "_aggregates"


def projections_module(context: str) -> str:
    """The context's generated read-model module (`orders` -> `orders_projections`)."""
    return context.replace("-", "_") + "_projections"


def sagas_module(context: str) -> str:
    """The context's generated saga module (`orders` -> `orders_sagas`)."""
    return context.replace("-", "_") + "_sagas"


def reactions_module(context: str) -> str:
    """The context's generated choreography module (`shipping` -> `shipping_reactions`)."""
    return context.replace("-", "_") + "_reactions"


def snake(name: str) -> str:
    """`OrderSummary` / `order-summary` -> `order_summary` (attributes, tables, functions)."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name)
    return text.replace("-", "_").lower()


# The fixed names of `<context>_aggregates.py` (eventgen.emit.services.aggregates); the
# per-aggregate names come from the functions below. rules/checks_aggregates.py refuses a spec
# whose names would meet there.
AGGREGATES_FIXED_NAMES = frozenset(
    {"EVENT_STORE_SPEC", "event_store", "_hook", "functools", "importlib"}
)


def aggregate_attr(aggregate: str) -> str:
    """The aggregate's repository in `<context>_aggregates.py` (`Order` -> `order`).

    Builtins and keywords get a trailing underscore, as app objects do.
    """
    return py_item_attr(aggregate)


def py_item_attr(spec_name: str) -> str:
    """A module attribute for a spec item (`OrderSummary` -> `order_summary`): snake case,
    builtins and keywords with a trailing underscore (a projection `List` must not rebind
    `list` in its module)."""
    name = snake(spec_name)
    return name + "_" if name in PY_RESERVED else name


def aggregate_constant(aggregate: str) -> str:
    """The aggregate's `AggregateDefinition` (`Order` -> `ORDER`)."""
    return snake(aggregate).upper()


def aggregate_state_class(aggregate: str) -> str:
    """The aggregate's state model (`Order` -> `OrderState`)."""
    return aggregate + "State"


def aggregate_function(role: str, aggregate: str, command: str | None = None) -> str:
    """`apply_order`, `decide_order_cancel_order`, `reject_order_place_order` (`command` is
    the command's local name)."""
    name = f"{role}_{snake(aggregate)}"
    return name if command is None else f"{name}_{snake(command)}"


def py_app_attr(consumer: str) -> str:
    """The app object's name in the service module (`reserve-stock` -> `reserve_stock`).

    Keywords and builtins get a trailing underscore, as context modules do (`py_module`): a
    module attribute named `import` cannot be imported, one named `print` or `type` would shadow
    the builtin for the module's own code. Spec item names cannot end in `_`, so no escaped
    name meets a written one.
    """
    name = consumer.replace("-", "_")
    return name + "_" if name in PY_RESERVED else name


def py_class(name: str) -> str:
    """Python class name for a PascalCase spec name."""
    return name + "_" if keyword.iskeyword(name) or name in PY_RESERVED else name


def pascal(text: str) -> str:
    """`order-lines` / `order_lines` -> `OrderLines`: prefixes that tell same-named types apart."""
    return "".join(part.capitalize() for part in text.replace("-", "_").split("_"))


def qualified(context: str, name: str) -> str:
    return f"{context}.{name}"


def split_qualified(name: str) -> tuple[str, str]:
    context, _, local = name.rpartition(".")
    return context, local


def avro_namespace(project: str, context: str) -> str:
    """Avro namespace: project and context, each part made an Avro name."""
    return ".".join(_avro_part(p) for p in (project, context))


def _avro_part(text: str) -> str:
    part = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return "_" + part if part[:1].isdigit() else part


def avro_fullname(project: str, qualified_name: str) -> str:
    context, local = split_qualified(qualified_name)
    return f"{avro_namespace(project, context)}.{local}"


def kafka_topic(context: str, local_name: str, override: str | None = None) -> str:
    """Full Kafka topic name: `{context}.{name}` unless the spec overrides it."""
    return override if override else f"{context}.{local_name}"


def dlq_topic(kafka_name: str) -> str:
    return f"{kafka_name}.dlq"


def topic_collision_key(kafka_name: str) -> str:
    """Kafka treats `.` and `_` alike in metric names, so such topics collide."""
    return kafka_name.replace(".", "_")


def message_type(qualified_name: str) -> str:
    """The envelope `type` value that identifies a message on the wire."""
    return qualified_name


def subject(kafka_name: str, part: str = "value") -> str:
    """Schema Registry subject under TopicNameStrategy."""
    return f"{kafka_name}-{part}"


def sql_identifier(*parts: str) -> str:
    """A lower_snake SQL identifier from name parts (`orders`, `OrderSummary`)."""
    words = [re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", p).replace("-", "_").lower() for p in parts]
    return "_".join(words)


_ENUM_RESERVED = frozenset(dir(enum.StrEnum)) | {"name", "value", "mro"}


def py_enum_member(symbol: str) -> str:
    """Python member name of an enum symbol (the value stays the symbol).

    Keywords and names of the str/Enum API get a trailing underscore; a leading underscore
    gets a `V` prefix, because Enum treats `_sunder_` and `__dunder__` names specially.
    """
    if symbol.startswith("_"):
        return "V" + symbol
    if keyword.iskeyword(symbol) or keyword.issoftkeyword(symbol) or symbol in _ENUM_RESERVED:
        return symbol + "_"
    return symbol
