"""Zigzag base-128 varints: Avro's `long` and the message-index array of Confluent's
protobuf framing are the same encoding, so both codecs use these two functions."""

from __future__ import annotations


def write_long(value: int) -> bytes:
    """Zigzag, then base-128 varint (least significant group first)."""
    n = (value << 1) ^ (value >> 63)
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def read_long(data: bytes, pos: int = 0) -> tuple[int, int]:
    """The varint at `pos`: (value, position after it); ValueError on a truncated varint."""
    shift = n = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated or oversized varint")
        byte = data[pos]
        pos += 1
        n |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return (n >> 1) ^ -(n & 1), pos
