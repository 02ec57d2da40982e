"""Protobuf compatibility: buf's WIRE_JSON breaking rules on descriptors compiled by protoc.

Checks always compare an OLD schema with a NEW one the way `buf breaking` does (the new
schema against the old one). `eventgen.compat.check` maps modes onto that (see modes.py).
"""

from eventgen.compat.protobuf.issue import BUF_VERSION, ProtoIssue
from eventgen.compat.protobuf.parse import DEFAULT_FILE, Schema, parse_proto
from eventgen.compat.protobuf.rules import CODES, WIRE_JSON, rule_id, run


def check_protobuf(old: Schema, new: Schema, codes: tuple[str, ...] = CODES) -> list[ProtoIssue]:
    """Every WIRE_JSON breaking change from `old` to `new`."""
    return run(old, new, codes)


__all__ = [
    "BUF_VERSION",
    "CODES",
    "DEFAULT_FILE",
    "WIRE_JSON",
    "ProtoIssue",
    "Schema",
    "check_protobuf",
    "parse_proto",
    "rule_id",
]
