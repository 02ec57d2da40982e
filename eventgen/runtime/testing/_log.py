"""The in-memory broker's records, transactions and groups (shared by its clients)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from confluent_kafka import (
    TIMESTAMP_CREATE_TIME,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)
from confluent_kafka.admin._metadata import ClusterMetadata, PartitionMetadata, TopicMetadata

if TYPE_CHECKING:
    from eventgen.runtime.testing.consumer import InMemoryConsumer

TP = tuple[str, int]
Assignment = Callable[[Any, list[TopicPartition]], None]


@dataclass
class Txn:
    producer: str  # transactional.id
    state: str = "open"  # open | committed | aborted
    offsets: dict[str, dict[TP, int]] = field(default_factory=dict)  # group -> offsets


@dataclass(frozen=True)
class Entry:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    timestamp_ms: int
    txn: Txn | None

    def message(self) -> Message:
        # A fresh confluent_kafka.Message per delivery: the real type, and a caller that
        # mutates it (set_headers) cannot change the log.
        return Message(
            topic=self.topic,
            partition=self.partition,
            offset=self.offset,
            key=self.key,
            value=self.value,
            headers=list(self.headers) if self.headers else None,
            timestamp=(TIMESTAMP_CREATE_TIME, self.timestamp_ms),
        )


@dataclass(frozen=True)
class GroupMetadata:
    """What consumer_group_metadata() returns and send_offsets_to_transaction() takes."""

    group_id: str
    member_id: str
    generation: int


@dataclass
class Group:
    members: list[InMemoryConsumer] = field(default_factory=list)  # join order
    committed: dict[TP, int] = field(default_factory=dict)
    owner: dict[TP, InMemoryConsumer] = field(default_factory=dict)
    target: dict[TP, InMemoryConsumer] = field(default_factory=dict)
    generation: int = 0


def error(code: int, text: str, *, fatal: bool = False) -> KafkaException:
    return KafkaException(KafkaError(code, text, fatal=fatal))


def metadata(logs: dict[str, list[list[Entry]]], topic: str | None) -> ClusterMetadata:
    """What list_topics() returns: every topic, or the one asked for (with an error if unknown)."""
    meta = ClusterMetadata()
    names = sorted(logs) if topic is None else [topic]
    for name in names:
        info = TopicMetadata()
        info.topic = name
        parts = logs.get(name)
        if parts is None:
            info.error = KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART, f"unknown topic {name!r}")
        else:
            for p in range(len(parts)):
                pm = PartitionMetadata()
                pm.id = p
                pm.leader = 0
                pm.replicas = [0]
                pm.isrs = [0]
                info.partitions[p] = pm
        meta.topics[name] = info
    return meta
