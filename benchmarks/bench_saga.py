"""PlaceOrderSaga on PostgreSQL and real Kafka: saga steps/s, DB transactions per step, the time
until N concurrent sagas are final; a hand-written minimal orchestrator side by side.

    source /tmp/shared-services.env     # KAFKA_BOOTSTRAP_SERVERS, EVENTGEN_POSTGRES_DSN
    .venv/bin/python benchmarks/bench_saga.py [--sagas 1000] [--sequential 20] [--timeout 600]
        [--sides eventgen-seq,eventgen,baseline] [--json PATH]

Setup (nothing is written outside /tmp, and everything is dropped at the end): the example
specs copied and built into a temporary directory with the orders outbox (so the saga, its
inbox and the Order event store) on PostgreSQL and every topic renamed under a fresh base
(tests/sagas/fault_harness.py: `prepare_specs`; step timeouts 60 s and a 30 min deadline, so
no timer fires under load), two fresh databases (the saga's, the participants'), the topics
(3 partitions each). The participants are the generated inventory, shipping and payments
command handlers (PostgreSQL inbox, every command answered at once) in threads of this
process, shared by both sides.

- `eventgen`: the generated `place_order_saga` (SagaApp) in a thread and the generated orders
  relay in another. The N orders are placed at once through the generated Order aggregate (one
  transaction each: OrderPlaced into the event store and the outbox); the clock runs from the
  first placement until every saga is COMPLETED (the instances table is polled every 0.1 s).
  Each saga takes 4 steps: reserve_stock, book_delivery_slot, charge_card (sent through the
  outbox and the relay) and confirm_order (ConfirmOrder on the Order aggregate, in the saga's
  transaction).
- `eventgen-seq`: the same with `--sequential` sagas one at a time (each placed when the one
  before is final): the low-load case, where every record gets a transaction of its own (under
  load the consumer commits a whole poll batch of records in one transaction).
- `baseline`: a hand-written orchestrator over the same topics and participants: one raw
  confluent-kafka Consumer and Producer, state in one table with one psycopg statement per step
  (INSERT at the start, UPDATE ... RETURNING per reply, autocommit), commands produced directly
  (no outbox, no log, no timers, no inbox, no local aggregate command: confirm_order is the
  last UPDATE). Its N OrderPlaced events are published at once by the generated orders
  publisher; the clock runs from the first publish until its N-th completion.

DB transactions are counted two ways. (1) `SagaStats.transactions`: committed saga
transactions, counted by the worker where it commits. (2) PostgreSQL's own
`pg_stat_database.xact_commit` of the saga's database, read from the server's maintenance
database before anything connects and after every connection closed; every commit in this
process is also counted client side per thread (psycopg instrumented: outer transaction blocks,
`commit()`, autocommit statements), so the delta splits into the saga worker (consumer and
timer thread: includes its read-only timer polls every 200 ms), the relay (separately), and
the driver (placements, polls); the worker's consumer thread (the saga's record
transactions) and timer thread (one transaction per poll, 5 a second, mostly empty) are also
shown apart. `residual` = delta minus every client-side count (0 when the
split is exact; autovacuum and the like show up there).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.serde import codec_for, encode_key
from tests.emit_services.helpers import build, import_fresh
from tests.runtime.apps.kit import topics
from tests.sagas.fault_harness import (
    INSTANCES,
    Orders,
    Participants,
    Platform,
    all_topics,
    databases,
    place_order_command,
    prepare_specs,
    unique_base,
)

STEPS_PER_SAGA = 4
MODULES = (
    "orders", "orders_aggregates", "orders_app", "orders_sagas", "inventory", "inventory_app",
    "shipping", "shipping_app", "payments", "payments_app",
)  # fmt: skip


# -- client-side transaction counts -------------------------------------------------------------


class TxCounter:
    """Commits per thread label, counted in psycopg itself (this process only)."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self.lock = threading.Lock()

    @staticmethod
    def label() -> str:
        name = threading.current_thread().name
        for prefix, label in (
            ("saga-timers", "saga timers"), ("saga", "saga consumer"), ("relay", "relay"),
            ("participant", "participants"),
            ("baseline", "baseline"), ("MainThread", "driver"),
        ):  # fmt: skip
            if name.startswith(prefix):
                return label
        return f"other ({name})"

    def add(self, conn: Any) -> None:
        label = self.label()
        with self.lock:
            self.counts[(conn.info.dbname, label)] += 1

    def install(self) -> None:
        import psycopg
        from psycopg import pq

        idle = pq.TransactionStatus.IDLE
        counter = self
        execute = psycopg.Cursor.execute
        executemany = psycopg.Cursor.executemany
        transaction_exit = psycopg.Transaction.__exit__
        commit = psycopg.Connection.commit

        def wrap_execute(original: Callable[..., Any]) -> Callable[..., Any]:
            def run(self: Any, *args: Any, **kwargs: Any) -> Any:
                conn = self.connection
                implicit = conn.autocommit and conn.pgconn.transaction_status == idle
                result = original(self, *args, **kwargs)
                if implicit:  # a statement outside a block is a transaction of its own
                    counter.add(conn)
                return result

            return run

        def exit_(self: Any, exc_type: Any, exc: Any, tb: Any) -> Any:
            result = transaction_exit(self, exc_type, exc, tb)
            if not self.savepoint_name and exc_type is None and not self.force_rollback:
                counter.add(self.connection)
            return result

        def commit_(self: Any) -> None:
            open_ = self.pgconn.transaction_status != idle
            commit(self)
            if open_:
                counter.add(self)

        psycopg.Cursor.execute = wrap_execute(execute)  # type: ignore[method-assign]
        psycopg.Cursor.executemany = wrap_execute(executemany)  # type: ignore[method-assign]
        psycopg.Transaction.__exit__ = exit_  # type: ignore[method-assign]
        psycopg.Connection.commit = commit_  # type: ignore[method-assign]

    def of(self, dbname: str) -> dict[str, int]:
        with self.lock:
            return {label: n for (db, label), n in self.counts.items() if db == dbname}


