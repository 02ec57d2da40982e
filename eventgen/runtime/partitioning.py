"""Which partition a keyed record goes to: Kafka's Java default (murmur2), for every producer.

librdkafka's default partitioner (`consistent_random`) hashes keys with CRC32, Java clients
(Kafka Connect, hence the Debezium route, Kafka Streams, Spring) with murmur2. A key written
by both would land on two partitions and lose its order. So every producer the runtime makes
(publisher, apps' outputs and dead letters, relay, replay) sets `partitioner: murmur2_random`:
murmur2 for keyed records, random for unkeyed ones, as librdkafka documents it.
"""

from __future__ import annotations

PARTITIONER = "murmur2_random"
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF
_SEED = 0x9747B28C


def murmur2(data: bytes) -> int:
    """Kafka's `Utils.murmur2` (32-bit MurmurHash2, Kafka's seed) as an unsigned int."""
    h = (_SEED ^ len(data)) & _MASK
    whole = len(data) - len(data) % 4
    for i in range(0, whole, 4):
        k = (int.from_bytes(data[i : i + 4], "little") * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    if whole < len(data):
        h ^= int.from_bytes(data[whole:], "little")
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    return h ^ (h >> 15)


def partition_for(key: bytes, partitions: int) -> int:
    """The partition of a keyed record: murmur2 with the sign bit cleared, modulo the count."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions
