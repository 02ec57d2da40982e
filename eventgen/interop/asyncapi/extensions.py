"""The `x-eventgen-*` extensions eventgen's exporter writes (eventgen/emit/asyncapi/names.py),
read back so that export -> import -> build restores what AsyncAPI alone cannot say."""

from __future__ import annotations

from typing import Any

from eventgen.spec.nodes import PList, PMap

PROJECT = "x-eventgen-project"
TOPIC = "x-eventgen-topic"
DLQ_OF = "x-eventgen-dlq-of"
MESSAGE = "x-eventgen-message"
CONSUMER = "x-eventgen-consumer"
UPCASTS = "x-eventgen-upcasts"

_DAY_MS = 86_400_000


def plain(value: Any) -> Any:
    """Loaded nodes as plain dicts and lists (the writer dumps plain data only)."""
    if isinstance(value, PMap):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, PList):
        return [plain(v) for v in value]
    return value


def extension(value: PMap, name: str) -> dict[str, Any]:
    found = value.get(name)
    return plain(found) if isinstance(found, PMap) else {}


def duration(ms: int) -> str:
    """Milliseconds as the spec's duration text, in whole days when it is some."""
    if ms < 0:
        return "infinite"
    return f"{ms // _DAY_MS}d" if ms and ms % _DAY_MS == 0 else f"{ms}ms"


def topic_settings(ext: dict[str, Any], kafka_name: str) -> dict[str, Any]:
    """The topic settings of an `x-eventgen-topic` beyond its context and name."""
    settings: dict[str, Any] = {}
    for key in ("key", "min_insync_replicas", "compression", "compatibility", "config"):
        if key in ext:
            settings[key] = ext[key]
    dlq = ext.get("dlq")
    if isinstance(dlq, dict):
        retention = dlq.get("retention_ms")
        if dlq.get("topic") == f"{kafka_name}.dlq" and retention is None:
            settings["dlq"] = True
        else:
            spec: dict[str, Any] = {"name": dlq.get("topic")}
            if isinstance(retention, int):
                spec["retention"] = duration(retention)
            settings["dlq"] = spec
    return settings


def local(name: Any, context: str) -> Any:
    """A qualified `context.Name` as the spec writes it inside `context`."""
    prefix = f"{context}."
    return name[len(prefix) :] if isinstance(name, str) and name.startswith(prefix) else name


def message_settings(ext: dict[str, Any], context: str) -> dict[str, Any]:
    """The spec keys an `x-eventgen-message` restores (not context, kind, name, topic)."""
    settings: dict[str, Any] = {}
    if isinstance(ext.get("version"), int) and ext["version"] != 1:
        settings["version"] = ext["version"]
    if "event_kind" in ext:
        settings["kind"] = ext["event_kind"]
    # `aggregate` is left out: the export carries the name, not the aggregate's definition.
    for key in ("pattern", "returns"):
        if key in ext:
            settings[key] = local(ext[key], context)
    if isinstance(ext.get("suppress"), list) and ext["suppress"]:
        settings["suppress"] = ext["suppress"]
    replies = {
        outcome: [local(n, context) for n in ext[f"replies_{outcome}"]]
        for outcome in ("success", "failure")
        if f"replies_{outcome}" in ext
    }
    if replies:
        settings["replies"] = replies
    return settings


def _ms(value: Any) -> str | None:
    return f"{value}ms" if isinstance(value, int) and value >= 0 else None


def consumer_settings(ext: dict[str, Any], context: str) -> dict[str, Any]:
    """A consumer rebuilt from its `x-eventgen-consumer` (one per receive operation; each
    operation of the same consumer carries the whole consumer, all its subscriptions)."""
    settings: dict[str, Any] = {}
    for key in ("group",):
        if key in ext:
            settings[key] = ext[key]
    settings["subscribe"] = [local(t, context) for t in ext.get("subscribe", [])]
    settings["handles"] = [local(m, context) for m in ext.get("handles", [])]
    if isinstance(ext.get("delivery"), str):
        settings["delivery"] = ext["delivery"]
    if ext.get("processing") == "batch":
        batch: dict[str, Any] = {}
        if isinstance(ext.get("batch_max_records"), int):
            batch["max_records"] = ext["batch_max_records"]
        if _ms(ext.get("batch_max_wait_ms")) is not None:
            batch["max_wait"] = _ms(ext["batch_max_wait_ms"])
        settings["processing"] = {"batch": batch}
    elif isinstance(ext.get("processing"), str):
        settings["processing"] = ext["processing"]
    retry = ext.get("retry")
    if isinstance(retry, dict):
        spec: dict[str, Any] = {}
        for key in ("max_attempts", "multiplier", "jitter"):
            if key in retry:
                spec[key] = retry[key]
        for key in ("initial", "max_interval"):
            if _ms(retry.get(f"{key}_ms")) is not None:
                spec[key] = _ms(retry[f"{key}_ms"])
        if isinstance(retry.get("retry_on"), list) and retry["retry_on"]:
            spec["retry_on"] = retry["retry_on"]
        settings["retry"] = spec
    if isinstance(ext.get("dlq"), bool):
        settings["dlq"] = ext["dlq"]
    if isinstance(ext.get("idempotency_store"), str):
        idempotency: dict[str, Any] = {"store": ext["idempotency_store"]}
        if _ms(ext.get("idempotency_retention_ms")) is not None:
            idempotency["retention"] = _ms(ext["idempotency_retention_ms"])
        settings["idempotency"] = idempotency
    for key in ("on_failure", "handler"):
        if ext.get(key) is not None:
            settings[key] = ext[key]
    if _ms(ext.get("timeout_ms")) is not None:
        settings["timeout"] = _ms(ext["timeout_ms"])
    if isinstance(ext.get("suppress"), list) and ext["suppress"]:
        settings["suppress"] = ext["suppress"]
    return settings