def xact_commit(server_dsn: str, dbname: str) -> int:
    """pg_stat_database.xact_commit of `dbname`, read over a connection to the server's
    maintenance database (so the read itself is not counted there)."""
    import psycopg

    with psycopg.connect(server_dsn, autocommit=True, connect_timeout=10) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = %s", (dbname,)
        ).fetchone()
    return int(row[0]) if row else 0


def dbname_of(dsn: str) -> str:
    return dsn.partition("?")[0].rsplit("/", 1)[1]


# -- the two sides ------------------------------------------------------------------------------


@contextmanager
def thread(target: Callable[[threading.Event], Any], name: str) -> Iterator[dict[str, Any]]:
    """Run `target(stop)` in a thread; stop and join it on exit; its result in the dict."""
    stop = threading.Event()
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = target(stop)
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            box["error"] = exc

    worker = threading.Thread(target=run, name=name, daemon=True)
    worker.start()
    try:
        yield box
    finally:
        stop.set()
        worker.join(120)
        if "error" in box:
            raise RuntimeError(f"{name} failed: {box['error']!r}") from box["error"]


def wait_final(dsn: str, ids: list[str], timeout_s: float) -> tuple[int, dict[str, int]]:
    """Poll until every saga of `ids` is final (bounded); (final count, statuses)."""
    import psycopg

    end = time.monotonic() + timeout_s
    statuses: dict[str, int] = {}
    with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
        while time.monotonic() < end:
            rows = conn.execute(
                f"SELECT status, count(*) FROM {INSTANCES} WHERE saga_id = ANY(%s) GROUP BY status",
                (ids,),
            ).fetchall()
            statuses = {row[0]: int(row[1]) for row in rows}
            final = sum(n for s, n in statuses.items() if s in ("COMPLETED", "COMPENSATED"))
            if final + statuses.get("STUCK", 0) + statuses.get("FAILED", 0) >= len(ids):
                return final, statuses
            time.sleep(0.1)
    return sum(n for s, n in statuses.items() if s in ("COMPLETED", "COMPENSATED")), statuses


