"""The Debezium outbox route vs the polling relay, PostgreSQL -> Kafka, on real services.

    eval "$(scripts/services start)"   # Kafka, PostgreSQL with wal_level=logical, Kafka Connect
    python benchmarks/bench_debezium.py [--rows 50000] [--txn-rows 500] [--modes live,backlog]
                                        [--json PATH]

Builds a two-context spec with `eventgen build` into a temporary directory: the same 12-field
OrderPlaced (the codec benchmark's) in a `relay: debezium` outbox and in a `relay: polling`
outbox (batch 500), both `store: postgres` on the same server, each on its own 3-partition
topic. It runs the generated SQL files, creates the topics with `message.timestamp.type=
LogAppendTime` (so every record's timestamp is the moment the broker appended it), POSTs the
generated `connect/<context>-outbox.json` unchanged and waits for its slot. Per side and mode:

- live: the relay is running (the connector; or `python -m eventgen.runtime run
  <package>.<context>_app:relay` as its own process, ready once it leads), then `--rows` rows
  are written through the generated `OutboxWriter.add` in transactions of `--txn-rows` rows.
  Figures: the writer's rows/s (first BEGIN to last COMMIT), the route's end-to-end events/s =
  rows / (first COMMIT .. last record appended), the lag of the last record after the last
  COMMIT, and the per-record latency (append time - its transaction's COMMIT) p50/p99/max.
- backlog: the relay is off (connector stopped with `PUT .../stop`; no relay process) while the
  rows are written, then started (`PUT .../resume`; the relay process spawned). Figures:
  rows / (start command .. last record) and rows / (first .. last record appended): what the
  route drains when the writer does not limit it.

Every record is then read back and its `event_id` header checked against the ids the writer
returned (missing and duplicated ones are printed). Sides alternate who goes first. Every wait
is bounded (`--max-seconds`); SIGTERM and Ctrl-C unwind, so the connector, its replication
slot and publication, the tables and the topics are always removed.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_runtime_consumer import delete_topics, machine, write_json
from confluent_kafka import TIMESTAMP_LOG_APPEND_TIME, Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.db import Store

PACKAGE = "bench_dbz_events"
TIMEOUT_S = 30.0

PROJECT = """\
eventgen: 1
project: egbench
package: bench_dbz_events
output: ../out
defaults:
  topic: {partitions: PARTITIONS, replication_factor: 1, retention: 1d}
"""

CONTEXT = """\
eventgen: 1
context: CONTEXT
types:
  Status: {enum: [NEW, DONE], default: NEW}
topics:
  events: {name: TOPIC, key: uuid}
events:
  OrderPlaced:
    topic: events
    key: order_id
    fields:
      order_id: uuid
      placed_at: timestamp
      amount: {type: decimal, precision: 12, scale: 2}
      currency: {type: string, pattern: "^[A-Z]{3}$"}
      quantity: {type: int, minimum: 1, maximum: 1000}
      sequence: long
      weight: double
      gift: boolean
      status: Status
      tags: "list[string]"
      stock: "map[long]"
      note: "string?"
