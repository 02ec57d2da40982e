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

MESSAGE_NAME = re.compile(r"[A-Z][A-Za-z0-9]*")
TYPE_NAME = MESSAGE_NAME
FIELD_NAME = re.compile(r"[a-z][a-z0-9_]*")
CONTEXT_NAME = re.compile(r"[a-z][a-z0-9]*([_-][a-z0-9]+)*")
ITEM_NAME = CONTEXT_NAME  # consumers, saga steps, topics' local names
ENUM_SYMBOL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # Avro name rule
KAFKA_TOPIC = re.compile(r"[a-zA-Z0-9._-]+")
KAFKA_TOPIC_MAX = 249

# Names a generated pydantic model cannot use as attributes: BaseModel's own API
# (v2 and the deprecated v1 names it still defines) and our generated helpers.
MODEL_RESERVED = frozenset(
    {
        "construct", "copy", "dict", "from_orm", "json", "parse_file", "parse_obj",
        "parse_raw", "schema", "schema_json", "update_forward_refs", "validate",
        "fields", "partition_key", "to_avro", "to_json", "envelope", "TYPE", "VERSION",
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


def py_module(context: str) -> str:
    """Python module name for a context (`kebab-case` -> `snake_case`)."""
    name = context.replace("-", "_")
    return name + "_" if keyword.iskeyword(name) or name in PY_RESERVED else name


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
