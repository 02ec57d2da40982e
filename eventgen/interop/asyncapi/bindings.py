"""Kafka bindings to spec settings: channel -> topic, operation -> consumer group."""

from __future__ import annotations

from typing import Any

from eventgen.interop.asyncapi import codes, extensions
from eventgen.interop.asyncapi.refs import Node, Resolver
from eventgen.interop.asyncapi.types import TypeTable
from eventgen.spec.nodes import PList, PMap

# topicConfiguration keys with a spec setting of their own; the rest go to `config:` as is.
_CLEANUP = {"delete", "compact"}


def kafka(node: Node | None, resolver: Resolver) -> Node | None:
    """The Kafka binding of an operation, channel or message: its own, else the first of its
    traits that has one (2.6 documents often put the consumer group in an operation trait)."""
    if node is None:
        return None
    bindings = resolver.deref(node.get("bindings"))
    found = resolver.deref(bindings.get("kafka")) if bindings is not None else None
    traits = node.get("traits")
    for trait in traits.items() if found is None and traits is not None else []:
        found = kafka(resolver.deref(trait), resolver)
        if found is not None:
            break
    return found


def topic_settings(binding: Node | None, table: TypeTable) -> dict[str, Any]:
    """partitions, replication_factor, retention, cleanup, ... of a Kafka channel binding."""
    settings: dict[str, Any] = {}
    if binding is None or not isinstance(binding.value, PMap):
        return settings
    value = binding.value
    if isinstance(value.get("partitions"), int):
        settings["partitions"] = value["partitions"]
    if isinstance(value.get("replicas"), int):
        settings["replication_factor"] = value["replicas"]
    config_node = binding.get("topicConfiguration")
    config: dict[str, Any] = {}
    for key, item in config_node.children() if config_node is not None else []:
        raw = item.value
        if key == "retention.ms" and isinstance(raw, int):
            settings["retention"] = extensions.duration(raw)
        elif key == "retention.bytes" and isinstance(raw, int):
            if raw >= 0:
                settings["retention_bytes"] = raw
        elif key == "cleanup.policy" and isinstance(raw, PList) and set(raw) <= _CLEANUP and raw:
            policies = sorted(set(raw))
            settings["cleanup"] = policies[0] if len(policies) == 1 else ["compact", "delete"]
        elif key == "min.insync.replicas" and isinstance(raw, int):
            settings["min_insync_replicas"] = raw
        elif key in ("retention.ms", "retention.bytes", "cleanup.policy", "min.insync.replicas"):
            table.report(codes.BINDING, item.loc, item.pointer, f"`{key}: {raw!r}`")
        elif isinstance(raw, (int, float, str, bool)):
            config[key] = raw
        else:
            table.report(codes.BINDING, item.loc, item.pointer, f"`{key}` is not a scalar")
    if config:
        settings["config"] = dict(sorted(config.items()))
    return settings


def schema_constant(node: Node | None, resolver: Resolver) -> str | None:
    """The one value a binding schema allows (`const` or a one-item `enum`), e.g. groupId."""
    schema = resolver.deref(node)
    if schema is None:
        return None
    if isinstance(schema.value, str):
        return schema.value
    if not isinstance(schema.value, PMap):
        return None
    if isinstance(schema.value.get("const"), str):
        return str(schema.value["const"])
    enum = schema.value.get("enum")
    if isinstance(enum, PList) and enum and isinstance(enum[0], str):
        return str(enum[0])
    return None