outbox: {table: CONTEXT_outbox, relay: RELAY, store: postgres, batch: 500}
"""


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        sys.exit(
            f"{name} is not set: start the services with `scripts/services start` (Kafka, "
            "PostgreSQL with wal_level=logical and Kafka Connect) and export what it prints"
        )
    return value


# -- Connect REST ---------------------------------------------------------------------------


def http(method: str, url: str, body: bytes | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, method=method)
    request.add_header("Content-Type", "application/json")
    request.add_header("Accept", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            text = response.read()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as e:
        text = e.read()
        try:
            return e.code, json.loads(text)
        except ValueError:
            return e.code, text.decode(errors="replace")


def wait_until(what: str, check: Callable[[], bool], seconds: float, step: float = 0.2) -> None:
    end = time.monotonic() + seconds
    while not check():
        if time.monotonic() > end:
            raise SystemExit(f"timed out after {seconds:.0f} s waiting for {what}")
        time.sleep(step)


@dataclass
class Connector:
    url: str  # the Connect worker
    body: bytes  # connect/<context>-outbox.json as the build wrote it
    dsn: str

    @property
    def config(self) -> dict[str, str]:
        config: dict[str, str] = json.loads(self.body)["config"]
        return config

    @property
    def name(self) -> str:
        return str(json.loads(self.body)["name"])

    def states(self) -> list[str]:
        code, status = http("GET", f"{self.url}/connectors/{self.name}/status")
        if code != 200:
            return []
        states = [status["connector"]["state"], *(t["state"] for t in status["tasks"])]
        if "FAILED" in states:
            raise SystemExit(f"connector {self.name} failed: {json.dumps(status)[:3000]}")
        return states

    def running(self) -> bool:
        states = self.states()
        return len(states) > 1 and set(states) == {"RUNNING"}

    def slot_active(self) -> bool:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True, connect_timeout=10) as conn:
            row = conn.execute(
                "SELECT active FROM pg_replication_slots WHERE slot_name = %s",
                (self.config["slot.name"],),
            ).fetchone()
        return row is not None and bool(row[0])

    def create(self, seconds: float) -> None:
        code, answer = http("POST", f"{self.url}/connectors", self.body)
        if code != 201:
            raise SystemExit(f"POST /connectors: {code} {answer}")
        wait_until(f"connector {self.name} RUNNING", self.running, seconds, 0.5)
        # The task creates its slot when it starts streaming; rows before that are not read.
        wait_until(f"slot {self.config['slot.name']} active", self.slot_active, seconds, 0.5)

    def stop(self, seconds: float) -> None:
        code, answer = http("PUT", f"{self.url}/connectors/{self.name}/stop")
        if code not in (202, 204):
            raise SystemExit(f"PUT .../stop: {code} {answer}")
        wait_until(f"connector {self.name} STOPPED", lambda: self.states()[:1] == ["STOPPED"],
                   seconds, 0.2)  # fmt: skip

    def resume(self) -> None:
        code, answer = http("PUT", f"{self.url}/connectors/{self.name}/resume")
        if code not in (202, 204):
            raise SystemExit(f"PUT .../resume: {code} {answer}")

    def remove(self, seconds: float) -> None:
        """Delete the connector, then its slot and publication (a left-over slot holds WAL)."""
        import psycopg

        http("DELETE", f"{self.url}/connectors/{self.name}")
        slot, publication = self.config["slot.name"], self.config["publication.name"]
        end = time.monotonic() + seconds
        with psycopg.connect(self.dsn, autocommit=True, connect_timeout=10) as conn:
            while time.monotonic() < end:
                row = conn.execute(
                    "SELECT active FROM pg_replication_slots WHERE slot_name = %s", (slot,)
                ).fetchone()
                if row is None:
                    break
                if not row[0]:
                    conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
                    break
                time.sleep(0.5)
            else:
                print(f"warning: slot {slot} still active, not dropped", file=sys.stderr)
            conn.execute(f'DROP PUBLICATION IF EXISTS "{publication}"')


# -- Kafka: topics and what landed on them ------------------------------------------------


def create_topics(bootstrap: str, names: list[str], partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    new = [
        NewTopic(n, num_partitions=partitions, replication_factor=1,
                 config={"message.timestamp.type": "LogAppendTime"})
        for n in names
    ]  # fmt: skip
    for future in admin.create_topics(new, request_timeout=TIMEOUT_S).values():
        future.result(timeout=TIMEOUT_S)
    wait_until("the topics in the metadata",
               lambda: set(names) <= set(admin.list_topics(timeout=TIMEOUT_S).topics), TIMEOUT_S)  # fmt: skip


class Probe:
    """Reads the topics' end offsets and, after a run, the records it added."""

    def __init__(self, bootstrap: str, partitions: int) -> None:
        self.partitions = partitions
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"egbench-probe-{uuid.uuid4().hex[:8]}",  # never subscribes/commits
                "enable.auto.commit": False,
                "enable.partition.eof": True,
            }
        )

    def ends(self, topic: str) -> list[int]:
        return [
            self.consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=TIMEOUT_S)[1]
            for p in range(self.partitions)
        ]

    def wait_for(self, topic: str, start: list[int], count: int, seconds: float) -> list[int]:
        """Poll the end offsets until `count` records were added after `start`."""
        end = time.monotonic() + seconds
        while True:
            ends = self.ends(topic)
            added = sum(ends) - sum(start)
            if added >= count:
                return ends
            if time.monotonic() > end:
                print(f"warning: only {added:,} of {count:,} records on {topic} after "
                      f"{seconds:.0f} s", file=sys.stderr)  # fmt: skip
                return ends
            time.sleep(0.1)

    def read(self, topic: str, start: list[int], ends: list[int]) -> list[tuple[bytes, int]]:
        """(event_id header, append time ms) of every record in [start, ends)."""
        parts = [TopicPartition(topic, p, start[p]) for p in range(self.partitions)
                 if ends[p] > start[p]]  # fmt: skip
        self.consumer.assign(parts)
        open_parts = {tp.partition for tp in parts}
        out: list[tuple[bytes, int]] = []
        deadline = time.monotonic() + TIMEOUT_S * 4
        while open_parts and time.monotonic() < deadline:
            for msg in self.consumer.consume(1000, timeout=1.0):
                if msg.error() is not None:
                    if msg.error().code() == KafkaError._PARTITION_EOF:
                        open_parts.discard(msg.partition())
                    continue
                kind, ms = msg.timestamp()
                if kind != TIMESTAMP_LOG_APPEND_TIME:
                    raise SystemExit(f"{topic}: a record without LogAppendTime ({kind})")
                event_id = dict(msg.headers() or []).get("event_id") or b""
                out.append((event_id, ms))
                if msg.offset() + 1 >= ends[msg.partition()]:
                    open_parts.discard(msg.partition())
        self.consumer.unassign()
        return out

    def close(self) -> None:
        self.consumer.close()


