"""Load one YAML spec file into PMap/PList trees, refusing what PyYAML would accept silently.

PyYAML's composer keeps start marks for every node but its constructors drop them, accept
duplicate keys (last wins) and expand aliases without limit. So we compose with libyaml and
build the tree ourselves: duplicate keys, alias bombs, custom tags, deep nesting and
non-mapping roots all become diagnostics. Plain scalars follow the YAML 1.2 core schema
(`on`, `no`, `yes` stay strings), which avoids the YAML 1.1 "Norway problem" in spec values.
"""

from __future__ import annotations

import gc
import re
from typing import Any

import yaml

from eventgen.diagnostics import Diagnostic, Loc, error
from eventgen.spec.nodes import PList, PMap

MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_DEPTH = 100
# No spec value needs more digits (long is 19, decimal precision at most 38); past Python's
# int-string limit (4,300 digits) int() would raise, and long digit strings cost quadratic time.
MAX_INT_DIGITS = 100
# Alias expansion may add at most this many nodes beyond the document's own node count.
ALIAS_EXPANSION_BUDGET = 100_000

# libyaml's composer is several times faster than PyYAML's pure-Python one.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TAGGED = re.compile(r"(&\S+\s+)?!")

_NULL = {"", "~", "null", "Null", "NULL"}
_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}
_INT = re.compile(r"[-+]?[0-9]+")
_OCT = re.compile(r"0o[0-7]+")
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INF = re.compile(r"[-+]?\.(inf|Inf|INF)")
_NAN = {".nan", ".NaN", ".NAN"}
_STANDARD_TAGS = {
    "tag:yaml.org,2002:" + t
    for t in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp", "merge", "binary")
}


class _Abort(Exception):
    def __init__(self, diagnostic: Diagnostic) -> None:
        self.diagnostic = diagnostic


def plain_scalar(text: str) -> Any:
    """Resolve an unquoted scalar by the YAML 1.2 core schema."""
    if text in _NULL:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if _INT.fullmatch(text):
        return int(text)
    if _OCT.fullmatch(text):
        return int(text, 0)
    if _HEX.fullmatch(text):
        return int(text, 0)
    if _FLOAT.fullmatch(text) and any(c.isdigit() for c in text):
        return float(text)
    if _INF.fullmatch(text):
        return float("-inf") if text.startswith("-") else float("inf")
    if text in _NAN:
        return float("nan")
    return text


def _is_integer_literal(text: str) -> bool:
    return bool(_INT.fullmatch(text) or _OCT.fullmatch(text) or _HEX.fullmatch(text))


