"""Deterministic YAML text of a document dict: block style, insertion order, safe quoting.

The documents are JSON-like data (dicts, lists, str, int, float, bool, None), so the dump
skips PyYAML's representer and serializer (Python, and most of the time of a build: the
platform document of a 200-event platform has ~300k nodes) and hands the event stream
straight to the emitter. libyaml's emitter is used when PyYAML has it (its wheels ship it);
whether a plain string would read back as another type is PyYAML's own resolver's call, so
quoting is exactly what `yaml.safe_dump` would choose. No anchors are ever written.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import yaml

_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_STR = "tag:yaml.org,2002:str"
_RESOLVER = yaml.resolver.Resolver()


@lru_cache(maxsize=65536)
def _plain_is_str(value: str) -> bool:
    """True when `value` written plain reads back as this string (not a bool, number, ...)."""
    tag: str = _RESOLVER.resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    return tag == _STR


def _scalar(tag: str, value: str) -> yaml.ScalarEvent:
    return yaml.ScalarEvent(None, tag, (True, False), value)


def _events(value: Any, out: list[yaml.Event]) -> None:
    """Append the events of `value` to `out` (one list, no nested generators: ~300k events)."""
    append = out.append
    if isinstance(value, str):
        # Multi-line docs read best as literal blocks; the emitter falls back to a quoted
        # scalar itself when the text cannot be one (trailing spaces, control characters).
        style = "|" if "\n" in value else None
        append(yaml.ScalarEvent(None, _STR, (_plain_is_str(value), True), value, style=style))
    elif isinstance(value, dict):
        append(yaml.MappingStartEvent(None, None, True, flow_style=False))
        for key, item in value.items():
            key = str(key)
            append(yaml.ScalarEvent(None, _STR, (_plain_is_str(key), True), key))
            _events(item, out)
        append(yaml.MappingEndEvent())
    elif isinstance(value, (list, tuple)):
        # An empty list must be flow style (`[]`): a block sequence cannot be empty.
        append(yaml.SequenceStartEvent(None, None, True, flow_style=not value))
        for item in value:
            _events(item, out)
        append(yaml.SequenceEndEvent())
    elif value is None:
        append(_scalar("tag:yaml.org,2002:null", "null"))
    elif isinstance(value, bool):
        append(_scalar("tag:yaml.org,2002:bool", "true" if value else "false"))
    elif isinstance(value, int):
        append(_scalar("tag:yaml.org,2002:int", str(value)))
    elif isinstance(value, float):
        append(_scalar("tag:yaml.org,2002:float", _float(value)))
    else:
        raise TypeError(f"not JSON-like data: {type(value).__name__}")


def _float(value: float) -> str:
    # SafeRepresenter's spelling, so the text reads back as the same float.
    if math.isnan(value):
        return ".nan"
    if value in (float("inf"), float("-inf")):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value).lower()
    if "." not in text and "e" in text:
        text = text.replace("e", ".0e", 1)
    return text


def _stream(document: dict[str, Any]) -> list[yaml.Event]:
    out: list[yaml.Event] = [
        yaml.StreamStartEvent(encoding=None),
        yaml.DocumentStartEvent(explicit=False),
    ]
    _events(document, out)
    out += [yaml.DocumentEndEvent(explicit=False), yaml.StreamEndEvent()]
    return out


def dump(document: dict[str, Any], header: str) -> bytes:
    """`# header` then the document; keys in the order the builder inserted them."""
    body: str = yaml.emit(_stream(document), Dumper=_DUMPER, allow_unicode=True, width=100)
    comment = "".join(f"# {line}\n" for line in header.splitlines())
    return (comment + body).encode()
