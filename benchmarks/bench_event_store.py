"""eventgen's event store and aggregate repository vs pyeventsourcing 9.x on one PostgreSQL.

    eval "$(scripts/services start --no-connect)"   # exports EVENTGEN_POSTGRES_DSN
    .venv/bin/pip install -r benchmarks/requirements-es.txt
    .venv/bin/python benchmarks/bench_event_store.py [--postgres-dsn DSN] [--quick] [--json PATH]

Starts nothing: the DSN comes from `--postgres-dsn` or EVENTGEN_POSTGRES_DSN. Both systems run
in this one process against the same server, each in tables of its own created fresh for the
run (eventgen: `bench_es_<hex>_events` / `_snapshots` in the DSN's schema; pyeventsourcing: the
schema `bench_pyes_<hex>`), all dropped at the end. The sides alternate who goes first from
round to round; every figure is the median of `--rounds` rounds of fixed counts, in wall-clock
time (`time.perf_counter`), with the CPU time per command beside it: the client process(es)
(`time.process_time`) and, when the server runs on this host, the PostgreSQL backends of the
clients' connections (`/proc/PID/schedstat`); the CPU ratio is the steadier figure on a host
shared with other work, the wall-clock ratio is the one users see.

1. Single-event commands, one client (own connection): rate in commands/s of
   - `eg-append`: `EventStore.append` of one event at a known expected version, one transaction
     per command, vs `es-save`: an `Aggregate` held in memory, one `@event` command, then
     `Application.save` (the same work: an optimistic-concurrency insert of one event);
   - `eg-handle`: `AggregateRepository.handle` (load the stream, decide, append; no outbox) vs
     `es-get-save`: `repository.get` (replay the stream), the command, `save`.
   `--commands` commands per round over `--streams` fresh streams (created before the clock
   starts, one event each), round-robin, so the streams grow to commands/streams + 1 events.
   `pg-floor` beside them: bare psycopg, BEGIN + one plain INSERT of an event row + COMMIT
   (`conn.transaction()`, as the eg-append loop), no lock, no version check: what a
   transaction per command costs by itself (floor / es-save bounds what any store in that
   shape can reach against pyeventsourcing on this server).
2. The same with `--clients` concurrent clients, each its own connection and its own streams:
   processes by default (spawned; pyeventsourcing: an Application per process, pool of one),
   rate = all commands / (last client's end - first client's start), CPU = all clients';
   `--concurrency thread`: threads of this process (pyeventsourcing: one Application whose
   pool holds one connection per thread), which the GIL keeps to about one core.
3. Load of a `--stream-events`-event stream without and with a snapshot (ms): eventgen
   `AggregateRepository.load` of an aggregate without `snapshot_every` (full `read_stream` +
   apply), of one with `snapshot_every=1000` after a snapshot at the head (snapshot query +
   decode + empty tail), and the bare `read_stream`; pyeventsourcing `repository.get` on an app without
   snapshotting, and after `take_snapshot` on an app with `IS_SNAPSHOTTING_ENABLED`.
4. Upcasting on read: the same stream length stored as v1 and as v2; read time per event of
   the v1 stream minus that of the v2 stream (eventgen: `read_stream`, upcast + validate;
   pyeventsourcing: `repository.get`, its mapper's `upcast_v1_v2` step).

pyeventsourcing runs with `PERSISTENCE_MODULE=eventsourcing.postgres` and its own defaults
otherwise (pipeline inserts, `LOCK TABLE ... IN EXCLUSIVE MODE` per insert, no aggregate cache,
no snapshots unless measured, no compression, no cipher). The eventgen side needs the store and
repository implementations; while they raise NotImplementedError the eventgen rows read n/a.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import multiprocessing
import os
import statistics
import sys
import threading
import time
import types
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty
from typing import Any, ClassVar
from uuid import UUID

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from eventgen.runtime.es.aggregate import AggregateRepository
from eventgen.runtime.es.spec import AggregateDefinition, CommandMeta, EventStoreSpec
from eventgen.runtime.es.store import EventStore
from eventgen.runtime.model import Message, Record
from eventgen.runtime.scalars import Uuid

try:
    from eventsourcing.application import Application
    from eventsourcing.domain import Aggregate, event
except ImportError:  # pragma: no cover - told to the user below
    sys.exit(
        "pyeventsourcing is not installed: .venv/bin/pip install -r benchmarks/requirements-es.txt"
    )

# -- eventgen side: a hand-written aggregate, as a build would write it ---------------------

UPCAST_MODULE = "bench_event_store_upcast"


def _upcast(message_type: str, version: int, payload: dict[str, Any]) -> dict[str, Any]:
    """bench.Deposited v1 -> v2: `amt` renamed to `amount`, `currency` added ("EUR")."""
    if message_type != "bench.Deposited" or version != 1:
        raise ValueError(f"no upcaster for v{version} of {message_type}")
    p = dict(payload)
    if "amt" in p:
        p["amount"] = p.pop("amt")
    p.setdefault("currency", "EUR")
    return p


_upcast_module = types.ModuleType(UPCAST_MODULE)
_upcast_module.upcast = _upcast  # type: ignore[attr-defined]
sys.modules[UPCAST_MODULE] = _upcast_module


class Deposited(Message):
    TYPE: ClassVar[str] = "bench.Deposited"
    VERSION: ClassVar[int] = 2
    SCHEMAS: ClassVar[str] = "bench_event_store_schemas"  # not used: the store keeps JSON
    UPCASTS: ClassVar[str | None] = UPCAST_MODULE

    account_id: Uuid
    amount: int
    currency: str = "EUR"


class DepositedV1(Message):
    """The same event as written by an older build (v1), for the upcasting figures."""

    TYPE: ClassVar[str] = "bench.Deposited"
    VERSION: ClassVar[int] = 1
    SCHEMAS: ClassVar[str] = "bench_event_store_schemas"

    account_id: Uuid
    amt: int


class Deposit(Message):
    TYPE: ClassVar[str] = "bench.Deposit"
    VERSION: ClassVar[int] = 1
    SCHEMAS: ClassVar[str] = "bench_event_store_schemas"

    account_id: Uuid
    amount: int


class AccountState(Record):
    balance: int = 0
    deposits: int = 0


def apply_account(state: AccountState, event: Message) -> AccountState:
    match event:
        case Deposited():
            return state.model_copy(
                update={"balance": state.balance + event.amount, "deposits": state.deposits + 1}
            )
        case _:
            return state


def decide_account_deposit(
    state: AccountState, command: Deposit, meta: CommandMeta
) -> list[Message]:
    return [Deposited(account_id=command.account_id, amount=command.amount)]


def account_definition(snapshot_every: int | None) -> AggregateDefinition[AccountState]:
    return AggregateDefinition(
        name="Account",
        qualified="bench.Account",
        context="bench",
        id_field="account_id",
        state=AccountState,
        state_hash="bench-account-1",
        snapshot_every=snapshot_every,
        events=(Deposited,),
        apply=apply_account,
        commands=((Deposit, decide_account_deposit),),
    )


# -- pyeventsourcing side -------------------------------------------------------------------


class Account(Aggregate):
    def __init__(self) -> None:
        self.balance = 0
        self.deposits = 0

    @event("Deposited")
    def deposit(self, amount: int) -> None:
        self.balance += amount
        self.deposits += 1


class Ledger(Aggregate):
    """For the upcasting figures: its Deposited event class is switched from v1 to v2."""

    def __init__(self) -> None:
        self.balance = 0

    @event("Deposited")
    def deposit(self, amount: int) -> None:
        self.balance += amount


LEDGER_UPCASTS = [0]  # calls of the upcaster: the check that v1 events really were upcast


def _ledger_upcast_v1_v2(state: dict[str, Any]) -> None:
    LEDGER_UPCASTS[0] += 1
    state.setdefault("currency", "EUR")


class Bank(Application[UUID]):
    pass


# -- harness --------------------------------------------------------------------------------


@dataclass
class Env:
    dsn: str
    suffix: str
    quick: bool
    rounds: int
    commands: int
    streams: int
    clients: int
    stream_events: int
    load_rounds: int
    concurrency: str = "process"
    es_db_functions: bool = False
    pipeline: bool = False  # eventgen's transactions inside conn.pipeline() (fewer round trips)
    eg_table: str = ""
    eg_snapshots: str = ""
    es_schema: str = ""
    floor_table: str = ""
    results: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.eg_table = f"bench_es_{self.suffix}_events"
        self.eg_snapshots = f"bench_es_{self.suffix}_snapshots"
        self.es_schema = f"bench_pyes_{self.suffix}"
        self.floor_table = f"bench_es_{self.suffix}_floor"


def connect(dsn: str) -> psycopg.Connection[Any]:
    return psycopg.connect(dsn, autocommit=True, connect_timeout=10)


def es_env(
    env: Env, *, pool_size: int, snapshots: bool = False, create_table: bool = True
) -> dict[str, str]:
    info = conninfo_to_dict(env.dsn)
    out = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": str(info.get("dbname", "postgres")),
        "POSTGRES_HOST": str(info.get("host", "localhost")),
        "POSTGRES_PORT": str(info.get("port", "5432")),
        "POSTGRES_USER": str(info.get("user", os.environ.get("USER", "postgres"))),
        "POSTGRES_PASSWORD": str(info.get("password", "")),
        "POSTGRES_SCHEMA": env.es_schema,
        "POSTGRES_POOL_SIZE": str(pool_size),
        "POSTGRES_MAX_OVERFLOW": "0",
        "POSTGRES_CONNECT_TIMEOUT": "10",
        "CREATE_TABLE": "y" if create_table else "n",
    }
    if snapshots:
        out["IS_SNAPSHOTTING_ENABLED"] = "y"
    if env.es_db_functions:
        out["POSTGRES_ENABLE_DB_FUNCTIONS"] = "y"
    return out


def new_bank(
    env: Env, *, pool_size: int = 1, snapshots: bool = False, create_table: bool = True
) -> Bank:
    return Bank(
        env=es_env(env, pool_size=pool_size, snapshots=snapshots, create_table=create_table)
    )


def eg_store(env: Env, messages: Sequence[type[Message]] = (Deposited,)) -> EventStore:
    spec = EventStoreSpec(
        context="bench", table=env.eg_table, snapshot_table=env.eg_snapshots, store="postgres"
    )
    return EventStore(spec, messages=messages)


class Unavailable(Exception):
    """The eventgen side raised NotImplementedError (its implementation has not landed)."""


@contextmanager
def eg_guard() -> Iterator[None]:
    try:
        yield
    except NotImplementedError as exc:
        raise Unavailable(str(exc) or "NotImplementedError") from exc


@dataclass
class Timing:
    wall_s: float
    cpu_s: float  # the client process(es)
    server_s: float | None = None  # the PostgreSQL backends of the clients' connections


def backend_cpu(pids: Sequence[int]) -> float | None:
    """CPU seconds the server processes `pids` used so far (/proc/PID/schedstat, ns); None
    when they are not readable (a server on another host or in another pid namespace)."""
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
    return total / 1e9


def timed(fn: Callable[[], None], pids: Sequence[int] = ()) -> Timing:
    server0 = backend_cpu(pids) if pids else None
    cpu0, t0 = time.process_time(), time.perf_counter()
    fn()
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    server1 = backend_cpu(pids) if pids else None
    server = None if server0 is None or server1 is None else server1 - server0
    return Timing(wall, cpu, server)


# -- 1 and 2: commands ----------------------------------------------------------------------


def eg_seed(env: Env, conn: Any, store: EventStore, n: int) -> list[tuple[UUID, str]]:
    """n fresh streams with one Deposited each (before the clock starts)."""
    out = []
    for _ in range(n):
        aid = uuid.uuid4()
        sid = f"Account-{aid}"
        with conn.transaction():
            store.append(conn, sid, 0, [Deposited(account_id=aid, amount=1)])
        out.append((aid, sid))
    return out


def eg_append_run(env: Env, conn: Any, store: EventStore, seeded: list[tuple[UUID, str]],
                  commands: int) -> Callable[[], None]:  # fmt: skip
    versions = {sid: 1 for _, sid in seeded}
    plan = [seeded[i % len(seeded)] for i in range(commands)]

    def run() -> None:
        for aid, sid in plan:
            with _pipelined(env, conn), conn.transaction():
                versions[sid] = store.append(
                    conn, sid, versions[sid], [Deposited(account_id=aid, amount=1)]
                )

    return run


def _pipelined(env: Env, conn: Any) -> Any:
    """`conn.pipeline()` under --pipeline: BEGIN goes out with the first statement and the
    statements whose results nobody reads wait for the next sync (psycopg 3 pipeline mode)."""
    return conn.pipeline() if env.pipeline else contextlib.nullcontext()


def eg_handle_run(env: Env, conn: Any, repo: AggregateRepository[AccountState],
                  seeded: list[tuple[UUID, str]], commands: int) -> Callable[[], None]:  # fmt: skip
    plan = [seeded[i % len(seeded)][0] for i in range(commands)]

    def run() -> None:
        for aid in plan:
            with _pipelined(env, conn), conn.transaction():
                repo.handle(conn, Deposit(account_id=aid, amount=1), meta=CommandMeta.now())

    return run


def es_seed(app: Bank, n: int) -> list[Account]:
    out = []
    for _ in range(n):
        account = Account()
        app.save(account)
        out.append(account)
    return out


def es_save_run(app: Bank, seeded: list[Account], commands: int) -> Callable[[], None]:
    plan = [seeded[i % len(seeded)] for i in range(commands)]

    def run() -> None:
        for account in plan:
            account.deposit(1)
            app.save(account)

    return run


def es_get_save_run(app: Bank, seeded: list[Account], commands: int) -> Callable[[], None]:
    plan = [seeded[i % len(seeded)].id for i in range(commands)]

    def run() -> None:
        for aid in plan:
            account: Account = app.repository.get(aid)
            account.deposit(1)
            app.save(account)

    return run


def floor_run(env: Env, conn: Any, commands: int) -> Callable[[], None]:
    """A transaction per command by itself: BEGIN, one plain INSERT of an event row (no lock,
    no version check), COMMIT, as the eg-append caller does (`conn.transaction()`)."""
    stream = f"floor-{uuid.uuid4()}"
    insert = sql.SQL("INSERT INTO {} (stream_id, version, payload) VALUES (%s, %s, %s)").format(
        sql.Identifier(env.floor_table)
    )
    payload = Deposited(account_id=uuid.uuid4(), amount=1).model_dump_json()

    def run() -> None:
        for version in range(1, commands + 1):
            with conn.transaction():
                conn.execute(insert, (stream, version, payload))

    return run


def in_threads(runs: list[Callable[[], None]]) -> Callable[[], None]:
    """All runs at once, one thread each, released together; errors re-raised."""

    def run() -> None:
        barrier = threading.Barrier(len(runs))
        errors: list[BaseException] = []

        def worker(fn: Callable[[], None]) -> None:
            try:
                barrier.wait(timeout=30)
                fn()
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(fn,), daemon=True) for fn in runs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)
            if thread.is_alive():
                raise RuntimeError("a client thread did not finish within 600 s")
        if errors:
            raise errors[0]

    return run


VARIANTS = ("eg-append", "es-save", "eg-handle", "es-get-save", "pg-floor")


class Client:
    """One client: its own connection (and, for pyeventsourcing, the Application it uses)."""

    def __init__(self, env: Env, app: Bank | None) -> None:
        self.env = env
        self.conn = connect(env.dsn)
        self.app = app
        self.store = eg_store(env)
        self.repo = AggregateRepository(account_definition(None), self.store)

    def prepare(self, variant: str, commands: int, streams: int) -> Callable[[], None]:
        """Seed `streams` fresh streams (untimed); the timed run of `commands` commands."""
        env, conn = self.env, self.conn
        if variant == "pg-floor":
            return floor_run(env, conn, commands)
        if variant.startswith("eg-"):
            with eg_guard():
                seeded = eg_seed(env, conn, self.store, streams)
            if variant == "eg-append":
                return eg_append_run(env, conn, self.store, seeded, commands)
            return eg_handle_run(env, conn, self.repo, seeded, commands)
        assert self.app is not None
        accounts = es_seed(self.app, streams)
        make = es_save_run if variant == "es-save" else es_get_save_run
        return make(self.app, accounts, commands)

    def backend_pids(self, variant: str) -> list[int]:
        """The server process(es) this client's variant talks to."""
        if not variant.startswith("es-"):
            return [self.conn.info.backend_pid]
        assert self.app is not None
        datastore = self.app.factory.datastore  # type: ignore[attr-defined]
        if datastore.pool.max_size != 1:
            return []  # threads share a pool: which backend served whom is not known
        with datastore.get_connection() as conn:
            return [conn.info.backend_pid]

    def close(self) -> None:
        self.conn.close()


