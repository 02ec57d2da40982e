"""Object and array diffs: properties, items and their open/closed/partially-open models."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from eventgen.compat.jsonschema.diff import compare_limit
from eventgen.compat.jsonschema.model import JSchema
from eventgen.compat.jsonschema.types import Diff, at

if TYPE_CHECKING:
    from eventgen.compat.jsonschema.diff import Differ, Step


def _schema_of(value: JSchema | bool) -> JSchema | None:
    return value if isinstance(value, JSchema) else None


def _permits(value: JSchema | bool) -> bool:
    return value is not False


def _open_object(s: JSchema) -> bool:
    return not s.pattern_properties and s.additional is True and s.unevaluated is True


def _covering_property(s: JSchema, name: str) -> JSchema | None:
    for pattern, schema in s.pattern_properties.items():
        try:
            if re.search(pattern, name):
                return schema
        except re.error:
            continue
    return _schema_of(s.additional) or _schema_of(s.unevaluated)


def _covered(d: Differ, old: JSchema, new: JSchema, prefix: str) -> Step:
    sub = yield (old, new)
    return [
        *sub,
        (
            f"{prefix}_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
            if d.ok(sub)
            else f"{prefix}_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
            (),
        ),
    ]


def compare_object(d: Differ, o: JSchema, u: JSchema) -> Step:
    """Required, properties, dependencies, additional/unevaluated properties and limits."""
    out: list[Diff] = []
    for name in o.properties:
        if name in u.properties:
            was, now = name in o.required, name in u.required
            if was and not now:
                out.append(("REQUIRED_ATTRIBUTE_REMOVED", ("required", name)))
            elif now and not was:
                change = (
                    "REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED"
                    if u.properties[name].has_default
                    else "REQUIRED_ATTRIBUTE_ADDED"
                )
                out.append((change, ("required", name)))
    for name in list(o.properties) + [n for n in u.properties if n not in o.properties]:
        out += at(("properties", name), (yield from _property(d, o, u, name)))
    out += at(("dependencies",), (yield from _dependencies(o, u)))
    out += yield from _extra(
        "additionalProperties", "ADDITIONAL_PROPERTIES", o.additional, u.additional
    )
    out += yield from _extra(
        "unevaluatedProperties", "UNEVALUATED_PROPERTIES", o.unevaluated, u.unevaluated
    )
    for kw, prefix in (("maxProperties", "MAX_PROPERTIES"), ("minProperties", "MIN_PROPERTIES")):
        out += compare_limit(kw, prefix, o.limits.get(kw), u.limits.get(kw))
    return out


def _property(d: Differ, o: JSchema, u: JSchema, name: str) -> Step:
    old, new = o.properties.get(name), u.properties.get(name)
    if old is not None and new is not None:
        return (yield (old, new))
    if new is None:
        assert old is not None
        # Removal: only the update's (reader's) content model matters.
        if _open_object(u):
            return [("PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL", ())]
        cover = _covering_property(u, name)
        if cover is not None:
            return (yield from _covered(d, old, cover, "PROPERTY_REMOVED"))
        if old.kind == "false":
            return [("PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL", ())]
        return [("PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL", ())]
    # Addition: only the original's (writer's) content model matters.
    required = name in u.required
    if _open_object(o):
        if new.kind in ("empty", "true"):
            return [("PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL", ())]
        if not required:
            return [("OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", ())]
        if new.has_default:
            return [("REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_OPEN_CONTENT_MODEL", ())]
        return [("REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", ())]
    out: list[Diff] = []
    cover = _covering_property(o, name)
    if cover is not None:
        out += yield from _covered(d, cover, new, "PROPERTY_ADDED")
    if not required:
        out.append(("OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL", ()))
    elif new.has_default:
        out.append(("REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL", ()))
    else:
        out.append(("REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL", ()))
    return out


def _dependencies(o: JSchema, u: JSchema) -> Step:
    out: list[Diff] = []
    for key in dict.fromkeys([*o.property_deps, *u.property_deps]):
        was, now = o.property_deps.get(key), u.property_deps.get(key)
        if now is None:
            out.append(("DEPENDENCY_ARRAY_REMOVED", (key,)))
        elif was is None:
            out.append(("DEPENDENCY_ARRAY_ADDED", (key,)))
        elif set(was) != set(now):
            if set(now) >= set(was):
                out.append(("DEPENDENCY_ARRAY_EXTENDED", (key,)))
            elif set(was) >= set(now):
                out.append(("DEPENDENCY_ARRAY_NARROWED", (key,)))
            else:
                out.append(("DEPENDENCY_ARRAY_CHANGED", (key,)))
    for key in dict.fromkeys([*o.schema_deps, *u.schema_deps]):
        old, new = o.schema_deps.get(key), u.schema_deps.get(key)
        if new is None:
            out.append(("DEPENDENCY_SCHEMA_REMOVED", (key,)))
        elif old is None:
            out.append(("DEPENDENCY_SCHEMA_ADDED", (key,)))
        else:
            out += at((key,), (yield (old, new)))
    return out


def _extra(keyword: str, prefix: str, old: JSchema | bool, new: JSchema | bool) -> Step:
    """additionalProperties/unevaluatedProperties/additionalItems: permitted, narrowed, extended."""
    if _permits(old) != _permits(new):
        return [(f"{prefix}_ADDED" if _permits(new) else f"{prefix}_REMOVED", (keyword,))]
    so, sn = _schema_of(old), _schema_of(new)
    if so is None and sn is not None:
        return [(f"{prefix}_NARROWED", (keyword,))]
    if sn is None and so is not None:
        return [(f"{prefix}_EXTENDED", (keyword,))]
    if so is None or sn is None:
        return []
    return at((keyword,), (yield (so, sn)))


def _open_array(s: JSchema) -> bool:
    return s.additional is True


def compare_array(d: Differ, o: JSchema, u: JSchema) -> Step:
    """Items (single schema and tuples), additional items and array limits."""
    out: list[Diff] = []
    if o.all_items or u.all_items:
        out += at(("items",), (yield (o.all_items, u.all_items)))
    olds, news = o.item_schemas or [], u.item_schemas or []
    for i in range(max(len(olds), len(news))):
        path = ("items", str(i))
        if i < len(olds) and i < len(news):
            out += at(path, (yield (olds[i], news[i])))
        elif i < len(olds):
            old = olds[i]
            cover = _schema_of(u.additional)
            if _open_array(u):
                out.append(("ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL", path))
            elif cover is not None:
                out += at(path, (yield from _covered(d, old, cover, "ITEM_REMOVED")))
            elif old.kind == "false":
                out.append(("ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL", path))
            else:
                out.append(("ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL", path))
        else:
            new = news[i]
            cover = _schema_of(o.additional)
            if _open_array(o):
                change = (
                    "ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL"
                    if new.kind in ("empty", "true")
                    else "ITEM_ADDED_TO_OPEN_CONTENT_MODEL"
                )
                out.append((change, path))
            elif cover is not None:
                out += at(path, (yield from _covered(d, cover, new, "ITEM_ADDED")))
            else:
                out.append(("ITEM_ADDED_TO_CLOSED_CONTENT_MODEL", path))
    out += yield from _extra("additionalItems", "ADDITIONAL_ITEMS", o.additional, u.additional)
    for kw, prefix in (
        ("maxItems", "MAX_ITEMS"),
        ("minItems", "MIN_ITEMS"),
        ("maxContains", "MAX_CONTAINS"),
        ("minContains", "MIN_CONTAINS"),
    ):
        out += compare_limit(kw, prefix, o.limits.get(kw), u.limits.get(kw))
    uo, uu = bool(o.limits.get("uniqueItems")), bool(u.limits.get("uniqueItems"))
    if uo != uu:
        out.append(("UNIQUE_ITEMS_REMOVED" if uo else "UNIQUE_ITEMS_ADDED", ("uniqueItems",)))
    return out
