"""Compatibility modes for protobuf: which versions are compared, and how directions map.

buf's WIRE_JSON rules compare an old schema with a new one and report changes that break
some pairing of old and new peers: type and cardinality changes break readers on either
side, a deleted field or enum value without reservation lets a later version reuse its number
or name, and adding or removing a required field fails whichever side lacks it. So every mode
runs the same rule set old -> new:

- BACKWARD / FORWARD / FULL: against the latest version; findings carry the mode's
  direction ("backward", "forward" or "full").
- *_TRANSITIVE: against every earlier version, newest first.
- NONE: nothing is checked (the new schema must still compile).

Swapping old and new for FORWARD (as the Avro checker does) would be wrong here: protobuf
readers skip unknown fields, so a field ADDED in the new version would be reported as a
field deleted without reservation.
"""

from __future__ import annotations

from typing import Any

from eventgen.compat.findings import protobuf_finding
from eventgen.compat.protobuf.parse import Schema, parse_proto
from eventgen.compat.protobuf.rules import run
from eventgen.compat.result import CompatResult, Finding, SchemaParseError

DIRECTION = {"BACKWARD": "backward", "FORWARD": "forward", "FULL": "full"}


def _parse(source: Any, index: int | None) -> Schema:
    label = "the new schema" if index is None else f"history index {index}"
    try:
        return parse_proto(source)
    except SchemaParseError as exc:
        raise SchemaParseError(f"{label}: {exc}", version_index=index) from exc


def check_protobuf_mode(versions: list[Any], new: Any, mode: str) -> CompatResult:
    """`eventgen.compat.check(format="protobuf")` once the mode and history are normalized."""
    new_schema = _parse(new, None)
    if mode == "NONE" or not versions:
        return CompatResult(True, ())
    indices = list(range(len(versions)))[::-1]
    if not mode.endswith("_TRANSITIVE"):
        indices = indices[:1]
    direction = DIRECTION[mode.split("_")[0]]
    found: list[Finding] = []
    for index in indices:
        old = _parse(versions[index], index)
        found += [protobuf_finding(i, direction, index) for i in run(old, new_schema)]
    return CompatResult(not found, tuple(found))
