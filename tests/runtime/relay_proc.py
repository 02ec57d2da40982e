"""A test message for the outbox tests, and a relay process the crash tests start and kill.

`python -m tests.runtime.relay_proc --store sqlite --table T --topic X ...` runs
`PollingRelay(spec).run(...)` against the real Kafka and store named by the environment
(KAFKA_BOOTSTRAP_SERVERS, EVENTGEN_POSTGRES_DSN, EVENTGEN_SQLITE_PATH) and prints its stats as
one JSON line. `--hang-after K --marker PATH`: after producing the K-th record the producer
flushes (those records are in Kafka), writes PATH and sleeps, so the test can `kill -9` the
process in the middle of a batch, between the acknowledgements and the delete.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar

from eventgen.runtime.config import load_config
from eventgen.runtime.model import Message
from eventgen.runtime.registry import TopicBinding
from eventgen.runtime.relay import PollingRelay
from eventgen.runtime.spec import OutboxSpec, PublisherSpec, Route
from eventgen.runtime.transport import KafkaTransport, ProducerLike

TYPE = "carts.ItemAdded"
SCHEMAS: dict[str, dict[int, Any]] = {
    TYPE: {
        1: {
            "type": "record",
            "name": "ItemAdded",
            "namespace": "carts",
            "fields": [
                {"name": "cart_id", "type": "string"},
                {"name": "n", "type": "long"},
                {"name": "note", "type": "string", "default": ""},
            ],
        }
    }
}


class ItemAdded(Message):
    """Item `n` (0, 1, 2, ... per cart) added to cart `cart_id`; keyed by the cart."""

    TYPE: ClassVar[str] = TYPE
    VERSION: ClassVar[int] = 1
    SCHEMAS: ClassVar[str] = "tests.runtime.relay_proc"

    cart_id: str
    n: int
    note: str = ""

    def partition_key(self) -> Any:
        return self.cart_id


def outbox_spec(
    table: str,
    topic: str,
    *,
    store: str = "sqlite",
    batch: int = 10,
    retention_ms: int = 0,
    relay: str = "polling",
    compression: str | None = None,
) -> OutboxSpec:
    binding = TopicBinding(topic, (ItemAdded,), "string")
    route = Route(binding, "avro", compression)
    return OutboxSpec(
        context="carts",
        table=table,
        relay=relay,  # type: ignore[arg-type]
        store=store,  # type: ignore[arg-type]
        batch=batch,
        poll_interval_ms=50,
        retention_ms=retention_ms,
        publisher=PublisherSpec("carts", ((TYPE, route),)),
    )


# A ready relay for `python -m eventgen.runtime run tests.runtime.relay_proc:relay` (the
# runner tests); its table, topic and store come from the environment of that process.
relay = PollingRelay(
    outbox_spec(
        os.environ.get("RELAY_PROC_TABLE", "outbox"),
        os.environ.get("RELAY_PROC_TOPIC", "carts.items"),
        store=os.environ.get("RELAY_PROC_STORE", "sqlite"),
    )
)


class _HangingProducer:
    """A real producer that stops the process's progress after its K-th record."""

    def __init__(self, inner: ProducerLike, after: int, marker: Path) -> None:
        self._inner = inner
        self._after = after
        self._marker = marker
        self._count = 0

    def produce(self, *args: Any, **kwargs: Any) -> None:
        self._inner.produce(*args, **kwargs)
        self._count += 1
        if self._count == self._after:
            left = self._inner.flush(30)
            self._marker.write_text(json.dumps({"produced": self._count, "unflushed": left}))
            time.sleep(300)  # the test kills the process long before this ends
            raise SystemExit("relay_proc: not killed in time")

    def __len__(self) -> int:
        return len(self._inner)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _HangingTransport(KafkaTransport):
    def __init__(self, after: int, marker: Path) -> None:
        self._after = after
        self._marker = marker

    def producer(self, config: dict[str, Any]) -> ProducerLike:
        inner = super().producer(config)
        return _HangingProducer(inner, self._after, self._marker)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", choices=("sqlite", "postgres"), required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--idle-exit", type=float, default=3.0)
    parser.add_argument("--max-messages", type=int)
    parser.add_argument("--hang-after", type=int)
    parser.add_argument("--marker", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    spec = outbox_spec(args.table, args.topic, store=args.store, batch=args.batch)
    transport = None
    if args.hang_after is not None:
        transport = _HangingTransport(args.hang_after, args.marker)
    config = load_config({"connect_timeout_s": 20})
    stats = PollingRelay(spec).run(
        config, transport=transport, max_messages=args.max_messages, idle_exit_s=args.idle_exit
    )
    print(json.dumps(asdict(stats)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


# -- helpers of the relay tests (Kafka topics and reading them back) ------------------------


def create_topic(bootstrap: str, name: str, partitions: int = 3, **config: str) -> None:
    from confluent_kafka.admin import AdminClient
    from confluent_kafka.cimpl import NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [NewTopic(name, partitions, 1, config=dict(config))], request_timeout=30
    )
    futures[name].result(timeout=60)


def delete_topic(bootstrap: str, name: str) -> None:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.delete_topics([name], request_timeout=30).values():
        with contextlib.suppress(Exception):  # cleanup on a shared broker: best effort
            future.result(timeout=60)


def consume_all(
    bootstrap: str, topic: str, expected: int, *, timeout_s: float = 60, settle_s: float = 2.0
) -> list[Any]:
    """Every record of `topic` from the start: read until `expected` records and then
    `settle_s` without a new one (so extra duplicates show), or until `timeout_s`."""
    import uuid

    from confluent_kafka import Consumer

    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": f"relay-test-{uuid.uuid4().hex}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "enable.partition.eof": False,
    })  # fmt: skip
    records: list[Any] = []
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + timeout_s
        last_new = time.monotonic()
        while time.monotonic() < deadline:
            batch = consumer.consume(500, timeout=0.5)
            fresh = [r for r in batch if r.error() is None]
            records.extend(fresh)
            if fresh:
                last_new = time.monotonic()
            elif len(records) >= expected and time.monotonic() - last_new >= settle_s:
                break
    finally:
        consumer.close()
    return records
