"""Projection throughput: events/s a Projector applies from the event store on PostgreSQL.

    eval "$(scripts/services start --no-connect)"   # exports EVENTGEN_POSTGRES_DSN
    .venv/bin/python benchmarks/bench_projection.py [--postgres-dsn DSN] [--events N]
        [--rounds R] [--sqlite] [--json PATH]

Starts nothing: the DSN comes from `--postgres-dsn` or EVENTGEN_POSTGRES_DSN. A backlog of
`--events` events (a counter projection: `upsert` on Opened, `inc` on Added, `append` on
Tagged, over `--streams` streams) is appended to a fresh event store first; then each side
drains the whole backlog with `Projector.run(max_messages=N)` into a fresh table, timed from
the call to its return (wall clock, `time.perf_counter`; CPU = this process's), the median of
`--rounds` rounds:

- `batched-500`, `batched-100`: one transaction per batch of 500 / 100 events (the spec's
  default batch is 500): take the projection lock, read the checkpoints, read the store's next
  events, project them, read the batch's rows, write the changed rows (one executemany of
  upserts), write the checkpoint, commit;
- `per-event` (the baseline): the same projector with a batch of 1, i.e. the naive loop of
  one transaction per event (lock, checkpoint, read one event, read its row, write it, write
  the checkpoint, commit); it drains `--events / 10` events, its rate is per event all the
  same.

Everything includes the event store's read and decode (strict JSON validation of each
payload). `--sqlite` adds the same sides on a SQLite file for reference.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.db import Store
from eventgen.runtime.es.projector import Projector
from eventgen.runtime.es.spec import (
    Column,
    EventStoreSpec,
    ProjectionDefinition,
    ProjectionSpec,
    RowOp,
    StoreKind,
)
from eventgen.runtime.es.store import EventStore
from eventgen.runtime.model import Message, Record
from eventgen.runtime.scalars import Timestamp, Uuid
from eventgen.runtime.sql import quote


class _Bench(Message):
    SCHEMAS: ClassVar[str] = "bench_projection"
    VERSION: ClassVar[int] = 1


class Opened(_Bench):
    TYPE: ClassVar[str] = "bench.Opened"
    counter_id: Uuid
    name: str
    at: Timestamp


class Added(_Bench):
    TYPE: ClassVar[str] = "bench.Added"
    counter_id: Uuid
    amount: int
    at: Timestamp


class Tagged(_Bench):
    TYPE: ClassVar[str] = "bench.Tagged"
    counter_id: Uuid
    tag: str


class CounterRow(Record):
    counter_id: Uuid
    name: str
    total: int = 0
    events: int = 0
    tags: tuple[str, ...] = ()
    updated_at: Timestamp | None = None


COLUMNS = (
    Column("counter_id", "uuid"),
    Column("name", "string"),
    Column("total", "long", default=0, has_default=True),
    Column("events", "long", default=0, has_default=True),
    Column("tags", "json", default=[], has_default=True),
    Column("updated_at", "timestamp", nullable=True),
)
MESSAGES: tuple[type[Message], ...] = (Added, Opened, Tagged)


def project(event: Message) -> list[RowOp]:
    if isinstance(event, Opened):
        values = (("name", event.name), ("updated_at", event.at))
        return [RowOp("upsert", event.counter_id, values)]
    if isinstance(event, Added):
        return [
            RowOp("inc", event.counter_id, (("total", event.amount), ("events", 1))),
            RowOp("set", event.counter_id, (("updated_at", event.at),)),
        ]
    if isinstance(event, Tagged):
        return [RowOp("append", event.counter_id, (("tags", event.tag),))]
    return []


def projector(store: EventStore, kind: StoreKind, table: str, batch: int) -> Projector[Any]:
    spec = ProjectionSpec(
        name="Counters",
        qualified=f"bench.Counters.{table}",
        context="bench",
        table=table,
        key="counter_id",
        columns=COLUMNS,
        handles=tuple(sorted(m.TYPE for m in MESSAGES)),
        store=kind,
        store_source=True,
        batch=batch,
    )
    return Projector(ProjectionDefinition(spec, CounterRow, project, MESSAGES), store)


def backlog(store: EventStore, db: Store, events: int, streams: int) -> None:
    """Append `events` events over `streams` streams (each append: one stream's next run)."""
    from datetime import UTC, datetime

    rng = random.Random(1)
    ids = [uuid.uuid4() for _ in range(streams)]
    versions = dict.fromkeys(ids, 0)
    now = datetime.now(UTC)
    written = 0
    with db.transaction(immediate=True) as conn:
        store.ensure_schema(conn)
    while written < events:
        with db.transaction(immediate=True) as conn:
            for _ in range(50):
                counter = rng.choice(ids)
                run: list[Message] = []
                if versions[counter] == 0:
                    run.append(Opened(counter_id=counter, name=f"c{written}", at=now))
                for _ in range(rng.randint(1, 8)):
                    if rng.random() < 0.8:
                        run.append(Added(counter_id=counter, amount=rng.randint(1, 9), at=now))
                    else:
                        run.append(Tagged(counter_id=counter, tag=f"t{rng.randint(0, 99)}"))
                run = run[: events - written]
                if not run:
                    break
                store.append(conn, f"Counter-{counter}", versions[counter], run)
                versions[counter] += len(run)
                written += len(run)


def drain(
    store: EventStore, kind: StoreKind, config: RuntimeConfig, batch: int, count: int
) -> tuple[float, float, int, str]:
    table = f"bench_proj_{uuid.uuid4().hex[:10]}"
    proj = projector(store, kind, table, batch)
    cpu0, t0 = time.process_time(), time.perf_counter()
    stats = proj.run(config=config, max_messages=count, idle_exit_s=5)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return wall, cpu, stats.events, table


def bench(kind: StoreKind, config: RuntimeConfig, args: argparse.Namespace) -> list[dict[str, Any]]:
    db = Store.open(kind, config)
    tag = uuid.uuid4().hex[:8]
    store = EventStore(
        EventStoreSpec("bench", f"bench_pe_{tag}_events", f"bench_pe_{tag}_snap", kind), MESSAGES
    )
    tables = [store.spec.table, store.spec.snapshot_table]
    results = []
    try:
        backlog(store, db, args.events, args.streams)
        sides = [("batched-500", 500, args.events), ("batched-100", 100, args.events),
                 ("per-event", 1, max(1, args.events // 10))]  # fmt: skip
        timings: dict[str, list[tuple[float, float, int]]] = {name: [] for name, _, _ in sides}
        for round_ in range(args.rounds):
            order = sides if round_ % 2 == 0 else list(reversed(sides))
            for name, batch, count in order:
                wall, cpu, applied, table = drain(store, kind, config, batch, count)
                tables.append(table)
                if applied != count:
                    raise SystemExit(f"{name}: applied {applied} of {count} events")
                timings[name].append((wall, cpu, applied))
                print(f"  {kind} round {round_ + 1} {name}: {applied / wall:,.0f} events/s",
                      file=sys.stderr)  # fmt: skip
        for name, batch, count in sides:
            wall = statistics.median(t[0] for t in timings[name])
            cpu = statistics.median(t[1] for t in timings[name])
            results.append({
                "store": kind, "side": name, "batch": batch, "events": count,
                "seconds": wall, "events_per_s": count / wall, "cpu_share": cpu / wall,
            })  # fmt: skip
    finally:
        for table in tables:
            db.connection.execute(f"DROP TABLE IF EXISTS {quote(table)}")
        if kind == "postgres":
            db.connection.execute(
                "DELETE FROM eventgen_checkpoints WHERE projection LIKE 'bench.Counters.%%'"
            )
        db.close()
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--postgres-dsn", default=os.environ.get("EVENTGEN_POSTGRES_DSN"))
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--streams", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sqlite", action="store_true", help="also on a SQLite file")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    if not args.postgres_dsn:
        parser.error("no PostgreSQL: pass --postgres-dsn or set EVENTGEN_POSTGRES_DSN")
    results = bench("postgres", RuntimeConfig(postgres_dsn=args.postgres_dsn), args)
    if args.sqlite:
        with tempfile.TemporaryDirectory() as folder:
            config = RuntimeConfig(sqlite_path=str(Path(folder) / "bench.sqlite3"))
            results += bench("sqlite", config, args)
    print(f"\nProjection throughput ({args.events:,} events over {args.streams:,} streams, "
          f"median of {args.rounds} rounds)")  # fmt: skip
    print(f"{'store':<9} {'side':<12} {'batch':>5} {'events':>7} {'seconds':>8} "
          f"{'events/s':>10} {'CPU':>5}")  # fmt: skip
    for row in results:
        print(f"{row['store']:<9} {row['side']:<12} {row['batch']:>5} {row['events']:>7} "
              f"{row['seconds']:>8.2f} {row['events_per_s']:>10,.0f} {row['cpu_share']:>5.0%}")  # fmt: skip
    for kind in ("postgres", "sqlite"):
        by_side = {row["side"]: row for row in results if row["store"] == kind}
        if by_side:
            ratio = by_side["batched-500"]["events_per_s"] / by_side["per-event"]["events_per_s"]
            print(f"{kind}: batched-500 / per-event = {ratio:.1f}x")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
