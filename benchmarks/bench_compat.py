"""Throughput of eventgen.compat over every conformance pair: prints pairs/s."""

from __future__ import annotations

import argparse
import time
from typing import Any

from eventgen.compat import Versions, check
from eventgen.compat.conformance import load


def pairs() -> list[tuple[str, Any, Any, str, str]]:
    """(format, previous, new, mode, policy) for every pair in the corpus."""
    out: list[tuple[str, Any, Any, str, str]] = []
    for c in load("avro_cases.jsonl"):
        out.append(("avro", Versions([c["writer"]]), c["reader"], "BACKWARD", "STRICT"))
    for c in load("avro_decoding_cases.jsonl"):
        out.append(("avro", Versions([c["writer"]]), c["reader"], "BACKWARD", "STRICT"))
    for c in load("jsonschema_cases.jsonl"):
        for policy in ("STRICT", "LENIENT"):
            out.append(("json", Versions([c["old"]]), c["new"], "BACKWARD", policy))
    for c in load("confluent_mode_cases.jsonl"):
        fmt = "avro" if c["format"].upper() == "AVRO" else "json"
        out.append((fmt, Versions(c["history"]), c["new"], c["mode"], "STRICT"))
    return out


def main() -> None:
    """Time N passes over all pairs and report pairs per second."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", "--repeat", type=int, default=20)
    args = parser.parse_args()
    work = pairs()
    start = time.perf_counter()
    for _ in range(args.repeat):
        for fmt, prev, new, mode, policy in work:
            check(fmt, prev, new, mode, policy=policy)
    elapsed = time.perf_counter() - start
    total = len(work) * args.repeat
    print(
        f"{total} checks ({len(work)} pairs x {args.repeat}) in {elapsed:.2f} s: "
        f"{total / elapsed:,.0f} pairs/s"
    )


if __name__ == "__main__":
    main()