def _child(env: Env, variant: str, commands: int, streams: int, barrier: Any, queue: Any) -> None:
    """One client process: seed, wait for the others, run; (start, end, cpu) to the queue."""
    app = client = None
    try:
        # The parent created the tables (and pyeventsourcing's insert function): concurrent
        # CREATE OR REPLACE FUNCTION statements of four processes would collide.
        app = new_bank(env, create_table=False) if variant.startswith("es-") else None
        client = Client(env, app)
        run = client.prepare(variant, commands, streams)
        pids = client.backend_pids(variant)
        barrier.wait(timeout=120)
        server0 = backend_cpu(pids)
        cpu0, t0 = time.process_time(), time.perf_counter()
        with eg_guard():
            run()
        end, cpu = time.perf_counter(), time.process_time() - cpu0
        server1 = backend_cpu(pids)
        server = None if server0 is None or server1 is None else server1 - server0
        queue.put(("ok", t0, end, cpu, server))
    except Unavailable as exc:
        queue.put(("unavailable", str(exc)))
    except BaseException as exc:  # noqa: BLE001 - reported by the parent
        queue.put(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        if client is not None:
            client.close()
        if app is not None:
            app.close()


def in_processes(env: Env, variant: str, clients: int, commands: int, streams: int) -> Timing:
    """`clients` processes (spawned, each its own connection) released together; the wall
    time from the first start to the last end, and the CPU time of all of them."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(clients)
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_child, args=(env, variant, commands, streams, barrier, queue))
        for _ in range(clients)
    ]
    for proc in procs:
        proc.start()
    results: list[Any] = []
    deadline = time.monotonic() + 600
    try:
        while len(results) < clients:
            try:
                results.append(queue.get(timeout=1))
            except Empty:
                if time.monotonic() > deadline or not any(p.is_alive() for p in procs):
                    raise RuntimeError(f"{variant}: a client process died or hung") from None
    finally:
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)
    for result in results:
        if result[0] == "unavailable":
            raise Unavailable(result[1])
        if result[0] == "error":
            raise RuntimeError(f"{variant} client process: {result[1]}")
    start = min(r[1] for r in results)
    end = max(r[2] for r in results)
    servers = [r[4] for r in results]
    server = None if None in servers else sum(servers)
    return Timing(end - start, sum(r[3] for r in results), server)


VARIANTS = ("eg-append", "es-save", "eg-handle", "es-get-save", "pg-floor")
SIDES = {"eg": ("eg-append", "eg-handle"), "es": ("es-save", "es-get-save"), "pg": ("pg-floor",)}


def bench_commands(env: Env, clients: int) -> dict[str, Any]:
    """Rates of the command variants; `clients` concurrent clients on their own streams."""
    per_client = env.commands // clients
    streams = max(1, env.streams // clients)
    mode = "one client" if clients == 1 else env.concurrency
    label = f"commands_{clients}_client{'s' if clients > 1 else ''}"
    samples: dict[str, list[Timing]] = {k: [] for k in VARIANTS}
    unavailable: str | None = None
    app = new_bank(env, pool_size=clients)  # threads share one app, one connection each
    local = [Client(env, app) for _ in range(1 if mode == "process" else clients)]
    try:
        for rnd in range(env.rounds):
            for side in ["eg", "es", "pg"] if rnd % 2 == 0 else ["pg", "es", "eg"]:
                if side == "eg" and unavailable is not None:
                    continue
                for variant in SIDES[side]:
                    try:
                        if mode == "process":
                            timing = in_processes(env, variant, clients, per_client, streams)
                        else:
                            runs = [c.prepare(variant, per_client, streams) for c in local]
                            run = runs[0] if clients == 1 else in_threads(runs)
                            pids = [p for c in local for p in c.backend_pids(variant)]
                            with eg_guard():
                                timing = timed(run, pids if len(pids) == clients else ())
                    except Unavailable as exc:
                        unavailable = str(exc)
                        break
                    samples[variant].append(timing)
    finally:
        for client in local:
            client.close()
        app.close()
    total = per_client * clients
    out: dict[str, Any] = {"clients": clients, "mode": mode, "commands": total,
                           "rounds": env.rounds, "streams": streams * clients}  # fmt: skip
    for variant, timings in samples.items():
        if not timings:
            out[variant] = None
            continue
        wall = statistics.median(t.wall_s for t in timings)
        cpu = statistics.median(t.cpu_s for t in timings)
        out[variant] = {
            "per_s": total / wall,
            "wall_s": wall,
            "cpu_ms_per_command": 1000 * cpu / total,
            "server_cpu_ms_per_command": None
            if any(t.server_s is None for t in timings)
            else 1000 * statistics.median(t.server_s or 0.0 for t in timings) / total,
            "rounds_per_s": [round(total / t.wall_s, 1) for t in timings],
        }
    if unavailable is not None:
        out["eventgen_unavailable"] = unavailable
    for ours, theirs in (("eg-append", "es-save"), ("eg-handle", "es-get-save"),
                         ("pg-floor", "es-save")):  # fmt: skip
        if out[ours] and out[theirs]:
            a, b = out[ours], out[theirs]
            out[f"ratio {ours}/{theirs}"] = a["per_s"] / b["per_s"]
            if a["server_cpu_ms_per_command"] is not None and b["server_cpu_ms_per_command"]:
                # CPU per command, client + server: less noisy than wall clock on a busy host.
                cost_a = a["cpu_ms_per_command"] + a["server_cpu_ms_per_command"]
                cost_b = b["cpu_ms_per_command"] + b["server_cpu_ms_per_command"]
                out[f"cpu ratio {theirs}/{ours}"] = cost_b / cost_a
    env.results[label] = out
    return out


# -- 3 and 4: loads and upcasting -----------------------------------------------------------


def bench_loads(env: Env) -> dict[str, Any]:
    n = env.stream_events
    out: dict[str, Any] = {"stream_events": n, "rounds": env.load_rounds}
    samples: dict[str, list[float]] = {}
    cpu_samples: dict[str, list[float]] = {}

    def sample(name: str, fn: Callable[[], object]) -> None:
        gc.collect()  # no collection of the previous sample's garbage inside this one
        cpu0, t0 = time.process_time(), time.perf_counter()
        result = fn()
        samples.setdefault(name, []).append(time.perf_counter() - t0)
        cpu_samples.setdefault(name, []).append(time.process_time() - cpu0)
        del result

    # pyeventsourcing: one stream for full replay, one with a snapshot; a v1 and a v2 Ledger.
    plain = new_bank(env)
    snap = new_bank(env, snapshots=True)
    deposited_cls: Any = Ledger.Deposited  # type: ignore[attr-defined]
    try:
        full = Account()
        for _ in range(n - 1):
            full.deposit(1)
        plain.save(full)
        snapped = Account()
        for _ in range(n - 1):
            snapped.deposit(1)
        snap.save(snapped)
        snap.take_snapshot(snapped.id)
        ledger_v1 = Ledger()
        for _ in range(n - 1):
            ledger_v1.deposit(1)
        plain.save(ledger_v1)
        deposited_cls.class_version = 2
        deposited_cls.upcast_v1_v2 = staticmethod(_ledger_upcast_v1_v2)
        ledger_v2 = Ledger()
        for _ in range(n - 1):
            ledger_v2.deposit(1)
        plain.save(ledger_v2)
        calls = LEDGER_UPCASTS[0]
        got = plain.repository.get(ledger_v1.id)
        assert got.version == n and got.balance == n - 1, "pyeventsourcing v1 ledger"
        assert LEDGER_UPCASTS[0] - calls == n - 1, "pyeventsourcing did not upcast v1 events"
        calls = LEDGER_UPCASTS[0]
        plain.repository.get(ledger_v2.id)
        assert LEDGER_UPCASTS[0] == calls, "pyeventsourcing upcast v2 events"
        got = snap.repository.get(snapped.id)
        assert got.version == n and got.balance == n - 1, "pyeventsourcing snapshot load"

        eg: dict[str, Callable[[], object]] = {}
        try:
            with eg_guard():
                eg = eg_load_setup(env, n)
        except Unavailable as exc:
            out["eventgen_unavailable"] = str(exc)

        es: dict[str, Callable[[], object]] = {
            "es-load-full": lambda: plain.repository.get(full.id),
            "es-load-snapshot": lambda: snap.repository.get(snapped.id),
            "es-read-v1": lambda: plain.repository.get(ledger_v1.id),
            "es-read-v2": lambda: plain.repository.get(ledger_v2.id),
        }
        for rnd in range(env.load_rounds):
            groups = [eg, es] if rnd % 2 == 0 else [es, eg]
            for group in groups:
                items = list(group.items())
                shift = rnd % len(items) if items else 0
                for name, fn in items[shift:] + items[:shift]:  # a different order each round
                    sample(name, fn)
    finally:
        plain.close()
        snap.close()
        if hasattr(deposited_cls, "upcast_v1_v2"):
            del deposited_cls.upcast_v1_v2
        deposited_cls.class_version = 1
    for name, values in samples.items():
        out[name + "_ms"] = 1000 * statistics.median(values)
        out[name + "_client_cpu_ms"] = 1000 * statistics.median(cpu_samples[name])
    for side, read in (("eg", "eg-read"), ("es", "es-read")):
        if f"{read}-v1_ms" not in out or f"{read}-v2_ms" not in out:
            continue
        for unit, suffix in (("wall", "_ms"), ("client_cpu", "_client_cpu_ms")):
            v1, v2 = out[f"{read}-v1{suffix}"], out[f"{read}-v2{suffix}"]
            out[f"{side}-upcast_{unit}_us_per_event"] = 1000 * (v1 - v2) / n
            out[f"{side}-read-v2_{unit}_us_per_event"] = 1000 * v2 / n
    env.results["loads"] = out
    return out


_eg_conn: list[Any] = []


def eg_load_setup(env: Env, n: int) -> dict[str, Callable[[], object]]:
    """eventgen streams: full, snapshotted, v1 and v2; returns the timed loads."""
    conn = connect(env.dsn)
    _eg_conn.append(conn)
    store = eg_store(env)
    store_v1 = eg_store(env, messages=(DepositedV1,))
    repo = AggregateRepository(account_definition(None), store)  # no snapshot: none looked for
    snap_repo = AggregateRepository(account_definition(1000), store)
    streams: dict[str, str] = {}
    for name in ("full", "snapshot", "v1", "v2"):
        aid = uuid.uuid4()
        sid = f"Account-{aid}"
        streams[name] = sid
        events: list[Message]
        if name == "v1":
            events = [DepositedV1(account_id=aid, amt=1) for _ in range(n)]
            target = store_v1
        else:
            events = [Deposited(account_id=aid, amount=1) for _ in range(n)]
            target = store
        with conn.transaction():
            target.append(conn, sid, 0, events)
        streams[name + "_id"] = str(aid)
    snap_id = UUID(streams["snapshot_id"])
    state, version = repo.load(conn, snap_id)
    assert version == n and state.balance == n, f"eventgen replay: {version} {state}"
    with conn.transaction():
        store.save_snapshot(
            conn, streams["snapshot"], version, "bench-account-1", state.model_dump_json().encode()
        )
    state, version = snap_repo.load(conn, snap_id)
    assert version == n and state.balance == n, f"eventgen snapshot load: {version} {state}"
    assert store.load_snapshot(conn, streams["snapshot"], "bench-account-1") is not None
    v1 = list(store.read_stream(conn, streams["v1"]))
    assert len(v1) == n and v1[0].stored_version == 1, "eventgen v1 stream"
    first = v1[0].message
    assert isinstance(first, Deposited) and first.amount == 1 and first.currency == "EUR"

    def read(sid: str) -> Callable[[], object]:
        return lambda: sum(1 for _ in store.read_stream(conn, sid))

    full_id, snap_uuid = UUID(streams["full_id"]), snap_id
    return {
        "eg-load-full": lambda: repo.load(conn, full_id),
        "eg-load-snapshot": lambda: snap_repo.load(conn, snap_uuid),
        "eg-read-stream-full": read(streams["full"]),
        "eg-read-v1": read(streams["v1"]),
        "eg-read-v2": read(streams["v2"]),
    }


# -- setup, teardown, report ----------------------------------------------------------------


def setup(env: Env) -> None:
    with connect(env.dsn) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(env.es_schema)))
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} (position bigserial PRIMARY KEY, stream_id text NOT NULL, "
                "version integer NOT NULL, payload text NOT NULL, UNIQUE (stream_id, version))"
            ).format(sql.Identifier(env.floor_table))
        )
        try:
            eg_store(env).ensure_schema(conn)
        except NotImplementedError:
            env.notes.append("EventStore.ensure_schema not implemented: eventgen side n/a")


def teardown(env: Env) -> None:
    for conn in _eg_conn:
        conn.close()
    with connect(env.dsn) as conn:
        conn.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(env.es_schema))
        )
        for table in (env.eg_table, env.eg_snapshots, env.floor_table):
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))


def server_settings(dsn: str) -> dict[str, str]:
    """The server settings a commit's cost depends on (printed with the figures)."""
    names = ("server_version", "fsync", "synchronous_commit", "shared_buffers")
    with connect(dsn) as conn:
        return {n: str(conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(n))).fetchone()[0])
                for n in names}  # fmt: skip


