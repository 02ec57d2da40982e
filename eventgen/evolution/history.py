"""The committed, append-only schema history: `schemas-history/<subject>/<n>.avsc|.json|.proto`.

Each subject's directory holds every schema version it ever had under TopicNameStrategy,
numbered from 1 like registry versions. A build appends a version when the current schema
differs (canonical JSON) from the latest one and never rewrites old files, so the history is
what transitive compatibility modes check against and what `eventgen registry push` replays.

Under `serialization: protobuf` a value subject's version is the `.proto` text of its
topic's context (`<n>.proto`, plain text, compared byte for byte); keys stay Avro (`.avsc`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from eventgen.canonical import dumps
from eventgen.evolution.errors import InputError
from eventgen.evolution.subjects import canonical, subjects
from eventgen.ir.model import Project
from eventgen.schemas import Schemas

ROOT = "schemas-history"
KIND = "schema-history"  # the manifest kind of its files
EXTENSIONS = {"avro": "avsc", "json": "json", "protobuf": "proto"}
_FILE = re.compile(r"([1-9][0-9]*)\.(avsc|json|proto)")

History = dict[str, list[Any]]  # subject -> parsed schemas, version 1 first


def read(out: Path) -> dict[str, bytes]:
    """Every file under `<out>/schemas-history/`, keyed by its path relative to `out`."""
    root = out / ROOT
    if not root.is_dir():
        return {}
    files: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            files[path.relative_to(out).as_posix()] = path.read_bytes()
    return files


def emit(
    project: Project,
    previous: dict[str, bytes],
    schemas: Schemas | None = None,
    proto_lock: Any = None,
) -> dict[str, bytes]:
    """The previous history unchanged plus a new version for each subject that changed.

    `schemas` is the build's builder: the subjects reuse the records the emitters built;
    `proto_lock` is the field-number lock the build read (protobuf only).
    """
    history = parse(previous, source="the schema history")
    files = dict(previous)
    for name, subject in subjects(project, schemas=schemas, proto_lock=proto_lock).items():
        versions = history.get(name, [])
        ext = EXTENSIONS[subject.format]
        if subject.format == "protobuf":
            text = str(subject.schema[subject.main])
            if versions and versions[-1] == text:
                continue
            files[f"{ROOT}/{name}/{len(versions) + 1}.{ext}"] = text.encode("utf-8")
            continue
        if versions and canonical(versions[-1]) == canonical(subject.schema):
            continue
        files[f"{ROOT}/{name}/{len(versions) + 1}.{ext}"] = dumps(subject.schema)
    return dict(sorted(files.items()))


def parse(files: dict[str, bytes], *, source: str) -> History:
    """Parsed versions per subject; anything unexpected is an InputError (exit 2)."""
    by_subject: dict[str, dict[int, Any]] = {}
    for path in sorted(files):
        parts = path.split("/")
        if len(parts) != 3 or parts[0] != ROOT:
            raise InputError(
                f"{source}: unexpected file {path}",
                f"{ROOT}/ holds only <subject>/<n>.avsc, <n>.json or <n>.proto files",
            )
        match = _FILE.fullmatch(parts[2])
        if match is None:
            raise InputError(
                f"{source}: {path} is not named <n>.avsc, <n>.json or <n>.proto (n = 1, 2, ...)",
                "remove or rename the file; history files are written by `eventgen build`",
            )
        try:
            text = files[path].decode("utf-8")
            # .proto versions are text (checked by protoc when compared), the others JSON.
            schema = text if match.group(2) == "proto" else json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(
                f"{source}: {path} is not valid JSON ({exc})",
                "restore it from git; history files must never be edited by hand",
            ) from exc
        by_subject.setdefault(parts[1], {})[int(match.group(1))] = schema
    history: History = {}
    for subject, numbered in by_subject.items():
        missing = [n for n in range(1, max(numbered) + 1) if n not in numbered]
        if missing:
            raise InputError(
                f"{source}: subject {subject} lacks version(s) "
                + ", ".join(map(str, missing))
                + f" of {max(numbered)}",
                "restore the missing files from git; transitive checks need every version",
            )
        history[subject] = [numbered[n] for n in sorted(numbered)]
    return history
