"""Spec parts an eventgen export carries only in `x-eventgen-*` extensions, read back:
a query's `returns` (the returned type, or the projection with its `on:` rules), message
examples in their spec order, and a context's outbox (from its send operations)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eventgen.interop.asyncapi import codes
from eventgen.interop.asyncapi.export_payload import ExportMapper
from eventgen.interop.asyncapi.extensions import duration, local, plain
from eventgen.interop.asyncapi.refs import Node
from eventgen.interop.asyncapi.types import TypeTable

RETURNS = "x-eventgen-returns"
OLDER_EXAMPLES = "x-eventgen-older-examples"
EXPECT = "x-eventgen-expect"
PRODUCER = "x-eventgen-producer"

# Outbox defaults of the spec language (docs/spec-behaviour.md, "Outbox"): left unwritten.
_OUTBOX_DEFAULTS = {"batch": 500, "poll_interval_ms": 100, "retention_ms": 0}


def returned(
    node: Node,
    mapper: ExportMapper,
    table_of: Callable[[str], TypeTable],
    projections_of: Callable[[str], dict[str, dict[str, Any]]],
) -> None:
    """Define what a query's `x-eventgen-returns` names: a type in its context's `types:`
    (through the Avro mapper, as message payload types are), or a projection."""
    ext = node.get(RETURNS)
    schema = ext.get("schema") if ext is not None else None
    if ext is None or schema is None or not isinstance(ext.value, dict):
        return
    value = ext.value
    if isinstance(value.get("type"), str):
        context = value["type"].partition(".")[0]
        mapper.named_type(schema, context, table_of(context))
        return
    qualified = value.get("projection")
    if not isinstance(qualified, str) or "." not in qualified:
        return
    context, _, name = qualified.partition(".")
    table = table_of(context)
    fields = mapper.message_fields(schema, context, qualified, table)
    rules = plain(value.get("on"))
    if fields is None or not isinstance(rules, list) or not rules:
        table.report(codes.PAYLOAD, ext.loc, ext.pointer, f"projection `{qualified}` has no rules")
        return
    projection: dict[str, Any] = {"key": value.get("key"), "fields": fields}
    projection["on"] = _on(rules, context)
    projections_of(context).setdefault(name, projection)


def _on(rules: list[Any], context: str) -> dict[str, Any]:
    """`on:` by event, in rule order; one event's rules (e.g. `set` and `inc`) merge."""
    on: dict[str, dict[str, Any]] = {}
    for rule in rules:
        if not isinstance(rule, dict) or not isinstance(rule.get("message"), str):
            continue
        ops = on.setdefault(str(local(rule["message"], context)), {})
        op = rule.get("op")
        if op == "delete":
            ops["delete"] = True
        elif op == "handler":
            ops["handler"] = rule.get("handler")
        elif isinstance(op, str):
            ops[op] = rule.get("assignments", {})
        if "key" in rule:
            ops["key"] = rule["key"]
    return on


def examples(message: dict[str, Any], version: int) -> list[dict[str, Any]]:
    """The message's examples as the spec lists them: the standard `examples` are the
    current version's (`example-<position>`), `x-eventgen-older-examples` the others."""
    found: list[tuple[int, dict[str, Any]]] = []
    for i, item in enumerate(plain(message.get("examples")) or [], 1):
        if not isinstance(item, dict) or "payload" not in item:
            continue
        name = str(item.get("name", ""))
        position = int(name[8:]) if name.startswith("example-") and name[8:].isdigit() else i
        example: dict[str, Any] = {"version": version, "payload": item["payload"]}
        if EXPECT in item:
            example["expect"] = item[EXPECT]
        found.append((position, example))
    for item in plain(message.get(OLDER_EXAMPLES)) or []:
        if not isinstance(item, dict) or "payload" not in item:
            continue
        example = {k: item[k] for k in ("version", "payload", "expect") if k in item}
        at = item.get("position")
        found.append((at if isinstance(at, int) else len(found) + 1, example))
    return [e for _, e in sorted(found, key=lambda pair: pair[0])]


def outbox(producer: dict[str, Any]) -> dict[str, Any] | None:
    """The context's `outbox:` from an `x-eventgen-producer` (every send repeats it)."""
    found = producer.get("outbox")
    if not isinstance(found, dict):
        return None
    spec: dict[str, Any] = {k: found[k] for k in ("table", "relay", "store") if k in found}
    if isinstance(found.get("batch"), int) and found["batch"] != _OUTBOX_DEFAULTS["batch"]:
        spec["batch"] = found["batch"]
    for key in ("poll_interval", "retention"):
        ms = found.get(f"{key}_ms")
        if isinstance(ms, int) and ms >= 0 and ms != _OUTBOX_DEFAULTS[f"{key}_ms"]:
            spec[key] = duration(ms)
    return spec