def fmt_rate(row: dict[str, Any] | None) -> str:
    if not row:
        return "n/a"
    spread = "/".join(f"{r:.0f}" for r in row["rounds_per_s"])
    server = row.get("server_cpu_ms_per_command")
    both = "" if server is None else f" + server {server:.3f}"
    cpu = f"cpu client {row['cpu_ms_per_command']:.3f}{both} ms/cmd"
    return f"{row['per_s']:7.0f}/s  {cpu}  (rounds {spread})"


def report(env: Env) -> None:
    for label in ("commands_1_client", f"commands_{env.clients}_clients"):
        out = env.results.get(label)
        if not out:
            continue
        print(f"\n{label} ({out['mode']}): {out['commands']} single-event commands per round "
              f"over {out['streams']} streams, median of {out['rounds']} rounds, wall clock")  # fmt: skip
        for variant in VARIANTS:
            print(f"  {variant:12} {fmt_rate(out.get(variant))}")
        for key, value in out.items():
            if key.startswith("ratio"):
                print(f"  {key} (commands/s): {value:.2f}x")
            elif key.startswith("cpu ratio"):
                print(f"  {key} (client + server CPU per command): {value:.2f}x")
        if "eventgen_unavailable" in out:
            print(f"  eventgen side unavailable: {out['eventgen_unavailable']}")
    loads = env.results.get("loads")
    if loads:
        print(f"\nloads: one {loads['stream_events']}-event stream, median of "
              f"{loads['rounds']} rounds, wall clock ms")  # fmt: skip
        for key, value in loads.items():
            if key.endswith("_ms") and not key.endswith("_client_cpu_ms"):
                cpu = loads[key[:-3] + "_client_cpu_ms"]
                print(f"  {key[:-3]:22} {value:9.1f} ms  (client CPU {cpu:7.1f} ms)")
        for key, value in loads.items():
            if key.endswith("_per_event"):
                print(f"  {key:32} {value:7.2f}")
        if "eventgen_unavailable" in loads:
            print(f"  eventgen side unavailable: {loads['eventgen_unavailable']}")
    for note in env.notes:
        print(f"note: {note}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres-dsn", default=os.environ.get("EVENTGEN_POSTGRES_DSN"))
    parser.add_argument("--quick", action="store_true", help="smaller counts (< 1 minute)")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--commands", type=int, help="commands per round (all clients)")
    parser.add_argument("--streams", type=int, help="fresh streams per round (all clients)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument(
        "--concurrency", choices=("process", "thread"), default="process",
        help="concurrent clients as processes (default) or threads of this process",
    )  # fmt: skip
    parser.add_argument(
        "--es-db-functions", action="store_true",
        help="pyeventsourcing with POSTGRES_ENABLE_DB_FUNCTIONS=y (opt-in; in 9.5.6 its insert "
        "function takes no table lock, so readers may skip late commits: not the default)",
    )  # fmt: skip
    parser.add_argument(
        "--pipeline", action="store_true",
        help="eventgen's command transactions inside psycopg's pipeline mode (conn.pipeline())",
    )  # fmt: skip
    parser.add_argument("--stream-events", type=int, default=10_000)
    parser.add_argument("--load-rounds", type=int)
    parser.add_argument("--parts", default="single,concurrent,loads")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    if not args.postgres_dsn:
        print("no DSN: pass --postgres-dsn or set EVENTGEN_POSTGRES_DSN", file=sys.stderr)
        return 2
    quick = bool(args.quick)
    env = Env(
        dsn=args.postgres_dsn,
        suffix=uuid.uuid4().hex[:10],
        quick=quick,
        rounds=args.rounds or (3 if quick else 5),
        commands=args.commands or (400 if quick else 1500),
        streams=args.streams or (40 if quick else 150),
        clients=args.clients,
        stream_events=args.stream_events,
        load_rounds=args.load_rounds or (3 if quick else 7),
        concurrency=args.concurrency,
        es_db_functions=bool(args.es_db_functions),
        pipeline=bool(args.pipeline),
    )
    parts = set(args.parts.split(","))
    started = time.perf_counter()
    setup(env)
    try:
        if "single" in parts:
            bench_commands(env, 1)
        if "concurrent" in parts:
            bench_commands(env, env.clients)
        if "loads" in parts:
            bench_loads(env)
    finally:
        teardown(env)
    env.results["total_s"] = time.perf_counter() - started
    env.results["versions"] = {"python": sys.version.split()[0], "eventsourcing": _es_version()}
    env.results["settings"] = {
        "concurrency": env.concurrency,
        "es_db_functions": env.es_db_functions,
        "server": server_settings(env.dsn),
    }
    report(env)
    settings = env.results["settings"]
    print(f"\nserver: {settings['server']}; pyeventsourcing {env.results['versions']}")
    print(f"total {env.results['total_s']:.1f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(env.results, indent=2, default=str) + "\n")
    return 0


def _es_version() -> str:
    from importlib.metadata import version

    return version("eventsourcing")


if __name__ == "__main__":
    sys.exit(main())
