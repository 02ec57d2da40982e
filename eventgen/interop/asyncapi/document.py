"""Reading an AsyncAPI document: safe YAML/JSON load, version, official-schema validation.

The document (and every file a `$ref` reaches) is loaded with the spec loader
(eventgen.spec.yamlload), so duplicate keys, alias bombs, custom tags, deep nesting and
oversized files are refused exactly as in specs, and every node keeps its file:line:col.
JSON is read by the same loader (it is YAML 1.2). Validation uses the AsyncAPI Initiative's
own JSON Schemas, vendored under schemas/ (Apache-2.0, see schemas/NOTICE).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError

from eventgen.diagnostics import Diagnostic, Loc, error
from eventgen.interop.asyncapi import codes
from eventgen.spec.nodes import PList, PMap, loc_at
from eventgen.spec.yamlload import MAX_FILE_BYTES, load_yaml

SCHEMA_VERSIONS = {"2.6": "2.6.0", "3.0": "3.0.0"}
MAX_SCHEMA_ERRORS = 100


def pointer_text(path: tuple[str | int, ...] | list[str | int]) -> str:
    """An RFC 6901 JSON pointer (`#/a/b~1c`) for `path`."""
    escaped = (str(p).replace("~", "~0").replace("/", "~1") for p in path)
    return "#/" + "/".join(escaped) if path else "#"


@dataclass
class Document:
    """The loaded root document, the folder `$ref`s may reach, and the files read so far."""

    path: Path
    root: PMap
    folder: Path
    major: int
    files: dict[Path, PMap | None] = field(default_factory=dict)

    def load(self, path: Path) -> tuple[PMap | None, list[Diagnostic]]:
        if path in self.files:
            return self.files[path], []
        root, found = read_file(path)
        self.files[path] = root
        return root, found


def read_file(path: Path) -> tuple[PMap | None, list[Diagnostic]]:
    name = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return None, [error("E0109", Loc(name), f"file larger than {MAX_FILE_BYTES} bytes")]
        data = path.read_bytes()
    except OSError as exc:
        return None, [error(codes.READ, Loc(name), f"cannot read {name}: {exc.strerror}")]
    return load_yaml(data, name)


def open_document(path: Path) -> tuple[Document | None, list[Diagnostic]]:
    """Load and validate the root document; None when it is unusable."""
    root, found = read_file(path)
    if root is None or found:
        return None, found
    version = root.get("asyncapi")
    minor = ".".join(str(version).split(".")[:2]) if isinstance(version, str) else None
    if minor not in SCHEMA_VERSIONS:
        return None, [
            error(
                codes.VERSION,
                root.value_loc("asyncapi") if "asyncapi" in root else root.loc,
                f"#/asyncapi: `asyncapi: {version}` is not supported",
                "the importer reads AsyncAPI 2.6.x and 3.0.x documents",
            )
        ]
    assert minor is not None
    found = schema_errors(root, SCHEMA_VERSIONS[minor])
    if found:
        return None, found
    doc = Document(path.resolve(), root, path.resolve().parent, int(minor[0]))
    doc.files[doc.path] = root
    return doc, []


@cache
def _validator(version: str) -> jsonschema.Draft7Validator:
    text = resources.files(__package__).joinpath("schemas", f"{version}.json").read_text("utf-8")
    return jsonschema.Draft7Validator(json.loads(text))


def _deepest(err: ValidationError) -> ValidationError:
    # A oneOf/anyOf failure says only "not valid under any"; the sub-error that got furthest
    # into the document names what is actually wrong.
    while err.context:
        err = max(err.context, key=lambda e: (len(e.absolute_path), -len(e.context or ())))
    return err


def schema_errors(root: PMap, version: str) -> list[Diagnostic]:
    """Every violation of the official AsyncAPI schema, with its JSON pointer and position."""
    found: list[Diagnostic] = []
    errors = sorted(_validator(version).iter_errors(root), key=lambda e: list(map(str, e.path)))
    for err in errors[:MAX_SCHEMA_ERRORS]:
        best = _deepest(err)
        path = list(best.absolute_path)
        loc = loc_at(root, path) or root.loc
        found.append(
            error(
                codes.INVALID,
                loc,
                f"{pointer_text(path)}: {_short(best.message)}",
                f"invalid against the AsyncAPI {version} schema",
            )
        )
    return found


def _short(message: str, limit: int = 300) -> str:
    return message if len(message) <= limit else message[:limit] + "…"


def node_loc(value: Any, fallback: Loc) -> Loc:
    return value.loc if isinstance(value, (PMap, PList)) else fallback
