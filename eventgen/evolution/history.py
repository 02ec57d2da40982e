"""The committed, append-only schema history: `schemas-history/<subject>/<n>.avsc|.json`.

Each subject's directory holds every schema version it ever had under TopicNameStrategy,
numbered from 1 like registry versions. A build appends a version when the current schema
differs (canonical JSON) from the latest one and never rewrites old files, so the history is
what transitive compatibility modes check against and what `eventgen registry push` replays.
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
EXTENSIONS = {"avro": "avsc", "json": "json"}
_FILE = re.compile(r"([1-9][0-9]*)\.(avsc|json)")

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
    project: Project, previous: dict[str, bytes], schemas: Schemas | None = None
) -> dict[str, bytes]:
    """The previous history unchanged plus a new version for each subject that changed.

    `schemas` is the build's builder: the subjects reuse the records the emitters built.
    """
    history = parse(previous, source="the schema history")
    files = dict(previous)
    ext = EXTENSIONS[project.defaults.serialization]
    for name, subject in subjects(project, schemas=schemas).items():
        versions = history.get(name, [])
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
                f"{ROOT}/ holds only <subject>/<n>.avsc or <subject>/<n>.json files",
            )
        match = _FILE.fullmatch(parts[2])
        if match is None:
            raise InputError(
                f"{source}: {path} is not named <n>.avsc or <n>.json (n = 1, 2, ...)",
                "remove or rename the file; history files are written by `eventgen build`",
            )
        try:
            schema = json.loads(files[path].decode("utf-8"))
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
