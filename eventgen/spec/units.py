"""Durations (`250ms`, `30s`, `10m`, `2h`, `7d`) and sizes (`512KiB`, `10MiB`, plain ints)."""

from __future__ import annotations

import re

_DURATION = re.compile(r"([0-9]+)(ms|s|m|h|d)")
_DURATION_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_SIZE = re.compile(r"([0-9]+)(B|KiB|MiB|GiB|TiB|KB|MB|GB|TB)?")
_SIZE_BYTES = {
    None: 1, "B": 1,
    "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4,
    "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4,
}  # fmt: skip
LONG_MAX = 2**63 - 1


class UnitError(ValueError):
    """A duration or size that does not parse or does not fit a Kafka long."""


def duration_ms(text: object) -> int:
    """Milliseconds for a duration string; `infinite` is -1 (Kafka's convention)."""
    if text == "infinite":
        return -1
    if isinstance(text, bool) or not isinstance(text, (str, int)):
        raise UnitError(f"expected a duration like 30s, got {text!r}")
    match = _DURATION.fullmatch(str(text))
    if not match:
        raise UnitError(f"`{text}` is not a duration (use 250ms, 30s, 10m, 2h or 7d)")
    value = int(match.group(1)) * _DURATION_MS[match.group(2)]
    if value > LONG_MAX:
        raise UnitError(f"`{text}` is too long")
    return value


def size_bytes(value: object) -> int:
    """Bytes for a size (`10MiB`) or a plain integer; `infinite` is -1."""
    if value == "infinite":
        return -1
    if isinstance(value, bool):
        raise UnitError(f"expected a size, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise UnitError("a size cannot be negative")
        return value
    match = _SIZE.fullmatch(str(value))
    if not match:
        raise UnitError(f"`{value}` is not a size (use bytes or 512KiB, 10MiB, 1GiB)")
    result = int(match.group(1)) * _SIZE_BYTES[match.group(2)]
    if result > LONG_MAX:
        raise UnitError(f"`{value}` is too large")
    return result
