"""Fault-injection harness of PlaceOrderSaga on the real Kafka and PostgreSQL.

- `prepare_specs`: the example specs copied, with the orders outbox (so the saga, its event
  store and its inbox) on PostgreSQL, every topic the saga touches renamed under a unique base
  (`name:` overrides; DLQs follow as `<name>.dlq`), the shipping command handler's inbox on
  PostgreSQL, and short step timeouts, retries and deadline.
- `Platform`: one build, its topics, two private PostgreSQL databases (the saga's and the
  participants'), the orders relay and the saga worker as real subprocesses
  (`python -m tests.sagas.fault_crash ... run <pkg>.orders_sagas:place_order_saga`).
- `Participants`: the generated inventory, shipping and payments command handlers (ConsumerApps
  with a PostgreSQL inbox) run in threads of the test process; their handlers follow a per-order
  fault script and record every effect in `fault_effects`, keyed by the command's event id.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from types import ModuleType
from typing import Any

from eventgen.runtime.config import RuntimeConfig

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"
SAGA_TARGET = "shop_events.orders_sagas:place_order_saga"
RELAY_TARGET = "shop_events.orders_app:relay"
INSTANCES = "orders_saga_instances"
LOG = "orders_saga_log"
FINAL = frozenset({"COMPLETED", "COMPENSATED", "FAILED"})
SETTLED = FINAL | {"STUCK"}  # nothing moves any more without an operator

STEP_TIMEOUT_S = 2.0
DEADLINE_S = 40.0
# A late reply goes out this long after its command arrived: past the step's 2 s timeout,
# before a retried step's second attempt times out (2 s + 0.5 s backoff + 2 s).
LATE_S = 2.8
# A very late reply: after both attempts timed out (2 s + 0.5 s + 2 s) and the step was
# compensated; it still answers the first attempt (its causation id).
VERY_LATE_S = 6.0
PARTITIONS = 3
# The topics the saga's messages use: (context, spec topic name).
TOPICS = (
    ("orders", "order-events"),
    ("orders", "order-commands"),
    ("inventory", "inventory-commands"),
    ("inventory", "stock-events"),
    ("shipping", "shipping-commands"),
    ("shipping", "shipment-events"),
    ("payments", "payment-commands"),
    ("payments", "payment-events"),
)

# Faults a participant can play for one command type of one order.
OK, FAIL, NEVER, TWICE, LATE, OUT_OF_ORDER = "ok", "fail", "never", "twice", "late", "ooo"
VERY_LATE = "very-late"
FAULTS = (OK, FAIL, NEVER, TWICE, LATE, OUT_OF_ORDER, VERY_LATE)


FORWARD_STEP = """\
      - name: ship_order
        send: {{command: shipping.ShipOrder, payload: {{order_id: $data.order_id}}}}
        expect:
          success: [shipping.ShipmentDispatched]
          failure: [shipping.ShipmentFailed]
        timeout: {timeout}
