"""`python -m eventgen.runtime saga ...` on the generated PlaceOrderSaga, SQLite and PostgreSQL.

Instances are built in process through the engine and the worker's `apply` (the same code the
worker runs): RUNNING, STUCK in compensation (the compensation's timeouts fired until its
retries ran out), STUCK forward (the local step confirm_order rejected: no Order exists), and
final ones. Each operator command then runs as the real command in a subprocess; the test
checks its exit code and output, the stored instance, its log (actor, reason) and the outbox
rows it wrote, then drives the replies through engine + apply to a final state.

PostgreSQL: the saga's consumer spec says SQLite (the orders outbox store), so the target is a
module written into the test's directory that builds the same SagaApp with idempotency
postgres; every table lives in a schema of its own (search_path in the DSN).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any, Literal
from urllib.parse import quote as url_quote

import pytest

from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.db import Store
from eventgen.runtime.model import Message
from eventgen.runtime.saga.codec import load_instance
from eventgen.runtime.saga.state import SagaInstance
from eventgen.runtime.saga.worker import SagaApp, utc_now
from tests.emit_services.helpers import example_build, import_fresh  # noqa: F401

Kind = Literal["sqlite", "postgres"]
DIALECTS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]
ROOT = Path(__file__).resolve().parents[2]
CMD_TIMEOUT_S = 120  # one command as a process; a few seconds when it works
MAX_FIRES = 60  # timers fired at most while parking a saga (10 compensation attempts need 20)
SAGA = "PlaceOrderSaga"
OUTBOX_TABLE = "order_outbox"

TARGET_SOURCE = """
from dataclasses import replace

from shop_events import orders_sagas as m

