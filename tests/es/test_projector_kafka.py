"""A Kafka-sourced projection on real Kafka: events produced with the runtime Publisher,
offsets kept in the checkpoints table only (nothing committed to Kafka), resume after the
stored offsets, an undecodable record logged and skipped, and a rebuild from the topic."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.db import Store
from eventgen.runtime.es import checkpoints
from eventgen.runtime.es.projector import Projector
from eventgen.runtime.model import Message
from eventgen.runtime.publisher import Publisher
from eventgen.runtime.registry import TopicBinding
from eventgen.runtime.spec import PublisherSpec, Route
from eventgen.runtime.sql import quote
from tests.emit_services.helpers import EXAMPLE, build
from tests.es.projector_proc import (
    OrderSummary,
    Shop,
    ShopEventStore,
    definition,
    fold,
    make_spec,
    shop_messages,
)
from tests.runtime.relay_proc import create_topic, delete_topic

PARTITIONS = 3


@pytest.fixture(scope="module")
def messages(tmp_path_factory: pytest.TempPathFactory) -> list[type[Message]]:
    out = tmp_path_factory.mktemp("projector-kafka-shop") / "out"
    build(EXAMPLE, out)
    return shop_messages(out)


@pytest.fixture
def topic(kafka_bootstrap_servers: str) -> Iterator[str]:
    name = f"es-e-projection-{uuid.uuid4().hex[:10]}"
    create_topic(kafka_bootstrap_servers, name, PARTITIONS)
    yield name
    delete_topic(kafka_bootstrap_servers, name)


def _publish(publisher: Publisher, events: list[Message]) -> None:
    for event in events:
        publisher.publish(event)
    publisher.flush(60)


def _produce_garbage(bootstrap: str, topic: str, key: bytes) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap})
    headers: list[tuple[str, str | bytes | None]] = [
        ("event_id", str(uuid.uuid4()).encode()),
        ("type", b"payments.CardDeclined"),
        ("schema_version", b"1"),
        ("occurred_at", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ").encode()),
    ]
    producer.produce(topic, value=b"\xff\xfe not avro", key=key, headers=headers)
    assert producer.flush(30) == 0


def _rows(projector: Projector[OrderSummary], store: Store) -> dict[Any, OrderSummary]:
    return {row.order_id: row for row in projector.table.find(store.connection, {})}


def _expected(events: list[Message]) -> dict[Any, OrderSummary]:
    return {key: OrderSummary.model_validate(row) for key, row in fold(events).items()}


@pytest.mark.kafka
@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_kafka_sourced_projection(
    kind: str,
    kafka_bootstrap_servers: str,
    topic: str,
    messages: list[type[Message]],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    from shop_events import topics  # type: ignore[import-not-found]

    if kind == "postgres":
        dsn = request.getfixturevalue("postgres_dsn")
        config = RuntimeConfig(
            bootstrap_servers=kafka_bootstrap_servers, postgres_dsn=dsn, connect_timeout_s=20
        )
    else:
        config = RuntimeConfig(
            bootstrap_servers=kafka_bootstrap_servers,
            sqlite_path=str(tmp_path / "kafka-projection.sqlite3"),
            connect_timeout_s=20,
        )
    binding = TopicBinding(topic, tuple(messages), topics.ORDERS_ORDER_EVENTS.key_schema)
    route = Route(binding, serialization="avro")
    table = f"kafka_{uuid.uuid4().hex[:10]}"
    spec = make_spec(
        table,
        store=kind,  # type: ignore[arg-type]
        store_source=False,
        topics=(route,),
        group=f"es-e-{table}",
        batch=50,
    )
    projector = Projector(definition(spec, messages))
    publisher = Publisher(PublisherSpec("test", tuple(sorted((m.TYPE, route) for m in messages))))
    publisher.configure(config)
    store = Store.open(kind, config)  # type: ignore[arg-type]
    try:
        rng = random.Random(5)
        shop = Shop(messages)
        orders = [uuid.uuid4() for _ in range(12)]
        events: list[Message] = [shop.make("OrderPlaced", o, n) for n, o in enumerate(orders)]
        kinds = ["CardDeclined", "ShipmentDispatched", "CardCharged", "OrderConfirmed"]
        events += [shop.make(rng.choice(kinds), rng.choice(orders), n) for n in range(150)]
        _publish(publisher, events)

        stats = projector.run(config=config, max_messages=len(events), idle_exit_s=60)
        assert stats.events == len(events)
        assert _rows(projector, store) == _expected(events)
        positions = checkpoints.read(store.connection, spec.checkpoint_table, spec.qualified)
        assert set(positions) <= {f"{topic}:{p}" for p in range(PARTITIONS)}
        assert sum(offset + 1 for offset in positions.values()) == len(events)
        assert _committed_in_kafka(kafka_bootstrap_servers, spec.group, topic) == []

        # Resume after the stored offsets: only the new records, one of them undecodable.
        more = [shop.make(rng.choice(kinds), rng.choice(orders), n) for n in range(40)]
        _produce_garbage(kafka_bootstrap_servers, topic, b"x")
        _publish(publisher, more)
        stats = projector.run(config=config, max_messages=len(more) + 1, idle_exit_s=60)
        assert (stats.events, stats.undecodable, stats.skipped) == (len(more), 1, 0)
        assert _rows(projector, store) == _expected(events + more)
        positions = checkpoints.read(store.connection, spec.checkpoint_table, spec.qualified)
        assert sum(offset + 1 for offset in positions.values()) == len(events) + len(more) + 1

        # Rebuild from the topic: the same rows, the same checkpoints.
        lines: list[str] = []
        projector.rebuild(config=config, progress=lines.append)
        assert any("swapped" in line for line in lines), lines
        assert _rows(projector, store) == _expected(events + more)
        assert (
            checkpoints.read(store.connection, spec.checkpoint_table, spec.qualified) == positions
        )
    finally:
        publisher.close(10)
        for name in (table, table + "__rebuild"):
            store.connection.execute(f"DROP TABLE IF EXISTS {quote(name)}")
        store.close()


def _committed_in_kafka(bootstrap: str, group: str, topic: str) -> list[Any]:
    """Offsets the group committed to Kafka (none: they live in the checkpoints table)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        return [tp for tp in consumer.committed(partitions, timeout=30) if tp.offset >= 0]
    finally:
        consumer.close()


