"""Protobuf value subjects: the `.proto` of a topic's context, numbered by the lock.

A protobuf value subject's schema is a mapping of import path -> `.proto` text: the topic's
context file (its `main` path) plus every file it imports, so protoc can compile it alone.
The schema history stores only the context's own text (`<n>.proto`); an old version is
checked with the NEW side's imported files (the history keeps no copies of them).
"""

from __future__ import annotations

import json
from typing import Any

from eventgen.evolution.errors import InputError
from eventgen.ir.model import Project

LOCK_FILE = "protobuf/field-numbers.lock.json"


def _numbers(entry: Any, key: str) -> Any:
    from eventgen.emit.protobuf.lock import Numbers

    assigned = entry.get(key, {})
    return Numbers(
        assigned=tuple(sorted((str(n), int(v)) for n, v in assigned.items())),
        reserved=tuple(sorted(int(v) for v in entry.get("reserved", []))),
        reserved_names=tuple(sorted(str(v) for v in entry.get("reserved_names", []))),
    )


def lock_from_bytes(data: bytes | None, source: str) -> Any:
    """The committed field-number lock, or None when there is none yet.

    The build validates the lock with positioned errors; here a broken lock only has to be
    refused, since numbers guessed without it would make every change look breaking.
    """
    if data is None:
        return None
    from eventgen.emit.protobuf.lock import Lock, PackageNumbers

    try:
        doc = json.loads(data.decode("utf-8"))
        packages = []
        for name, pkg in sorted(doc["packages"].items()):
            messages = tuple(sorted((k, _numbers(v, "fields")) for k, v in pkg["messages"].items()))
            enums = tuple(sorted((k, _numbers(v, "values")) for k, v in pkg["enums"].items()))
            packages.append((name, PackageNumbers(messages, enums)))
        return Lock(tuple(packages))
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(
            f"{source}: the field-number lock cannot be read ({exc})",
            "restore it from git; `eventgen validate` shows where it is broken",
        ) from exc


def proto_texts(project: Project, lock: Any) -> dict[str, tuple[str, str, tuple[str, ...]]]:
    """Context name -> (import path, rendered `.proto` text, imported paths)."""
    from eventgen.emit.protobuf.plan import proto_files
    from eventgen.emit.protobuf.render import render_proto

    return {
        ctx: (f.import_path, render_proto(f), f.imports)
        for ctx, f in proto_files(project, lock).items()
    }


def subject_schema(
    texts: dict[str, tuple[str, str, tuple[str, ...]]], context: str
) -> dict[str, str]:
    """The context's file and, transitively, every project file it imports."""
    by_path = {path: (text, imports) for path, text, imports in texts.values()}
    main = texts[context][0]
    found: dict[str, str] = {}
    todo = [main]
    while todo:
        path = todo.pop()
        if path in found or path not in by_path:
            continue  # well-known imports come with protoc
        text, imports = by_path[path]
        found[path] = text
        todo.extend(imports)
    return dict(sorted(found.items()))


def own_text(schema: Any, main: str) -> Any:
    """The context's own text of a subject schema (history files hold just that)."""
    return schema.get(main) if isinstance(schema, dict) else schema


def with_imports(version: Any, new: dict[str, str], main: str) -> dict[str, str]:
    """A version for the checker: its own text plus the new side's imported files."""
    if isinstance(version, dict):
        return version
    return {**new, main: str(version)}