# -- the generated side: writer, relay process ------------------------------------------


@dataclass
class Side:
    name: str  # "debezium" | "polling"
    context: str
    app: ModuleType  # <package>.<context>_app
    models: ModuleType
    topic: str
    table: str

    def message(self, i: int) -> Any:
        return self.models.OrderPlaced(
            order_id=uuid.uuid4(), placed_at=datetime.now(UTC), amount=Decimal("1234.50"),
            currency="EUR", quantity=1 + i % 1000, sequence=2**40 + i, weight=1.25,
            gift=i % 2 == 0, status="DONE", tags=("a", "b"), stock={"w1": 5, "w2": 7},
            note=None,
        )  # fmt: skip


@dataclass
class Written:
    ids: dict[bytes, float]  # event_id text -> wall time (s) of its transaction's COMMIT
    began: float  # wall time before the first BEGIN
    first_commit: float
    last_commit: float

    @property
    def rows_s(self) -> float:
        return len(self.ids) / (self.last_commit - self.began)


def write(side: Side, config: RuntimeConfig, rows: int, per_txn: int) -> Written:
    """`rows` rows through the generated OutboxWriter, `per_txn` per transaction."""
    pool = [side.message(i) for i in range(min(rows, 1000))]
    writer = side.app.outbox
    writer.configure(config)
    ids: dict[bytes, float] = {}
    store = Store.open("postgres", config)
    try:
        began = time.time()
        first = 0.0
        done = 0
        while done < rows:
            batch = []
            with store.transaction() as conn:
                for _ in range(min(per_txn, rows - done)):
                    batch.append(writer.add(conn, pool[done % len(pool)]))
                    done += 1
            committed = time.time()
            first = first or committed
            for event_id in batch:
                ids[str(event_id).encode()] = committed
        return Written(ids, began, first, committed)
    finally:
        store.close()


@contextmanager
def relay_process(side: Side, out: Path, services: dict[str, str], rows: int,
                  seconds: float) -> Iterator[subprocess.Popen[bytes]]:  # fmt: skip
    """The generated polling relay as its own process (`python -m eventgen.runtime run`),
    bounded by --max-messages and --idle-exit; killed if it outlives the block."""
    log = out.parent / f"relay-{uuid.uuid4().hex[:6]}.log"
    environ = dict(os.environ, **services, EVENTGEN_LOG_INTERVAL="3600",
                   PYTHONPATH=os.pathsep.join([str(out), str(ROOT)]))  # fmt: skip
    target = f"{PACKAGE}.{side.context}_app:relay"
    cmd = [sys.executable, "-m", "eventgen.runtime", "run", target,
           "--max-messages", str(rows), "--idle-exit", str(seconds)]  # fmt: skip
    with log.open("wb") as sink:
        proc = subprocess.Popen(cmd, env=environ, stdout=sink, stderr=subprocess.STDOUT)
    proc.log = log  # type: ignore[attr-defined]
    try:
        yield proc
        proc.wait(timeout=seconds)
        if proc.returncode != 0:
            print(f"warning: relay exited {proc.returncode}:\n{log.read_text()[-2000:]}",
                  file=sys.stderr)  # fmt: skip
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=TIMEOUT_S)