@pytest.mark.kafka
def test_store_and_kafka_sources_together(
    kafka_bootstrap_servers: str, topic: str, messages: list[type[Message]], tmp_path: Path
) -> None:
    """OrderSummary's shape: its own context's events from the store, the others' from Kafka;
    one checkpoint per source, in the same transaction."""
    from shop_events import topics

    config = RuntimeConfig(
        bootstrap_servers=kafka_bootstrap_servers,
        sqlite_path=str(tmp_path / "mixed.sqlite3"),
        connect_timeout_s=20,
    )
    foreign = [m for m in messages if not m.TYPE.startswith("orders.")]
    binding = TopicBinding(topic, tuple(foreign), topics.ORDERS_ORDER_EVENTS.key_schema)
    route = Route(binding, serialization="avro")
    table = f"mixed_{uuid.uuid4().hex[:10]}"
    spec = make_spec(table, store_source=True, topics=(route,), group=f"es-e-{table}", batch=100)
    event_store = ShopEventStore(f"{table}_events", messages, "sqlite")
    projector = Projector(definition(spec, messages), event_store)
    publisher = Publisher(PublisherSpec("test", tuple(sorted((m.TYPE, route) for m in foreign))))
    publisher.configure(config)
    store = Store.open("sqlite", config)
    try:
        rng = random.Random(9)
        shop = Shop(messages)
        orders = [uuid.uuid4() for _ in range(8)]
        own = [shop.make("OrderPlaced", o, n) for n, o in enumerate(orders)]
        own += [shop.make("OrderConfirmed", o) for o in orders[:4]]
        with store.transaction(immediate=True) as conn:
            event_store.ensure_schema(conn)
            event_store.add(conn, own)
        kinds = ["CardDeclined", "ShipmentDispatched", "CardCharged"]
        other = [shop.make(rng.choice(kinds), rng.choice(orders), n) for n in range(60)]
        _publish(publisher, other)
        stats = projector.run(config=config, max_messages=len(own) + len(other), idle_exit_s=60)
        assert stats.events == len(own) + len(other)
        assert _rows(projector, store) == _expected(own + other)
        positions = checkpoints.read(store.connection, spec.checkpoint_table, spec.qualified)
        assert positions.pop("store") == event_store.head_position(store.connection)
        assert sum(offset + 1 for offset in positions.values()) == len(other)
        projector.rebuild(config=config)
        assert _rows(projector, store) == _expected(own + other)
    finally:
        publisher.close(10)
        store.close()


