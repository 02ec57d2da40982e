"""The polling outbox relay, PostgreSQL -> Kafka and SQLite -> Kafka, on the real services.

    eval "$(scripts/services start --no-connect)"   # Kafka + PostgreSQL
    python benchmarks/bench_relay.py [--rows 30000] [--rounds 3] [--stores postgres,sqlite]
                                     [--json PATH]

Per round and store: a fresh outbox table (the bench spec's outbox, bench_runtime_consumer.py
builds it, under a random table name; batch 500 rows) gets `--rows` 12-field OrderPlaced rows
through the generated `OutboxWriter.add`, in transactions of `--txn-rows` rows (the rate of
these inserts is printed too), then the generated `PollingRelay.run(max_messages=rows)`
publishes them to a 3-partition topic: read a batch by `seq`, produce, wait for every ack,
delete the batch, next. The relay's rate is rows / the whole `run()` (start-up, the leader
lock and the last delete included). Stores alternate their order between rounds. Target:
>= 10,000 events/s from PostgreSQL. Tables are dropped at the end.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_runtime_consumer import (
    Platform,
    deadline,
    drop_table,
    machine,
    median,
    platform,
    profiled,
    write_json,
)

from eventgen.runtime.db import Store
from eventgen.runtime.outbox import OutboxWriter
from eventgen.runtime.relay import PollingRelay
from eventgen.runtime.spec import OutboxSpec


def fill(plat: Platform, spec: OutboxSpec, rows: int, per_txn: int, pool: list[Any]) -> float:
    """Insert `rows` rows with OutboxWriter.add; rows/s of the inserts."""
    writer = OutboxWriter(spec)
    writer.configure(plat.config)
    store = Store.open(spec.store, plat.config)
    try:
        store.ensure_schema({"outbox": spec.table})
        started = time.perf_counter()
        done = 0
        while done < rows:
            with store.transaction() as conn:
                for _ in range(min(per_txn, rows - done)):
                    writer.add(conn, pool[done % len(pool)])
                    done += 1
        return rows / (time.perf_counter() - started)
    finally:
        store.close()


def relay_once(plat: Platform, spec: OutboxSpec, rows: int, max_seconds: float) -> dict[str, Any]:
    relay = PollingRelay(spec)
    with deadline(max_seconds) as stop:
        started = time.perf_counter()
        stats = relay.run(plat.config, max_messages=rows, idle_exit_s=10.0, stop=stop)
        seconds = time.perf_counter() - started
    if stats.published != rows:
        print(f"warning: {spec.store}: {stats.published} of {rows} rows published "
              f"({stats.failed_batches} failed batches)", file=sys.stderr)  # fmt: skip
    return {
        "published": stats.published,
        "batches": stats.batches,
        "failed_batches": stats.failed_batches,
        "seconds": seconds,
        "events_s": stats.published / seconds if seconds > 0 else 0.0,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=30_000, help="outbox rows per run")
    ap.add_argument("--txn-rows", type=int, default=500, help="rows per inserting transaction")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--stores", default="postgres,sqlite")
    ap.add_argument("--partitions", type=int, default=3)
    ap.add_argument("--max-seconds", type=float, default=120.0, help="bound of every relay run")
    ap.add_argument("--profile", choices=("postgres", "sqlite"), help="one more run, cProfiled")
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = ap.parse_args()
    stores = [s for s in args.stores.split(",") if s]
    before = machine()
    rounds: list[dict[str, Any]] = []
    tables: list[str] = []
    with platform(args.partitions) as plat:
        if "postgres" in stores and not plat.config.postgres_dsn:
            sys.exit("EVENTGEN_POSTGRES_DSN is not set (or pass --stores sqlite)")
        pool = [plat.message(i) for i in range(1000)]
        base: OutboxSpec = plat.app.OUTBOX_SPEC

        def spec_for(store: str) -> OutboxSpec:
            table = f"bench_outbox_{uuid.uuid4().hex[:8]}"
            if store == "postgres":
                tables.append(table)
            return replace(base, table=table, store=store)  # type: ignore[arg-type]

        print(f"{before['cpus']} cpus, load {before['loadavg']}; {args.rows:,} rows per run, "
              f"relay batch {base.batch}")  # fmt: skip
        try:
            for i in range(args.rounds):
                got: dict[str, Any] = {}
                for store in stores if i % 2 == 0 else stores[::-1]:
                    spec = spec_for(store)
                    insert = fill(plat, spec, args.rows, args.txn_rows, pool)
                    result = relay_once(plat, spec, args.rows, args.max_seconds)
                    result["insert_rows_s"] = insert
                    got[store] = result
                    print(f"round {i + 1}: {store:<8} relay {result['events_s']:>9,.0f} events/s "
                          f"({result['published']:,} in {result['seconds']:.2f} s, "
                          f"{result['batches']} batches)   OutboxWriter.add "
                          f"{insert:>7,.0f} rows/s")  # fmt: skip
                rounds.append(got)
            if args.profile:
                spec = spec_for(args.profile)
                fill(plat, spec, args.rows, args.txn_rows, pool)
                result = profiled(lambda: relay_once(plat, spec, args.rows, args.max_seconds))
                print(f"profile of {args.profile}: {result['events_s']:,.0f} events/s")
        finally:
            for table in tables:
                drop_table(plat, table)
    summary: dict[str, Any] = {}
    for store in stores:
        summary[store] = median([r[store]["events_s"] for r in rounds])
        summary[f"{store}_insert"] = median([r[store]["insert_rows_s"] for r in rounds])
    print("medians: " + "; ".join(
        f"{s} relay {summary[s]:,.0f} events/s, add {summary[s + '_insert']:,.0f} rows/s"
        for s in stores
    ))  # fmt: skip
    if "postgres" in summary:
        met = "met" if summary["postgres"] >= 10_000 else "MISSED"
        print(f"PostgreSQL relay target >= 10,000 events/s: {met}")
    write_json(
        args.json,
        {
            "benchmark": "polling relay",
            "machine_before": before,
            "machine_after": machine(),
            "args": vars(args),
            "rounds": rounds,
            "summary": summary,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
