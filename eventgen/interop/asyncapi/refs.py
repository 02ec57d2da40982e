"""`$ref` resolution: local pointers and relative files inside the document's folder only.

Remote URLs (any `scheme:`) are refused and named, never fetched; a relative file that
resolves outside the document's folder (`../`, symlinks, absolute paths) is refused too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from eventgen.diagnostics import Diagnostic, Loc, error
from eventgen.interop.asyncapi import codes
from eventgen.interop.asyncapi.document import Document, pointer_text
from eventgen.spec.nodes import PList, PMap

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
MAX_REF_CHAIN = 64


@dataclass(frozen=True)
class Node:
    """A value of the document, where it is (file, JSON pointer) and its position."""

    value: Any
    file: Path
    path: tuple[str | int, ...]
    loc: Loc

    @property
    def pointer(self) -> str:
        return pointer_text(self.path)

    @property
    def where(self) -> str:
        return f"{self.file.name}{self.pointer}"

    def child(self, key: str | int) -> Node:
        value = self.value
        if isinstance(value, PMap) and isinstance(key, str):
            item = value[key]
            loc = item.loc if isinstance(item, (PMap, PList)) else value.value_loc(key)
            return Node(item, self.file, (*self.path, key), loc)
        assert isinstance(value, PList) and isinstance(key, int)
        item = value[key]
        loc = item.loc if isinstance(item, (PMap, PList)) else value.item_loc(key)
        return Node(item, self.file, (*self.path, key), loc)

    def children(self) -> list[tuple[str, Node]]:
        if not isinstance(self.value, PMap):
            return []
        return [(k, self.child(k)) for k in self.value]

    def items(self) -> list[Node]:
        if not isinstance(self.value, PList):
            return []
        return [self.child(i) for i in range(len(self.value))]

    def get(self, key: str) -> Node | None:
        return self.child(key) if isinstance(self.value, PMap) and key in self.value else None


class Resolver:
    """Follows `$ref` chains; collects its diagnostics in `found`."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.found: list[Diagnostic] = []

    def root(self) -> Node:
        return Node(self.doc.root, self.doc.path, (), self.doc.root.loc)

    def deref(self, node: Node | None) -> Node | None:
        """`node` with every `$ref` followed; None (reported) when a ref cannot be followed."""
        seen: list[str] = []
        while node is not None and isinstance(node.value, PMap) and "$ref" in node.value:
            ref = node.value["$ref"]
            here = node.child("$ref")
            if not isinstance(ref, str):
                self.found.append(
                    error(codes.MISSING_REF, here.loc, f"{here.pointer}: `$ref` must be a string")
                )
                return None
            if node.where in seen or len(seen) > MAX_REF_CHAIN:
                cycle = " -> ".join([*seen, node.where])
                self.found.append(
                    error(codes.CIRCULAR, here.loc, f"{here.pointer}: circular `$ref`: {cycle}")
                )
                return None
            seen.append(node.where)
            node = self._target(ref, node.file, here)
        return node

    def _target(self, ref: str, file: Path, here: Node) -> Node | None:
        loc, at = here.loc, here.pointer
        if _SCHEME.match(ref) or ref.startswith("//"):
            self.found.append(
                error(
                    codes.REMOTE_REF,
                    loc,
                    f"{at}: remote `$ref` `{ref}` refused",
                    "the importer never fetches URLs: copy the schema into the document's"
                    " folder and refer to it by a relative path",
                )
            )
            return None
        file_part, _, fragment = ref.partition("#")
        target_file = file
        if file_part:
            target_file = (file.parent / unquote(file_part)).resolve()
            if not target_file.is_relative_to(self.doc.folder):
                self.found.append(
                    error(
                        codes.ESCAPING_REF,
                        loc,
                        f"{at}: `$ref` `{ref}` leaves the document's folder",
                        "referenced files must be inside the folder of the document",
                    )
                )
                return None
            if target_file.is_dir():
                self.found.append(
                    error(codes.READ, loc, f"{at}: `$ref` `{ref}` names a folder, not a file")
                )
                return None
            if not target_file.exists():
                self.found.append(
                    error(codes.MISSING_REF, loc, f"{at}: `$ref` `{ref}`: no such file")
                )
                return None
        root, found = self.doc.load(target_file)
        self.found.extend(found)
        if root is None:
            if not found:
                self.found.append(
                    error(codes.MISSING_REF, loc, f"{at}: `$ref` `{ref}`: no such file")
                )
            return None
        node = Node(root, target_file, (), root.loc)
        for token in _tokens(fragment):
            key: str | int = token
            if isinstance(node.value, PList) and token.isdigit():
                key = int(token)
            ok = (isinstance(node.value, PMap) and key in node.value) or (
                isinstance(node.value, PList) and isinstance(key, int) and key < len(node.value)
            )
            if not ok:
                self.found.append(
                    error(codes.MISSING_REF, loc, f"{at}: `$ref` `{ref}`: `{token}` not found")
                )
                return None
            node = node.child(key)
        return node


def _tokens(fragment: str) -> list[str]:
    if not fragment or fragment == "/":
        return []
    return [
        unquote(t).replace("~1", "/").replace("~0", "~") for t in fragment.lstrip("/").split("/")
    ]
