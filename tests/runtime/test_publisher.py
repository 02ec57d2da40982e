"""Publisher against a real Kafka: topics, keys, envelope headers, compression, lost deliveries."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.errors import DeliveryError
from eventgen.runtime.headers import HEADER_FIELDS
from eventgen.runtime.publisher import Publisher, encode_for_outbox, producer_config
from eventgen.runtime.registry import TopicBinding
from eventgen.runtime.serde import codec_for, encode_key
from eventgen.runtime.spec import PublisherSpec, Route
from eventgen.runtime.transport import KafkaTransport, ProducerLike
from tests.runtime.test_serde_fixtures import (  # noqa: F401 - fixture
    Shop,
    order_archived,
    order_placed,
    shop_fixture,
)

READ_BUDGET_S = 60


class RecordingTransport(KafkaTransport):
    """Real producers; remembers the configuration each one was made with."""

    def __init__(self) -> None:
        self.configs: list[dict[str, Any]] = []

    def producer(self, config: dict[str, Any]) -> ProducerLike:
        self.configs.append(dict(config))
        return super().producer(config)


@pytest.fixture
def topics(kafka_bootstrap_servers: str) -> Iterator[list[str]]:
    names = [f"egt-pub-{uuid.uuid4().hex[:10]}" for _ in range(2)]
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap_servers})
    for fut in admin.create_topics([NewTopic(n, 3, 1) for n in names], request_timeout=30).values():
        fut.result(timeout=30)
    yield names
    for fut in admin.delete_topics(names, request_timeout=30).values():
        fut.result(timeout=30)


def read(bootstrap: str, topic: str, count: int) -> list[Any]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"g-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})  # fmt: skip
    consumer.assign([TopicPartition(topic, p, 0) for p in range(3)])
    got: list[Any] = []
    deadline = time.monotonic() + READ_BUDGET_S
    try:
        while len(got) < count and time.monotonic() < deadline:
            for msg in consumer.consume(count - len(got), timeout=1.0):
                assert msg.error() is None, msg.error()
                got.append(msg)
    finally:
        consumer.close()
    assert len(got) == count, f"read {len(got)} of {count} within {READ_BUDGET_S} s"
    return got


def spec_for(shop: Shop, names: list[str]) -> PublisherSpec:
    """orders.order-events' messages on names[0] (gzip, json), OrderPlaced on names[1] (lz4)."""
    source = shop.binding("orders.order-events")
    events = TopicBinding(names[0], source.messages, source.key_schema)
    placed = TopicBinding(names[1], (shop.orders.OrderPlaced,), source.key_schema)
    routes = {m.TYPE: Route(events, "json", "gzip") for m in source.messages}
    routes["orders.OrderPlaced"] = Route(placed, "avro", "lz4")
    return PublisherSpec("orders", tuple(sorted(routes.items())))


@pytest.mark.kafka
def test_publish_routes_keys_headers_and_compression(
    shop: Shop, kafka_bootstrap_servers: str, topics: list[str]
) -> None:
    spec = spec_for(shop, topics)
    transport = RecordingTransport()
    config = RuntimeConfig(bootstrap_servers=kafka_bootstrap_servers)
    publisher = Publisher(spec)
    assert transport.configs == []
    publisher.configure(config, transport=transport)
    assert transport.configs == []  # still lazy: producers come with the first publish
    placed = [order_placed(shop.orders, order_id=uuid.uuid4()) for _ in range(3)]
    archived = order_archived(shop.orders)
    envs = [publisher.publish(m, correlation_id="corr", headers={"tenant": "t1"}) for m in placed]
    env_archived = publisher.publish(archived, headers=[("trace", b"\x01\x02")])
    publisher.flush(30)

    assert sorted(c["compression.type"] for c in transport.configs) == ["gzip", "lz4"]
    for conf in transport.configs:
        assert conf["acks"] == "all" and conf["enable.idempotence"] is True

    by_id = {str(e.event_id): e for e in [*envs, env_archived]}
    for topic, count in ((topics[1], 3), (topics[0], 1)):
        for rec in read(kafka_bootstrap_servers, topic, count):
            headers = rec.headers()
            env = by_id[dict(headers)["event_id"].decode()]
            # the envelope fields in order; a None one (causation_id here) is left out
            present = [f for f in HEADER_FIELDS if getattr(env, f) is not None]
            assert [n for n, _ in headers][: len(present)] == present
            assert len(present) == (5 if env.correlation_id else 4)
            route = spec.route(env.type)
            assert rec.key() == encode_key(route, env.payload)
            assert codec_for(route, config).decode(rec, route) == env
            value, key, envelope_headers = encode_for_outbox(env, route, config)
            assert (rec.value(), rec.key()) == (value, key)
            assert headers[: len(envelope_headers)] == envelope_headers
            extra = headers[len(envelope_headers) :]
            assert extra == (
                [("tenant", b"t1")] if topic == topics[1] else [("trace", b"\x01\x02")]
            )
    assert by_id[str(envs[0].event_id)].correlation_id == "corr"


