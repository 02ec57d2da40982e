"""An in-memory Kafka for users' unit tests: `InMemoryBroker` is a Transport.

    broker = InMemoryBroker()
    broker.create_topic("shop.orders.v1", partitions=3)
    app.run(transport=broker, max_messages=1, idle_exit_s=0.5)
    assert broker.records("shop.orders.v1.dlq") == []

It runs the same apps, publishers, codecs, retries, DLQ writes and idempotency stores as Kafka
does, with what they rely on: partitions, keyed partitioning (murmur2 of the key modulo the
partition count, as the runtime's producers partition: a key lands where it would on Kafka), offsets,
consumer groups with committed offsets and incremental (cooperative) assignment, pause/resume,
seek, and transactions whose records read_committed consumers see only once committed (aborted
ones never). It is deterministic: partitions are dealt round-robin to a group's members in join
order, unkeyed records go round-robin, records come back in (topic, partition, offset) order.

What it leaves out, on purpose: replication and brokers, retention and compaction (offsets
start at 0 and records stay), transaction control records (offsets stay contiguous), regex
subscriptions, quotas. A topic must be created before it is produced to (as with
auto.create.topics.enable=false), so a missing DLQ topic fails as it would in production.

Callbacks (on_assign, on_revoke, on_delivery) run in the thread that calls consume(), poll()
or flush(), as with confluent-kafka. This is for users' unit tests; the project's own
integration tests run against Kafka.
"""

from eventgen.runtime.testing._log import GroupMetadata
from eventgen.runtime.testing.broker import InMemoryBroker, headers_of
from eventgen.runtime.testing.consumer import InMemoryConsumer
from eventgen.runtime.testing.producer import InMemoryProducer

__all__ = ["GroupMetadata", "InMemoryBroker", "InMemoryConsumer", "InMemoryProducer", "headers_of"]
