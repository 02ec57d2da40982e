"""Safe Python source for spec strings and values: nothing from a spec is pasted raw."""

from __future__ import annotations

import math
import textwrap
import unicodedata
from collections.abc import Mapping
from typing import Any

_UNSAFE_IN_RAW = frozenset('"\\\n\r')


def py_str(text: str) -> str:
    """A string literal; raw (r"...") when that is both valid and easier to read."""
    raw_ok = _printable(text) and not _UNSAFE_IN_RAW & set(text.replace("\\", ""))
    if "\\" in text and raw_ok and not text.endswith("\\"):
        return f'r"{text}"'
    return _quoted(text)


def _quoted(text: str) -> str:
    if text.isascii() and text.isprintable():  # the common case, without a loop per character
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    out = ['"']
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif not _is_printable(ch):
            out.append(_escape(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def py_docstring(text: str, indent: int = 0, width: int = 100) -> str:
    """A triple-quoted docstring whose value is `text` (stripped), whatever it contains.

    Escaped lines too long for `width` at `indent` are wrapped at spaces (only there).
    """
    stripped = text.strip()
    if stripped.isascii() and stripped.replace("\n", " ").replace("\t", " ").isprintable():
        body = [stripped.replace("\\", "\\\\")]  # the common case: only backslashes to double
    else:
        body = []
        for ch in stripped:
            if ch == "\\":
                body.append("\\\\")
            elif ch in "\n\t" or _is_printable(ch):
                body.append(ch)
            else:
                body.append(_escape(ch))
    escaped = "".join(body).replace('"""', '\\"\\"\\"')
    room = width - indent - 6  # the quotes on the first and the last line
    lines: list[str] = []
    for line in escaped.split("\n"):
        if len(line) <= room:
            lines.append(line)
        else:
            lines.extend(
                textwrap.wrap(
                    line, room, break_long_words=False, break_on_hyphens=False, expand_tabs=False
                )
            )
    result = "\n".join(lines)
    stem = result[:-1]
    if result.endswith('"') and (len(stem) - len(stem.rstrip("\\"))) % 2 == 0:
        result = stem + '\\"'  # a bare quote would merge with the closing quotes
    return f'"""{result}"""'


def _escape(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _is_printable(ch: str) -> bool:
    # Control, format, separator (U+2028/9) and surrogate characters break or hide in source.
    return ch == " " or unicodedata.category(ch)[0] not in ("C", "Z")


def _printable(text: str) -> bool:
    if text.isascii():
        return text.isprintable()  # for ASCII the same test as _is_printable, in C
    return all(_is_printable(ch) for ch in text)


def py_literal(value: Any) -> str:
    """Python source of a JSON-like value (dicts keep their order; callers sort)."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, float) and not math.isfinite(value):
        return f'float("{value}")'  # repr gives `nan` / `inf`, names nothing defines
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return _quoted(value)
    if isinstance(value, Mapping):
        items = ", ".join(f"{py_literal(k)}: {py_literal(v)}" for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(py_literal(v) for v in value) + "]"
    raise TypeError(f"no literal for {type(value).__name__}")


def py_comment(text: str, width: int = 100) -> str:
    """`# ` comment lines for `text`; control characters escaped so nothing leaves the comment."""
    safe = "".join(ch if _is_printable(ch) else _escape(ch) for ch in text)
    return "\n".join("# " + line for line in textwrap.wrap(safe, width - 2, break_long_words=False))
