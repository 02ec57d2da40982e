"""Events, commands and queries, with upcaster chains and reconstructed older versions."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from eventgen.diagnostics import Loc
from eventgen.ir.model import (
    Example,
    Field,
    Message,
    MessageVersion,
    Scalar,
    Upcast,
    UpcastOp,
    freeze,
)
from eventgen.ir.resolve.fields import build_fields, resolve_type
from eventgen.ir.resolve.scope import Item, Scope
from eventgen.spec.nodes import PList, PMap, as_list, as_map

STRING = Scalar("string")


def build_message(scope: Scope, kind: str, item: Item) -> Message:
    node: PMap = item.node if isinstance(item.node, PMap) else PMap(item.loc)
    fields_key = "params" if kind == "query" else "fields"
    fields = build_fields(scope, node.get(fields_key), item.context)
    version, bounded = _version(scope, node)
    # Past the bound the chain cannot be checked against the version; E0707 says why.
    upcasts = _upcasts(scope, node, version, item) if bounded else ()
    versions = reconstruct_versions(scope, fields, version, upcasts, item.context)
    topic = None
    if "topic" in node:
        topic = scope.resolve_topic(node["topic"], item.context, node.value_loc("topic"))
    key = tuple(node["key"].split(".")) if isinstance(node.get("key"), str) else None
    replies = as_map(node.get("replies"), item.loc)
    return Message(
        kind=kind,  # type: ignore[arg-type]
        qualified=item.qualified,
        context=item.context,
        name=item.name,
        fields=fields,
        version=version,
        versions=versions,
        doc=node.get("doc"),
        topic=topic,
        key=key,
        event_kind=node.get("kind", "domain" if kind == "event" else None),
        pattern=node.get("pattern"),
        aggregate=_aggregate_ref(node, item),
        upcasts=upcasts,
        examples=_examples(node, version),
        replies_success=_message_list(scope, replies, "success", item.context),
        replies_failure=_message_list(scope, replies, "failure", item.context),
        returns=node.get("returns") if isinstance(node.get("returns"), str) else None,
        suppress=tuple(sorted(node.get("suppress") or ())),
        loc=item.key_loc,
        key_loc=node.value_loc("key") if "key" in node else item.key_loc,
        topic_loc=node.value_loc("topic") if "topic" in node else item.key_loc,
        version_loc=node.value_loc("version") if "version" in node else item.key_loc,
    )


# Every version below the current one needs an upcaster and is rebuilt and emitted, so a date
# typed as a version (`20240101`) would mean millions of each; no real message gets near this.
MAX_VERSION = 1000


def _version(scope: Scope, node: PMap) -> tuple[int, bool]:
    """The message's version (1 when absent or malformed), and whether it is within bounds."""
    raw = node.get("version", 1)
    if not isinstance(raw, int):
        return 1, True
    if raw > MAX_VERSION:
        # Say the number only when it is short: it is the user's typo, not a list to print.
        shown = f"version {raw}" if raw < 10**30 else "this version"
        scope.error(
            "E0707",
            node.value_loc("version"),
            f"{shown} is above the supported maximum of {MAX_VERSION}",
            "versions count up by one per breaking change: write the version number, not a date",
        )
        return 1, False
    return raw, True


def _aggregate_ref(node: PMap, item: Item) -> str | None:
    raw = node.get("aggregate")
    if not isinstance(raw, str):
        return None
    return raw if "." in raw else f"{item.context}.{raw}"


def _message_list(scope: Scope, node: PMap, key: str, context: str) -> tuple[str, ...]:
    values = node.get(key)
    if not isinstance(values, PList):
        return ()
    found = [
        scope.resolve_message(v, context, values.item_loc(i), ("event",))
        for i, v in enumerate(values)
    ]
    return tuple(sorted({f for f in found if f}))


def _examples(node: PMap, version: int) -> tuple[Example, ...]:
    examples = node.get("examples")
    if not isinstance(examples, PList):
        return ()
    return tuple(
        Example(
            ex.get("version", version),
            freeze(ex.get("payload")),
            examples.item_loc(i),
            _value_locs(ex.get("payload"), ex.value_loc("payload")),
            freeze(ex["expect"]) if "expect" in ex else None,
            _value_locs(ex["expect"], ex.value_loc("expect")) if "expect" in ex else (),
        )
        for i, ex in enumerate(examples)
        if isinstance(ex, PMap)
    )


def _value_locs(node: Any, loc: Loc) -> tuple[tuple[tuple[str | int, ...], Loc], ...]:
    """The position of every value below `node` by path, so checks can point at each one."""
    found: list[tuple[tuple[str | int, ...], Loc]] = []
    stack: list[tuple[tuple[str | int, ...], Any, Loc]] = [((), node, loc)]
    while stack:  # an explicit stack: payloads nest as deep as the loader allows
        path, value, where = stack.pop()
        found.append((path, where))
        if isinstance(value, PMap):
            stack.extend(((*path, k), v, value.value_loc(k)) for k, v in value.items())
        elif isinstance(value, PList):
            stack.extend(((*path, i), v, value.item_loc(i)) for i, v in enumerate(value))
    return tuple(found)


