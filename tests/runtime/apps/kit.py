"""Real-Kafka helpers of the consumer tests: topics, producing messages, reading back."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.model import Message
from eventgen.runtime.serde import codec_for, encode_key
from tests.runtime.apps.shop import input_route

TIMEOUT_S = 30.0


def unique(label: str) -> str:
    return f"egapp-{label}-{uuid.uuid4().hex[:8]}"


@contextmanager
def topics(bootstrap: str, spec: dict[str, int]) -> Iterator[None]:
    """Create `{name: partitions}`, wait until the metadata lists them, delete them after."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    new = [NewTopic(name, num_partitions=n, replication_factor=1) for name, n in spec.items()]
    for future in admin.create_topics(new, request_timeout=TIMEOUT_S).values():
        future.result(timeout=TIMEOUT_S)
    deadline = time.monotonic() + TIMEOUT_S
    while not set(spec) <= set(admin.list_topics(timeout=TIMEOUT_S).topics):
        assert time.monotonic() < deadline, f"topics {sorted(spec)} not in the metadata"
        time.sleep(0.2)
    try:
        yield
    finally:
        for future in admin.delete_topics(list(spec), request_timeout=TIMEOUT_S).values():
            future.result(timeout=TIMEOUT_S)


Raw = tuple[int | None, bytes | None, bytes | None, list[tuple[str, bytes]]]


def encoded(topic: str, message: Message, headers: Sequence[tuple[str, bytes]] = ()) -> Raw:
    """(partition None, key, value, headers) of `message` as a publisher writes it."""
    route = input_route(topic, None)
    value, envelope = codec_for(route, RuntimeConfig()).encode(message.envelope(), route)
    return None, encode_key(route, message), value, envelope + list(headers)


def produce(bootstrap: str, topic: str, records: Sequence[Raw]) -> None:
    """Produce (partition or None, key, value, headers) in order; every delivery must succeed."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 20})
    errors: list[Any] = []

    def done(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(err)

    for partition, key, value, headers in records:
        kwargs: dict[str, Any] = {} if partition is None else {"partition": partition}
        while True:
            try:
                producer.produce(
                    topic, value=value, key=key, headers=list(headers), on_delivery=done, **kwargs
                )
                break
            except BufferError:
                producer.poll(0.5)
    assert producer.flush(TIMEOUT_S) == 0, "records not delivered in time"
    assert not errors, errors


def read_all(
    bootstrap: str, topic: str, *, expect: int | None = None, committed_only: bool = True
) -> list[Any]:
    """Every record of `topic` now (read_committed by default), by partition and offset.

    Bounded: stops at the high watermarks (transaction markers count in them, so the end is
    a position, not a record count) or after TIMEOUT_S.
    """
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": unique("reader"),
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "isolation.level": "read_committed" if committed_only else "read_uncommitted",
        }
    )
    got: list[Any] = []
    try:
        partitions = consumer.list_topics(topic, timeout=TIMEOUT_S).topics[topic].partitions
        ends = {}
        for p in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), TIMEOUT_S)
            if high > low:
                ends[p] = high
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])
        open_parts = set(ends)
        deadline = time.monotonic() + TIMEOUT_S
        while open_parts and time.monotonic() < deadline:
            for record in consumer.consume(num_messages=500, timeout=0.5):
                error: Any = record.error()
                if error is not None:
                    if error.code() == -191:  # _PARTITION_EOF
                        open_parts.discard(record.partition())
                    continue
                got.append(record)
                if (record.offset() or 0) + 1 >= ends[record.partition()]:
                    open_parts.discard(record.partition())
        assert not open_parts, f"{topic}: partitions {sorted(open_parts)} not read to the end"
    finally:
        consumer.close()
    if expect is not None:
        assert len(got) == expect, f"{topic}: {len(got)} records, expected {expect}"
    return sorted(got, key=lambda r: (r.partition(), r.offset()))


def headers_of(record: Any) -> dict[str, str]:
    return {name: (value or b"").decode() for name, value in record.headers() or ()}


def committed(bootstrap: str, group: str, topic: str, partitions: int) -> list[int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        tps = consumer.committed(
            [TopicPartition(topic, p) for p in range(partitions)], timeout=TIMEOUT_S
        )
        return [tp.offset for tp in tps]
    finally:
        consumer.close()
