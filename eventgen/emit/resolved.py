"""The resolved spec: the IR as sorted JSON, for review and for tools that want the model.

Defaults are left out: a key whose value is null, false, an empty string, list or map is not
written (two thirds of the values were such defaults, and the file was 45% of all output).
Readers treat a missing key as that default; `OMITTED` in the file says so to a human reader.
Numbers are always written, zero included, and list items are never dropped (positions count).
Values from the spec (defaults, literals, upcaster arguments, example payloads) are the user's
data, not defaults: they are written as they are, null and empty included, whenever they exist.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from eventgen.canonical import dumps
from eventgen.ir.model import Expr, Project, TypeRef, thaw

PATH = "resolved-spec.json"
OMITTED = "keys whose value is null, false, an empty string, list or map are left out"
# Attributes holding spec literals: always written (a field's `default` only when it has one).
_LITERALS = frozenset({"args", "payload"})


_PLAIN = frozenset({str, int, float, bool, type(None)})
_EMPTIABLE = frozenset({str, list, dict})
_CONVERTERS: dict[type, Callable[[Any], Any]] = {}


def to_data(value: Any) -> Any:
    """Plain JSON data for an IR value; positions are left out so moving lines changes nothing."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    return (_CONVERTERS.get(kind) or _converter(kind))(value)


def _converter(cls: type) -> Callable[[Any], Any]:
    """How to convert values of `cls`, decided once per class: the IR has a few dozen classes
    and a big platform millions of values, so the per-value work is kept to a dict probe.
    """
    convert: Callable[[Any], Any]
    if cls is tuple:
        convert = _list
    elif issubclass(cls, (str, int, float, bool)):  # str or int enums, bool
        convert = _same
    elif issubclass(cls, TypeRef):
        convert = str
    elif issubclass(cls, Expr):
        convert = _expr
    elif dataclasses.is_dataclass(cls):
        convert = _record_converter(cls)
    else:
        convert = thaw
    _CONVERTERS[cls] = convert
    return convert


def _same(value: Any) -> Any:
    return value


def _list(value: tuple[Any, ...]) -> list[Any]:
    return [to_data(v) for v in value]


def _expr(value: Expr) -> Any:
    return str(value) if value.root else {"literal": thaw(value.literal)}


def _record_converter(cls: type) -> Callable[[Any], Any]:
    # Positions (`loc`, `*_loc`, every `*_locs` table) are left out: moving a line changes nothing.
    names = tuple(f.name for f in dataclasses.fields(cls) if not f.name.endswith(("loc", "_locs")))
    has_default = "has_default" in names

    def convert(value: Any) -> dict[str, Any]:
        out = {}
        for name in names:
            data = getattr(value, name)
            kind = type(data)
            if kind not in _PLAIN:
                data = (_CONVERTERS.get(kind) or _converter(kind))(data)
                kind = type(data)
            # is_default(), inlined: this loop runs once per attribute of every IR record.
            if data is None or data is False or (kind in _EMPTIABLE and not data):
                if name in _LITERALS or (name == "default" and has_default and value.has_default):
                    out[name] = data
                continue
            out[name] = data
        return out

    return convert


def is_default(value: Any) -> bool:
    """A value that is left out of a map: null, false, "", [] or {} (never 0 or 0.0)."""
    return value is None or value is False or (type(value) in (str, list, dict) and not value)


def emit(project: Project) -> dict[str, bytes]:
    data = to_data(project)
    if project.spec_files:
        data["spec_files"] = list(project.spec_files)
    return {
        PATH: dumps({"generated_by": "eventgen; do not edit", "omitted": OMITTED, "project": data})
    }
