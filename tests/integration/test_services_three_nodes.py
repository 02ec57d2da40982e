"""A three-node KRaft cluster from scripts/services: replication factor 3 works.

Starts its own cluster in its own state dir (next to any single-node services) and always
stops it."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

# Imported from where they are declared: confluent_kafka.admin re-exports them without
# `__all__`, which mypy --strict treats as private (as in eventgen/kafka/admin.py).
from confluent_kafka.admin._config import ConfigResource
from confluent_kafka.cimpl import NewTopic

from tests.services import started_services

TIMEOUT_S = 30


def _settled_partitions(admin: AdminClient, topic: str) -> dict[int, Any]:
    """The topic's partitions once metadata shows all three with full ISRs.

    create_topics returns when the controller accepted the topic; the broker that answers a
    metadata request may learn of it a moment later, and then reports no partitions yet.
    Bounded: after TIMEOUT_S the last answer is returned and the asserts report it.
    """
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        partitions = dict(admin.list_topics(topic, timeout=TIMEOUT_S).topics[topic].partitions)
        settled = len(partitions) == 3 and all(len(p.isrs) == 3 for p in partitions.values())
        if settled or time.monotonic() > deadline:
            return partitions
        time.sleep(0.2)


@pytest.mark.kafka
@pytest.mark.timeout(400)
def test_three_node_cluster_replicates() -> None:
    with started_services("kafka3", "--kafka-nodes", "3", "--no-postgres") as exports:
        bootstrap = exports["KAFKA_BOOTSTRAP_SERVERS"]
        assert len(bootstrap.split(",")) == 3
        admin = AdminClient({"bootstrap.servers": bootstrap})
        assert len(admin.list_topics(timeout=TIMEOUT_S).brokers) == 3

        topic = f"rf3-{uuid.uuid4().hex[:12]}"
        new_topic = NewTopic(
            topic, num_partitions=3, replication_factor=3, config={"min.insync.replicas": "2"}
        )
        admin.create_topics([new_topic])[topic].result(timeout=TIMEOUT_S)

        partitions = _settled_partitions(admin, topic)
        assert len(partitions) == 3
        for partition in partitions.values():
            assert sorted(partition.replicas) == [1, 2, 3]
            assert sorted(partition.isrs) == [1, 2, 3]

        resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
        configs = admin.describe_configs([resource])[resource].result(timeout=TIMEOUT_S)
        assert configs["min.insync.replicas"].value == "2"

        # acks=all must reach min.insync.replicas on this topic.
        producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
        producer.produce(topic, value=b"replicated")
        assert producer.flush(TIMEOUT_S) == 0