def test_refuses_unknown_messages_and_envelope_headers(shop: Shop) -> None:
    publisher = Publisher(spec_for(shop, ["a", "b"]))
    with pytest.raises(ValueError, match="does not publish"):
        publisher.publish(shop.orders.PlaceOrder.model_construct())
    publisher.configure(RuntimeConfig(bootstrap_servers="127.0.0.1:1"))
    with pytest.raises(ValueError, match="part of the envelope"):
        publisher.publish(order_archived(shop.orders), headers={"event_id": "x"})


def test_lost_deliveries_raise_on_flush(shop: Shop) -> None:
    """No broker at all (a closed port): every record times out and flush lists each one."""
    config = RuntimeConfig(bootstrap_servers="127.0.0.1:1", client={"message.timeout.ms": "1500"})
    publisher = Publisher(spec_for(shop, ["egt-nowhere-a", "egt-nowhere-b"]))
    publisher.configure(config)
    envs = [publisher.publish(order_archived(shop.orders)) for _ in range(2)]
    envs.append(publisher.publish(order_placed(shop.orders)))
    with pytest.raises(DeliveryError) as info:
        publisher.flush(30)
    failures = info.value.failures
    assert sorted(f.event_id or "" for f in failures) == sorted(str(e.event_id) for e in envs)
    assert all("timed out" in f.error.lower() for f in failures), failures
    assert "3 record(s) not delivered" in str(info.value)
    publisher.flush(5)  # reported once, then cleared


def test_flush_timeout_reports_pending_records(shop: Shop) -> None:
    config = RuntimeConfig(bootstrap_servers="127.0.0.1:1", client={"message.timeout.ms": "8000"})
    publisher = Publisher(spec_for(shop, ["egt-nowhere-a", "egt-nowhere-b"]))
    publisher.configure(config)
    env = publisher.publish(order_archived(shop.orders))
    with pytest.raises(DeliveryError, match="still unacknowledged"):
        publisher.flush(0.2)
    with pytest.raises(DeliveryError) as info:  # the timed-out record itself, later
        publisher.flush(30)
    assert [f.event_id for f in info.value.failures] == [str(env.event_id)]


def test_producer_config_lets_operator_settings_win() -> None:
    config = RuntimeConfig(bootstrap_servers="b:9092", client={"linger.ms": "5"})
    conf = producer_config(config, "zstd")
    assert conf == {"bootstrap.servers": "b:9092", "acks": "all", "enable.idempotence": True,
                    "partitioner": "murmur2_random", "compression.type": "zstd",
                    "linger.ms": "5"}  # fmt: skip
    overridden = producer_config(replace(config, client={"partitioner": "consistent"}), None)
    assert overridden["partitioner"] == "consistent"
    assert "compression.type" not in producer_config(config, None)


def test_publisher_reads_configuration_at_first_publish(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setenv("EVENTGEN_CLIENT_MESSAGE_TIMEOUT_MS", "1000")
    publisher = Publisher(spec_for(shop, ["egt-nowhere-a", "egt-nowhere-b"]))
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:2")  # read later, not at init
    publisher.publish(order_archived(shop.orders))
    assert publisher.config.bootstrap_servers == "127.0.0.1:2"
    with pytest.raises(DeliveryError):
        publisher.flush(30)


def test_unflushed_failures_are_logged_at_exit(shop: Shop, tmp_path: Any) -> None:
    """A program that never calls flush(): the exit hook delivers or logs, never drops."""
    import subprocess
    import sys
    from pathlib import Path

    package_root = Path(str(shop.orders.__file__)).parents[1]
    script = tmp_path / "forgetful.py"
    script.write_text(
        "import sys\n"
        f"sys.path[:0] = [{str(package_root)!r}, {str(Path.cwd())!r}]\n"
        "from eventgen.runtime.config import RuntimeConfig\n"
        "from eventgen.runtime.publisher import Publisher\n"
        "from tests.runtime.test_publisher import spec_for\n"
        "from tests.runtime.test_serde_fixtures import order_archived\n"
        "import importlib, logging\n"
        "logging.basicConfig()\n"
        "from tests.runtime.test_serde_fixtures import Shop\n"
        f"orders = importlib.import_module({shop.orders.__name__!r})\n"
        f"topics = importlib.import_module({shop.topics.__name__!r})\n"
        "shop = Shop(None, orders, topics)\n"
        "p = Publisher(spec_for(shop, ['egt-nowhere-a', 'egt-nowhere-b']))\n"
        "p.configure(RuntimeConfig(bootstrap_servers='127.0.0.1:1',\n"
        "    client={'message.timeout.ms': '1000', 'log_level': '0'}))\n"
        "env = p.publish(order_archived(orders))\n"
        "print(env.event_id)\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    event_id = done.stdout.strip()
    assert "1 record(s) not delivered" in done.stderr and event_id in done.stderr, done.stderr


def test_topic_compression_names_become_librdkafka_settings() -> None:
    """Topic-level `compression` values that librdkafka names differently or does not take."""
    from confluent_kafka import Producer

    from eventgen.runtime.publisher import librdkafka_compression

    config = RuntimeConfig(bootstrap_servers="127.0.0.1:9")
    assert "compression.type" not in producer_config(config, "producer")
    assert producer_config(config, "uncompressed")["compression.type"] == "none"
    for topic_value in ("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"):
        Producer(producer_config(config, topic_value))  # librdkafka takes every one
    assert librdkafka_compression(None) is None
