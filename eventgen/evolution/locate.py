"""Map a schema path from the compatibility checker back to a spec position.

Checker paths are JSON-pointer-like paths into a schema document (`/1/fields/3/type` for Avro,
`#/$defs/Money/properties/amount` for JSON Schema). Walking one through the document tells
which named record (message or type) and which field it ends in; the snapshot knows where
those are declared.
"""

from __future__ import annotations

from typing import Any

from eventgen.diagnostics import Loc
from eventgen.evolution.snapshot import Snapshot
from eventgen.evolution.subjects import Subject

Trail = list[tuple[str, str | None]]  # (qualified owner, field name or None), outermost first


def walk(doc: Any, path: str, names: dict[str, str]) -> Trail:
    """Owners and fields the path passes through; stops quietly where the document ends."""
    return walk_depth(doc, path, names)[0]


def walk_depth(doc: Any, path: str, names: dict[str, str]) -> tuple[Trail, int]:
    """`walk` plus how many path tokens the document could follow."""
    tokens = [t.replace("~1", "/").replace("~0", "~") for t in path.lstrip("#").split("/") if t]
    defined = _avro_definitions(doc)
    trail: Trail = []
    node = doc
    if "" in names and isinstance(doc, dict):
        trail.append((names[""], None))  # a JSON Schema whose root is the message record
    i = 0
    while i < len(tokens):
        _note_owner(node, names, trail)
        node = _deref(doc, node, tokens[i], defined)
        _note_owner(node, names, trail)
        token = tokens[i]
        if isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        elif isinstance(node, dict) and token in node:
            if token in ("$defs", "definitions") and i + 1 < len(tokens):
                key = tokens[i + 1]
                if key in names:
                    trail.append((names[key], None))
            if token == "properties" and i + 1 < len(tokens) and trail:
                trail[-1] = (trail[-1][0], tokens[i + 1])
            if token == "fields" and i + 1 < len(tokens) and trail:
                fields = node["fields"]
                idx = tokens[i + 1]
                if idx.isdigit() and int(idx) < len(fields) and isinstance(fields[int(idx)], dict):
                    trail[-1] = (trail[-1][0], str(fields[int(idx)].get("name")))
            node = node[token]
        else:
            break
        i += 1
    if i == len(tokens):
        _note_owner(node, names, trail)
        node = _deref(doc, node, "", defined)
        _note_owner(node, names, trail)
    return trail, i


def _note_owner(node: Any, names: dict[str, str], trail: Trail) -> None:
    # Avro named records and enums carry their own name; JSON ones are found via `$defs`.
    ref = node.get("$ref") if isinstance(node, dict) else None
    if isinstance(ref, str) and ref.startswith("#/$defs/") and ref[8:] in names:
        owner = names[ref[8:]]
        if not trail or trail[-1][0] != owner:
            trail.append((owner, None))
    if isinstance(node, dict) and node.get("type") in ("record", "enum") and "name" in node:
        name = str(node["name"])
        full = name if "." in name or "namespace" not in node else f"{node['namespace']}.{name}"
        named = names.get(full)
        if named is not None and (not trail or trail[-1][0] != named):
            trail.append((named, None))


def _deref(doc: Any, node: Any, token: str, defined: dict[str, Any]) -> Any:
    if isinstance(node, str) and node in defined:
        return defined[node]
    if isinstance(node, dict) and token not in node:
        if isinstance(node.get("type"), str) and node["type"] in defined:
            return defined[node["type"]]
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/") and isinstance(doc, dict):
            target: Any = doc
            for part in ref[2:].split("/"):
                target = target.get(part) if isinstance(target, dict) else None
            return target if target is not None else node
    return node


def _avro_definitions(doc: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    stack = [(doc, "")]
    while stack:
        node, namespace = stack.pop()
        if isinstance(node, list):
            stack.extend((n, namespace) for n in node)
        elif isinstance(node, dict):
            ns = str(node.get("namespace", namespace))
            if node.get("type") in ("record", "enum", "fixed") and "name" in node:
                name = str(node["name"])
                found[name if "." in name else f"{ns}.{name}"] = node
            stack.extend((v, ns) for v in node.values() if isinstance(v, (dict, list)))
    return found


def locate(
    path: str, old: Subject | None, new: Subject, old_snap: Snapshot, new_snap: Snapshot
) -> tuple[Loc, Loc | None]:
    """(new position, old position or None) of the spec item a checker path points at."""
    new_trail, new_depth = walk_depth(new.schema, path, dict(new.names))
    old_trail, old_depth = walk_depth(old.schema, path, dict(old.names)) if old else ([], -1)
    # The path belongs to whichever schema it can be followed through (reader or writer).
    if old_depth > new_depth:
        new_trail = [(owner, None) for owner, _ in old_trail[-1:]]
    elif new_depth > old_depth:
        old_trail = []
    new_loc = _resolve(new_trail, new_snap)
    old_loc = _resolve(old_trail, old_snap)
    if new_loc is not None and new_loc[1]:
        return new_loc[0], None
    if old_loc is not None and old_loc[1]:
        # The field is gone: report at its surviving owner, attach where it was.
        owner = _resolve([(old_trail[-1][0], None)], new_snap) if old_trail else None
        return (owner[0] if owner else new.loc), old_loc[0]
    if new_loc is not None:
        return new_loc[0], None
    if old_loc is not None:
        return new.loc, old_loc[0]
    return new.loc, None


def _resolve(trail: Trail, snap: Snapshot) -> tuple[Loc, bool] | None:
    """Deepest declared position along the trail; the flag says a field was found."""
    for owner, field_name in reversed(trail):
        if owner not in snap.named_locs:
            continue
        loc, fields = snap.named_locs[owner]
        if field_name is not None and field_name in fields:
            return fields[field_name], True
        return loc, False
    return None