def _upcasts(scope: Scope, node: PMap, version: int, item: Item) -> tuple[Upcast, ...]:
    chain = node.get("upcast")
    if not isinstance(chain, PList):
        chain = PList(item.loc)
    upcasts: dict[int, Upcast] = {}
    for i, step in enumerate(chain):
        if not isinstance(step, PMap) or not isinstance(step.get("from"), int):
            continue
        origin, loc = step["from"], chain.item_loc(i)
        if origin in upcasts:
            scope.error("E0702", loc, f"two upcasters start from version {origin}")
            continue
        if origin >= version:
            scope.error(
                "E0703",
                step.value_loc("from"),
                f"upcaster from version {origin} does not lead below the current version {version}",
                "raise `version` or remove this step",
            )
            continue
        ops = as_list(step.get("ops"), loc)
        parsed = tuple(
            UpcastOp(next(iter(op)), freeze(next(iter(op.values()))), ops.item_loc(j))  # type: ignore[arg-type]
            for j, op in enumerate(ops)
            if isinstance(op, PMap) and len(op) == 1
        )
        upcasts[origin] = Upcast(origin, parsed, loc)
    missing = [v for v in range(1, version) if v not in upcasts]
    if missing:
        scope.error(
            "E0701",
            node.key_loc("version") if "version" in node else item.key_loc,
            f"{item.name} is at version {version} but has no upcaster from version(s) "
            + ", ".join(map(str, missing)),
            "add `upcast: [{from: N, ops: [...]}]` for each older version",
        )
    return tuple(upcasts[v] for v in sorted(upcasts))


def reconstruct_versions(
    scope: Scope,
    current: tuple[Field, ...],
    version: int,
    upcasts: tuple[Upcast, ...],
    context: str,
) -> tuple[MessageVersion, ...]:
    """Walk the upcaster chain backwards to rebuild each older version's fields."""
    versions = [MessageVersion(version, current, True)]
    by_origin = {u.from_version: u for u in upcasts}
    fields, complete = list(current), True
    for origin in range(version - 1, 0, -1):
        upcast = by_origin.get(origin)
        if upcast is None:
            break
        for op in reversed(upcast.ops):
            complete = _undo(scope, op, fields, context) and complete
        versions.append(MessageVersion(origin, tuple(fields), complete))
    return tuple(sorted(versions, key=lambda v: v.version))


def _find(fields: list[Field], name: str) -> int:
    return next((i for i, f in enumerate(fields) if f.name == name), -1)


def _undo(scope: Scope, op: UpcastOp, fields: list[Field], context: str) -> bool:
    """Turn version N+1's field list into version N's by undoing one op; False if lossy."""
    args: Any = op.args
    if op.op == "rename":
        for old, new in args.items():
            index = _find(fields, new)
            if index < 0:
                scope.error(
                    "E0704", op.loc, f"rename target `{new}` is not a field of the newer version"
                )
                continue
            fields[index] = replace(fields[index], name=old)
        return True
    if op.op == "add":
        for name, value in args.items():
            index = _find(fields, name)
            if index < 0:
                scope.error(
                    "E0704", op.loc, f"added field `{name}` is not a field of the newer version"
                )
                continue
            source = value.get("from") if hasattr(value, "get") else None
            added = fields.pop(index)
            if isinstance(source, str) and _find(fields, source) < 0:
                fields.append(replace(added, name=source, has_default=False, default=None))
        return True
    if op.op == "remove":
        typed = hasattr(args, "items")
        for name in args:
            if _find(fields, name) >= 0:
                scope.error(
                    "E0704", op.loc, f"removed field `{name}` is still a field of the newer version"
                )
                continue
            ref = resolve_type(scope, args[name], context, op.loc) if typed else None
            fields.append(Field(name, ref or STRING, loc=op.loc))
        return typed
    if op.op == "split":
        for part in args.get("into", ()):
            if (index := _find(fields, part)) >= 0:
                fields.pop(index)
        fields.append(Field(args.get("field", "?"), STRING, loc=op.loc))
        return True
    if op.op == "merge":
        if (index := _find(fields, args.get("into", ""))) >= 0:
            fields.pop(index)
        for name in args.get("fields", ()):
            fields.append(Field(name, STRING, loc=op.loc))
        return True
    if op.op == "convert":
        index = _find(fields, args.get("field", ""))
        if index < 0:
            scope.error(
                "E0704",
                op.loc,
                f"converted field `{args.get('field')}` is not a field of the newer version",
            )
            return False
        source = args.get("from")
        ref = resolve_type(scope, source, context, op.loc) if isinstance(source, str) else None
        if ref is None:
            return False
        fields[index] = replace(fields[index], type=ref, has_default=False, default=None)
        return True
    return False  # a handler can do anything: the older shape is unknown
