"""eventgen.runtime.testing.InMemoryBroker: the Kafka semantics the runtime relies on.

One check compares its partitioner with a real broker's under the runtime's producer settings
(murmur2, eventgen.runtime.partitioning), so a keyed record lands in the same partition in
users' unit tests as in production.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, KafkaError, KafkaException, TopicPartition

from eventgen.runtime.config import load_config
from eventgen.runtime.publisher import producer_config
from eventgen.runtime.testing import InMemoryBroker, InMemoryConsumer
from eventgen.runtime.transport import Transport


def _consumer(broker: InMemoryBroker, group: str, **extra: Any) -> InMemoryConsumer:
    conf = {"group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": False}
    return broker.consumer({**conf, **extra})


def _drain(consumer: InMemoryConsumer, rounds: int = 5) -> list[tuple[Any, Any, Any]]:
    out: list[tuple[Any, Any, Any]] = []
    for _ in range(rounds):  # bounded: each call returns at once when nothing is there
        batch = consumer.consume(100, timeout=0)
        out += [(m.topic(), m.partition(), m.offset()) for m in batch]
    return out


def test_is_a_transport() -> None:
    transport: Transport = InMemoryBroker()  # mypy checks the protocol
    assert transport.consumer({"group.id": "g"}).assignment() == []


def test_keyed_partitioning_is_stable_and_offsets_count_per_partition() -> None:
    broker = InMemoryBroker({"t": 4})
    producer = broker.producer({})
    delivered: list[tuple[Any, Any]] = []
    for i in range(20):
        key = f"k{i % 5}".encode()
        producer.produce("t", b"v%d" % i, key, on_delivery=lambda e, m: delivered.append((e, m)))
    assert len(producer) == 20 and delivered == []  # callbacks wait for poll/flush
    assert producer.flush(5) == 0
    assert [e for e, _ in delivered] == [None] * 20
    by_key: dict[bytes, set[int]] = {}
    for _, message in delivered:
        by_key.setdefault(message.key(), set()).add(message.partition())
    assert all(len(parts) == 1 for parts in by_key.values()), by_key
    for p in range(4):
        offsets = [m.offset() for m in broker.records("t", p)]
        assert offsets == list(range(len(offsets)))
    assert sum(len(broker.records("t", p)) for p in range(4)) == 20
    assert broker.partition_for("t", b"k1") == next(iter(by_key[b"k1"]))
    # unkeyed records go round-robin
    assert [broker.partition_for("t", None) for _ in range(5)] == [0, 1, 2, 3, 0]


def test_unknown_topic_is_a_delivery_error_and_a_metadata_error() -> None:
    broker = InMemoryBroker()
    producer = broker.producer({})
    errors: list[Any] = []
    producer.produce("missing", b"v", on_delivery=lambda e, m: errors.append(e))
    producer.poll(0)
    assert [e.code() for e in errors] == [KafkaError.UNKNOWN_TOPIC_OR_PART]
    error = producer.list_topics("missing", timeout=1).topics["missing"].error
    assert error is not None and error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    broker.create_topic("missing", 2)
    assert sorted(producer.list_topics("missing").topics["missing"].partitions) == [0, 1]
    with pytest.raises(ValueError, match="exists with 2 partitions"):
        broker.create_topic("missing", 3)


def test_group_shares_partitions_and_resumes_from_committed_offsets() -> None:
    broker = InMemoryBroker({"t": 4})
    for i in range(8):
        broker.produce("t", b"v", partition=i % 4)
    events: list[tuple[str, str, list[int]]] = []

    def hooks(name: str) -> dict[str, Any]:
        def on_assign(c: Any, tps: list[TopicPartition]) -> None:
            events.append((name, "assign", [tp.partition for tp in tps]))

        def on_revoke(c: Any, tps: list[TopicPartition]) -> None:
            events.append((name, "revoke", [tp.partition for tp in tps]))
            c.commit(asynchronous=False)  # still owned during the callback

        return {"on_assign": on_assign, "on_revoke": on_revoke}

    a = _consumer(broker, "g")
    a.subscribe(["t"], **hooks("a"))
    assert len(_drain(a)) == 8
    assert events == [("a", "assign", [0, 1, 2, 3])]
    b = _consumer(broker, "g")
    b.subscribe(["t"], **hooks("b"))
    assert _drain(b, 1) == []  # a still owns everything until it polls again
    assert _drain(a, 1) == []  # a gives up 1 and 3, committing its positions
    assert events[1:] == [("a", "revoke", [1, 3])]
    assert _drain(b, 1) == []  # b starts at a's committed offsets: nothing new
    assert events[2:] == [("b", "assign", [1, 3])]
    assert broker.committed_offset("g", "t", 1) == 2
    broker.produce("t", b"new", partition=3)
    assert _drain(b) == [("t", 3, 2)]
    b.close()  # leaving revokes (and commits in the callback)
    assert events[3:] == [("b", "revoke", [1, 3])]
    assert _drain(a, 1) == []
    assert events[4:] == [("a", "assign", [1, 3])]
    assert [tp.partition for tp in a.assignment()] == [0, 1, 2, 3]


def test_commit_of_a_partition_not_owned_fails() -> None:
    broker = InMemoryBroker({"t": 2})
    a = _consumer(broker, "g")
    a.subscribe(["t"])
    _drain(a, 1)
    with pytest.raises(KafkaException):
        a.commit(offsets=[TopicPartition("other", 0, 1)], asynchronous=False)
    with pytest.raises(KafkaException):  # nothing consumed yet: no offsets (as librdkafka)
        a.commit(asynchronous=False)


def test_offset_reset_latest_skips_what_is_already_there() -> None:
    broker = InMemoryBroker({"t": 1})
    broker.produce("t", b"old")
    late = broker.consumer({"group.id": "g2", "enable.auto.commit": False})
    late.subscribe(["t"])
    assert _drain(late) == []
    broker.produce("t", b"new")
    assert _drain(late) == [("t", 0, 1)]


def test_transactions_visible_at_commit_aborted_never_offsets_with_the_commit() -> None:
    broker = InMemoryBroker({"in": 1, "out": 1})
    broker.produce("in", b"x")
    source = _consumer(broker, "eos")
    source.subscribe(["in"])
    (record,) = source.consume(1, timeout=0)
    reader = _consumer(broker, "reader")  # read_committed is the default, as in librdkafka
    reader.subscribe(["out"])
    uncommitted = _consumer(broker, "dirty", **{"isolation.level": "read_uncommitted"})
    uncommitted.subscribe(["out"])

    producer = broker.producer({"transactional.id": "app-0"})
    producer.init_transactions()
    with pytest.raises(KafkaException):
        producer.produce("out", b"outside")  # a transactional producer needs a transaction
    producer.begin_transaction()
    producer.produce("out", b"aborted")
    producer.abort_transaction()
    producer.begin_transaction()
    producer.produce("out", b"committed")
    producer.send_offsets_to_transaction(
        [TopicPartition("in", 0, (record.offset() or 0) + 1)], source.consumer_group_metadata()
    )
    assert _drain(reader) == []  # the open transaction holds read_committed readers back
    assert broker.committed_offset("eos", "in", 0) is None
    producer.commit_transaction()
    assert broker.committed_offset("eos", "in", 0) == 1
    assert [m.value() for m in reader.consume(10, timeout=0)] == [b"committed"]
    assert [m.value() for m in uncommitted.consume(10, timeout=0)] == [b"aborted", b"committed"]
    assert broker.values("out") == [b"committed"]
    assert len(broker.records("out", committed_only=False)) == 2


def test_a_new_producer_with_the_same_transactional_id_fences_the_old_one() -> None:
    broker = InMemoryBroker({"out": 1})
    old = broker.producer({"transactional.id": "app-0"})
    old.init_transactions()
    old.begin_transaction()
    old.produce("out", b"zombie")
    new = broker.producer({"transactional.id": "app-0"})
    new.init_transactions()
    with pytest.raises(KafkaException) as raised:
        old.commit_transaction()
    assert raised.value.args[0].fatal()
    assert broker.values("out") == []  # the zombie's open transaction was aborted


def test_failed_record_aborts_the_transaction_at_commit() -> None:
    broker = InMemoryBroker({"out": 1})
    producer = broker.producer({"transactional.id": "t"})
    producer.init_transactions()
    producer.begin_transaction()
    producer.produce("out", b"ok")
    producer.produce("no-such-topic", b"lost")
    with pytest.raises(KafkaException):
        producer.commit_transaction()
    assert broker.values("out") == []


def test_pause_resume_seek_position_watermarks() -> None:
    broker = InMemoryBroker({"t": 2})
    for i in range(3):
        broker.produce("t", b"%d" % i, partition=0)
        broker.produce("t", b"%d" % i, partition=1)
    c = _consumer(broker, "g")
    c.subscribe(["t"])
    c.consume(0, timeout=0)  # joins; takes both partitions
    c.pause([TopicPartition("t", 0)])
    assert {p for _, p, _ in _drain(c)} == {1}
    assert c.position([TopicPartition("t", 1)])[0].offset == 3
    c.resume([TopicPartition("t", 0)])
    assert [o for _, p, o in _drain(c) if p == 0] == [0, 1, 2]
    c.seek(TopicPartition("t", 0, 1))
    assert _drain(c) == [("t", 0, 1), ("t", 0, 2)]
    c.seek(TopicPartition("t", 1, OFFSET_BEGINNING))
    assert len(_drain(c)) == 3
    assert c.get_watermark_offsets(TopicPartition("t", 0)) == (0, 3)
    with pytest.raises(KafkaException):
        c.seek(TopicPartition("elsewhere", 0, 0))
    c.commit(asynchronous=False)
    again = _consumer(broker, "g")
    c.close()
    again.subscribe(["t"])
    assert _drain(again) == []
    assert [
        tp.offset for tp in again.committed([TopicPartition("t", 0), TopicPartition("t", 1)])
    ] == [
        3,
        3,
    ]


def test_consume_waits_for_a_record_from_another_thread() -> None:
    import threading

    broker = InMemoryBroker({"t": 1})
    c = _consumer(broker, "g")
    c.subscribe(["t"])
    c.consume(1, timeout=0)
    timer = threading.Timer(0.2, lambda: broker.produce("t", b"late"))
    timer.start()
    try:
        got = c.consume(1, timeout=20)
    finally:
        timer.cancel()
    assert [m.value() for m in got] == [b"late"]


@pytest.mark.kafka
def test_partitioner_matches_a_real_broker(kafka_bootstrap_servers: str) -> None:
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient
    from confluent_kafka.cimpl import NewTopic

    topic = f"eventgen-test-partitioner-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap_servers})
    for future in admin.create_topics([NewTopic(topic, 6, 1)]).values():
        future.result(timeout=60)
    try:
        real: dict[Any, Any] = {}
        producer = Producer(
            producer_config(load_config({"bootstrap_servers": kafka_bootstrap_servers}), None)
        )
        keys = [f"order-{i}".encode() for i in range(30)]
        for key in keys:
            producer.produce(
                topic, b"v", key, on_delivery=lambda e, m: real.__setitem__(m.key(), m.partition())
            )
        assert producer.flush(60) == 0
        broker = InMemoryBroker({topic: 6})
        assert {key: broker.partition_for(topic, key) for key in keys} == real
        assert len(set(real.values())) > 1
    finally:
        admin.delete_topics([topic])


def test_auto_commit_is_on_by_default_as_in_librdkafka() -> None:
    broker = InMemoryBroker({"t": 1})
    for i in range(3):
        broker.produce("t", b"%d" % i)
    c = broker.consumer({"group.id": "auto", "auto.offset.reset": "earliest"})
    c.subscribe(["t"])
    assert len(c.consume(2, timeout=0)) == 2
    assert broker.committed_offset("auto", "t") is None  # committed at the next consume
    assert len(c.consume(5, timeout=0)) == 1
    assert broker.committed_offset("auto", "t") == 2
    c.close()  # and at close
    assert broker.committed_offset("auto", "t") == 3
    assert broker.group_members("auto") == []


def test_manual_assignment_reads_from_the_given_offsets() -> None:
    broker = InMemoryBroker({"t": 2})
    for p in (0, 1, 1):
        broker.produce("t", b"v", partition=p)
    c = broker.consumer({"group.id": "reader", "enable.auto.commit": False})
    c.assign([TopicPartition("t", 1, 1), TopicPartition("t", 0, OFFSET_BEGINNING)])
    assert sorted(_drain(c)) == [("t", 0, 0), ("t", 1, 1)]
    assert broker.group_members("reader") == []  # assign() does not join the group