def run_eventgen(
    platform: Platform, orders: Orders, n: int, timeout_s: float, server_dsn: str,
    counter: TxCounter, *, sequential: bool = False,
) -> dict[str, Any]:  # fmt: skip
    mods = platform.modules
    saga_app = mods["orders_sagas"].place_order_saga
    relay = mods["orders_app"].relay
    group = f"{platform.base}-saga"
    config = platform.config(platform.saga_dsn, **{"group.id": group})
    dbname = dbname_of(platform.saga_dsn)
    before = xact_commit(server_dsn, dbname)
    client_before = counter.of(dbname)
    ids = [uuid.uuid4() for _ in range(n)]
    with (
        thread(lambda stop: relay.run(config, stop=stop), "relay") as relay_box,
        thread(lambda stop: saga_app.run(config, stop=stop), "saga-worker") as saga_box,
    ):
        time.sleep(5.0)  # the worker joins its group and creates its tables
        began = time.perf_counter()
        if sequential:  # one saga at a time: each record has a transaction of its own
            final = 0
            statuses: dict[str, int] = {}
            for order_id in ids:
                orders.place(order_id)
                one, statuses = wait_final(platform.saga_dsn, [str(order_id)], timeout_s)
                final += one
            placed = 0.0
        else:
            for order_id in ids:
                orders.place(order_id)
            placed = time.perf_counter() - began
            final, statuses = wait_final(platform.saga_dsn, [str(i) for i in ids], timeout_s)
        elapsed = time.perf_counter() - began
    orders.close()  # the driver's connection: its commits are flushed to the statistics
    stats = saga_box["result"]
    relay_stats = relay_box["result"]
    time.sleep(1.5)  # backends flush their statistics at exit
    delta = xact_commit(server_dsn, dbname) - before
    client = {k: v - client_before.get(k, 0) for k, v in counter.of(dbname).items()}
    client = {k: v for k, v in client.items() if v}
    steps = final * STEPS_PER_SAGA
    return {
        "side": "eventgen-seq" if sequential else "eventgen",
        "sagas": n,
        "final": final,
        "statuses": statuses,
        "place_s": round(placed, 3),
        "elapsed_s": round(elapsed, 3),
        "steps_per_s": round(steps / elapsed, 1) if elapsed else 0.0,
        "saga_transactions": stats.transactions,
        "tx_per_step_sagastats": round(stats.transactions / steps, 3) if steps else None,
        "xact_commit_delta": delta,
        "client": client,
        # PostgreSQL's count minus what the relay and the driver committed: the saga worker's
        # share (its consumer and timer threads), residual included (an upper bound)
        "tx_per_step_pg_worker": (
            round((delta - client.get("relay", 0) - client.get("driver", 0)) / steps, 3)
            if steps
            else None
        ),
        "tx_per_step_consumer": round(client.get("saga consumer", 0) / steps, 3) if steps else None,
        "relay_tx_per_step": round(client.get("relay", 0) / steps, 3) if steps else None,
        "residual": delta - sum(client.values()),
        "relay_published": relay_stats.published,
        "saga_stats": stats.line(),
    }


