"""Topics (with project defaults, DLQs and the raw config passthrough), consumers, outbox."""

from __future__ import annotations

from typing import Any

from eventgen.diagnostics import Loc
from eventgen.ir import naming
from eventgen.ir.model import Consumer, Defaults, Dlq, Outbox, Retry, Topic
from eventgen.ir.resolve.fields import resolve_type
from eventgen.ir.resolve.scope import Item, Scope
from eventgen.spec.nodes import PMap, as_list, as_map
from eventgen.spec.units import UnitError, duration_ms, size_bytes

KAFKA_DEFAULT_PARTITIONS = 1
KAFKA_DEFAULT_REPLICATION = 1


def duration(scope: Scope, node: PMap, key: str, default: int | None = None) -> int | None:
    if key not in node:
        return default
    try:
        return duration_ms(node[key])
    except UnitError as exc:
        scope.error("E0510", node.value_loc(key), str(exc))
        return default


def size(scope: Scope, node: PMap, key: str) -> int | None:
    if key not in node:
        return None
    try:
        return size_bytes(node[key])
    except UnitError as exc:
        scope.error("E0511", node.value_loc(key), str(exc))
        return None


def build_retry(scope: Scope, node: Any, base: Retry) -> Retry:
    if not isinstance(node, PMap):
        return base
    return Retry(
        max_attempts=node.get("max_attempts", base.max_attempts),
        initial_ms=duration(scope, node, "initial", base.initial_ms) or 0,
        multiplier=float(node.get("multiplier", base.multiplier)),
        max_interval_ms=duration(scope, node, "max_interval", base.max_interval_ms) or 0,
        jitter=node.get("jitter", base.jitter),
        retry_on=tuple(node.get("retry_on") or base.retry_on),
    )


