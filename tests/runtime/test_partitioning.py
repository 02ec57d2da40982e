"""The runtime's partitioner: Kafka's murmur2, as Java clients (and so Kafka Connect) use it."""

from __future__ import annotations

from eventgen.runtime.partitioning import murmur2, partition_for


def test_murmur2_matches_kafkas_reference_values() -> None:
    # Values from Kafka's own UtilsTest.testMurmur2 (org.apache.kafka.common.utils), signed
    # there: the unsigned form here is the same 32 bits.
    cases = {
        b"21": -973932308,
        b"foobar": -790332482,
        b"a-little-bit-long-string": -985981536,
        b"a-little-bit-longer-string": -1486304829,
        b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
        bytes([ord("a"), ord("b"), ord("c")]): 479470107,
    }
    for data, signed in cases.items():
        assert murmur2(data) == signed & 0xFFFFFFFF, data


def test_partition_for_clears_the_sign_bit_then_takes_the_modulo() -> None:
    key = b"foobar"  # murmur2 is negative as a signed int: the sign bit must be cleared
    assert murmur2(key) & 0x80000000
    assert partition_for(key, 7) == (murmur2(key) & 0x7FFFFFFF) % 7
    assert [partition_for(b"21", n) for n in (1, 2, 3)] == [
        0,
        (murmur2(b"21") & 0x7FFFFFFF) % 2,
        (murmur2(b"21") & 0x7FFFFFFF) % 3,
    ]