def run_baseline(
    platform: Platform, n: int, timeout_s: float, server_dsn: str, counter: TxCounter
) -> dict[str, Any]:
    import psycopg
    from confluent_kafka import Consumer, Producer

    mods = platform.modules
    orders, inv, shp, pay = mods["orders"], mods["inventory"], mods["shipping"], mods["payments"]
    cfg = RuntimeConfig(bootstrap_servers=platform.bootstrap)
    routes = dict(mods["orders_app"].PUBLISHER_SPEC.routes)
    consumer_spec = mods["orders_sagas"].place_order_saga.consumer_spec
    in_routes = {route.topic.name: route for route in consumer_spec.topics}
    dbname = dbname_of(platform.saga_dsn)
    with psycopg.connect(platform.saga_dsn, autocommit=True, connect_timeout=10) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS baseline_sagas (saga_id uuid PRIMARY KEY,"
            " step text, status text NOT NULL, data text NOT NULL, reservation_id uuid,"
            " slot_id uuid, payment_id uuid)"
        )
    before = xact_commit(server_dsn, dbname)
    client_before = counter.of(dbname)
    ids = {uuid.uuid4() for _ in range(n)}
    done = {"count": 0, "at": 0.0}
    assigned = threading.Event()

    def orchestrate(stop: threading.Event) -> None:
        conn = psycopg.connect(platform.saga_dsn, autocommit=True, connect_timeout=10)
        consumer = Consumer({
            "bootstrap.servers": platform.bootstrap,
            "group.id": f"{platform.base}-baseline",
            "auto.offset.reset": "latest",
            "enable.auto.commit": True,
        })  # fmt: skip
        producer = Producer({
            "bootstrap.servers": platform.bootstrap, "acks": "all",
            "enable.idempotence": True, "linger.ms": 5,
        })  # fmt: skip

        def send(command: Any) -> None:
            route = routes[command.TYPE]
            envelope = command.envelope(correlation_id=str(command.order_id))
            value, pairs = codec_for(route, cfg).encode(envelope, route)
            headers: list[tuple[str, str | bytes | None]] = list(pairs)
            while True:
                try:
                    producer.produce(
                        route.topic.name, value=value, key=encode_key(route, command),
                        headers=headers,
                    )  # fmt: skip
                    return
                except BufferError:
                    producer.poll(0.1)

        def on_assign(_consumer: Any, partitions: Any) -> None:
            assigned.set()

        consumer.subscribe(list(in_routes), on_assign=on_assign)
        try:
            while not stop.is_set():
                record: Any = consumer.poll(0.1)
                producer.poll(0)
                if record is None or record.error() is not None:
                    continue
                route = in_routes[record.topic()]
                try:
                    envelope = codec_for(route, cfg).decode(record, route)
                except Exception:  # noqa: BLE001, S112 - a type it does not decode: not ours
                    continue
                kind = envelope.type
                reply: Any = envelope.payload
                if kind == "orders.OrderPlaced":
                    if reply.order_id not in ids:
                        continue
                    conn.execute(
                        "INSERT INTO baseline_sagas (saga_id, step, status, data)"
                        " VALUES (%s, 'reserve_stock', 'RUNNING', %s) ON CONFLICT DO NOTHING",
                        (reply.order_id, reply.model_dump_json()),
                    )
                    send(inv.ReserveStock(order_id=reply.order_id, lines=reply.lines))
                elif kind == "inventory.StockReserved":
                    row = conn.execute(
                        "UPDATE baseline_sagas SET step = 'book_delivery_slot',"
                        " reservation_id = %s WHERE saga_id = %s AND step = 'reserve_stock'"
                        " RETURNING data",
                        (reply.reservation_id, reply.order_id),
                    ).fetchone()
                    if row is not None:
                        placed = orders.OrderPlaced.model_validate_json(row[0])
                        send(shp.BookDeliverySlot(
                            order_id=placed.order_id, address=placed.shipping_address,
                            preferred_date=placed.requested_delivery_date,
                        ))  # fmt: skip
                elif kind == "shipping.DeliverySlotBooked":
                    row = conn.execute(
                        "UPDATE baseline_sagas SET step = 'charge_card', slot_id = %s"
                        " WHERE saga_id = %s AND step = 'book_delivery_slot' RETURNING data",
                        (reply.slot.slot_id, reply.order_id),
                    ).fetchone()
                    if row is not None:
                        placed = orders.OrderPlaced.model_validate_json(row[0])
                        send(pay.ChargeCard(
                            order_id=placed.order_id, customer_id=placed.customer_id,
                            amount=placed.total,
                        ))  # fmt: skip
                elif kind == "payments.CardCharged":
                    cur = conn.execute(
                        "UPDATE baseline_sagas SET step = NULL, status = 'COMPLETED',"
                        " payment_id = %s WHERE saga_id = %s AND step = 'charge_card'",
                        (reply.payment_id, reply.order_id),
                    )
                    if cur.rowcount == 1:
                        done["count"] += 1
                        done["at"] = time.perf_counter()
        finally:
            producer.flush(30)
            consumer.close()
            conn.close()

    publisher = mods["orders_app"].publisher
    publisher.configure(cfg)
    with thread(orchestrate, "baseline-orchestrator"):
        if not assigned.wait(60):
            raise RuntimeError("baseline: no partitions assigned in 60 s")
        time.sleep(2.0)  # the `latest` offsets are fixed before the first event goes out
        now = datetime.now(UTC)
        events = []
        for order_id in ids:
            cmd = place_order_command(orders, order_id)
            events.append(orders.OrderPlaced(
                order_id=order_id, customer_id=cmd.customer_id, lines=cmd.lines,
                total=cmd.total, shipping_address=cmd.shipping_address, placed_at=now,
                requested_delivery_date=cmd.requested_delivery_date,
            ))  # fmt: skip
        began = time.perf_counter()
        for event in events:
            publisher.publish(event, correlation_id=str(event.order_id))
        publisher.flush()
        end = time.monotonic() + timeout_s
        while done["count"] < n and time.monotonic() < end:
            time.sleep(0.05)
        finished = done["at"] if done["count"] else time.perf_counter()
    time.sleep(1.5)
    delta = xact_commit(server_dsn, dbname) - before
    client = counter.of(dbname)
    client = {k: v - client_before.get(k, 0) for k, v in client.items()}
    client = {k: v for k, v in client.items() if v}
    elapsed = finished - began
    steps = done["count"] * STEPS_PER_SAGA
    return {
        "side": "baseline",
        "sagas": n,
        "final": done["count"],
        "elapsed_s": round(elapsed, 3),
        "steps_per_s": round(steps / elapsed, 1) if elapsed else 0.0,
        "xact_commit_delta": delta,
        "client": client,
        "tx_per_step_pg_worker": round((delta - client.get("driver", 0)) / steps, 3)
        if steps
        else None,
        "tx_per_step_consumer": round(client.get("baseline", 0) / steps, 3) if steps else None,
        "residual": delta - sum(client.values()),
    }