"""


def unique_base() -> str:
    return f"egsf-{uuid.uuid4().hex[:8]}"


def _replace_once(text: str, old: str, new: str, where: str) -> str:
    count = text.count(old)
    if count != 1:
        raise AssertionError(f"{where}: {old!r} occurs {count} times, expected once")
    return text.replace(old, new)


def topic_name(base: str, context: str, topic: str) -> str:
    return f"{base}.{context}.{topic}"


def prepare_specs(
    dst: Path,
    base: str,
    *,
    step_timeout: str = f"{int(STEP_TIMEOUT_S)}s",
    deadline: str = f"{int(DEADLINE_S)}s",
    reserve_attempts: int = 2,
    forward_step: bool = False,
) -> Path:
    """Copy specs/ to `dst` with the edits of the module docstring; `dst`. `reserve_attempts`:
    reserve_stock's attempts; `forward_step`: a `ship_order` send step (ShipOrder, answered by
    ShipmentDispatched / ShipmentFailed) after the pivot, so forward (retried until the
    deadline); the participants never answer ShipOrder."""
    shutil.copytree(SPECS, dst)
    for context in ("orders", "inventory", "shipping", "payments"):
        path = dst / f"{context}.yaml"
        text = path.read_text(encoding="utf-8")
        for ctx, topic in TOPICS:
            if ctx != context:
                continue
            pattern = re.compile(rf"^  {re.escape(topic)}:\n", re.MULTILINE)
            if len(pattern.findall(text)) != 1:
                raise AssertionError(f"{context}.yaml: topic {topic} not found once")
            text = pattern.sub(
                f"  {topic}:\n    name: {topic_name(base, ctx, topic)}\n", text, count=1
            )
        if context == "orders":
            name = topic_name(base, "orders", "order-commands")
            text = _replace_once(
                text,
                "dlq: {name: orders.order-commands.dlq,",
                f"dlq: {{name: {name}.dlq,",
                path.name,
            )
            text = _replace_once(
                text, "  relay: polling\n", "  relay: polling\n  store: postgres\n", path.name
            )
            text = _replace_once(
                text,
                "    dlq: true\n    idempotency: {store: sqlite, retention: 7d}\n  order-metrics",
                "    dlq: true\n    idempotency: {store: postgres, retention: 7d}\n  order-metrics",
                path.name,
            )
            text = _replace_once(text, "deadline: 15m", f"deadline: {deadline}", path.name)
            # 30s (charge_card) first: a 30s step_timeout must not be counted twice.
            text = _replace_once(text, "timeout: 30s", f"timeout: {step_timeout}", path.name)
            if text.count("timeout: 10s") != 2:
                raise AssertionError(f"{path.name}: expected two steps with `timeout: 10s`")
            text = text.replace("timeout: 10s", f"timeout: {step_timeout}")
            text = _replace_once(
                text,
                "retry: {max_attempts: 5, initial: 1s, retry_on: [timeout]}",
                f"retry: {{max_attempts: {reserve_attempts}, initial: 500ms, retry_on: [timeout]}}",
                path.name,
            )
            text = _replace_once(
                text,
                "retry: {max_attempts: 3, initial: 500ms, retry_on: [timeout]}",
                "retry: {max_attempts: 2, initial: 500ms, retry_on: [timeout]}",
                path.name,
            )
            text = _replace_once(
                text,
                "on_compensation_failure: {retry: {max_attempts: 10, initial: 5s}, then: park}",
                "on_compensation_failure: {retry: {max_attempts: 2, initial: 500ms}, then: park}",
                path.name,
            )
            if forward_step:
                text = _replace_once(
                    text,
                    "      - name: confirm_order\n",
                    FORWARD_STEP.format(timeout=step_timeout) + "      - name: confirm_order\n",
                    path.name,
                )
        if context == "payments":
            name = topic_name(base, "payments", "payment-commands")
            text = _replace_once(
                text,
                "dlq: {name: payments.payment-commands.dlq,",
                f"dlq: {{name: {name}.dlq,",
                path.name,
            )
        if context == "shipping":
            old = "    dlq: true\n    idempotency: {store: sqlite, retention: 7d}\n  ship-confirmed"
            new = (
                "    dlq: true\n    idempotency: {store: postgres, retention: 7d}\n  ship-confirmed"
            )
            text = _replace_once(text, old, new, path.name)
        path.write_text(text, encoding="utf-8")
    return dst


def all_topics(base: str) -> dict[str, int]:
    """Every topic (and DLQ) the build's saga, relay and participants check at start."""
    names: dict[str, int] = {}
    for context, topic in TOPICS:
        name = topic_name(base, context, topic)
        names[name] = PARTITIONS
        names[f"{name}.dlq"] = 1
    return names


# -- PostgreSQL ---------------------------------------------------------------------------------


def _dsn_for(server_dsn: str, database: str) -> str:
    base, sep, query = server_dsn.partition("?")
    return base.rsplit("/", 1)[0] + "/" + database + (sep + query if sep else "")


