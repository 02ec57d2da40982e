"""Score the checker against the shared schema-compat conformance corpus (`python -m ...`)."""

from __future__ import annotations

import io
import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eventgen.compat.modes import Versions, check
from eventgen.compat.result import SchemaParseError

# Known misses, id -> reason. Kept here so the CLI, the tests and the docs agree.
KNOWN_MISSES: dict[str, str] = {
    "avro-decode-05": (
        "fastavro decodes an int promoted to Avro float as a Python float at double "
        "precision (16777217.0); Avro-Java rounds to float32 (16777216.0). The checker's "
        "verdict (compatible) is right; the value differs only in fastavro's decoder."
    ),
}


@dataclass(frozen=True)
class Outcome:
    """One scored label: case id, which label, expected and observed verdicts."""

    case: str
    label: str
    expected: Any
    got: Any
    note: str = ""

    @property
    def ok(self) -> bool:
        """Whether the observed verdict equals the label."""
        return bool(self.expected == self.got)


def corpus_dir() -> Path:
    """Locate the corpus: under $EVENTGEN_SHARED_DIR when set, else next to the repository."""
    env = os.environ.get("EVENTGEN_SHARED_DIR")
    if env:
        # An explicit location wins outright, so a wrong one is an error, not a fallback.
        candidates = [Path(env) / "conformance" / "schema-compat", Path(env)]
    else:
        repo = Path(__file__).resolve().parents[2]
        candidates = [repo.parent / "shared" / "conformance" / "schema-compat"]
    for c in candidates:
        if (c / "avro_cases.jsonl").is_file():
            return c
    raise FileNotFoundError("schema-compat corpus not found; set EVENTGEN_SHARED_DIR")


def load(name: str) -> list[dict[str, Any]]:
    """Read one JSONL file of the corpus."""
    with open(corpus_dir() / name, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _verdict(fmt: str, reader: Any, writer: Any, mode: str = "BACKWARD", **kw: Any) -> Any:
    try:
        # BACKWARD(previous=writer, new=reader) is exactly compat(reader, writer).
        return check(fmt, Versions([writer]), reader, mode, **kw).compatible
    except SchemaParseError as exc:
        return f"parse error: {exc}"


def score_avro() -> list[Outcome]:
    """avro_cases: reader/writer verdict against Avro-Java's `java_compatible`."""
    out = []
    for case in load("avro_cases.jsonl"):
        expected = case["java_compatible"]
        # None means Avro-Java throws (ambiguous aliases): the registry rejects the schema.
        out.append(
            Outcome(
                case["id"],
                "java_compatible",
                False if expected is None else expected,
                _verdict("avro", case["reader"], case["writer"]),
            )
        )
    return out


def score_modes() -> list[Outcome]:
    """confluent_mode_cases: whole-history checks per mode."""
    out = []
    for case in load("confluent_mode_cases.jsonl"):
        fmt = "avro" if case["format"].upper() == "AVRO" else "json"
        try:
            got: Any = check(fmt, Versions(case["history"]), case["new"], case["mode"]).compatible
        except SchemaParseError as exc:
            got = f"parse error: {exc}"
        out.append(Outcome(case["id"], case["mode"], case["compatible"], got))
    return out


def score_json() -> list[Outcome]:
    """jsonschema_cases: BACKWARD under STRICT and LENIENT, FORWARD where labelled."""
    out = []
    for case in load("jsonschema_cases.jsonl"):
        old, new = case["old"], case["new"]
        labels = (
            ("backward_compatible", new, old, "STRICT"),
            ("backward_compatible_lenient", new, old, "LENIENT"),
            ("forward_compatible", old, new, "STRICT"),
        )
        for label, reader, writer, policy in labels:
            if case.get(label) is not None:
                got = _verdict("json", reader, writer, policy=policy)
                out.append(Outcome(case["id"], label, case[label], got))
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def decode(writer: Any, reader: Any, datum: Any) -> Any:
    """Write `datum` with `writer` and read it back with `reader` using fastavro."""
    import fastavro

    buf = io.BytesIO()
    w = fastavro.parse_schema(writer, named_schemas={})
    r = fastavro.parse_schema(reader, named_schemas={})
    fastavro.schemaless_writer(buf, w, datum)
    buf.seek(0)
    return fastavro.schemaless_reader(buf, w, r)


def score_decoding() -> list[Outcome]:
    """avro_decoding_cases: where labelled decodable, fastavro yields `expected`."""
    out = []
    for case in load("avro_decoding_cases.jsonl"):
        checker = _verdict("avro", case["reader"], case["writer"])
        if not case["decodes"]:
            continue
        try:
            value = decode(case["writer"], case["reader"], case["datum"])
            got: Any = _same(value, case["expected"])
        except Exception as exc:  # noqa: BLE001 - any decoder failure is a miss to report
            got = f"{type(exc).__name__}: {exc}"
        out.append(Outcome(case["id"], "decodes", True, got, note=f"checker={checker}"))
    return out


SUITES = {
    "avro_cases": score_avro,
    "confluent_mode_cases": score_modes,
    "jsonschema_cases": score_json,
    "avro_decoding_cases": score_decoding,
}


def main() -> None:
    """Print the score per file (and per label for JSON Schema) with every miss."""
    try:
        corpus_dir()
    except FileNotFoundError as exc:
        # An environment problem: one line and exit 2, as every eventgen command does.
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    for name, fn in SUITES.items():
        outcomes = fn()
        labels = sorted({o.label for o in outcomes}) if name == "jsonschema_cases" else [None]
        for label in labels:
            subset = [o for o in outcomes if label is None or o.label == label]
            hits = sum(o.ok for o in subset)
            tag = f"{name}[{label}]" if label else name
            print(f"{tag}: {hits}/{len(subset)} = {100.0 * hits / len(subset):.1f}%")
            for o in subset:
                if not o.ok:
                    why = KNOWN_MISSES.get(o.case, "unexplained")
                    print(f"  MISS {o.case} expected={o.expected} got={o.got} ({why})")


if __name__ == "__main__":
    main()