# -- main ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sagas", type=int, default=1000, help="concurrent sagas per side")
    parser.add_argument("--timeout", type=float, default=600.0, help="bound per side, seconds")
    parser.add_argument(
        "--sequential", type=int, default=20, help="sagas of side eventgen-seq, one at a time"
    )
    parser.add_argument("--sides", default="eventgen-seq,eventgen,baseline")
    parser.add_argument("--postgres-dsn", default=os.environ.get("EVENTGEN_POSTGRES_DSN"))
    parser.add_argument(
        "--bootstrap-servers", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    )
    parser.add_argument("--json", help="also write the results here (a path under /tmp)")
    args = parser.parse_args(argv)
    if not args.postgres_dsn:
        parser.error("no PostgreSQL: --postgres-dsn or EVENTGEN_POSTGRES_DSN")
    if args.json and not str(Path(args.json).resolve()).startswith("/tmp/"):
        parser.error("--json: write under /tmp")
    sides = [s.strip() for s in args.sides.split(",") if s.strip()]
    counter = TxCounter()
    counter.install()
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-saga-", dir="/tmp") as tmp:
        work = Path(tmp)
        base = unique_base()
        specs = prepare_specs(work / "specs", base, step_timeout="60s", deadline="30m")
        out = work / "out"
        build(specs, out)
        with (
            topics(args.bootstrap_servers, all_topics(base)),
            databases(args.postgres_dsn, "saga", "part") as dsns,
        ):
            platform = Platform(out, base, args.bootstrap_servers, dsns["saga"], dsns["part"], work)
            import_fresh(out, "shop_events", "orders_sagas")
            import importlib

            for name in MODULES:
                platform.modules[name] = importlib.import_module(f"shop_events.{name}")
            participants = Participants(platform)
            participants.start()
            try:
                for side in sides:
                    print(f"running {side} with {args.sagas} sagas ...", file=sys.stderr)
                    if side in ("eventgen", "eventgen-seq"):
                        orders = Orders(platform)
                        seq = side == "eventgen-seq"
                        results.append(run_eventgen(
                            platform, orders, args.sequential if seq else args.sagas,
                            args.timeout, args.postgres_dsn, counter, sequential=seq,
                        ))  # fmt: skip
                    elif side == "baseline":
                        results.append(
                            run_baseline(
                                platform, args.sagas, args.timeout, args.postgres_dsn, counter
                            )
                        )
                    else:
                        parser.error(f"unknown side {side!r}")
                    print(json.dumps(results[-1], default=str), file=sys.stderr)
            finally:
                participants.stop()
            if participants.errors:
                print(f"participant errors: {participants.errors}", file=sys.stderr)
    _table(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    return 0


def _split(client: dict[str, int]) -> str:
    return ", ".join(f"{label}={n}" for label, n in sorted(client.items()))


def _table(results: list[dict[str, Any]]) -> None:
    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("side", lambda r: r["side"]),
        ("sagas (final/started)", lambda r: f"{r['final']}/{r['sagas']}"),
        ("time until all final (s)", lambda r: f"{r['elapsed_s']:.2f}"),
        ("saga steps/s", lambda r: f"{r['steps_per_s']:.0f}"),
        ("tx/step, SagaStats.transactions", lambda r: str(r.get("tx_per_step_sagastats", "-"))),
        ("tx/step, pg xact_commit (worker)", lambda r: str(r.get("tx_per_step_pg_worker", "-"))),
        ("tx/step, client (consumer thread)", lambda r: str(r.get("tx_per_step_consumer", "-"))),
        ("tx/step, pg xact_commit (relay)", lambda r: str(r.get("relay_tx_per_step", "-"))),
        ("xact_commit delta (saga db)", lambda r: str(r["xact_commit_delta"])),
        ("  split: client-side counts", lambda r: _split(r["client"])),
        ("  residual", lambda r: str(r["residual"])),
    ]  # fmt: skip
    width = max(len(label) for label, _ in rows)
    for label, cell in rows:
        print(f"{label:<{width}}  " + "  ".join(f"{cell(r):>14}" for r in results))
    by_side = {r["side"]: r for r in results}
    if "eventgen" in by_side and by_side.get("baseline", {}).get("steps_per_s"):
        ratio = by_side["eventgen"]["steps_per_s"] / by_side["baseline"]["steps_per_s"]
        print(f"{'eventgen / baseline steps/s':<{width}}  {ratio:.2f}")


if __name__ == "__main__":
    sys.exit(main())