place_order_saga = m.SagaApp(
    m.PLACE_ORDER_SAGA,
    replace(m.PLACE_ORDER_SAGA_CONSUMER, idempotency={kind!r}),
    m.outbox,
    list(m.place_order_saga.messages.values()),
    m.place_order_saga.local,
)
"""

_AT = "2026-03-01T08:00:00Z"
_MONEY = {"amount": "19.99", "currency": "EUR"}


def payload(kind: str, order: uuid.UUID) -> dict[str, Any]:
    some = str(uuid.uuid4())
    payloads: dict[str, dict[str, Any]] = {
        "orders.OrderPlaced": {
            "customer_id": some,
            "lines": [{"sku": "ABC-1", "quantity": 1, "unit_price": _MONEY}],
            "total": _MONEY,
            "shipping_address": {
                "recipient": "R",
                "line1": "L",
                "city": "C",
                "postal_code": "10115",
                "country": "DE",
            },
            "placed_at": _AT,
        },
        "inventory.StockReserved": {
            "reservation_id": some,
            "lines": [{"sku": "ABC-1", "quantity": 1, "warehouse": "BER1"}],
            "expires_at": _AT,
        },
        "inventory.StockReservationFailed": {
            "short_lines": [{"sku": "ABC-1", "requested": 1, "available": 0}],
            "failed_at": _AT,
        },
        "inventory.StockReleased": {"released_at": _AT},
        "shipping.DeliverySlotBooked": {
            "slot": {
                "slot_id": some,
                "day": "2026-03-02",
                "starts_at": "09:00:00",
                "ends_at": "12:00:00",
            },
            "carrier": "DHL",
        },
        "shipping.DeliverySlotBookingFailed": {"reason": "no slot"},
        "shipping.DeliverySlotReleased": {},
        "payments.CardCharged": {
            "payment_id": some,
            "amount": _MONEY,
            "cardholder_name": "R",
            "charged_at": _AT,
        },
    }
    return {"order_id": str(order), **payloads[kind]}


@dataclass
class Site:
    """One test's saga worker (in process), its store and the command line that reaches it."""

    kind: Kind
    app: SagaApp
    store: Store
    cwd: Path
    env: dict[str, str]
    flags: list[str]

    def message(self, kind: str, order: uuid.UUID) -> Message:
        cls = self.app.messages[kind]
        value: Message = cls.model_validate_json(json.dumps(payload(kind, order)))
        return value

    # -- driving the engine and apply, in one transaction each (as the worker does) --------

    def start(self, order: uuid.UUID, *, now: datetime | None = None) -> SagaInstance:
        now = now or utc_now()
        event = self.message("orders.OrderPlaced", order)
        decision = self.app.machine.start(event, event_id=uuid.uuid4(), now=now)
        with self.store.transaction(immediate=True) as conn:
            stored = self.app.apply(conn, None, decision, now=now)
        assert stored is not None
        return stored

    def instance(self, order: uuid.UUID) -> SagaInstance:
        with self.store.transaction() as conn:
            row = self.app.store.load(conn, SAGA, str(order))
        assert row is not None, f"no instance {order}"
        return load_instance(self.app.definition, row)

    def reply(self, order: uuid.UUID, kind: str) -> SagaInstance:
        """The reply `kind` to the current step's latest request (step or compensation)."""
        instance = self.instance(order)
        assert instance.step is not None
        state = instance.step_state(instance.step)
        compensating = state.status == "COMPENSATING"
        ids = state.compensation_request_ids if compensating else state.request_ids
        now = max(utc_now(), instance.updated_at)
        decision = self.app.machine.on_reply(
            instance, self.message(kind, order), causation_id=uuid.UUID(ids[-1]), now=now
        )
        assert decision.instance is not None, f"{kind} ignored: {decision.ignored}"
        with self.store.transaction(immediate=True) as conn:
            stored = self.app.apply(conn, instance, decision, now=now)
        assert stored is not None
        return stored

    def fire_next(self, order: uuid.UUID) -> SagaInstance:
        """The instance's earliest timer fires at its due time."""
        instance = self.instance(order)
        timer = min(instance.timers, key=lambda t: t.due_at)
        decision = self.app.machine.on_timer(instance, timer, now=timer.due_at)
        assert decision.instance is not None, f"timer {timer} ignored: {decision.ignored}"
        with self.store.transaction(immediate=True) as conn:
            stored = self.app.apply(conn, instance, decision, now=timer.due_at)
        assert stored is not None
        return stored

    def log(self, order: uuid.UUID) -> list[dict[str, Any]]:
        with self.store.transaction() as conn:
            return self.app.store.log(conn, SAGA, str(order))

    def outbox(self, event_id: str) -> tuple[str, str] | None:
        """(type, aggregateid) of the outbox row with that id."""
        mark = "%s" if self.kind == "postgres" else "?"
        with self.store.transaction() as conn:
            found = conn.execute(
                f"SELECT type, aggregateid FROM {OUTBOX_TABLE} WHERE CAST(id AS TEXT) = {mark}",
                (event_id,),
            ).fetchone()
        return None if found is None else (str(found[0]), str(found[1]))

    def outbox_count(self) -> int:
        with self.store.transaction() as conn:
            found = conn.execute(f"SELECT COUNT(*) FROM {OUTBOX_TABLE}").fetchone()
        return int(found[0])

    # -- the command ------------------------------------------------------------------------

    def saga(self, *args: str) -> subprocess.CompletedProcess[str]:
        action, rest = args[0], args[1:]
        return subprocess.run(
            [sys.executable, "-m", "eventgen.runtime", "saga", action, "target:place_order_saga"]
            + [*rest, *self.flags],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=CMD_TIMEOUT_S,
            check=False,
        )

    # -- instances in a given state ---------------------------------------------------------

    def running(self) -> uuid.UUID:
        order = uuid.uuid4()
        assert self.start(order).status == "RUNNING"
        return order

    def stuck_in_compensation(self) -> uuid.UUID:
        """reserve_stock succeeded, book_delivery_slot failed; ReleaseStock never answered:
        its timeouts and retries fire until the compensation retries run out (STUCK)."""
        order = uuid.uuid4()
        self.start(order)
        self.reply(order, "inventory.StockReserved")
        instance = self.reply(order, "shipping.DeliverySlotBookingFailed")
        assert (instance.status, instance.step) == ("COMPENSATING", "reserve_stock")
        for _ in range(MAX_FIRES):
            if instance.status != "COMPENSATING":
                break
            instance = self.fire_next(order)
        assert (instance.status, instance.step) == ("STUCK", "reserve_stock"), instance
        return order

    def stuck_forward(self) -> uuid.UUID:
        """Every send step succeeded; the local ConfirmOrder is rejected (no such Order, its
        guard wants PLACED), and the spec parks the saga there."""
        order = uuid.uuid4()
        self.start(order)
        self.reply(order, "inventory.StockReserved")
        self.reply(order, "shipping.DeliverySlotBooked")
        instance = self.reply(order, "payments.CardCharged")
        assert (instance.status, instance.step) == ("STUCK", "confirm_order"), instance
        return order

    def compensated(self) -> uuid.UUID:
        order = uuid.uuid4()
        self.start(order)
        assert self.reply(order, "inventory.StockReservationFailed").status == "COMPENSATED"
        return order