def leads(proc: subprocess.Popen[bytes]) -> bool:
    if proc.poll() is not None:
        raise SystemExit(f"relay exited {proc.returncode}:\n{proc.log.read_text()[-2000:]}")  # type: ignore[attr-defined]
    return "relay leader" in proc.log.read_text(errors="replace")  # type: ignore[attr-defined]


# -- one run -------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def landed(probe: Probe, side: Side, start: list[int], written: Written, seconds: float,
           started: float | None = None) -> dict[str, Any]:  # fmt: skip
    """Wait for the rows on the topic, read them back, check the ids, compute the figures."""
    rows = len(written.ids)
    ends = probe.wait_for(side.topic, start, rows, seconds)
    records = probe.read(side.topic, start, ends)
    got = [event_id for event_id, _ in records]
    missing = len(set(written.ids) - set(got))
    duplicates = len(got) - len(set(got))
    foreign = len(set(got) - set(written.ids))
    if missing or duplicates or foreign:
        print(f"warning: {side.name}: {missing} missing, {duplicates} duplicated, {foreign} "
              "unknown records", file=sys.stderr)  # fmt: skip
    times = [ms / 1000 for _, ms in records]
    first_append, last_append = min(times), max(times)
    latency = [ms / 1000 - written.ids[e] for e, ms in records if e in written.ids]
    result: dict[str, Any] = {
        "rows": rows, "records": len(records), "missing": missing, "duplicates": duplicates,
        "writer_rows_s": written.rows_s,
        "write_seconds": written.last_commit - written.began,
        "first_record_after_first_commit_s": first_append - written.first_commit,
        "lag_after_last_commit_s": last_append - written.last_commit,
        "latency_p50_s": percentile(latency, 0.5), "latency_p99_s": percentile(latency, 0.99),
        "latency_max_s": max(latency, default=0.0),
        "end_to_end_events_s": rows / (last_append - written.first_commit),
        "append_window_events_s": rows / (last_append - first_append)
        if last_append > first_append else 0.0,
    }  # fmt: skip
    if started is not None:  # backlog: from the start command
        result["drain_events_s"] = rows / (last_append - started)
        result["start_to_first_record_s"] = first_append - started
    return result


def worker_cpu(pid: int | None) -> float:
    """CPU seconds (user + system, all threads) of process `pid` so far; 0 if not given."""
    if not pid:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_side(mode: str, side: Side, ctx: dict[str, Any]) -> dict[str, Any]:
    """One run; adds `relay_cpu_s`: the Connect worker's CPU (with --connect-pid) or the relay
    process's, over the whole run (the writer and the broker are in neither)."""
    args = ctx["args"]
    if side.name == "debezium":
        cpu = worker_cpu(args.connect_pid)
        result = run_debezium(mode, side, ctx)
        result["relay_cpu_s"] = worker_cpu(args.connect_pid) - cpu if args.connect_pid else None
    else:
        cpu = children_cpu()  # the relay process is reaped inside run_polling
        result = run_polling(mode, side, ctx)
        result["relay_cpu_s"] = children_cpu() - cpu
    if result["relay_cpu_s"] is not None:
        result["relay_cpu_us_per_event"] = result["relay_cpu_s"] / result["rows"] * 1e6
    return result


def run_debezium(mode: str, side: Side, ctx: dict[str, Any]) -> dict[str, Any]:
    probe: Probe = ctx["probe"]
    args = ctx["args"]
    connector: Connector = ctx["connector"]
    start = probe.ends(side.topic)
    if mode == "live":
        written = write(side, ctx["config"], args.rows, args.txn_rows)
        return landed(probe, side, start, written, args.max_seconds)
    connector.stop(args.max_seconds)
    written = write(side, ctx["config"], args.rows, args.txn_rows)
    started = time.time()
    connector.resume()
    result = landed(probe, side, start, written, args.max_seconds, started)
    wait_until("the connector RUNNING again", connector.running, args.max_seconds, 0.5)
    return result


