"""Parse Avro schema JSON into resolved type nodes, as Avro-Java's Schema.Parser does."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from eventgen.compat.result import SchemaParseError

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
NAMED = frozenset({"record", "error", "enum", "fixed"})
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(eq=False)
class AvroField:
    """A record field: name, reader-side aliases, type and whether it has a default."""

    name: str
    aliases: tuple[str, ...]
    type: AvroType
    has_default: bool
    pos: int


@dataclass(eq=False)
class AvroType:
    """One parsed Avro type; identity matters (named types are shared, like Java's)."""

    kind: str
    raw: Any
    name: str = ""
    fullname: str = ""
    aliases: frozenset[str] = frozenset()
    fields: list[AvroField] = field(default_factory=list)
    symbols: tuple[str, ...] = ()
    enum_default: str | None = None
    size: int = 0
    items: AvroType | None = None
    branches: list[AvroType] = field(default_factory=list)


def parse_avro(schema: Any) -> AvroType:
    """Parse a schema given as parsed JSON (or a JSON string) into an AvroType tree."""
    if isinstance(schema, str) and schema.strip()[:1] in ("{", "[", '"'):
        try:
            schema = json.loads(schema)
        except json.JSONDecodeError as exc:
            raise SchemaParseError(f"invalid JSON: {exc}") from exc
    return _Parser().parse(schema, "")


def _check_name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not name:
        raise SchemaParseError(f"{what} must be a non-empty string, got {name!r}")
    for part in name.split("."):
        if not _NAME_RE.match(part):
            raise SchemaParseError(f"invalid {what}: {name!r}")
    return name


def _qualify(name: str, namespace: str) -> str:
    if "." in name or not namespace:
        return name
    return f"{namespace}.{name}"


class _Parser:
    """Stateful parser holding the table of named types defined so far."""

    def __init__(self) -> None:
        self.names: dict[str, AvroType] = {}

    def parse(self, s: Any, ns: str) -> AvroType:
        if isinstance(s, str):
            return self._reference(s, ns)
        if isinstance(s, list):
            return self._union(s, ns)
        if isinstance(s, dict):
            return self._object(s, ns)
        raise SchemaParseError(f"not an Avro schema: {s!r}")

    def _reference(self, s: str, ns: str) -> AvroType:
        if s in PRIMITIVES:
            return AvroType(kind=s, raw=s)
        for candidate in (_qualify(s, ns), s):
            if candidate in self.names:
                return self.names[candidate]
        raise SchemaParseError(f"undefined Avro type name: {s!r}")

    def _union(self, s: list[Any], ns: str) -> AvroType:
        branches = [self.parse(b, ns) for b in s]
        seen: set[str] = set()
        for b in branches:
            if b.kind == "union":
                raise SchemaParseError("a union may not immediately contain another union")
            key = b.fullname if b.fullname else b.kind
            if key in seen:
                raise SchemaParseError(f"duplicate type in union: {key}")
            seen.add(key)
        return AvroType(kind="union", raw=s, branches=branches)

    def _object(self, s: dict[str, Any], ns: str) -> AvroType:
        if "type" not in s:
            raise SchemaParseError(f"schema object without 'type': {s!r}")
        t = s["type"]
        if isinstance(t, (dict, list)):
            return self.parse(t, ns)
        if not isinstance(t, str):
            raise SchemaParseError(f"'type' must be a string, got {t!r}")
        if t in PRIMITIVES:
            return AvroType(kind=t, raw=s)
        if t == "array":
            if "items" not in s:
                raise SchemaParseError("array schema without 'items'")
            return AvroType(kind="array", raw=s, items=self.parse(s["items"], ns))
        if t == "map":
            if "values" not in s:
                raise SchemaParseError("map schema without 'values'")
            return AvroType(kind="map", raw=s, items=self.parse(s["values"], ns))
        if t in NAMED:
            return self._named(s, "record" if t == "error" else t, ns)
        return self._reference(t, ns)

    def _named(self, s: dict[str, Any], kind: str, ns: str) -> AvroType:
        if kind == "record" and "name" not in s:
            # Avro-Java's API builds anonymous records (Schema.createRecord(fields)) and
            # its tests compare them, so we accept them; they are never registered by name.
            node = AvroType(kind=kind, raw=s)
            node.fields = self._fields(s, "<anonymous>", ns)
            return node
        name = _check_name(s.get("name"), f"{kind} name")
        space = s.get("namespace")
        if space is not None and not isinstance(space, str):
            raise SchemaParseError(f"namespace must be a string, got {space!r}")
        if "." in name:
            fullname = name
            space = name.rsplit(".", 1)[0]
        else:
            space = ns if space is None else space
            if space:
                _check_name(space, "namespace")
            fullname = _qualify(name, space)
        if fullname in self.names:
            raise SchemaParseError(f"Avro type redefined: {fullname}")
        raw_aliases = s.get("aliases", [])
        if not isinstance(raw_aliases, list):
            raise SchemaParseError(f"aliases of {fullname} must be a list")
        aliases = frozenset(_qualify(_check_name(a, "alias"), space) for a in raw_aliases)
        node = AvroType(kind=kind, raw=s, name=fullname.rsplit(".", 1)[-1], fullname=fullname)
        node.aliases = aliases
        # Registered before the body is parsed so recursive references resolve.
        self.names[fullname] = node
        if kind == "record":
            node.fields = self._fields(s, fullname, space)
        elif kind == "enum":
            self._enum(node, s)
        else:
            size = s.get("size")
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise SchemaParseError(f"fixed {fullname} needs a non-negative integer 'size'")
            node.size = size
        return node

    def _fields(self, s: dict[str, Any], fullname: str, space: str) -> list[AvroField]:
        raw_fields = s.get("fields")
        if not isinstance(raw_fields, list):
            raise SchemaParseError(f"record {fullname} needs a 'fields' list")
        out: list[AvroField] = []
        seen: set[str] = set()
        for pos, f in enumerate(raw_fields):
            if not isinstance(f, dict) or "type" not in f:
                raise SchemaParseError(f"record {fullname}: field {pos} needs a name and a type")
            name = _check_name(f.get("name"), "field name")
            if name in seen:
                raise SchemaParseError(f"record {fullname}: duplicate field {name!r}")
            seen.add(name)
            aliases = f.get("aliases", [])
            if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
                raise SchemaParseError(f"record {fullname}: aliases of {name!r} must be strings")
            ftype = self.parse(f["type"], space)
            out.append(AvroField(name, tuple(aliases), ftype, "default" in f, pos))
        return out

    def _enum(self, node: AvroType, s: dict[str, Any]) -> None:
        symbols = s.get("symbols")
        if not isinstance(symbols, list):
            raise SchemaParseError(f"enum {node.fullname} needs a 'symbols' list")
        for sym in symbols:
            _check_name(sym, "enum symbol")
        if len(set(symbols)) != len(symbols):
            raise SchemaParseError(f"enum {node.fullname} has duplicate symbols")
        node.symbols = tuple(symbols)
        default = s.get("default")
        if default is not None and default not in symbols:
            raise SchemaParseError(f"enum {node.fullname}: default {default!r} is not a symbol")
        node.enum_default = default
