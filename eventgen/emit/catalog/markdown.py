"""Markdown building blocks for the catalog that render on GitHub whatever a spec holds.

Spec text (docs, patterns, defaults, names) is never pasted raw: `text()` backslash-escapes
every character that could start Markdown inline syntax and writes `<`, `>` and `&` as
entities, so a doc cannot open HTML (`<script>`, `<!--`), emphasis, links or code, or end a
table cell (`|`). `prose()` keeps a doc's paragraphs but makes each one a single line that
cannot open a block (heading, list, quote, fence, indented code). `code()` uses a code span
only for text that is safe inside one; anything else falls back to `text()`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from urllib.parse import quote

# CommonMark lets a backslash escape any ASCII punctuation; these are the ones that mean
# something inline (GFM: `~` strikethrough, `|` table cells).
_INLINE = set("\\`*_[]!#~|")
_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
_BLOCK_START = re.compile(r"([#>+=-]|[0-9]+[.)])")
_CODE_SAFE = re.compile(r"[^`|\\<>&\s]([^`|\\\n\r\t]*[^`|\\\s])?")


def text(value: str) -> str:
    """Inline Markdown showing `value` literally, on one line (whitespace runs -> one space)."""
    return _escape(" ".join(value.split()))


def _escape(flat: str) -> str:
    return "".join(_ENTITIES.get(ch) or ("\\" + ch if ch in _INLINE else ch) for ch in flat)


def cell(value: str) -> str:
    """A table cell: `text()`, or `-` for an empty value (an empty cell reads as missing)."""
    return text(value) or "-"


def code(value: str) -> str:
    """`value` as a code span when it is safe in one (no backtick, pipe, backslash, newline,
    edge blank), else as escaped text."""
    flat = " ".join(value.split())
    if _CODE_SAFE.fullmatch(flat) and "<" not in flat:
        return f"`{flat}`"
    return text(flat)


_DOC_CODE = re.compile(r"`([^`|\\\n]+)`")


def doc(value: str) -> str:
    """A doc on one line: `text()`, except that the doc's own simple code spans (no pipe,
    backslash or newline inside) stay code spans."""
    flat = " ".join(value.split())
    out, last = [], 0
    for match in _DOC_CODE.finditer(flat):
        out.append(_escape(flat[last : match.start()]))
        inner = match.group(1)
        out.append(f"`{inner}`" if inner.strip() == inner else _escape(match.group(0)))
        last = match.end()
    out.append(_escape(flat[last:]))
    return "".join(out)


def prose(value: str) -> str:
    """A spec doc as Markdown paragraphs: blank lines separate paragraphs, each paragraph is
    one escaped line, and a line that would open a block gets its first character escaped."""
    paragraphs = re.split(r"\n\s*\n", value.strip())
    out = []
    for para in paragraphs:
        line = doc(para)
        if not line:
            continue
        match = _BLOCK_START.match(line)
        if match:
            end = match.end() - 1  # escape the marker's last character (`#`, `-`, `.`, `)`)
            line = line[:end] + "\\" + line[end:]
        out.append(line)
    return "\n\n".join(out)


def anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces -> `-`."""
    lowered = heading.strip().lower()
    kept = "".join(ch for ch in lowered if ch.isalnum() or ch in " -_")
    return kept.replace(" ", "-")


def link(label: str, target: str) -> str:
    """A relative link; `target` (a path and anchor built by eventgen) is percent-encoded,
    so no name can end the link's destination."""
    return f"[{text(label)}]({quote(target, safe='/#.-_~')})"


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """Lines of a GFM table; cells are already-escaped Markdown (use `cell()` or `code()`)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        assert len(row) == len(header), (header, row)
        lines.append("| " + " | ".join(c or "-" for c in row) + " |")
    return lines


def fenced(body: str, info: str) -> list[str]:
    """A fenced code block longer than any backtick run in `body`, so nothing closes it."""
    runs = [len(r) for r in re.findall(r"`+", body)]
    fence = "`" * max(3, max(runs, default=0) + 1)
    return [fence + info, body.rstrip("\n"), fence]
