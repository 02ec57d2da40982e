"""`docs/schema-history.md`: every version of every subject, and what changed between them.

The changes are computed from the schemas themselves, not from the spec: each version is
reduced to its named types (Avro records, enums and fixed; JSON Schema's root object and its
`$defs`) with their fields and a type signature per field, and two consecutive versions are
compared on those: types added or removed, fields added or removed, field types changed, enum
symbols added or removed. Inline Avro definitions count as references after their first use,
so moving a definition between fields is no change.
"""

from __future__ import annotations

import json
from typing import Any

from eventgen.emit import layout
from eventgen.emit.catalog import markdown as md
from eventgen.evolution import history
from eventgen.ir import naming
from eventgen.ir.model import Project

Shape = dict[str, dict[str, str]]  # named type -> {field or `symbol:<s>` -> signature}
ROOT = "(root)"


def _fullname(node: dict[str, Any], namespace: str) -> tuple[str, str]:
    name = str(node.get("name", "?"))
    if "." in name:
        return name, name.rsplit(".", 1)[0]
    space = str(node.get("namespace", namespace) or "")
    return (f"{space}.{name}" if space else name), space


def _avro(node: Any, namespace: str, shape: Shape) -> str:
    """The signature of an Avro type, recording each named type's shape the first time."""
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return "union[" + ", ".join(_avro(b, namespace, shape) for b in node) + "]"
    if not isinstance(node, dict):
        return json.dumps(node, sort_keys=True)
    kind = node.get("type")
    if kind in ("record", "error", "enum", "fixed"):
        full, space = _fullname(node, namespace)
        if full not in shape:
            shape[full] = {}
            if kind == "enum":
                shape[full] = {f"symbol:{s}": "symbol" for s in node.get("symbols", [])}
            elif kind == "fixed":
                shape[full] = {"size": str(node.get("size"))}
            else:
                for f in node.get("fields", []):
                    shape[full][str(f.get("name"))] = _avro(f.get("type"), space, shape)
        return full
    if kind == "array":
        return f"array<{_avro(node.get('items'), namespace, shape)}>"
    if kind == "map":
        return f"map<{_avro(node.get('values'), namespace, shape)}>"
    extras = {k: v for k, v in node.items() if k not in ("type", "doc")}
    base = _avro(kind, namespace, shape)
    return base + (json.dumps(extras, sort_keys=True) if extras else "")


def _json_schema(doc: Any, shape: Shape) -> None:
    if not isinstance(doc, dict):
        shape[ROOT] = {"schema": json.dumps(doc, sort_keys=True)}
        return
    for name, sub in sorted(doc.get("$defs", {}).items()):
        shape[f"$defs/{name}"] = _json_object(sub)
    body = {k: v for k, v in doc.items() if k not in ("$defs", "$schema", "$id", "title")}
    shape[ROOT] = _json_object(body)


def _json_object(node: Any) -> dict[str, str]:
    if isinstance(node, dict) and isinstance(node.get("properties"), dict):
        return {k: json.dumps(v, sort_keys=True) for k, v in node["properties"].items()}
    if isinstance(node, dict) and isinstance(node.get("enum"), list):
        return {f"symbol:{s}": "symbol" for s in node["enum"]}
    return {"schema": json.dumps(node, sort_keys=True)}


def shape_of(path: str, schema: Any) -> Shape:
    shape: Shape = {}
    if path.endswith(".avsc"):
        root = _avro(schema, "", shape)
        # A primitive at the top is the subject's type itself; a union of records (several
        # messages on one topic) is told by its branch types being added or removed.
        if root not in shape and not isinstance(schema, list):
            shape[ROOT] = {"type": root}
    else:
        _json_schema(schema, shape)
    return shape


def changes(old: Shape, new: Shape) -> list[str]:
    """What changed from `old` to `new`, in words, sorted by type then field."""
    out = []
    for name in sorted(set(old) | set(new)):
        if name not in new:
            out.append(f"removed type {md.code(name)}")
            continue
        if name not in old:
            out.append(f"added type {md.code(name)}")
            continue
        before, after = old[name], new[name]
        for key in sorted(set(before) | set(after)):
            what, _, symbol = key.partition("symbol:")
            shown = md.code(symbol if not what and symbol else key)
            item = "symbol" if not what and symbol else "field"
            where = f"{shown} of {md.code(name)}"
            if key not in after:
                out.append(f"removed {item} {where}")
            elif key not in before:
                out.append(f"added {item} {where}")
            elif before[key] != after[key]:
                out.append(
                    f"changed {item} {where}: {md.code(before[key])} to {md.code(after[key])}"
                )
    return out or ["no structural change (docs, defaults or order only)"]


def _compatibility(project: Project) -> dict[str, str]:
    modes = {}
    for topic in project.all_topics():
        for part in ("key", "value"):
            modes[naming.subject(topic.kafka_name, part)] = topic.compatibility
    return modes


def history_page(project: Project, files: dict[str, bytes]) -> str:
    parsed = history.parse(files, source="the schema history")
    paths: dict[str, list[str]] = {}
    for path in sorted(files):
        paths.setdefault(path.split("/")[1], []).append(path)
    modes = _compatibility(project)
    out = [
        "# Schema history",
        "",
        f"<!-- {layout.header(project.spec_files)} -->",
        "",
        md.link("Catalog index", "index.md"),
        "",
        (
            "Every version under `schemas-history/`, as `eventgen registry push` replays them, "
            "with what changed from the version before (computed from the schemas)."
        ),
        "",
    ]
    if not parsed:
        return "\n".join(out + ["No subjects yet."]) + "\n"
    for subject in sorted(parsed):
        numbered = sorted(paths[subject], key=lambda p: int(p.rsplit("/", 1)[1].split(".")[0]))
        mode = modes.get(subject)
        out += [f"## {md.text(subject)}", ""]
        out.append(
            f"Compatibility: {md.text(mode)}."
            if mode
            else "Compatibility: none (the subject is no longer in the spec)."
        )
        out.append("")
        rows = []
        previous: Shape | None = None
        for version, path in enumerate(numbered, 1):
            shape = shape_of(path, parsed[subject][version - 1])
            what = ["first version"] if previous is None else changes(previous, shape)
            rows.append(
                [str(version), md.link(path.rsplit("/", 1)[1], "../" + path), "; ".join(what)]
            )
            previous = shape
        out += [*md.table(("version", "file", "changes"), rows), ""]
    return "\n".join(out).rstrip("\n") + "\n"