def run_polling(mode: str, side: Side, ctx: dict[str, Any]) -> dict[str, Any]:
    probe: Probe = ctx["probe"]
    args = ctx["args"]
    start = probe.ends(side.topic)

    def spawn() -> Any:
        return relay_process(side, ctx["out"], ctx["services"], args.rows, args.max_seconds)

    if mode == "live":
        with spawn() as proc:
            wait_until("the polling relay to lead", lambda: leads(proc), args.max_seconds)
            written = write(side, ctx["config"], args.rows, args.txn_rows)
            result = landed(probe, side, start, written, args.max_seconds)
        return result
    written = write(side, ctx["config"], args.rows, args.txn_rows)
    started = time.time()
    with spawn():
        result = landed(probe, side, start, written, args.max_seconds, started)
    return result


# -- main ----------------------------------------------------------------------------------


def build(tmp: Path, suffix: str, partitions: int) -> tuple[Path, dict[str, str]]:
    """Write the spec and run `eventgen build`; the output dir and {side: context}."""
    specs, out = tmp / "specs", tmp / "out"
    specs.mkdir()
    (specs / "eventgen.yaml").write_text(PROJECT.replace("PARTITIONS", str(partitions)))
    contexts = {"debezium": f"dbz{suffix}", "polling": f"poll{suffix}"}
    for relay, context in contexts.items():
        text = CONTEXT.replace("CONTEXT", context).replace("RELAY", relay)
        (specs / f"{context}.yaml").write_text(text.replace("TOPIC", f"egbench-{context}"))
    exe = Path(sys.executable).with_name("eventgen")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "eventgen"]
    done = subprocess.run([*cmd, "build", str(specs), "-o", str(out), "--no-cache"],
                          capture_output=True, text=True, check=False, timeout=300)  # fmt: skip
    if done.returncode != 0:
        sys.exit(f"eventgen build failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return out, contexts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=50_000, help="outbox rows per run")
    ap.add_argument("--txn-rows", type=int, default=500, help="rows per writing transaction")
    ap.add_argument("--modes", default="live,backlog", help="live, backlog or both")
    ap.add_argument("--partitions", type=int, default=3)
    ap.add_argument("--max-seconds", type=float, default=300.0, help="bound of every wait")
    ap.add_argument("--sides", default="debezium,polling", help="debezium, polling or both")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a setting of the generated connector config (a tuning "
                         "probe; the figures are then not the generated route's)")  # fmt: skip
    ap.add_argument("--connect-pid", type=int, help="the Connect worker's pid: report its CPU")
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = ap.parse_args()
    if args.rows < 1 or args.txn_rows < 1:
        ap.error("--rows and --txn-rows must be at least 1")
    modes = [m for m in args.modes.split(",") if m]
    if not modes or set(modes) - {"live", "backlog"}:
        ap.error("--modes takes live and/or backlog")
    chosen = [s for s in args.sides.split(",") if s]
    if not chosen or set(chosen) - {"debezium", "polling"}:
        ap.error("--sides takes debezium and/or polling")
    overrides = dict(item.split("=", 1) for item in args.set if "=" in item)
    if len(overrides) != len(args.set):
        ap.error("--set takes KEY=VALUE")
    services = {n: env(n) for n in ("KAFKA_BOOTSTRAP_SERVERS", "EVENTGEN_POSTGRES_DSN",
                                    "EVENTGEN_CONNECT_URL")}  # fmt: skip
    bootstrap, dsn = services["KAFKA_BOOTSTRAP_SERVERS"], services["EVENTGEN_POSTGRES_DSN"]
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    import psycopg

    with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
        level = conn.execute("SHOW wal_level").fetchone()
    if level != ("logical",):
        sys.exit(f"PostgreSQL at {dsn} runs with wal_level={level}: Debezium needs logical")
    before = machine()
    suffix = uuid.uuid4().hex[:8]
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="egbench-dbz-") as name, ExitStack() as cleanup:
        out, contexts = build(Path(name), suffix, args.partitions)
        sys.path.insert(0, str(out))
        sides = {}
        for side_name, context in contexts.items():
            app = importlib.import_module(f"{PACKAGE}.{context}_app")
            models = importlib.import_module(f"{PACKAGE}.{context}")
            sides[side_name] = Side(side_name, context, app, models, f"egbench-{context}",
                                    app.OUTBOX_SPEC.table)  # fmt: skip
        tables = [s.table for s in sides.values()]
        topics = [s.topic for s in sides.values()]

        def drop_tables() -> None:
            with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
                for table in tables:
                    conn.execute(f'DROP TABLE IF EXISTS "{table}"')

        cleanup.callback(drop_tables)
        with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
            for side in sides.values():
                ddl = out / "sql" / side.context / f"{side.table}.postgres.sql"
                conn.execute(ddl.read_bytes())  # the generated DDL file, several statements
        cleanup.callback(delete_topics, bootstrap, topics)
        create_topics(bootstrap, topics, args.partitions)
        body = (out / "connect" / f"{contexts['debezium']}-outbox.json").read_bytes()
        if overrides:
            emitted = json.loads(body)
            emitted["config"].update(overrides)
            body = json.dumps(emitted).encode()
        connector = Connector(services["EVENTGEN_CONNECT_URL"], body, dsn)
        cleanup.callback(connector.remove, args.max_seconds)
        began = time.monotonic()
        connector.create(args.max_seconds)
        ready_s = time.monotonic() - began
        probe = Probe(bootstrap, args.partitions)
        cleanup.callback(probe.close)
        config = RuntimeConfig(bootstrap_servers=bootstrap, postgres_dsn=dsn,
                               log_interval_s=3600.0)  # fmt: skip
        ctx = {"probe": probe, "args": args, "connector": connector, "config": config,
               "out": out, "services": services}  # fmt: skip
        print(f"{before['cpus']} cpus, load {before['loadavg']}; {args.rows:,} rows per run in "
              f"transactions of {args.txn_rows}; connector RUNNING with its slot after "
              f"{ready_s:.1f} s")  # fmt: skip
        if overrides:
            print(f"connector settings changed from the generated file: {overrides}")
        order = chosen
        for i, mode in enumerate(modes):
            for side_name in order if i % 2 == 0 else order[::-1]:
                got = run_side(mode, sides[side_name], ctx)
                results[f"{mode}/{side_name}"] = got
                report(mode, side_name, got)
    summary = summarize(results)
    for line in summary["lines"]:
        print(line)
    write_json(args.json, {
        "benchmark": "debezium route vs polling relay", "machine_before": before,
        "machine_after": machine(), "args": vars(args), "connector_overrides": overrides, "connector_ready_s": ready_s,
        "results": results, "ratios": summary["ratios"],
    })  # fmt: skip
    return 0