@pytest.mark.kafka
def test_store_backlog_is_drained_before_kafka_records(
    kafka_bootstrap_servers: str, topic: str, messages: list[type[Message]], tmp_path: Path
) -> None:
    """A store backlog of many batches and Kafka records about the same rows: a record is
    applied only once the store is at its head, so none finds its row missing (the row's
    creating event is in the store) — in the live projector and in a rebuild."""
    from shop_events import topics

    config = RuntimeConfig(
        bootstrap_servers=kafka_bootstrap_servers,
        sqlite_path=str(tmp_path / "backlog.sqlite3"),
        connect_timeout_s=20,
    )
    foreign = [m for m in messages if not m.TYPE.startswith("orders.")]
    binding = TopicBinding(topic, tuple(foreign), topics.ORDERS_ORDER_EVENTS.key_schema)
    route = Route(binding, serialization="avro")
    table = f"backlog_{uuid.uuid4().hex[:10]}"
    batch = 50
    spec = make_spec(table, store_source=True, topics=(route,), group=f"es-e-{table}", batch=batch)
    event_store = ShopEventStore(f"{table}_events", messages, "sqlite")
    projector = Projector(definition(spec, messages), event_store)
    publisher = Publisher(PublisherSpec("test", tuple(sorted((m.TYPE, route) for m in foreign))))
    publisher.configure(config)
    store = Store.open("sqlite", config)
    try:
        shop = Shop(messages)
        orders = [uuid.uuid4() for _ in range(150)]
        own: list[Message] = []
        for n, order in enumerate(orders):
            own += [shop.make("OrderPlaced", order, n), shop.make("OrderConfirmed", order)]
        assert len(own) >= 6 * batch  # a backlog of several batches
        with store.transaction(immediate=True) as conn:
            event_store.ensure_schema(conn)
            event_store.add(conn, own)
        other = [shop.make("CardDeclined", order, n) for n, order in enumerate(orders)]
        _publish(publisher, other)

        stats = projector.run(config=config, max_messages=len(own) + len(other), idle_exit_s=60)
        assert stats.missed == 0, stats.line()
        assert stats.events == len(own) + len(other)
        assert _rows(projector, store) == _expected(own + other)

        stats = projector.rebuild(config=config)
        assert stats.missed == 0, stats.line()
        assert _rows(projector, store) == _expected(own + other)
    finally:
        publisher.close(10)
        store.close()