def _pg_dsn(base: str, schema: str) -> str:
    options = url_quote(f"-csearch_path={schema}")
    return f"{base}{'&' if '?' in base else '?'}options={options}"


@pytest.fixture(params=DIALECTS)
def site(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    example_build: Path,  # noqa: F811
) -> Iterator[Site]:
    kind: Kind = request.param
    module: ModuleType = import_fresh(example_build, "shop_events", "orders_sagas")
    (tmp_path / "target.py").write_text(TARGET_SOURCE.format(kind=kind), encoding="utf-8")
    generated: SagaApp = module.place_order_saga
    app = SagaApp(
        generated.definition,
        replace(generated.consumer_spec, idempotency=kind),
        generated.outbox,
        list(generated.messages.values()),
        generated.local,
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("EVENTGEN_", "KAFKA_")) and k != "PYTHONPATH"
    }
    env["PYTHONPATH"] = os.pathsep.join([str(example_build), str(ROOT)])
    env["USER"] = "tester"
    schema = None
    if kind == "sqlite":
        path = str(tmp_path / "orders.db")
        config = RuntimeConfig(sqlite_path=path)
        flags = ["--sqlite-path", path]
    else:
        import psycopg

        base = request.getfixturevalue("postgres_dsn")
        schema = f"egop_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f'CREATE SCHEMA "{schema}"')
        dsn = _pg_dsn(base, schema)
        config = RuntimeConfig(postgres_dsn=dsn)
        env["EVENTGEN_POSTGRES_DSN"] = dsn  # the environment, as the runner reads it
        flags = []
    store = Store.open(kind, config)
    try:
        with store.transaction(immediate=True) as conn:
            app.ensure_schema(conn)
        yield Site(kind, app, store, tmp_path, env, flags)
    finally:
        store.close()
        if schema is not None:
            import psycopg

            with psycopg.connect(request.getfixturevalue("postgres_dsn"), autocommit=True) as a:
                a.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _operator_entry(site: Site, order: uuid.UUID, action: str) -> dict[str, Any]:
    """The first log row of the one operator command on the instance; every row that command
    wrote names the same actor and reason."""
    entries = [e for e in site.log(order) if e["cause"] == f"operator {action}"]
    assert entries, site.log(order)
    assert len({(e["actor"], e["reason"], e["at"]) for e in entries}) == 1, entries
    return entries[0]


# ---------------------------------------------------------------------- list and show