@contextmanager
def databases(server_dsn: str, *labels: str) -> Iterator[dict[str, str]]:
    """Fresh databases (one per label) on the server of `server_dsn`; their DSNs; dropped after."""
    import psycopg

    names = {label: f"egsf_{label}_{uuid.uuid4().hex[:10]}" for label in labels}
    with psycopg.connect(server_dsn, autocommit=True, connect_timeout=10) as conn:
        for name in names.values():
            conn.execute(f"CREATE DATABASE {name}")
    try:
        yield {label: _dsn_for(server_dsn, name) for label, name in names.items()}
    finally:
        with psycopg.connect(server_dsn, autocommit=True, connect_timeout=10) as conn:
            for name in names.values():
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def query(dsn: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(dsn, connect_timeout=10) as conn:
        return list(conn.execute(sql, params).fetchall())


def instances(
    dsn: str, ids: list[str] | None = None
) -> dict[str, tuple[str, str | None, str | None]]:
    """saga_id -> (status, step, reason) of the PlaceOrderSaga instances (or of `ids`)."""
    import psycopg

    with psycopg.connect(dsn, connect_timeout=10) as conn:
        exists = conn.execute("SELECT to_regclass(%s)", (INSTANCES,)).fetchone()
        if exists is None or exists[0] is None:
            return {}
        if ids is None:
            rows = conn.execute(f"SELECT saga_id, status, step, reason FROM {INSTANCES}").fetchall()
        else:
            rows = conn.execute(
                f"SELECT saga_id, status, step, reason FROM {INSTANCES} WHERE saga_id = ANY(%s)",
                (ids,),
            ).fetchall()
    return {row[0]: (row[1], row[2], row[3]) for row in rows}


def saga_log(dsn: str, saga_id: str) -> list[tuple[Any, ...]]:
    return query(
        dsn,
        f"SELECT seq, cause, from_status, to_status, step, detail FROM {LOG}"
        " WHERE saga_id = %s ORDER BY seq",
        saga_id,
    )


def wait_settled(
    dsn: str,
    ids: list[str],
    *,
    timeout_s: float,
    settled: frozenset[str] = SETTLED,
    alive: list[subprocess.Popen[str]] | None = None,
) -> dict[str, tuple[str, str | None, str | None]]:
    """Poll the instances table until every one of `ids` has a status in `settled`, at most
    `timeout_s`; the last snapshot (the caller asserts on it)."""
    end = time.monotonic() + timeout_s
    seen: dict[str, tuple[str, str | None, str | None]] = {}
    while time.monotonic() < end:
        seen = instances(dsn, ids)
        if len(seen) == len(ids) and all(s[0] in settled for s in seen.values()):
            return seen
        for proc in alive or []:
            if proc.poll() is not None:
                return seen
        time.sleep(0.25)
    return seen


# -- processes ----------------------------------------------------------------------------------


@dataclass
class Proc:
    """A runner subprocess with its output in a file (a pipe nobody drains could block it)."""

    popen: subprocess.Popen[str]
    output: Path

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.output.read_text(encoding="utf-8", errors="replace")[-chars:]
        except FileNotFoundError:
            return ""

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """SIGTERM (the graceful stop), then SIGKILL past `timeout_s`; the exit code."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(30)
        return self.popen.returncode

    def wait_output(self, text: str, timeout_s: float) -> bool:
        """True once `text` is in the output, False past `timeout_s` or when it exited."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if text in self.tail(1_000_000):
                return True
            if self.popen.poll() is not None:
                return False
            time.sleep(0.1)
        return False

    def wait_exit(self, timeout_s: float) -> int | None:
        try:
            return self.popen.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return None


@dataclass
class Platform:
    """One build of the edited specs, its topics and databases, and its processes' settings."""

    out: Path
    base: str
    bootstrap: str
    saga_dsn: str
    part_dsn: str
    work: Path
    group: str = field(default_factory=lambda: f"egsf-saga-{uuid.uuid4().hex[:8]}")
    modules: dict[str, ModuleType] = field(default_factory=dict)

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(self.out)]),
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "EVENTGEN_POSTGRES_DSN": self.saga_dsn,
            "EVENTGEN_SQLITE_PATH": str(self.work / "unused.sqlite3"),
            "EVENTGEN_CONNECT_TIMEOUT": "20",
            "EVENTGEN_LOG_INTERVAL": "5",
            # A killed worker's partitions come back after 6 s, not librdkafka's 45 s.
            "EVENTGEN_CLIENT_SESSION_TIMEOUT_MS": "6000",
            "EVENTGEN_CLIENT_HEARTBEAT_INTERVAL_MS": "1000",
        }
        env.update(extra)
        return env

    def _spawn(self, args: list[str], name: str, env: Mapping[str, str]) -> Proc:
        output = self.work / f"{name}-{uuid.uuid4().hex[:6]}.out"
        with output.open("w", encoding="utf-8") as handle:
            popen = subprocess.Popen(
                [sys.executable, *args],
                cwd=self.work,
                env=dict(env),
                stdout=handle,
                stderr=subprocess.STDOUT,
                text=True,
            )
        return Proc(popen, output)

    def relay(self, *, kill_before_removal: int = 0) -> Proc:
        """The orders relay; with `kill_before_removal=N` it SIGKILLs itself right before the
        commit that deletes its N-th published batch (the rows were produced and acked)."""
        if not kill_before_removal:
            args = ["-m", "eventgen.runtime", "run", RELAY_TARGET]
        else:
            args = ["-m", "tests.sagas.fault_crash", "--kill", "before",
                    "--at", str(kill_before_removal), "--table", "order_outbox",
                    "--verbs", "DELETE,UPDATE", "--match", "seq = ANY",
                    "--", "run", RELAY_TARGET]  # fmt: skip
        return self._spawn(args, "relay", self.env())

    def worker(
        self,
        *,
        kill: str | None = None,
        at: int = 0,
        commits: Path | None = None,
        extra: tuple[str, ...] = (),
    ) -> Proc:
        """The saga worker through the crash wrapper; `kill` before|after the `at`-th saga
        commit (none: runs until stopped). `commits` receives one line per saga commit."""
        args = ["-m", "tests.sagas.fault_crash"]
        if kill is not None:
            args += ["--kill", kill, "--at", str(at)]
        if commits is not None:
            args += ["--commits", str(commits)]
        args += ["--", "run", SAGA_TARGET, *extra]
        # The group is the runtime's own override (the spec's group is shared by every build);
        # a static member id lets a restarted worker take the killed one's partitions at once
        # instead of after the session timeout.
        env = self.env(
            EVENTGEN_CLIENT_GROUP_ID=self.group,
            EVENTGEN_CLIENT_GROUP_INSTANCE_ID=f"{self.group}-worker",
        )
        return self._spawn(args, "worker", env)

    def config(self, dsn: str, **client: str) -> RuntimeConfig:
        return RuntimeConfig(
            bootstrap_servers=self.bootstrap,
            postgres_dsn=dsn,
            sqlite_path=str(self.work / "unused.sqlite3"),
            connect_timeout_s=20.0,
            client={"session.timeout.ms": "6000", "heartbeat.interval.ms": "1000", **client},
        )