@pytest.mark.kafka
def test_rebuild_reader_stops_at_the_ceiling_and_keeps_what_lies_beyond(
    kafka_bootstrap_servers: str, topic: str, messages: list[type[Message]], tmp_path: Path
) -> None:
    """A rebuild's topic reader returns nothing beyond a partition's ceiling (the offsets
    read when a catch-up starts) and loses nothing: a later, higher ceiling gets the held
    records and the rest of the partition, each offset once, in order."""
    from shop_events import topics

    from eventgen.runtime.es.rebuilding import _TopicReader

    config = RuntimeConfig(
        bootstrap_servers=kafka_bootstrap_servers,
        sqlite_path=str(tmp_path / "reader.sqlite3"),
        connect_timeout_s=20,
    )
    binding = TopicBinding(topic, tuple(messages), topics.ORDERS_ORDER_EVENTS.key_schema)
    route = Route(binding, serialization="avro")
    table = f"reader_{uuid.uuid4().hex[:10]}"
    spec = make_spec(table, store_source=False, topics=(route,), group=f"es-e-{table}", batch=50)
    projector = Projector(definition(spec, messages))
    publisher = Publisher(PublisherSpec("test", tuple(sorted((m.TYPE, route) for m in messages))))
    publisher.configure(config)
    shop = Shop(messages)
    orders = [uuid.uuid4() for _ in range(9)]
    _publish(publisher, [shop.make("CardDeclined", o, n) for n, o in enumerate(orders * 20)])
    reader = _TopicReader(projector, config, threading.Event())
    try:
        full = reader.last_offsets()
        assert sum(last + 1 for last in full.values()) == 180
        low = {source: last // 3 for source, last in full.items()}
        positions: dict[str, int] = {}
        got: list[tuple[str, int]] = []
        for ceiling in (low, full):
            for _ in range(100):  # bounded: 180 records in reads of up to 50
                batch = reader.read(positions, ceiling, 50)
                if not batch:
                    break
                for source, offset, message in batch:
                    assert message is not None
                    assert offset <= ceiling[source], (source, offset, ceiling)
                    assert offset == positions.get(source, -1) + 1  # in order, no gap
                    positions[source] = offset
                    got.append((source, offset))
            assert positions == ceiling
        assert len(got) == len(set(got)) == 180
    finally:
        reader.close()
        publisher.close(10)


@pytest.mark.kafka
def test_undecodable_record_of_a_topic_with_a_dlq_is_dead_lettered(
    kafka_bootstrap_servers: str, topic: str, messages: list[type[Message]], tmp_path: Path
) -> None:
    """A record that does not decode goes to its topic's DLQ with the reason and its origin
    (acknowledged before the batch's checkpoint commits); the good records are projected."""
    from shop_events import topics

    from eventgen.runtime.failures.dlq import ORIGINAL_OFFSET, ORIGINAL_TOPIC, REASON
    from tests.runtime.apps.kit import headers_of, read_all

    dlq = f"{topic}.dlq"
    create_topic(kafka_bootstrap_servers, dlq, 1)
    config = RuntimeConfig(
        bootstrap_servers=kafka_bootstrap_servers,
        sqlite_path=str(tmp_path / "dlq-projection.sqlite3"),
        connect_timeout_s=20,
    )
    binding = TopicBinding(topic, tuple(messages), topics.ORDERS_ORDER_EVENTS.key_schema)
    route = Route(binding, serialization="avro", dlq=dlq)
    table = f"kafka_{uuid.uuid4().hex[:10]}"
    spec = make_spec(
        table, store="sqlite", store_source=False, topics=(route,), group=f"es-e-{table}"
    )
    projector = Projector(definition(spec, messages))
    publisher = Publisher(PublisherSpec("test", tuple(sorted((m.TYPE, route) for m in messages))))
    publisher.configure(config)
    store = Store.open("sqlite", config)
    try:
        shop = Shop(messages)
        orders = [uuid.uuid4() for _ in range(3)]
        events: list[Message] = [shop.make("OrderPlaced", o, n) for n, o in enumerate(orders)]
        _publish(publisher, events)
        _produce_garbage(kafka_bootstrap_servers, topic, b"bad-key")
        stats = projector.run(config=config, max_messages=len(events) + 1, idle_exit_s=60)
        assert (stats.events, stats.undecodable, stats.dead_lettered) == (len(events), 1, 1)
        assert _rows(projector, store) == _expected(events)
        letters = read_all(kafka_bootstrap_servers, dlq, expect=1)
        assert len(letters) == 1
        assert (letters[0].key(), letters[0].value()) == (b"bad-key", b"\xff\xfe not avro")
        head = headers_of(letters[0])
        assert (head[REASON], head[ORIGINAL_TOPIC]) == ("decode", topic)
        positions = checkpoints.read(store.connection, spec.checkpoint_table, spec.qualified)
        assert sum(offset + 1 for offset in positions.values()) == len(events) + 1
        assert head[ORIGINAL_OFFSET].isdigit()
    finally:
        publisher.close(10)
        store.connection.execute(f"DROP TABLE IF EXISTS {quote(table)}")
        store.close()
        delete_topic(kafka_bootstrap_servers, dlq)