def test_list_and_show_with_filters_and_json(site: Site) -> None:
    old = uuid.uuid4()
    site.start(old, now=utc_now() - timedelta(hours=3))
    busy = uuid.uuid4()  # started as long ago, but its stock was reserved just now
    site.start(busy, now=utc_now() - timedelta(hours=3, seconds=-1))
    assert site.reply(busy, "inventory.StockReserved").step == "book_delivery_slot"
    running = site.running()
    stuck = site.stuck_in_compensation()

    listed = site.saga("list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    items = json.loads(listed.stdout)
    assert {item["id"] for item in items} == {str(old), str(busy), str(running), str(stuck)}
    assert items[0]["id"] == str(old)  # oldest update first
    for item in items:
        assert list(item)[:5] == ["id", "saga", "status", "step", "reason"]
        assert {"data", "log"} <= set(item)
    by_id = {item["id"]: item for item in items}
    assert by_id[str(stuck)]["status"] == "STUCK"
    assert by_id[str(stuck)]["data"]["order_id"] == str(stuck)
    assert by_id[str(running)]["step"] == "reserve_stock"

    only = json.loads(site.saga("list", "--status", "stuck", "--format", "json").stdout)
    assert [item["id"] for item in only] == [str(stuck)]
    # --older-than: the saga's age (started_at); --idle-for: unchanged that long (updated_at).
    aged = json.loads(site.saga("list", "--older-than", "2h", "--format", "json").stdout)
    assert [item["id"] for item in aged] == [str(old), str(busy)]  # oldest update first
    assert all(item["started_at"] < item["updated_at"] for item in aged[1:])
    idle = json.loads(site.saga("list", "--idle-for", "2h", "--format", "json").stdout)
    assert [item["id"] for item in idle] == [str(old)]
    both = site.saga("list", "--older-than", "1h", "--idle-for", "1m", "--status", "RUNNING")
    assert both.returncode == 0, both.stderr
    assert [line.split()[0] for line in both.stdout.splitlines()[1:-1]] == [str(old)]
    young = json.loads(site.saga("list", "--older-than", "1d", "--format", "json").stdout)
    assert young == []
    limited = json.loads(site.saga("list", "--limit", "1", "--format", "json").stdout)
    assert [item["id"] for item in limited] == [str(old)]

    table = site.saga("list", "--status", "RUNNING")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["ID", "STATUS", "STEP", "UPDATED", "REASON"]
    assert {line.split()[0] for line in lines[1:-1]} == {str(old), str(busy), str(running)}
    assert lines[1].index("RUNNING") == lines[0].index("STATUS")  # aligned columns
    assert lines[-1] == "3 instance(s)"

    shown = site.saga("show", str(stuck), "--format", "json")
    assert shown.returncode == 0, shown.stderr
    item = json.loads(shown.stdout)
    assert (item["id"], item["status"], item["step"]) == (str(stuck), "STUCK", "reserve_stock")
    assert item["log"][0]["cause"] == "start" and item["log"][-1]["to"] == "STUCK"
    assert list(item["log"][0]) == [
        "seq", "at", "cause", "from", "to", "step", "detail", "actor", "reason",
    ]  # fmt: skip
    assert [e["seq"] for e in item["log"]] == list(range(1, len(item["log"]) + 1))
    text = site.saga("show", str(stuck))
    assert text.returncode == 0 and "status:      STUCK" in text.stdout
    assert "reserve_stock" in text.stdout and "SEQ" in text.stdout

    bad = site.saga("list", "--older-than", "soon")
    assert bad.returncode == 2 and "expected a duration" in bad.stderr
    bad = site.saga("list", "--idle-for", "1 week")
    assert bad.returncode == 2 and "expected a duration" in bad.stderr


# ---------------------------------------------------------------------- actions on STUCK


def test_resume_a_stuck_compensation_then_its_reply_compensates(site: Site) -> None:
    order = site.stuck_in_compensation()
    before = site.instance(order).step_state("reserve_stock").compensation_attempts
    result = site.saga(
        "resume", str(order), "--reason", "inventory is back", "--actor", "ann", "--format", "json"
    )
    assert result.returncode == 0, result.stderr
    done = json.loads(result.stdout)
    assert (done["from"], done["to"], done["step"]) == ("STUCK", "COMPENSATING", "reserve_stock")
    (command,) = done["commands"]
    assert (command["type"], command["phase"]) == ("inventory.ReleaseStock", "compensation")
    assert command["attempt"] == before + 1
    assert site.outbox(command["event_id"]) is not None
    assert site.outbox(command["event_id"])[0] == "inventory.ReleaseStock"  # type: ignore[index]
    entry = _operator_entry(site, order, "resume")
    assert (entry["actor"], entry["reason"]) == ("ann", "inventory is back")
    assert (entry["from_status"], entry["to_status"]) == ("STUCK", "COMPENSATING")
    assert site.reply(order, "inventory.StockReleased").status == "COMPENSATED"


def test_skip_step_moves_stuck_sagas_on(site: Site) -> None:
    compensation = site.stuck_in_compensation()
    outbox_before = site.outbox_count()
    result = site.saga("skip-step", str(compensation), "--reason", "released by hand")
    assert result.returncode == 0, result.stderr
    assert "STUCK -> COMPENSATED" in result.stdout and "by tester" in result.stdout
    assert site.instance(compensation).status == "COMPENSATED"
    assert site.outbox_count() == outbox_before  # nothing sent
    entry = _operator_entry(site, compensation, "skip-step")
    assert (entry["actor"], entry["reason"]) == ("tester", "released by hand")  # $USER

    forward = site.stuck_forward()
    result = site.saga("skip-step", str(forward), "--reason", "confirmed by phone")
    assert result.returncode == 0, result.stderr
    stored = site.instance(forward)
    assert stored.status == "COMPLETED"
    assert stored.step_state("confirm_order").status == "SKIPPED"
    assert _operator_entry(site, forward, "skip-step")["reason"] == "confirmed by phone"


def test_abort_a_stuck_saga_compensates_it(site: Site) -> None:
    order = site.stuck_forward()
    result = site.saga("abort", str(order), "--reason", "customer cancelled", "--format", "json")
    assert result.returncode == 0, result.stderr
    done = json.loads(result.stdout)
    assert (done["from"], done["to"]) == ("STUCK", "COMPENSATING")
    (command,) = done["commands"]  # the latest compensable step first
    assert command["type"] == "shipping.ReleaseDeliverySlot"
    assert site.outbox(command["event_id"]) == ("shipping.ReleaseDeliverySlot", str(order))
    entry = _operator_entry(site, order, "abort")
    assert (entry["actor"], entry["reason"]) == ("tester", "customer cancelled")
    assert site.reply(order, "shipping.DeliverySlotReleased").status == "COMPENSATING"
    assert site.reply(order, "inventory.StockReleased").status == "COMPENSATED"


def test_retry_step_sends_the_running_step_again(site: Site) -> None:
    order = site.running()
    result = site.saga("retry-step", str(order), "--reason", "lost?", "--format", "json")
    assert result.returncode == 0, result.stderr
    done = json.loads(result.stdout)
    assert (done["from"], done["to"], done["step"]) == ("RUNNING", "RUNNING", "reserve_stock")
    (command,) = done["commands"]
    assert (command["type"], command["attempt"]) == ("inventory.ReserveStock", 2)
    assert site.outbox(command["event_id"]) == ("inventory.ReserveStock", str(order))
    assert site.instance(order).step_state("reserve_stock").attempts == 2
    assert _operator_entry(site, order, "retry-step")["reason"] == "lost?"


# ---------------------------------------------------------------------- refusals and usage


def test_refused_on_final_statuses_unknown_ids_and_bad_usage(site: Site) -> None:
    compensated = site.compensated()
    completed = site.stuck_forward()
    assert site.saga("skip-step", str(completed), "--reason", "done").returncode == 0
    running = site.running()
    outbox_before = site.outbox_count()
    for order, status in ((compensated, "COMPENSATED"), (completed, "COMPLETED")):
        version = site.instance(order).version
        for action in ("resume", "retry-step", "skip-step", "abort"):
            result = site.saga(action, str(order), "--reason", "try")
            assert result.returncode == 1, (action, result.stderr)
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and f"is {status}" in lines[0], result.stderr
            assert result.stdout == ""
        assert site.instance(order).version == version  # nothing written
        assert not [e for e in site.log(order) if str(e["cause"]).endswith("refused")]
    resumed = site.saga("resume", str(running), "--reason", "not stuck")
    assert resumed.returncode == 1 and "is RUNNING" in resumed.stderr
    assert site.outbox_count() == outbox_before

    nobody = str(uuid.uuid4())
    for args in (("show", nobody), ("abort", nobody, "--reason", "x")):
        result = site.saga(*args)
        assert result.returncode == 1, result.stderr
        assert f"no {SAGA} instance '{nobody}'" in result.stderr

    no_reason = site.saga("abort", str(running))
    assert no_reason.returncode == 2 and "--reason" in no_reason.stderr
    blank = site.saga("abort", str(running), "--reason", "  ")
    assert blank.returncode == 2
    assert site.instance(running).status == "RUNNING"
    not_saga = subprocess.run(
        [sys.executable, "-m", "eventgen.runtime", "saga", "list", "shop_events.orders_app:relay"],
        cwd=site.cwd,
        env=site.env,
        capture_output=True,
        text=True,
        timeout=CMD_TIMEOUT_S,
        check=False,
    )
    assert not_saga.returncode == 2 and "is not a saga worker" in not_saga.stderr


def test_stored_data_that_no_longer_loads_is_shown_but_not_acted_on(site: Site) -> None:
    order = site.running()
    version = site.instance(order).version
    mark = "%s" if site.kind == "postgres" else "?"
    table = site.app.definition.tables.instances
    with site.store.transaction(immediate=True) as conn:
        conn.execute(
            f"UPDATE {table} SET data_hash = {mark} WHERE saga_id = {mark}", ("old", str(order))
        )
    shown = site.saga("show", str(order), "--format", "json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["data"]["order_id"] == str(order)
    outbox_before = site.outbox_count()
    result = site.saga("abort", str(order), "--reason", "stale")
    assert result.returncode == 1
    assert f"stored data of {SAGA} {order} no longer matches the spec" in result.stderr
    assert site.outbox_count() == outbox_before
    with site.store.transaction() as conn:
        row = site.app.store.load(conn, SAGA, str(order))
    assert row is not None and (row["status"], row["version"]) == ("RUNNING", version)