# -- orders -------------------------------------------------------------------------------------


def place_order_command(orders: ModuleType, order_id: uuid.UUID) -> Any:
    line = {"sku": "MUG-001", "quantity": 2, "unit_price": {"amount": "9.50", "currency": "EUR"}}
    return orders.PlaceOrder.model_validate(
        {
            "order_id": str(order_id),
            "customer_id": str(uuid.uuid4()),
            "lines": [line],
            "total": {"amount": "19.00", "currency": "EUR"},
            "shipping_address": {
                "recipient": "Ada Lovelace",
                "line1": "12 St James's Square",
                "city": "London",
                "postal_code": "SW1Y 4JH",
                "country": "GB",
            },
            "requested_delivery_date": "2030-05-03",
        }
    )


class Orders:
    """Places orders through the generated Order aggregate in the saga's database: OrderPlaced
    lands in the event store and the orders outbox in one transaction, and the relay publishes
    it to order-events, where the saga worker starts."""

    def __init__(self, platform: Platform) -> None:
        from eventgen.runtime.db import Store

        self.aggregates = platform.modules["orders_aggregates"]
        self.orders = platform.modules["orders"]
        self.config = platform.config(platform.saga_dsn)
        self.aggregates.outbox.configure(self.config)
        self.store = Store.open("postgres", self.config)
        self._lock = threading.Lock()
        with self.store.transaction() as conn:
            self.aggregates.event_store.ensure_schema(conn)
            self.aggregates.outbox.ensure_schema(conn)

    def place(self, order_id: uuid.UUID) -> None:
        with self._lock, self.store.transaction() as conn:
            self.aggregates.order.handle(conn, place_order_command(self.orders, order_id))

    def cancel(self, order_id: uuid.UUID) -> None:
        command = self.orders.CancelOrder(order_id=order_id, reason="fault script: cancelled")
        with self._lock, self.store.transaction() as conn:
            self.aggregates.order.handle(conn, command)

    def close(self) -> None:
        self.store.close()


