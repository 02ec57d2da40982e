"""Deterministic YAML text of a JSON-like document, written directly as text.

The AsyncAPI documents are closed JSON-like data (dicts, lists, str, int, float, bool, None)
and large: the platform document of a 200-event platform has ~300k nodes, and it repeats
every context document's channels, operations, messages and schemas. PyYAML's event stream
(even into libyaml's emitter) cost most of a build's time, so the text is written here:
block style, two-space indent, keys in insertion order, no anchors, no line folding.

Quoting is conservative and decided per string once (cached): plain only when the text
cannot mean anything else (both PyYAML's YAML 1.1 resolver and the YAML 1.2 core schema
read it back as a string, and no indicator or special character is present), single quotes for other printable one-line
text, a literal block (`|`/`|-`) for readable multi-line text, double quotes with escapes
for everything else. tests/interop/test_yamltext.py checks `yaml.safe_load(dump(d)) == d`
for random documents with hostile text.

A `Writer` caches the text of every mapping it wrote, by identity, for as long as it lives:
emitting the context documents first and then a platform document built from the same
dicts writes each shared subtree once and re-indents its lines.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any

import yaml

from eventgen.spec.yamlload import plain_scalar

_RESOLVER = yaml.resolver.Resolver()
_STR = "tag:yaml.org,2002:str"
# YAML 1.1 printable characters (what PyYAML's reader accepts), minus the line breaks and
# the byte order mark, which must never appear raw inside a scalar.
_PRINTABLE_LINE = re.compile(
    "[\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]*"
)
_FIRST_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")
_ANY_INDICATORS = (": ", " #")
_ESCAPES = {
    "\0": "\\0",
    "\x07": "\\a",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\x0b": "\\v",
    "\f": "\\f",
    "\r": "\\r",
    "\x1b": "\\e",
    '"': '\\"',
    "\\": "\\\\",
    "\x85": "\\N",
    "\xa0": "\\_",
    "\u2028": "\\L",
    "\u2029": "\\P",
}


def _printable_line(text: str) -> bool:
    return _PRINTABLE_LINE.fullmatch(text) is not None


def _plain_ok(text: str) -> bool:
    if not text or text != text.strip(" ") or text[0] in _FIRST_INDICATORS:
        return False
    if text.endswith(":") or text.startswith("...") or any(i in text for i in _ANY_INDICATORS):
        return False
    if not _printable_line(text) or "\xa0" in text:
        return False
    # Plain text must be a string to a YAML 1.2 reader too (the spec loader, the importer,
    # AsyncAPI's JavaScript parser): "01234" is a string to YAML 1.1, an int to YAML 1.2.
    if not isinstance(plain_scalar(text), str):
        return False
    tag: str = _RESOLVER.resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
    return tag == _STR


def _double_quoted(text: str) -> str:
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif _printable_line(ch) and ch != "\ufeff":
            out.append(ch)
        elif ord(ch) <= 0xFF:
            out.append(f"\\x{ord(ch):02X}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(f"\\U{ord(ch):08X}")
    return '"' + "".join(out) + '"'


@lru_cache(maxsize=65536)
def scalar_text(text: str) -> str:
    """A one-line YAML scalar reading back as exactly `text` (never a block)."""
    if _plain_ok(text):
        return text
    if _printable_line(text):
        # Single quotes keep everything printable on one line literally (leading and
        # trailing spaces included); only the quote itself is doubled.
        return "'" + text.replace("'", "''") + "'"
    return _double_quoted(text)


@lru_cache(maxsize=16384)
def _literal_lines(text: str) -> tuple[str, ...] | None:
    """The header and content lines of a literal block for `text`, or None when it cannot be.

    Only text that reads back unchanged qualifies: no leading break or leading space (which
    would need an indentation indicator), no trailing spaces on any line, at most one final
    newline, printable characters only, and no tabs (kept visible by double quotes).
    """
    if "\n" not in text or text.startswith(("\n", " ")) or text.endswith("\n\n"):
        return None
    body = text.removesuffix("\n")
    lines = body.split("\n")
    for line in lines:
        if line != line.rstrip(" ") or "\t" in line or not _printable_line(line):
            return None
        if "\xa0" in line or "\ufeff" in line:
            return None
    if not lines[-1]:
        return None
    header = "|" if text.endswith("\n") else "|-"
    return (header, *lines)


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


def _atom(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    raise TypeError(f"not JSON-like data: {type(value).__name__}")


# Mappings this deep or shallower are cached (channels, operations, messages, schemas sit at
# depth 2 and 3); deeper ones are written inside them and need no entry of their own.
CACHE_DEPTH = 3


class Writer:
    """Writes documents; a mapping's lines are cached by identity and indent while it lives."""

    def __init__(self) -> None:
        # (id, indent) -> (the object, kept alive so its id cannot be reused, and its lines)
        self._cache: dict[tuple[int, int], tuple[Any, list[str]]] = {}

    def dump(self, document: dict[str, Any], header: str) -> bytes:
        """`# header` then the document; keys in the order the builder inserted them."""
        comment = "".join(f"# {line}\n" for line in header.splitlines())
        lines = self._mapping(document, "", 0) if document else ["{}"]
        return (comment + "\n".join(lines) + "\n").encode()

    def _mapping(self, value: dict[str, Any], pad: str, depth: int) -> list[str]:
        """The lines of a non-empty mapping whose keys start at `pad`."""
        key = (id(value), len(pad))
        if depth <= CACHE_DEPTH:
            hit = self._cache.get(key)
            if hit is not None and hit[0] is value:
                return hit[1]
        out: list[str] = []
        for name, item in value.items():
            self._entry(out, pad, pad + scalar_text(str(name)) + ":", item, depth + 1)
        if depth <= CACHE_DEPTH:
            self._cache[key] = (value, out)
        return out

    def _entry(self, out: list[str], pad: str, lead: str, item: Any, depth: int) -> None:
        """`lead` (`<pad>key:`, or `<pad>-` in a sequence) followed by `item`."""
        if isinstance(item, dict):
            if not item:
                out.append(lead + " {}")
            elif lead.endswith("-"):
                # `- first: ...` on the dash's line, the other keys under it.
                first, *rest = self._mapping(item, pad + "  ", depth)
                out.append(lead + " " + first[len(pad) + 2 :])
                out.extend(rest)
            else:
                out.append(lead)
                out.extend(self._mapping(item, pad + "  ", depth))
        elif isinstance(item, (list, tuple)):
            if not item:
                out.append(lead + " []")
                return
            if lead.endswith("-"):
                inner: list[str] = []
                for element in item:
                    self._entry(inner, pad + "  ", pad + "  -", element, depth + 1)
                out.append(lead + " " + inner[0][len(pad) + 2 :])
                out.extend(inner[1:])
            else:
                # PyYAML's layout: a sequence under a key is not indented further.
                out.append(lead)
                for element in item:
                    self._entry(out, pad, pad + "-", element, depth + 1)
        elif isinstance(item, str):
            literal = _literal_lines(item)
            if literal is None:
                out.append(f"{lead} {scalar_text(item)}")
            else:
                out.append(f"{lead} {literal[0]}")
                inner_pad = pad + "  "
                out.extend(inner_pad + line if line else "" for line in literal[1:])
        else:
            out.append(f"{lead} {_atom(item)}")


def dump(document: dict[str, Any], header: str) -> bytes:
    """One document with a fresh writer (no text shared with other documents)."""
    return Writer().dump(document, header)
