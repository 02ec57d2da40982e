"""Reading the committed field-number lock back, with a positioned error for every problem.

The lock is an output the build also reads (like the schema history), and people edit it by
hand when they merge branches. A conflict there would silently renumber fields, so each
problem is a diagnostic at the lock's `line:col`, and validate and build report the same
ones (both call `read_lock`). JSON is parsed twice: `json` decides validity (its error has a
position), then PyYAML's composer, which reads JSON as YAML, gives every node's position
and sees duplicate keys that `json` would silently collapse.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

from eventgen.diagnostics import Diagnostic, Loc, error
from eventgen.emit import layout
from eventgen.emit.protobuf.lock import (
    ENUM_MAX,
    FIELD_MAX,
    LOCK_VERSION,
    RESERVED_FIRST,
    RESERVED_LAST,
    Lock,
    Numbers,
    PackageNumbers,
)

HINT = (
    "restore the lock from git (`git checkout -- <lock>`), or resolve the conflict by hand "
    "keeping every number a name ever had; regenerate with `eventgen build`"
)
_Node = yaml.Node


def lock_location(specs: Path, out: Path) -> str:
    """The lock's path as diagnostics name files: relative to the specs folder."""
    return Path(os.path.relpath(out / layout.PROTO_LOCK, specs)).as_posix()


def read_lock(specs: Path, out: Path) -> tuple[Lock | None, list[Diagnostic]]:
    """The lock under `out` (None when there is none yet) and the problems found in it."""
    from eventgen.writer import SafeReader

    shown = lock_location(specs, out)
    try:
        data = SafeReader(out).read(layout.PROTO_LOCK)
    except NotADirectoryError:
        # An output path under a file holds no lock; the writer reports that path in one line.
        return None, []
    except (OSError, RuntimeError, ValueError) as exc:
        return None, [error("E0901", Loc(shown), f"the field-number lock cannot be read: {exc}")]
    if data is None:
        return None, []
    return parse_lock(data, shown)


def parse_lock(data: bytes, shown: str) -> tuple[Lock | None, list[Diagnostic]]:
    try:
        text = data.decode("utf-8")
        json.loads(text)
    except UnicodeDecodeError as exc:
        return None, [error("E0901", Loc(shown), f"lock is not UTF-8 ({exc.reason})", HINT)]
    except json.JSONDecodeError as exc:
        loc = Loc(shown, exc.lineno, exc.colno)
        return None, [error("E0901", loc, f"lock is not valid JSON: {exc.msg}", HINT)]
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:  # valid JSON PyYAML cannot read (e.g. a tab in a key)
        return None, [error("E0901", Loc(shown), f"lock cannot be parsed: {exc}", HINT)]
    if root is None:  # only comments or blanks: json.loads above already refused that
        return None, [error("E0901", Loc(shown), "lock is empty", HINT)]
    reader = _Reader(shown)
    lock = reader.lock(root)
    return (None if reader.found else lock), reader.found


def _at(shown: str, node: _Node) -> Loc:
    return Loc(shown, node.start_mark.line + 1, node.start_mark.column + 1)