def report(mode: str, side: str, r: dict[str, Any]) -> None:
    line = (f"{mode:<7} {side:<8}  writer {r['writer_rows_s']:>6,.0f} rows/s  end-to-end "
            f"{r['end_to_end_events_s']:>6,.0f} events/s  lag after last commit "
            f"{r['lag_after_last_commit_s']:6.2f} s  latency p50/p99/max "
            f"{r['latency_p50_s']:.2f}/{r['latency_p99_s']:.2f}/{r['latency_max_s']:.2f} s")  # fmt: skip
    if "drain_events_s" in r:
        line += (f"  drain {r['drain_events_s']:>7,.0f} events/s from the start command "
                 f"(first record after {r['start_to_first_record_s']:.2f} s), "
                 f"{r['append_window_events_s']:,.0f} between first and last record")  # fmt: skip
    if r.get("relay_cpu_us_per_event") is not None:
        line += f"  relay CPU {r['relay_cpu_us_per_event']:,.0f} us/event"
    print(line + f"  [{r['records']:,} records, {r['missing']} missing, "
          f"{r['duplicates']} duplicated]")  # fmt: skip


def summarize(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    ratios: dict[str, float] = {}
    for mode, key in (("live", "end_to_end_events_s"), ("live", "writer_rows_s"),
                      ("backlog", "drain_events_s"), ("backlog", "append_window_events_s")):  # fmt: skip
        dbz, poll = results.get(f"{mode}/debezium"), results.get(f"{mode}/polling")
        if dbz and poll and poll.get(key):
            ratios[f"{mode}/{key}"] = dbz[key] / poll[key]
    lines = [f"debezium / polling, {k}: {v:.1%}" for k, v in ratios.items()]
    return {"ratios": ratios, "lines": lines}


if __name__ == "__main__":
    raise SystemExit(main())
