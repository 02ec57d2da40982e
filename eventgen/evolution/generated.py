"""A snapshot from a previously generated tree: manifest, resolved spec, schemas, history.

The tree has no spec positions; findings about removed things point at the tree's
`resolved-spec.json` instead. Subject schemas are the latest version of each subject's history
(the history is exactly what a build registered), so a tree without `schemas-history/` cannot
be compared and is an input error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eventgen.diagnostics import Loc
from eventgen.evolution import history
from eventgen.evolution.errors import InputError
from eventgen.evolution.snapshot import ConsumerSnap, MessageSnap, Snapshot, TopicSnap
from eventgen.evolution.subjects import Subject
from eventgen.ir import naming

MANIFEST = "eventgen-manifest.json"
RESOLVED = "resolved-spec.json"


def is_generated_tree(path: Path) -> bool:
    return (path / MANIFEST).is_file()


def from_generated(root: Path, label: str) -> Snapshot:
    """Read a generated tree; anything missing or malformed is an InputError (exit 2)."""
    manifest = _load_json(root / MANIFEST, label)
    # Keys whose value is null, false or empty are omitted since that made the file a third of
    # its size (emit/resolved.py); older trees still write them, so both read alike via .get().
    resolved = _load_json(root / RESOLVED, label).get("project")
    if not isinstance(resolved, dict) or not isinstance(manifest.get("messages"), list):
        raise InputError(f"{label}: {RESOLVED} or {MANIFEST} has an unexpected shape")
    if not (root / history.ROOT).is_dir():
        raise InputError(
            f"{label}: no {history.ROOT}/ in this generated tree",
            "rebuild it with this eventgen (`eventgen build`) or diff against a git ref",
        )
    versions = history.parse(history.read(root), source=f"{label}/{history.ROOT}")
    fmt = str(resolved["defaults"]["serialization"])
    ext = "avro" if fmt == "avro" else "jsonschema"
    spec_loc = Loc(f"{label}/{RESOLVED}")
    try:
        index = {m["qualified"]: m for m in manifest["messages"]}
        topics: dict[str, TopicSnap] = {}
        messages: dict[str, MessageSnap] = {}
        consumers: dict[str, ConsumerSnap] = {}
        topic_names: dict[str, str] = {}
        compat: dict[str, str] = {}
        for ctx in resolved.get("contexts", []):
            for t in ctx.get("topics", []):
                topic_names[t["qualified"]] = t["kafka_name"]
                compat[t["kafka_name"]] = t["compatibility"]
                topics[t["kafka_name"]] = TopicSnap(
                    t["kafka_name"],
                    int(t["partitions"]),
                    tuple(t.get("cleanup", ())),
                    t.get("retention_ms"),
                    t.get("retention_bytes"),
                    t["compatibility"],
                    spec_loc,
                    t["context"],
                )
            for c in ctx.get("consumers", []):
                consumers[c["qualified"]] = ConsumerSnap(
                    c["qualified"], tuple(c.get("handles", ())), spec_loc
                )
            for m in ctx.get("messages", []):
                entry = index.get(m["qualified"], {})
                files = entry.get("schemas", {}).get(ext, [])
                numbers = entry.get("versions", [m["version"]])
                records = {
                    int(v): _load_json(root / f, label)
                    for v, f in zip(numbers, files, strict=False)
                }
                messages[m["qualified"]] = MessageSnap(
                    qualified=m["qualified"],
                    kind=m["kind"],
                    version=int(m["version"]),
                    topic=topic_names.get(m["topic"]) if m.get("topic") else None,
                    key=tuple(m["key"]) if m.get("key") else None,
                    record=records.get(int(m["version"])),
                    versions=records,
                    upcasts_from=frozenset(int(u["from_version"]) for u in m.get("upcasts", ())),
                    loc=spec_loc,
                )
        subjects = {
            name: _subject(name, schemas[-1], fmt, compat, spec_loc)
            for name, schemas in versions.items()
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{label}: malformed generated tree ({exc!r})") from exc
    return Snapshot(
        label=label,
        format=fmt,
        messages=messages,
        topics=topics,
        consumers=consumers,
        subjects=subjects,
        context_locs={},
        project_loc=spec_loc,
        named_locs={},
        history_loader=lambda: versions,
    )


def _subject(name: str, schema: Any, fmt: str, compat: dict[str, str], loc: Loc) -> Subject:
    topic, _, part = name.rpartition("-")
    if part not in ("key", "value"):
        topic, part = name, "value"
    return Subject(
        name=name,
        part="key" if part == "key" else "value",
        format="avro" if fmt == "avro" else "json",
        compatibility=compat.get(topic, "BACKWARD"),
        schema=schema,
        topic=topic,
        loc=loc,
    )


def _load_json(path: Path, label: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(f"{label}: {path.name} is missing", "is this a generated/ tree?") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{label}: {path} is not valid JSON ({exc})") from exc


__all__ = ["from_generated", "is_generated_tree", "naming"]