def kafka_config_value(scope: Scope, key: str, value: Any, loc: Loc) -> str:
    """Passthrough values as Kafka strings: durations for `*.ms`, sizes for `*.bytes`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and key.endswith(".ms") and not value.lstrip("-").isdigit():
        try:
            return str(duration_ms(value))
        except UnitError as exc:
            scope.error("E0510", loc, str(exc))
    if isinstance(value, str) and key.endswith(".bytes") and not value.lstrip("-").isdigit():
        try:
            return str(size_bytes(value))
        except UnitError as exc:
            scope.error("E0511", loc, str(exc))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def build_topic(scope: Scope, item: Item, topic_defaults: PMap, defaults: Defaults) -> Topic:
    node: PMap = item.node if isinstance(item.node, PMap) else PMap(item.loc)

    def setting(key: str) -> Any:
        return node[key] if key in node else topic_defaults.get(key)

    def setting_node(key: str) -> PMap:
        return node if key in node else topic_defaults

    name_override = node.get("name") if isinstance(node.get("name"), str) else None
    kafka_name = naming.kafka_topic(item.context, item.name, name_override)
    cleanup = setting("cleanup") or "delete"
    cleanup_t = tuple(sorted(set([cleanup] if isinstance(cleanup, str) else cleanup)))
    retention = duration(scope, setting_node("retention"), "retention")
    retention_bytes = size(scope, setting_node("retention_bytes"), "retention_bytes")
    key_type = None
    if "key" in node:
        key_type = resolve_type(scope, node["key"], item.context, node.value_loc("key"))
    dlq = None
    raw_dlq = node.get("dlq")
    if raw_dlq is True:
        dlq = Dlq(naming.dlq_topic(kafka_name))
    elif isinstance(raw_dlq, PMap):
        dlq_name = raw_dlq.get("name") or naming.dlq_topic(kafka_name)
        dlq = Dlq(dlq_name, duration(scope, raw_dlq, "retention"))
    config: list[tuple[str, str]] = []
    locs: list[tuple[str, Loc]] = []
    raw_config = node.get("config")
    if isinstance(raw_config, PMap):
        for key in sorted(raw_config):
            loc = raw_config.key_loc(key)
            config.append(
                (key, kafka_config_value(scope, key, raw_config[key], raw_config.value_loc(key)))
            )
            locs.append((key, loc))
    return Topic(
        qualified=item.qualified,
        context=item.context,
        local_name=item.name,
        kafka_name=kafka_name,
        partitions=setting("partitions") or KAFKA_DEFAULT_PARTITIONS,
        replication_factor=setting("replication_factor") or KAFKA_DEFAULT_REPLICATION,
        min_insync_replicas=setting("min_insync_replicas"),
        retention_ms=retention,
        retention_bytes=retention_bytes,
        cleanup=cleanup_t,
        compression=setting("compression"),
        key_type=key_type,
        dlq=dlq,
        compatibility=node.get("compatibility", defaults.compatibility),
        config=tuple(config),
        doc=node.get("doc"),
        loc=item.key_loc,
        config_locs=tuple(locs),
        attr_locs=_attr_locs(node, topic_defaults),
    )


# Typed attributes a finding can be about; inherited ones point at the project's defaults.
_ATTRS = ("partitions", "replication_factor", "min_insync_replicas", "retention",
          "retention_bytes", "cleanup", "compression", "key", "name", "dlq", "compatibility")  # fmt: skip


def _attr_locs(node: PMap, topic_defaults: PMap) -> tuple[tuple[str, Loc], ...]:
    found: list[tuple[str, Loc]] = []
    for attr in _ATTRS:
        source = node if attr in node else topic_defaults if attr in topic_defaults else None
        if source is not None:
            found.append((attr, source.value_loc(attr)))
    return tuple(found)


def build_consumer(scope: Scope, item: Item, defaults: Defaults) -> Consumer:
    node: PMap = item.node if isinstance(item.node, PMap) else PMap(item.loc)
    subscribe = as_list(node.get("subscribe"), item.loc)
    handles = as_list(node.get("handles"), item.loc)
    topics = [
        scope.resolve_topic(t, item.context, subscribe.item_loc(i)) for i, t in enumerate(subscribe)
    ]
    messages = [
        scope.resolve_message(m, item.context, handles.item_loc(i)) for i, m in enumerate(handles)
    ]
    processing = node.get("processing", "stream")
    raw_batch = processing.get("batch") if isinstance(processing, PMap) else None
    batch = raw_batch if isinstance(raw_batch, PMap) else None
    idempotency = as_map(node.get("idempotency"), item.loc)
    return Consumer(
        qualified=item.qualified,
        context=item.context,
        name=item.name,
        group=node.get("group") or f"{item.context}.{item.name}",
        subscribe=tuple(t for t in topics if t),
        handles=tuple(m for m in messages if m),
        delivery=node.get("delivery", defaults.delivery),
        processing="batch" if batch is not None else "stream",
        batch_max_records=batch.get("max_records", 500) if batch is not None else None,
        batch_max_wait_ms=duration(scope, batch, "max_wait", 200) if batch is not None else None,
        retry=build_retry(scope, node.get("retry"), defaults.retry),
        dlq=node.get("dlq") is True,
        idempotency_store=idempotency.get("store", "none"),
        idempotency_retention_ms=duration(scope, idempotency, "retention"),
        timeout_ms=duration(scope, node, "timeout", defaults.timeout_ms) or defaults.timeout_ms,
        handler=node.get("handler"),
        on_failure=node.get("on_failure", "dead-letter"),
        suppress=tuple(sorted(node.get("suppress") or ())),
        loc=item.key_loc,
        attr_locs=_consumer_locs(node, idempotency),
    )


_CONSUMER_ATTRS = ("delivery", "dlq", "on_failure", "subscribe", "idempotency")


def _consumer_locs(node: PMap, idempotency: PMap) -> tuple[tuple[str, Loc], ...]:
    found = [(attr, node.value_loc(attr)) for attr in _CONSUMER_ATTRS if attr in node]
    found += [
        (f"idempotency.{attr}", idempotency.value_loc(attr))
        for attr in ("store", "retention")
        if attr in idempotency
    ]
    return tuple(found)


def build_outbox(scope: Scope, context: str, node: PMap) -> Outbox:
    return Outbox(
        context=context,
        table=node.get("table", "outbox"),
        relay=node.get("relay", "polling"),
        batch=node.get("batch", 500),
        poll_interval_ms=duration(scope, node, "poll_interval", 100) or 100,
        store=node.get("store", "sqlite"),
        retention_ms=_retention(scope, node),
        loc=node.loc,
        attr_locs=tuple((a, node.value_loc(a)) for a in ("table", "relay", "store") if a in node),
    )


def _retention(scope: Scope, node: PMap) -> int:
    # `retention: 0` (the default) is a plain int, not a duration: rows go when published.
    if node.get("retention", 0) == 0:
        return 0
    return duration(scope, node, "retention", 0) or 0