# -- participants -------------------------------------------------------------------------------

EFFECTS_DDL = (
    (
        "CREATE TABLE IF NOT EXISTS fault_effects ("
        " event_id uuid NOT NULL, order_id uuid NOT NULL, command text NOT NULL,"
        " effect text NOT NULL, applied boolean NOT NULL, fault text NOT NULL,"
        " at timestamptz NOT NULL DEFAULT clock_timestamp())"
    ),
    (
        "CREATE TABLE IF NOT EXISTS fault_holds ("
        " order_id uuid NOT NULL, kind text NOT NULL, PRIMARY KEY (order_id, kind))"
    ),
)
# command type -> (effect, hold kind, takes (True) or gives back (False))
EFFECTS = {
    "ReserveStock": ("reserve", "stock", True),
    "ReleaseStock": ("release_stock", "stock", False),
    "BookDeliverySlot": ("book", "slot", True),
    "ReleaseDeliverySlot": ("release_slot", "slot", False),
    "ChargeCard": ("charge", "card", True),
}
STEP_COMMANDS = {
    "reserve_stock": ("ReserveStock", "ReleaseStock"),
    "book_delivery_slot": ("BookDeliverySlot", "ReleaseDeliverySlot"),
    "charge_card": ("ChargeCard", None),
}