class _Reader:
    def __init__(self, shown: str) -> None:
        self.shown = shown
        self.found: list[Diagnostic] = []

    def problem(self, code: str, node: _Node, message: str) -> None:
        self.found.append(error(code, _at(self.shown, node), message, HINT))

    def mapping(self, node: _Node, what: str) -> dict[str, tuple[_Node, _Node]]:
        """Key text -> (key node, value node); wrong shapes and duplicate keys reported."""
        if not isinstance(node, yaml.MappingNode):
            self.problem("E0902", node, f"{what} must be a JSON object")
            return {}
        items: dict[str, tuple[_Node, _Node]] = {}
        for key, value in node.value:
            name = str(key.value)
            if name in items:
                self.problem("E0903", key, f"{what} lists `{name}` twice")
                continue
            items[name] = (key, value)
        return items

    def lock(self, root: _Node) -> Lock:
        top = self.mapping(root, "the lock")
        version = top.get("version")
        if version is None or version[1].value != str(LOCK_VERSION):
            node = version[1] if version is not None else root
            self.problem("E0902", node, f'the lock must say "version": {LOCK_VERSION}')
        packages = top.get("packages")
        if packages is None:
            self.problem("E0902", root, 'the lock has no "packages" object')
            return Lock()
        found = []
        for name, (_key, value) in sorted(self.mapping(packages[1], "packages").items()):
            found.append((name, self.package(name, value)))
        return Lock(tuple(found))

    def package(self, name: str, node: _Node) -> PackageNumbers:
        parts = self.mapping(node, f"package `{name}`")
        groups: dict[str, list[tuple[str, Numbers]]] = {"messages": [], "enums": []}
        for group, key in (("messages", "fields"), ("enums", "values")):
            if group not in parts:
                self.problem("E0902", node, f'package `{name}` has no "{group}" object')
                continue
            limit = FIELD_MAX if group == "messages" else ENUM_MAX
            for entry, (_k, value) in sorted(self.mapping(parts[group][1], group).items()):
                numbers = self.numbers(f"`{name}.{entry}`", value, key, limit)
                groups[group].append((entry, numbers))
        return PackageNumbers(tuple(groups["messages"]), tuple(groups["enums"]))

    def numbers(self, what: str, node: _Node, key: str, limit: int) -> Numbers:
        parts = self.mapping(node, what)
        assigned: dict[str, int] = {}
        owner: dict[int, str] = {}
        if key not in parts:
            self.problem("E0902", node, f'{what} has no "{key}" object')
        else:
            for name, (_k, value) in self.mapping(parts[key][1], f"{what} {key}").items():
                number = self.number(what, value, limit, key == "fields")
                if number is None:
                    continue
                if number in owner:
                    self.problem(
                        "E0904",
                        value,
                        f"{what}: number {number} is given to `{owner[number]}` and `{name}`",
                    )
                    continue
                owner[number] = name
                assigned[name] = number
        reserved = self.reserved(what, parts, limit, key == "fields")
        for number, value in reserved:
            if number in owner:
                self.problem(
                    "E0905",
                    value,
                    f"{what}: number {number} is reserved but given to `{owner[number]}`",
                )
        names = self.reserved_names(what, parts)
        for name, value in names:
            if name in assigned:
                self.problem("E0905", value, f"{what}: name `{name}` is reserved but numbered")
        return Numbers(
            assigned=tuple(sorted(assigned.items())),
            reserved=tuple(sorted({n for n, _ in reserved})),
            reserved_names=tuple(sorted({n for n, _ in names})),
        )

    def number(self, what: str, node: _Node, limit: int, field: bool) -> int | None:
        text = node.value if isinstance(node, yaml.ScalarNode) else None
        if node.tag != "tag:yaml.org,2002:int" or not isinstance(text, str):
            self.problem("E0902", node, f"{what}: a number must be a JSON integer")
            return None
        number = int(text)
        if not 1 <= number <= limit or (field and RESERVED_FIRST <= number <= RESERVED_LAST):
            gap = f" and outside {RESERVED_FIRST}-{RESERVED_LAST}" if field else ""
            self.problem("E0906", node, f"{what}: number {number} must be in 1..{limit}{gap}")
            return None
        return number

    def reserved(
        self, what: str, parts: dict[str, tuple[_Node, _Node]], limit: int, field: bool
    ) -> list[tuple[int, _Node]]:
        node = parts.get("reserved")
        if node is None:
            return []
        if not isinstance(node[1], yaml.SequenceNode):
            self.problem("E0902", node[1], f'{what}: "reserved" must be a list of numbers')
            return []
        found = []
        for item in node[1].value:
            number = self.number(what, item, limit, field)
            if number is not None:
                found.append((number, item))
        return found

    def reserved_names(
        self, what: str, parts: dict[str, tuple[_Node, _Node]]
    ) -> list[tuple[str, _Node]]:
        node = parts.get("reserved_names")
        if node is None:
            return []
        if not isinstance(node[1], yaml.SequenceNode):
            self.problem("E0902", node[1], f'{what}: "reserved_names" must be a list of names')
            return []
        found: list[tuple[str, _Node]] = []
        for item in node[1].value:
            if not isinstance(item, yaml.ScalarNode) or item.tag != "tag:yaml.org,2002:str":
                self.problem("E0902", item, f'{what}: "reserved_names" holds a non-string')
                continue
            found.append((str(item.value), item))
        return found
