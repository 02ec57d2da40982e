"""JSON Schema dicts as `components.schemas` entries: `$defs` lifted out, refs rewritten."""

from __future__ import annotations

from typing import Any

from eventgen.emit.asyncapi import names

Names = tuple[tuple[str, str], ...]  # ($defs key, qualified spec name)


def _rewrite_refs(schema: Any, keys: dict[str, str]) -> Any:
    """`#/$defs/<k>` -> `#/components/schemas/<key>`: the document root is the ref base."""
    if isinstance(schema, dict):
        out = {}
        for k, v in schema.items():
            if k == "$ref" and isinstance(v, str) and v.startswith("#/$defs/"):
                out[k] = names.pointer("components", "schemas", keys[v[len("#/$defs/") :]])
            elif k not in ("$schema", "$id", "$defs"):
                out[k] = _rewrite_refs(v, keys)
        return out
    if isinstance(schema, list):
        return [_rewrite_refs(v, keys) for v in schema]
    return schema


def json_parts(schema: dict[str, Any], found: Names) -> tuple[Any, dict[str, Any]]:
    """The root without `$defs`, and each definition under its component key."""
    keys = {k: names.schema_key(q) for k, q in found if k}
    defs = {keys[k]: _rewrite_refs(v, keys) for k, v in schema.get("$defs", {}).items()}
    return _rewrite_refs(schema, keys), defs