@dataclass
class Participants:
    """The three command handlers in threads; `scripts[order_id][command type]` is the fault
    each plays (default ok)."""

    platform: Platform
    scripts: dict[uuid.UUID, dict[str, str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _timers: list[threading.Timer] = field(default_factory=list)
    _publish_lock: threading.Lock = field(default_factory=threading.Lock)

    def fault(self, order_id: uuid.UUID, command: str) -> str:
        return self.scripts.get(order_id, {}).get(command, OK)

    def start(self) -> None:
        import psycopg

        with psycopg.connect(self.platform.part_dsn, autocommit=True, connect_timeout=10) as conn:
            for statement in EFFECTS_DDL:
                conn.execute(statement)
        mods = self.platform.modules
        inv, shp, pay = mods["inventory"], mods["shipping"], mods["payments"]
        self.publishers = {}
        for name in ("inventory_app", "shipping_app", "payments_app"):
            publisher = mods[name].publisher
            publisher.configure(self.platform.config(self.platform.part_dsn))
            self.publishers[name] = publisher
        self._warm_up(inv, shp, pay)

        def now() -> datetime:
            return datetime.now(UTC)

        def reserved(cmd: Any) -> Any:
            return inv.StockReserved(
                order_id=cmd.order_id,
                reservation_id=uuid.uuid5(cmd.order_id, "reservation"),
                lines=tuple(
                    inv.ReservedLine(sku=line.sku, quantity=line.quantity, warehouse="BER1")
                    for line in cmd.lines
                ),
                expires_at=now() + timedelta(minutes=15),
            )

        def short(cmd: Any) -> Any:
            lines = tuple(
                inv.ShortLine(sku=line.sku, requested=line.quantity, available=0)
                for line in cmd.lines
            )
            return inv.StockReservationFailed(
                order_id=cmd.order_id, short_lines=lines, failed_at=now()
            )

        def stock_released(cmd: Any) -> Any:
            return inv.StockReleased(
                order_id=cmd.order_id,
                reservation_id=getattr(cmd, "reservation_id", None),
                released_at=now(),
            )

        def booked(cmd: Any) -> Any:
            slot = shp.DeliverySlot(
                slot_id=uuid.uuid5(cmd.order_id, "slot"),
                day=cmd.preferred_date or date(2030, 5, 3),
                starts_at=dtime(9, 0),
                ends_at=dtime(12, 0),
            )
            return shp.DeliverySlotBooked(order_id=cmd.order_id, slot=slot, carrier="DHL")

        def booking_failed(cmd: Any) -> Any:
            return shp.DeliverySlotBookingFailed(order_id=cmd.order_id, reason="no slot left")

        def slot_released(cmd: Any) -> Any:
            return shp.DeliverySlotReleased(
                order_id=cmd.order_id, slot_id=getattr(cmd, "slot_id", None)
            )

        def charged(cmd: Any) -> Any:
            return pay.CardCharged(
                payment_id=uuid.uuid5(cmd.order_id, "payment"),
                order_id=cmd.order_id,
                amount=cmd.amount,
                cardholder_name="Ada Lovelace",
                charged_at=now(),
            )

        def declined(cmd: Any) -> Any:
            return pay.CardDeclined(
                order_id=cmd.order_id,
                payment_id=uuid.uuid5(cmd.order_id, "payment"),
                reason="insufficient funds",
                declined_at=now(),
            )

        # command type -> (success reply, failure reply or None, out-of-order first reply)
        replies: dict[str, tuple[Any, Any, Any]] = {
            "ReserveStock": (reserved, short, stock_released),
            "ReleaseStock": (stock_released, None, None),
            "BookDeliverySlot": (booked, booking_failed, slot_released),
            "ReleaseDeliverySlot": (slot_released, None, None),
            "ChargeCard": (charged, declined, None),
        }
        apps = (
            ("inventory_app", mods["inventory_app"].inventory_command_handler, inv,
             ("ReserveStock", "ReleaseStock"), ("CommitStock",)),
            ("shipping_app", mods["shipping_app"].shipping_command_handler, shp,
             ("BookDeliverySlot", "ReleaseDeliverySlot"), ("ShipOrder",)),
            ("payments_app", mods["payments_app"].payment_command_handler, pay,
             ("ChargeCard",), ("RefundPayment",)),
        )  # fmt: skip
        for module_name, app, module, scripted, ignored in apps:
            for command in scripted:
                app.on(getattr(module, command))(
                    self._handler(module_name, command, replies[command])
                )
            for command in ignored:
                app.on(getattr(module, command))(self._unanswered(command))
            group = f"{self.platform.base}-{module_name}"
            config = self.platform.config(self.platform.part_dsn, **{"group.id": group})
            thread = threading.Thread(
                target=self._run, args=(app, config), name=f"participant-{module_name}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _warm_up(self, inv: Any, shp: Any, pay: Any) -> None:
        """One reply per publisher for an order no saga has: its producer is connected before a
        late reply needs it (a first publish waits for the broker), and the worker sees an
        "unknown reply" (ignored, counted)."""
        stray = uuid.uuid4()
        now = datetime.now(UTC)
        for name, reply in (
            ("inventory_app", inv.StockReleased(order_id=stray, released_at=now)),
            ("shipping_app", shp.DeliverySlotReleased(order_id=stray)),
            ("payments_app", pay.CardDeclined(
                order_id=stray, payment_id=stray, reason="warm-up", declined_at=now)),
        ):  # fmt: skip
            publisher = self.publishers[name]
            publisher.publish(reply, correlation_id=str(stray))
            publisher.flush()

    def _run(self, app: Any, config: RuntimeConfig) -> None:
        try:
            app.run(config, stop=self._stop)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.errors.append(f"{app.spec.name}: {type(exc).__name__}: {exc}")

    def _handler(self, module_name: str, command: str, replies: tuple[Any, Any, Any]) -> Any:
        success, failure, first = replies
        effect, kind, takes = EFFECTS[command]

        def handle(message: Any, ctx: Any) -> None:
            fault = self.fault(message.order_id, command)
            if fault == FAIL and failure is not None:
                reply = failure(message)
                applied = False
            else:
                reply = success(message)
                if takes:
                    cur = ctx.db.execute(
                        "INSERT INTO fault_holds (order_id, kind) VALUES (%s, %s)"
                        " ON CONFLICT DO NOTHING",
                        (message.order_id, kind),
                    )
                else:
                    cur = ctx.db.execute(
                        "DELETE FROM fault_holds WHERE order_id = %s AND kind = %s",
                        (message.order_id, kind),
                    )
                applied = cur.rowcount == 1
            ctx.db.execute(
                "INSERT INTO fault_effects (event_id, order_id, command, effect, applied, fault)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                (ctx.event_id, message.order_id, command, effect, applied, fault),
            )
            correlation = str(message.order_id)
            if fault == NEVER:
                return
            if fault in (LATE, VERY_LATE):
                delay = LATE_S if fault == LATE else VERY_LATE_S
                self._later(module_name, reply, correlation, ctx.event_id, delay)
                return
            if fault == OUT_OF_ORDER and first is not None:
                ctx.publish(first(message), correlation_id=correlation)
            ctx.publish(reply, correlation_id=correlation)
            if fault == TWICE:
                ctx.publish(reply, correlation_id=correlation)

        return handle

    def _unanswered(self, command: str) -> Any:
        """A command the participants receive but never answer (ShipOrder of a forward step):
        recorded in fault_effects (effect "none"), nothing published."""

        def handle(message: Any, ctx: Any) -> None:
            order_id = getattr(message, "order_id", None)
            if order_id is None:
                return
            ctx.db.execute(
                "INSERT INTO fault_effects (event_id, order_id, command, effect, applied, fault)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                (ctx.event_id, order_id, command, "none", False, NEVER),
            )

        return handle

    def _later(
        self, module_name: str, reply: Any, correlation: str, causation: uuid.UUID, delay: float
    ) -> None:
        publisher = self.publishers[module_name]

        def send() -> None:
            if self._stop.is_set():
                return
            try:
                with self._publish_lock:
                    publisher.publish(reply, correlation_id=correlation, causation_id=causation)
                    publisher.flush()
            except Exception as exc:  # noqa: BLE001 - reported by the test
                self.errors.append(f"late reply: {type(exc).__name__}: {exc}")

        timer = threading.Timer(delay, send)
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def stop(self) -> None:
        self._stop.set()
        for timer in self._timers:
            timer.cancel()
        for thread in self._threads:
            thread.join(60)

    def effects(self, order_id: uuid.UUID) -> list[tuple[Any, ...]]:
        """(event_id, command, effect, applied, fault) of one order, in arrival order."""
        return query(
            self.platform.part_dsn,
            "SELECT event_id, command, effect, applied, fault FROM fault_effects"
            " WHERE order_id = %s ORDER BY at",
            order_id,
        )

    def holds(self, order_id: uuid.UUID) -> set[str]:
        rows = query(
            self.platform.part_dsn, "SELECT kind FROM fault_holds WHERE order_id = %s", order_id
        )
        return {row[0] for row in rows}
