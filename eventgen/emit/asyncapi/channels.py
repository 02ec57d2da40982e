"""Channels (one per Kafka topic and DLQ topic) and operations (send and receive)."""

from __future__ import annotations

from typing import Any

from eventgen.emit.asyncapi import names
from eventgen.ir.model import Consumer, Context, Message, Project, Topic

# Topic config keys the Kafka channel binding 0.5.0 names in `topicConfiguration`.
_BINDING_CONFIG = ("delete.retention.ms", "max.message.bytes")


def topic_messages(project: Project, topic: Topic) -> list[Message]:
    return [m for m in project.all_messages() if m.topic == topic.qualified]


def channel(project: Project, topic: Topic) -> dict[str, Any]:
    out: dict[str, Any] = {"address": topic.kafka_name, "title": topic.qualified}
    if topic.doc:
        out["description"] = topic.doc
    out["messages"] = _message_refs(topic_messages(project, topic))
    out["bindings"] = {"kafka": _binding(topic)}
    out[names.X_TOPIC] = _topic_extension(topic)
    return out


def dlq_channel(project: Project, topic: Topic) -> dict[str, Any]:
    """A DLQ carries the failed records as they were, plus the failure headers."""
    assert topic.dlq is not None
    out: dict[str, Any] = {
        "address": topic.dlq.topic,
        "title": f"{topic.qualified} (dead letters)",
        "description": f"Records that failed on `{topic.kafka_name}`, as they were read.",
        "messages": _message_refs(topic_messages(project, topic)),
    }
    binding: dict[str, Any] = {"topic": topic.dlq.topic}
    if topic.dlq.retention_ms is not None:
        binding["topicConfiguration"] = {"retention.ms": topic.dlq.retention_ms}
    binding["bindingVersion"] = names.BINDING_VERSION
    out["bindings"] = {"kafka": binding}
    out[names.X_DLQ_OF] = names.channel_id(topic)
    return out


def _message_refs(messages: list[Message]) -> dict[str, Any]:
    return {
        names.message_key(m): {
            "$ref": names.pointer("components", "messages", names.message_key(m))
        }
        for m in messages
    }


def _binding(topic: Topic) -> dict[str, Any]:
    config: dict[str, Any] = {"cleanup.policy": list(topic.cleanup)}
    if topic.retention_ms is not None:
        config["retention.ms"] = topic.retention_ms
    if topic.retention_bytes is not None:
        config["retention.bytes"] = topic.retention_bytes
    passthrough = dict(topic.config)
    for key in _BINDING_CONFIG:
        if key in passthrough and passthrough[key].lstrip("-").isdigit():
            config[key] = int(passthrough[key])
    return {
        "topic": topic.kafka_name,
        "partitions": topic.partitions,
        "replicas": topic.replication_factor,
        "topicConfiguration": config,
        "bindingVersion": names.BINDING_VERSION,
    }


def _topic_extension(topic: Topic) -> dict[str, Any]:
    """What the binding has no key for, so an import can rebuild the topic exactly."""
    ext: dict[str, Any] = {"context": topic.context, "name": topic.local_name}
    optional: dict[str, Any] = {
        "key": str(topic.key_type) if topic.key_type is not None else None,
        "min_insync_replicas": topic.min_insync_replicas,
        "compression": topic.compression,
        "compatibility": topic.compatibility,
        "config": dict(topic.config) or None,
        "dlq": _dlq(topic),
    }
    ext.update({k: v for k, v in optional.items() if v is not None})
    return ext


def _dlq(topic: Topic) -> dict[str, Any] | None:
    if topic.dlq is None:
        return None
    found: dict[str, Any] = {"topic": topic.dlq.topic}
    if topic.dlq.retention_ms is not None:
        found["retention_ms"] = topic.dlq.retention_ms
    return found


def send_operations(project: Project, ctx: Context) -> dict[str, Any]:
    """One `send` per message the context publishes (through its outbox when it has one)."""
    found: dict[str, Any] = {}
    for message in ctx.messages:
        if message.topic is None:
            continue
        topic = project.topic(message.topic)
        producer: dict[str, Any] = {"context": ctx.name}
        if ctx.outbox is not None:
            producer["outbox"] = {
                "table": ctx.outbox.table,
                "relay": ctx.outbox.relay,
                "store": ctx.outbox.store,
                "batch": ctx.outbox.batch,
                "poll_interval_ms": ctx.outbox.poll_interval_ms,
                "retention_ms": ctx.outbox.retention_ms,
            }
        found[names.send_id(message)] = {
            "action": "send",
            "channel": {"$ref": names.pointer("channels", names.channel_id(topic))},
            "title": f"{ctx.name} sends {message.name}",
            "messages": [_channel_message(topic, message)],
            names.X_PRODUCER: producer,
        }
    return found


def receive_operations(project: Project, ctx: Context) -> dict[str, Any]:
    """One `receive` per consumer and subscribed topic, with its group id as a binding."""
    found: dict[str, Any] = {}
    for consumer in ctx.consumers:
        for qualified in consumer.subscribe:
            topic = project.topic(qualified)
            handled = [m for m in topic_messages(project, topic) if m.qualified in consumer.handles]
            found[names.receive_id(consumer, topic)] = {
                "action": "receive",
                "channel": {"$ref": names.pointer("channels", names.channel_id(topic))},
                "title": f"{consumer.qualified} receives from {topic.kafka_name}",
                "messages": [_channel_message(topic, m) for m in handled],
                "bindings": {
                    "kafka": {
                        "groupId": {"type": "string", "enum": [consumer.group]},
                        "clientId": {"type": "string", "enum": [consumer.qualified]},
                        "bindingVersion": names.BINDING_VERSION,
                    }
                },
                names.X_CONSUMER: consumer_extension(consumer),
            }
    return found


def _channel_message(topic: Topic, message: Message) -> dict[str, str]:
    ref = names.pointer("channels", names.channel_id(topic), "messages", names.message_key(message))
    return {"$ref": ref}


def consumer_extension(consumer: Consumer) -> dict[str, Any]:
    retry = consumer.retry
    ext: dict[str, Any] = {
        "context": consumer.context,
        "name": consumer.name,
        "group": consumer.group,
        "subscribe": list(consumer.subscribe),
        "handles": list(consumer.handles),
        "delivery": consumer.delivery,
        "processing": consumer.processing,
        "retry": {
            "max_attempts": retry.max_attempts,
            "initial_ms": retry.initial_ms,
            "multiplier": retry.multiplier,
            "max_interval_ms": retry.max_interval_ms,
            "jitter": retry.jitter,
            "retry_on": list(retry.retry_on),
        },
        "dlq": consumer.dlq,
        "on_failure": consumer.on_failure,
        "idempotency_store": consumer.idempotency_store,
        "timeout_ms": consumer.timeout_ms,
    }
    optional: dict[str, Any] = {
        "batch_max_records": consumer.batch_max_records,
        "batch_max_wait_ms": consumer.batch_max_wait_ms,
        "idempotency_retention_ms": consumer.idempotency_retention_ms,
        "handler": consumer.handler,
        "suppress": list(consumer.suppress) or None,
    }
    ext.update({k: v for k, v in optional.items() if v is not None})
    return ext
