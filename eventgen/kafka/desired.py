"""IR -> desired topic state: every topic and DLQ topic with its full Kafka config dict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from eventgen.ir.model import Project, Topic
from eventgen.kafka.configdefs import normalize

# Passthrough keys a DLQ copies from its source topic: a dead letter is the failed record plus
# headers, so it needs the same size limit and must pass the same timestamp checks.
DLQ_INHERITED = (
    "max.message.bytes",
    "message.timestamp.after.max.ms",
    "message.timestamp.before.max.ms",
    "message.timestamp.type",
)


@dataclass(frozen=True)
class DesiredTopic:
    """A topic as the cluster should have it; `configs` are sorted (Kafka name, value)."""

    name: str
    partitions: int
    replication_factor: int
    configs: tuple[tuple[str, str], ...]
    kind: Literal["topic", "dlq"] = "topic"
    owner: str = ""  # qualified id of the spec topic (for a DLQ: of its source topic)
    source: str = field(default="", compare=False)  # spec file, for review and messages

    def config_dict(self) -> dict[str, str]:
        return dict(self.configs)


def typed_configs(topic: Topic) -> dict[str, str]:
    """The Kafka configs that the topic's typed spec attributes stand for."""
    out: dict[str, str] = {}
    if topic.retention_ms is not None:
        out["retention.ms"] = str(topic.retention_ms)
    if topic.retention_bytes is not None:
        out["retention.bytes"] = str(topic.retention_bytes)
    if topic.cleanup:  # empty means "not set": the broker default (delete) applies
        out["cleanup.policy"] = ",".join(sorted(topic.cleanup))
    if topic.compression is not None:
        out["compression.type"] = topic.compression
    if topic.min_insync_replicas is not None:
        out["min.insync.replicas"] = str(topic.min_insync_replicas)
    return out


def _sorted_configs(configs: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, normalize(k, v)) for k, v in configs.items()))


def topic_configs(topic: Topic) -> dict[str, str]:
    """Passthrough plus typed attributes; a typed attribute wins (validation flags clashes)."""
    return {**dict(topic.config), **typed_configs(topic)}


def desired_topic(topic: Topic) -> DesiredTopic:
    return DesiredTopic(
        name=topic.kafka_name,
        partitions=topic.partitions,
        replication_factor=topic.replication_factor,
        configs=_sorted_configs(topic_configs(topic)),
        owner=topic.qualified,
        source=topic.loc.file,
    )


def desired_dlq(topic: Topic) -> DesiredTopic | None:
    """The DLQ topic of `topic`: same partitions, RF and durability, always `delete`."""
    if topic.dlq is None:
        return None
    source = topic_configs(topic)
    # cleanup=delete even for a compacted source: compaction would keep only the latest
    # failure per key and erase the history an operator needs to replay.
    configs = {"cleanup.policy": "delete"}
    for key in ("min.insync.replicas", "compression.type", *DLQ_INHERITED):
        if key in source:
            configs[key] = source[key]
    if topic.dlq.retention_ms is not None:
        configs["retention.ms"] = str(topic.dlq.retention_ms)
    return DesiredTopic(
        name=topic.dlq.topic,
        partitions=topic.partitions,
        replication_factor=topic.replication_factor,
        configs=_sorted_configs(configs),
        kind="dlq",
        owner=topic.qualified,
        source=topic.loc.file,
    )


def desired_topics(project: Project) -> tuple[DesiredTopic, ...]:
    """All topics of the project incl. DLQs, sorted by Kafka name; first one wins a clash."""
    by_name: dict[str, DesiredTopic] = {}
    for topic in project.all_topics():
        for item in (desired_topic(topic), desired_dlq(topic)):
            if item is not None and item.name not in by_name:
                by_name[item.name] = item
    return tuple(by_name[name] for name in sorted(by_name))