class _Builder:
    """Turns a composed node graph into PMap/PList/scalars, with limits."""

    def __init__(self, file: str, text: str) -> None:
        self.file = file
        self.text = text
        self.seen: set[int] = set()  # collection nodes built once already
        self.replaying = 0  # > 0 while an alias re-expands a collection built before
        self.expanded = 0  # nodes built by such re-expansions
        self.active: set[int] = set()
        self.diagnostics: list[Diagnostic] = []
        self._locs: dict[int, Loc] = {}  # by character offset
        self._lines: dict[int, int] = {}  # one int object per line number (past 256, each is new)

    def loc(self, node: yaml.Node) -> Loc:
        # A collection's own position is also its value's or item's position in its parent:
        # one Loc serves both (a big platform has about a million of them, held by the IR).
        mark = node.start_mark
        found = self._locs.get(mark.index)
        if found is None:
            line = mark.line + 1
            found = self._locs[mark.index] = Loc(
                self.file, self._lines.setdefault(line, line), mark.column + 1
            )
        return found

    def build(self, node: yaml.Node, depth: int = 0) -> Any:
        if self.replaying:
            self.expanded += 1
            if self.expanded > ALIAS_EXPANSION_BUDGET:
                raise _Abort(
                    error(
                        "E0105",
                        self.loc(node),
                        "YAML aliases expand to too many nodes (possible alias bomb)",
                        f"aliases may add at most {ALIAS_EXPANSION_BUDGET} nodes",
                    )
                )
        if node.tag not in _STANDARD_TAGS:
            self.diagnostics.append(
                error("E0106", self.loc(node), f"custom YAML tag `{node.tag}` is not allowed")
            )
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node)
        if depth > MAX_DEPTH:
            raise _Abort(error("E0110", self.loc(node), f"nesting deeper than {MAX_DEPTH} levels"))
        key = id(node)
        if key in self.active:
            raise _Abort(error("E0105", self.loc(node), "recursive YAML alias"))
        replay = key in self.seen
        self.seen.add(key)
        self.active.add(key)
        self.replaying += replay
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, depth)
            seq = PList(self.loc(node))
            for item in node.value:
                seq.push(self.build(item, depth + 1), self.loc(item))
            return seq
        finally:
            self.active.discard(key)
            self.replaying -= replay

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        # Plain style is "" under libyaml and None under PyYAML. Untagged plain scalars are
        # resolved by the YAML 1.2 core schema (`on`/`no` stay strings, `1e3` is a number);
        # an explicit tag such as `!!str 5` is honoured.
        if not node.style and not self._explicitly_tagged(node):
            if len(node.value) > MAX_INT_DIGITS and _is_integer_literal(node.value):
                self.diagnostics.append(
                    error(
                        "E0113",
                        self.loc(node),
                        f"integer literal of {len(node.value)} characters"
                        f" (more than {MAX_INT_DIGITS} digits)",
                        "no spec value takes an integer this long; quote it if it is text",
                    )
                )
                return node.value
            return plain_scalar(node.value)
        return str(node.value)

    def _explicitly_tagged(self, node: yaml.Node) -> bool:
        start = node.start_mark.index
        return _TAGGED.match(self.text, start) is not None

    def _mapping(self, node: yaml.MappingNode, depth: int) -> PMap:
        result = PMap(self.loc(node))
        merged: list[PMap] = []
        for key_node, value_node in node.value:
            key_loc = self.loc(key_node)
            if key_node.tag == "tag:yaml.org,2002:merge":
                merged.extend(self._merge_sources(value_node, depth))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.diagnostics.append(
                    error("E0104", key_loc, "mapping keys must be plain strings")
                )
                continue
            key = str(key_node.value)
            if key in result:
                first = result.key_loc(key)
                self.diagnostics.append(
                    error(
                        "E0103",
                        key_loc,
                        f"duplicate key `{key}`",
                        f"first defined at line {first.line}, column {first.col}",
                    )
                )
                continue
            result.put(key, self.build(value_node, depth + 1), key_loc, self.loc(value_node))
        for source in merged:  # explicit keys win over merged ones, as in YAML's merge key
            for key, value in source.items():
                if key not in result:
                    result.put(key, value, source.key_loc(key), source.value_loc(key))
        return result

    def _merge_sources(self, node: yaml.Node, depth: int) -> list[PMap]:
        value = self.build(node, depth + 1)
        items = value if isinstance(value, PList) else [value]
        sources = [item for item in items if isinstance(item, PMap)]
        if len(sources) != len(items):
            self.diagnostics.append(
                error(
                    "E0104", self.loc(node), "a merge key `<<` needs a mapping or list of mappings"
                )
            )
        return sources


def _decode(data: bytes, file: str) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        raise _Abort(
            error(
                "E0101",
                Loc(file, line, col),
                f"file is not valid UTF-8 (byte 0x{data[exc.start]:02x})",
                "save the file as UTF-8",
            )
        ) from None


def _yaml_error(exc: yaml.YAMLError, file: str, text: str) -> Diagnostic:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    loc = Loc(file, mark.line + 1, mark.column + 1) if mark is not None else Loc(file, 1, 1)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    hint = None
    if "\t" in str(exc) or _tab_at(text, loc):
        hint = "YAML indentation must use spaces, not tabs"
    elif "expected a single document" in str(exc):
        hint = "put each context in its own file; `---` separators are not supported"
    return error("E0102", loc, f"malformed YAML: {problem}", hint)


def _tab_at(text: str, loc: Loc) -> bool:
    lines = text.splitlines()
    return 0 < loc.line <= len(lines) and "\t" in lines[loc.line - 1][: max(loc.col, 1)]


def load_yaml(data: bytes, file: str) -> tuple[PMap | None, list[Diagnostic]]:
    """Parse one spec file's bytes; return its root mapping (or None) and diagnostics."""
    # Composing and building allocate millions of small acyclic objects; the cyclic
    # collector would rescan them over and over (a third of the time on a 5 MB spec).
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _load_yaml(data, file)
    finally:
        if enabled:
            gc.enable()


def _load_yaml(data: bytes, file: str) -> tuple[PMap | None, list[Diagnostic]]:
    if len(data) > MAX_FILE_BYTES:
        return None, [error("E0109", Loc(file), f"file larger than {MAX_FILE_BYTES} bytes")]
    try:
        text = _decode(data, file)
        try:
            root = yaml.compose(text, Loader=_Loader)
        except yaml.YAMLError as exc:
            return None, [_yaml_error(exc, file, text)]
        except RecursionError:
            return None, [error("E0110", Loc(file, 1, 1), "nesting too deep")]
        if root is None:
            return None, [error("E0107", Loc(file), "file is empty", "start it with `eventgen: 1`")]
        builder = _Builder(file, text)
        value = builder.build(root)
    except _Abort as abort:
        return None, [abort.diagnostic]
    if not isinstance(value, PMap):
        kind = "a list" if isinstance(value, PList) else "a single value"
        found = [error("E0108", builder.loc(root), f"a spec file must be a mapping, not {kind}")]
        return None, builder.diagnostics + found
    return value, builder.diagnostics
