"""Start-up checks and client settings of a consumer app: fail at once, in one clear line."""

from __future__ import annotations

from typing import Any

from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.errors import StartupError
from eventgen.runtime.partitioning import PARTITIONER
from eventgen.runtime.publisher import librdkafka_compression
from eventgen.runtime.spec import ConsumerSpec
from eventgen.runtime.transport import ProducerLike

__all__ = ["StartupError", "check_topics", "consumer_config", "producer_config"]


def consumer_config(spec: ConsumerSpec, config: RuntimeConfig) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "bootstrap.servers": config.bootstrap_servers,
        "group.id": spec.group,
        # Offsets are committed by the loop only (see docs/consumers.md for when).
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "cooperative-sticky",
        # Under exactly-once, aborted outputs of an upstream transactional producer must stay
        # invisible; for the other guarantees it is librdkafka's default anyway.
        "isolation.level": "read_committed",
        "enable.partition.eof": False,
        "socket.connection.setup.timeout.ms": max(1000, int(config.connect_timeout_s * 1000)),
    }
    settings.update(config.client)
    return settings


def producer_config(spec: ConsumerSpec, config: RuntimeConfig) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "bootstrap.servers": config.bootstrap_servers,
        "acks": "all",
        "enable.idempotence": True,
        "partitioner": PARTITIONER,
        "linger.ms": 5,
        "socket.connection.setup.timeout.ms": max(1000, int(config.connect_timeout_s * 1000)),
    }
    compressions = {
        codec
        for _, route in (spec.publisher.routes if spec.publisher else ())
        if (codec := librdkafka_compression(route.compression)) is not None
    }
    if len(compressions) == 1:  # one producer serves every route: only a shared setting fits
        settings["compression.type"] = compressions.pop()
    if spec.delivery == "exactly-once":
        # Stable per instance: a restarted instance fences its predecessor's open transaction.
        settings["transactional.id"] = f"{spec.group}-{config.instance_id}"
    settings.update(config.client)
    return settings


def check_topics(spec: ConsumerSpec, producer: ProducerLike, timeout_s: float) -> None:
    """The broker answers within `timeout_s`; subscribed and DLQ topics exist."""
    try:
        metadata = producer.list_topics(timeout=timeout_s)
    except Exception as exc:  # noqa: BLE001 - KafkaException and transport errors alike
        raise StartupError(
            f"consumer {spec.name}: Kafka not reachable within {timeout_s:g} s ({exc})"
        ) from None
    existing = set(metadata.topics)
    missing = sorted({r.topic.name for r in spec.topics} - existing)
    if missing:
        raise StartupError(f"consumer {spec.name}: topics missing: {', '.join(missing)}")
    if spec.dlq:
        dlqs = sorted({r.dlq for r in spec.topics if r.dlq is not None} - existing)
        if dlqs:
            raise StartupError(f"consumer {spec.name}: DLQ topics missing: {', '.join(dlqs)}")
