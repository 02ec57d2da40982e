"""Avro binary (schemaless) encoding of generated messages; each schema is parsed once."""

from __future__ import annotations

import base64
import importlib
import json
from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from io import BytesIO
from typing import Any, TypeVar
from uuid import UUID

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from pydantic import ValidationError

from eventgen.runtime.errors import DecodeError
from eventgen.runtime.model import Message

M = TypeVar("M", bound=Message)
# (type, version, payload of that version) -> payload of the current version
Upcaster = Callable[[str, int, dict[str, Any]], dict[str, Any]]

_parsed: dict[tuple[str, str, int], Any] = {}
_upcasters: dict[str, Upcaster | None] = {}
_parsed_keys: dict[str, Any] = {}
_named: dict[str, dict[str, Any]] = {}  # schema module -> its parsed named types
# The hot path (current version) finds everything it needs by class object in one dict probe:
# the parsed schema, the compiled validator's bound `validate_python` (model_validate adds a
# Python-level wrapper per call) and the schema's reader.
_current: dict[
    type[Message], tuple[Any, Callable[[Any], Any], Callable[..., Any], tuple[Any, ...]]
] = {}
_READ_OPTIONS = {
    "return_record_name": False,
    "return_record_name_override": False,
    "handle_unicode_errors": "strict",
    "return_named_type": False,
    "return_named_type_override": False,
}


