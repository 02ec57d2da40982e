"""Compatibility modes: which earlier versions are compared, in which direction."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from eventgen.compat.avro import check_avro
from eventgen.compat.avro_schema import PRIMITIVES, parse_avro
from eventgen.compat.findings import avro_finding, json_finding
from eventgen.compat.jsonschema.diff import Differ
from eventgen.compat.jsonschema.model import load_json_schema
from eventgen.compat.jsonschema.types import COMPATIBLE_LENIENT, COMPATIBLE_STRICT
from eventgen.compat.protobuf.modes import check_protobuf_mode
from eventgen.compat.result import CompatResult, Finding, SchemaParseError

MODES = (
    "NONE",
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
)
POLICIES = ("STRICT", "LENIENT")
FORMATS = ("avro", "json", "protobuf")


@dataclass(frozen=True, init=False)
class Versions:
    """Explicit list of earlier schema versions, oldest first (never read as an Avro union)."""

    items: tuple[Any, ...]

    def __init__(self, items: Iterable[Any]) -> None:
        object.__setattr__(self, "items", tuple(items))


def _history(fmt: str, previous: Any, history: Sequence[Any] | None) -> list[Any]:
    """Apply the documented rule: Versions or a plain list is a history, else one schema."""
    if history is not None:
        if previous is not None:
            raise TypeError("pass either previous= or history=, not both")
        return list(history)
    if isinstance(previous, Versions):
        return list(previous.items)
    if isinstance(previous, list):
        if fmt == "avro" and len(previous) > 1 and all(isinstance(v, str) for v in previous):
            # ["null", "string"] is far more likely a union than two versions: refuse to guess.
            raise TypeError(
                "ambiguous Avro 'previous': a list of bare type names; use "
                "Versions([...]) for versions or Versions([[...]]) for one union"
            )
        return list(previous)
    if previous is None:
        return []
    return [previous]


def _norm(value: str, allowed: tuple[str, ...], what: str, upper: bool) -> str:
    v = value.upper() if upper else value.lower()
    if v == "jsonschema" or v == "json_schema":
        v = "json"
    if v == "proto":
        v = "protobuf"
    if v not in allowed:
        raise ValueError(f"unknown {what} {value!r}; expected one of {', '.join(allowed)}")
    return v


def _decoded(schema: Any, index: int | None = None) -> Any:
    """Parse JSON text given for a JSON Schema; other values are already parsed JSON."""
    if isinstance(schema, str):
        try:
            return json.loads(schema)
        except json.JSONDecodeError as exc:
            raise SchemaParseError(f"invalid JSON: {exc}", version_index=index) from exc
    return schema


class _Pair:
    """Parses each schema once and runs the reader/writer check per direction."""

    def __init__(self, fmt: str, policy: str) -> None:
        self.fmt = fmt
        self.compatible = COMPATIBLE_LENIENT if policy == "LENIENT" else COMPATIBLE_STRICT

    def parse(self, schema: Any, index: int | None) -> Any:
        try:
            if self.fmt == "avro":
                return parse_avro(schema)
            return load_json_schema(schema)
        except SchemaParseError as exc:
            label = "the new schema" if index is None else f"history index {index}"
            raise SchemaParseError(f"{label}: {exc}", version_index=index) from exc
        except RecursionError as exc:
            raise SchemaParseError("schema nesting is too deep", version_index=index) from exc

    def findings(
        self, new: tuple[Any, Any], old: tuple[Any, Any], direction: str, index: int
    ) -> list[Finding]:
        (new_raw, new_node), (old_raw, old_node) = new, old
        backward = direction == "backward"
        reader, writer = (new_node, old_node) if backward else (old_node, new_node)
        if self.fmt == "avro":
            return [avro_finding(i, direction, index) for i in check_avro(reader, writer)]
        differ = Differ(self.compatible)
        # Confluent: original = writer's schema, update = reader's schema.
        diffs = differ.run(writer, reader)
        w_raw, r_raw = (old_raw, new_raw) if backward else (new_raw, old_raw)
        return [
            json_finding(d, w_raw, r_raw, direction, index)
            for d in diffs
            if d[0] not in self.compatible
        ]


def check(
    format: str,
    previous: Any = None,
    new: Any = None,
    mode: str = "BACKWARD",
    *,
    policy: str = "STRICT",
    history: Sequence[Any] | None = None,
) -> CompatResult:
    """Check `new` against earlier versions under a Confluent compatibility mode."""
    fmt = _norm(format, FORMATS, "format", upper=False)
    mode_ = _norm(mode, MODES, "mode", upper=True)
    policy_ = _norm(policy, POLICIES, "policy", upper=True)
    versions = _history(fmt, previous, history)
    if fmt == "protobuf":
        # .proto text (or {path: text}); policy only concerns JSON Schema.
        return check_protobuf_mode(versions, new, mode_)
    pair = _Pair(fmt, policy_)
    new_raw = new if fmt == "avro" else _decoded(new)
    new_parsed = (new_raw, pair.parse(new_raw, None))
    if mode_ == "NONE" or not versions:
        return CompatResult(True, ())
    # Confluent walks the history newest first; non-transitive modes stop at the latest.
    indices = list(range(len(versions)))[::-1]
    if not mode_.endswith("_TRANSITIVE"):
        indices = indices[:1]
    directions = {"BACKWARD": ("backward",), "FORWARD": ("forward",)}.get(
        mode_.split("_")[0], ("backward", "forward")
    )
    found: list[Finding] = []
    for index in indices:
        old_raw = versions[index] if fmt == "avro" else _decoded(versions[index], index)
        old_parsed = (old_raw, pair.parse(old_raw, index))
        for direction in directions:
            found += pair.findings(new_parsed, old_parsed, direction, index)
    return CompatResult(not found, tuple(found))


__all__ = ["FORMATS", "MODES", "POLICIES", "PRIMITIVES", "Versions", "check"]
