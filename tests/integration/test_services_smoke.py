"""Smoke tests of the real services (scripts/services): Kafka round trip and transactions,
PostgreSQL round trip. They use running services from the environment, or start them."""

from __future__ import annotations

import time
import uuid

import psycopg
import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic  # where it is declared (admin has no __all__)

TIMEOUT_S = 30


def create_topic(bootstrap: str) -> str:
    topic = f"smoke-{uuid.uuid4().hex[:12]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    futures[topic].result(timeout=TIMEOUT_S)
    return topic


def consume_one(bootstrap: str, topic: str) -> Message:
    """The first message of `topic` (read_committed, librdkafka's default), within TIMEOUT_S."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"smoke-{uuid.uuid4().hex[:12]}",
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        }
    )
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            if (err := msg.error()) is not None:
                # Benign while the new topic's metadata propagates; anything else is a failure.
                assert err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART, err
                continue
            return msg
        pytest.fail(f"no message on {topic} within {TIMEOUT_S}s")
    finally:
        consumer.close()


@pytest.mark.kafka
@pytest.mark.timeout(300)  # includes the session fixture's start when nothing is running
def test_kafka_produce_consume_round_trip(kafka_bootstrap_servers: str) -> None:
    topic = create_topic(kafka_bootstrap_servers)
    producer = Producer({"bootstrap.servers": kafka_bootstrap_servers, "enable.idempotence": True})
    delivered = []
    producer.produce(
        topic, key=b"k1", value=b"hello", on_delivery=lambda err, msg: delivered.append(err)
    )
    assert producer.flush(TIMEOUT_S) == 0
    assert delivered == [None]

    msg = consume_one(kafka_bootstrap_servers, topic)
    assert (msg.key(), msg.value()) == (b"k1", b"hello")


@pytest.mark.kafka
@pytest.mark.timeout(300)
def test_kafka_transactional_producer_commits(kafka_bootstrap_servers: str) -> None:
    """Needs the transaction coordinator, i.e. a working transaction state log."""
    topic = create_topic(kafka_bootstrap_servers)
    producer = Producer(
        {
            "bootstrap.servers": kafka_bootstrap_servers,
            "transactional.id": f"smoke-tx-{uuid.uuid4().hex[:12]}",
        }
    )
    producer.init_transactions(TIMEOUT_S)
    producer.begin_transaction()
    producer.produce(topic, key=b"tx", value=b"committed")
    producer.commit_transaction(TIMEOUT_S)

    msg = consume_one(kafka_bootstrap_servers, topic)
    assert msg.value() == b"committed"


@pytest.mark.postgres
@pytest.mark.timeout(120)
def test_postgres_create_insert_select(postgres_dsn: str) -> None:
    table = f"smoke_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_dsn, connect_timeout=10) as conn:
        conn.execute(f"CREATE TABLE {table} (id serial PRIMARY KEY, payload jsonb NOT NULL)")
        try:
            conn.execute(f"INSERT INTO {table} (payload) VALUES (%s::jsonb)", ['{"a": 1}'])
            rows = conn.execute(f"SELECT id, payload FROM {table}").fetchall()
            assert rows == [(1, {"a": 1})]
        finally:
            conn.execute(f"DROP TABLE {table}")