def _direct_reader() -> Callable[..., Any] | None:
    """fastavro's compiled `_read_data`, if it reads exactly like `schemaless_reader`, else None.

    `schemaless_reader` re-parses the already parsed schema, builds its named-type and option
    dicts and compares writer and reader schema on every call: about a tenth of a decode for a
    12-field event. The entry point behind it is private, so it is used only when a probe over
    the value kinds generated schemas use reads the same values, and `schemaless_reader` is
    used otherwise (another fastavro version, the pure-Python build).
    """
    try:
        from fastavro._read import _read_data  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - pure-Python fastavro
        return None
    probe = {
        "type": "record",
        "name": "Probe",
        "fields": [
            {"name": "u", "type": {"type": "string", "logicalType": "uuid"}},
            {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A", "B"]}},
            {"name": "n", "type": ["null", "E"]},
            {"name": "l", "type": {"type": "array", "items": "long"}},
            {"name": "m", "type": {"type": "map", "values": "double"}},
            {"name": "d", "type": {"type": "bytes", "logicalType": "decimal", "precision": 5,
                                   "scale": 2}},
        ],
    }  # fmt: skip
    value = {"u": "2f1e0b9a-4c3d-4e5f-8a7b-6c5d4e3f2a1b", "e": "B", "n": "A", "l": [1, -2],
             "m": {"k": 0.5}, "d": Decimal("-1.25")}  # fmt: skip
    try:
        parsed = parse_schema(probe, named_schemas={})
        buffer = BytesIO()
        schemaless_writer(buffer, parsed, value)
        data = buffer.getvalue()
        expected = schemaless_reader(BytesIO(data), parsed, None)
        named: dict[str, dict[str, Any]] = {"writer": {}, "reader": {}}
        got = _read_data(BytesIO(data), parse_schema(parsed, named["writer"]), named, None,
                         _READ_OPTIONS)  # fmt: skip
    except Exception:  # noqa: BLE001 - any surprise means: use the public reader
        return None
    return _read_data if got == expected and repr(got) == repr(expected) else None


def _reader(schema: Any) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    """How to read `schema` (parsed): `read(buffer, *args)`, the direct entry point if safe."""
    if _DIRECT is None:
        return schemaless_reader, (schema, None)
    named: dict[str, dict[str, Any]] = {"writer": {}, "reader": {}}
    writer = parse_schema(schema, named["writer"])
    return _DIRECT, (writer, named, None, _READ_OPTIONS)


def avro_schema(cls: type[Message], version: int | None = None) -> Any:
    """The parsed Avro schema of `cls` at `version` (default: current), cached."""
    if version is None and (hit := _current.get(cls)) is not None:
        return hit[0]
    # The schema module is part of the key: two generated packages may share message types.
    key = (cls.SCHEMAS, cls.TYPE, cls.VERSION if version is None else version)
    parsed = _parsed.get(key)
    if parsed is None:
        # Imported on first use, so importing the models never pays for the schemas.
        module = importlib.import_module(cls.SCHEMAS)
        schemas: Mapping[str, Mapping[int, Any]] = module.SCHEMAS
        raw = schemas.get(cls.TYPE, {}).get(key[2])
        if raw is None:
            raise DecodeError("unsupported_version", f"no Avro schema for v{key[2]}", cls.TYPE)
        named = dict(_named_types(cls.SCHEMAS, module))
        parsed = _parsed[key] = parse_schema(raw, named_schemas=named)
    if version is None:
        _current[cls] = (parsed, cls.__pydantic_validator__.validate_python, *_reader(parsed))
    return parsed


def _named_types(name: str, module: Any) -> dict[str, Any]:
    """The named types a schema module defines once (`TYPES`) and its schemas refer to."""
    named = _named.get(name)
    if named is None:
        named = {}
        for schema in getattr(module, "TYPES", ()):  # dependencies first
            parse_schema(schema, named_schemas=named)
        _named[name] = named
    return named


def upcaster_for(cls: type[Message]) -> Upcaster | None:
    """The `upcast` function of the module `cls.UPCASTS` names, imported on first use.

    None when the class names no module. A named module that is missing or has no `upcast`
    is a broken build, not bad data: that raises ImportError / AttributeError.
    """
    name = cls.UPCASTS
    if name is None:
        return None
    if name not in _upcasters:
        function = importlib.import_module(name).upcast
        if not callable(function):
            raise AttributeError(f"{name}.upcast is not callable")
        _upcasters[name] = function
    return _upcasters[name]


def encode_avro(message: Message) -> bytes:
    """The payload as Avro binary under its current schema (no framing)."""
    cls = type(message)
    hit = _current.get(cls)
    schema = hit[0] if hit is not None else avro_schema(cls)
    buffer = BytesIO()
    # The compiled serializer directly (model_dump is a Python wrapper); by_alias=True as the
    # models' serialize_by_alias says. Lists are tuples in the models: without the flag fastavro
    # reads a tuple inside a union as its (branch, value) notation.
    values = cls.__pydantic_serializer__.to_python(message, by_alias=True)
    schemaless_writer(buffer, schema, values, disable_tuple_notation=True)
    return buffer.getvalue()


def decode_avro(
    cls: type[M], data: bytes, version: int | None = None, upcast: Upcaster | None = None
) -> M:
    """Read Avro binary written with `version` of the schema of `cls`; DecodeError on failure."""
    if version is None or version == cls.VERSION:
        # The hot path, kept flat (one Python frame: `_read` inlined): one dict probe, the
        # reader, the trailing-bytes check, the compiled validator.
        hit = _current.get(cls)
        if hit is None:
            avro_schema(cls)
            hit = _current[cls]
        buffer = BytesIO(data)
        try:
            raw = hit[2](buffer, *hit[3])
        except Exception as exc:  # fastavro reports garbage as EOFError, ValueError, ...
            raise DecodeError("corrupt_payload", f"{type(exc).__name__}: {exc}", cls.TYPE) from exc
        if buffer.tell() != len(data):
            raise DecodeError("corrupt_payload", "trailing bytes after the record", cls.TYPE)
        try:
            return hit[1](raw)  # type: ignore[no-any-return]
        except ValidationError as exc:
            raise DecodeError("invalid_payload", str(exc), cls.TYPE) from exc
    if upcast is None:
        raise DecodeError("unsupported_version", f"v{version} needs an upcaster", cls.TYPE)
    raw = _read(cls, data, avro_schema(cls, version))
    if not isinstance(raw, dict):
        raise DecodeError("corrupt_payload", "the record is not an object", cls.TYPE)
    return lift(cls, version, to_wire(raw), upcast)


def lift(cls: type[M], version: int, payload: dict[str, Any], upcast: Upcaster) -> M:
    """Upcast a payload of `version` (JSON wire form) and validate it as the current version.

    Upcasters always see the JSON wire form (UUIDs, timestamps, decimals as strings, bytes
    as base64), whichever codec read the record, so one upcaster serves every path; the
    result goes through the strict JSON-mode validator, exactly as if a producer of the
    current version had written it.
    """
    lifted = upcast(cls.TYPE, version, payload)
    try:
        text = json.dumps(lifted, default=wire_default, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise DecodeError("invalid_payload", f"upcast from v{version}: {exc}", cls.TYPE) from exc
    try:
        return cls.model_validate_json(text, strict=True)
    except ValidationError as exc:
        raise DecodeError("invalid_payload", str(exc), cls.TYPE) from exc


def to_wire(value: Any) -> Any:
    """Values as fastavro reads them (UUID, datetime, Decimal, bytes, ...) in JSON wire form."""
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_wire(v) for v in value]
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return wire_default(value)


def wire_default(value: Any) -> Any:
    """The JSON wire form of one scalar (docs/type-mapping.md), for json.dumps(default=...)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")  # plain notation, never 1E+2
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, (date, time)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} has no JSON wire form")


def _read(cls: type[Message], data: bytes, schema: Any) -> Any:
    buffer = BytesIO(data)
    try:
        raw = schemaless_reader(buffer, schema, None)
    except Exception as exc:  # fastavro reports garbage as EOFError, ValueError, IndexError...
        raise DecodeError("corrupt_payload", f"{type(exc).__name__}: {exc}", cls.TYPE) from exc
    if buffer.tell() != len(data):
        raise DecodeError("corrupt_payload", "trailing bytes after the record", cls.TYPE)
    return raw


def validate_payload(cls: type[M], raw: Any) -> M:
    """Validate decoded values (Python mode) into `cls`, as DecodeError("invalid_payload")."""
    try:
        # The compiled validator directly: model_validate adds a Python-level wrapper per call.
        return cls.__pydantic_validator__.validate_python(raw)  # type: ignore[no-any-return]
    except ValidationError as exc:
        raise DecodeError("invalid_payload", str(exc), cls.TYPE) from exc


def encode_key(schema: Mapping[str, Any] | str, value: Any) -> bytes:
    """A record key as Avro binary under a topic's key schema."""
    buffer = BytesIO()
    schemaless_writer(buffer, _key_schema(schema), value)
    return buffer.getvalue()


def decode_key(schema: Mapping[str, Any] | str, data: bytes) -> Any:
    """Inverse of `encode_key`."""
    try:
        return schemaless_reader(BytesIO(data), _key_schema(schema), None)
    except Exception as exc:
        raise DecodeError("corrupt_payload", f"key: {type(exc).__name__}: {exc}") from exc


def _key_schema(schema: Mapping[str, Any] | str) -> Any:
    text = repr(schema)
    parsed = _parsed_keys.get(text)
    if parsed is None:
        parsed = _parsed_keys[text] = parse_schema(
            dict(schema) if isinstance(schema, Mapping) else schema, named_schemas={}
        )
    return parsed


_DIRECT = _direct_reader()
