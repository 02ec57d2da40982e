"""Projections at runtime: DDL, row ops, checkpoints, rebuild and wait_until (SQLite, PostgreSQL).

The projection is the hand-written OrderSummary of projector_proc.py over the example's
generated events; its store source is the real EventStore (streams `Order-<id>`).
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.db import Store
from eventgen.runtime.errors import StoreError
from eventgen.runtime.es import checkpoints
from eventgen.runtime.es.projector import ProjectionTable, Projector, RebuildRunning
from eventgen.runtime.es.rows import projection_ddl
from eventgen.runtime.model import Message
from eventgen.runtime.sql import quote, statements
from tests.emit_services.helpers import EXAMPLE, build
from tests.es.projector_proc import (
    OrderSummary,
    Shop,
    ShopEventStore,
    definition,
    fold,
    make_spec,
    shop_messages,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def messages(tmp_path_factory: pytest.TempPathFactory) -> list[type[Message]]:
    out = tmp_path_factory.mktemp("projector-shop") / "out"
    build(EXAMPLE, out)
    return shop_messages(out)


@dataclass
class Backend:
    kind: Any  # "sqlite" | "postgres"
    config: RuntimeConfig
    store: Store  # the test's own connection (autocommit outside transactions)
    tables: list[str]

    def names(self) -> tuple[str, str]:
        suffix = uuid.uuid4().hex[:10]
        table, events = f"os_{suffix}", f"ev_{suffix}"
        self.tables += [table, events, events + "_snapshots", table + "__rebuild"]
        return table, events


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "postgres":
        dsn = request.getfixturevalue("postgres_dsn")
        config = RuntimeConfig(postgres_dsn=dsn, connect_timeout_s=10)
    else:
        config = RuntimeConfig(sqlite_path=str(tmp_path / "projection.sqlite3"))
    store = Store.open(request.param, config)
    found = Backend(request.param, config, store, [])
    try:
        yield found
    finally:
        for table in found.tables:
            store.connection.execute(f"DROP TABLE IF EXISTS {quote(table)}")
        store.close()


def _setup(
    backend: Backend, messages: list[type[Message]], batch: int = 500
) -> tuple[Projector[OrderSummary], ShopEventStore]:
    table, events = backend.names()
    fake = ShopEventStore(events, messages, backend.kind)
    with backend.store.transaction(immediate=True) as conn:
        fake.ensure_schema(conn)
    spec = make_spec(table, store=backend.kind, batch=batch)
    return Projector(definition(spec, messages), fake), fake


def _append(backend: Backend, fake: ShopEventStore, events: list[Message]) -> None:
    with backend.store.transaction(immediate=True) as conn:
        fake.add(conn, events)


def _rows(backend: Backend, projector: Projector[OrderSummary]) -> dict[Any, OrderSummary]:
    return {row.order_id: row for row in projector.table.find(backend.store.connection, {})}


def _expected(events: list[Message]) -> dict[Any, OrderSummary]:
    return {key: OrderSummary.model_validate(row) for key, row in fold(events).items()}


def _drain(projector: Projector[OrderSummary], backend: Backend) -> Any:
    return projector.run(config=backend.config, idle_exit_s=0.3)


# -- DDL ----------------------------------------------------------------------------------------


def test_ddl_maps_every_kind_per_dialect() -> None:
    spec = make_spec("order_summary")
    pg = projection_ddl("postgres", spec)
    lite = projection_ddl("sqlite", spec)
    assert pg.startswith('CREATE TABLE IF NOT EXISTS "order_summary" (')
    for line in (
        '"order_id" uuid NOT NULL',
        '"total" numeric(12,2) NOT NULL',
        '"placed_at" timestamptz NOT NULL',
        '"payment_id" uuid,',
        '"tracking_numbers" jsonb NOT NULL',
        '"events_applied" bigint NOT NULL',
        'CONSTRAINT "order_summary_pkey" PRIMARY KEY ("order_id")',
    ):
        assert line in pg, line
    for line in (
        '"order_id" TEXT NOT NULL',
        '"total" TEXT NOT NULL',
        '"placed_at" TEXT NOT NULL',
        '"tracking_numbers" TEXT NOT NULL',
        '"declined_payments" INTEGER NOT NULL',
    ):
        assert line in lite, line
    assert projection_ddl("postgres", spec) == pg  # deterministic
    assert pg.endswith(");\n")
    with pytest.raises(ValueError, match="not one of its columns"):
        projection_ddl("sqlite", make_spec("t").__class__(**{**vars(spec), "key": "nope"}))
    with pytest.raises(ValueError, match="table name"):
        projection_ddl("sqlite", spec, 'bad"; drop')


def test_typed_reads_round_trip(backend: Backend, messages: list[type[Message]]) -> None:
    projector, _ = _setup(backend, messages)
    shop = Shop(messages)
    order = uuid.uuid4()
    events = [
        shop.make("OrderPlaced", order, 7),
        shop.make("CardCharged", order, 7),
        shop.make("ShipmentDispatched", order, 1),
        shop.make("ShipmentDispatched", order, 2),
        shop.make("ShipmentDelivered", order, 2),
    ]
    table = ProjectionTable(projector.definition)
    with backend.store.transaction(immediate=True) as conn:
        table.ensure_schema(conn)
        result = table.apply(conn, events)
    assert (result.written, result.missed) == (1, 0)
    row = table.get(backend.store.connection, order)
    assert row == _expected(events)[order]
    assert row is not None and row.tracking_numbers == ("TRK00001", "TRK00002")
    assert row.total == _expected(events)[order].total
    conn = backend.store.connection
    assert table.get(conn, str(order)) == row  # the key as text is validated to a UUID
    assert table.get(conn, uuid.uuid4()) is None
    assert table.find(conn, {"status": "DELIVERED"}) == [row]
    assert table.find(conn, {"status": "PLACED"}) == []
    assert table.find(conn, {"delivered_at": None}) == []


# -- row ops and checkpoints --------------------------------------------------------------------


def test_set_inc_append_on_a_missing_row_do_nothing(
    backend: Backend, messages: list[type[Message]]
) -> None:
    projector, fake = _setup(backend, messages)
    shop = Shop(messages)
    order = uuid.uuid4()
    early = [
        shop.make("OrderConfirmed", order),  # set
        shop.make("CardDeclined", order),  # inc
        shop.make("ShipmentDispatched", order, 3),  # append
        shop.make("OrderArchived", order),  # delete: nothing to delete
    ]
    _append(backend, fake, early)
    stats = _drain(projector, backend)
    assert stats.events == 4
    assert stats.missed == 6  # three events, each with its op and the counter's inc
    assert stats.rows_written == 0 and stats.rows_deleted == 0
    assert projector.table.get(backend.store.connection, order) is None
    # The row appears with its defaults on the first upsert; the earlier ops stay lost.
    placed = shop.make("OrderPlaced", order, 1)
    _append(backend, fake, [placed])
    _drain(projector, backend)
    row = projector.table.get(backend.store.connection, order)
    assert row is not None
    assert (row.status, row.declined_payments, row.tracking_numbers) == ("PLACED", 0, ())
    assert row.events_applied == 1


def test_store_source_resumes_after_its_checkpoint(
    backend: Backend, messages: list[type[Message]]
) -> None:
    projector, fake = _setup(backend, messages, batch=7)
    shop = Shop(messages)
    orders = [uuid.uuid4() for _ in range(5)]
    events: list[Message] = []
    for round_ in range(3):
        chunk = [shop.make("OrderPlaced", order, round_) for order in orders]
        chunk += [shop.make("CardDeclined", order) for order in orders[: round_ + 1]]
        chunk += [shop.make("ShipmentDispatched", orders[0], round_)]
        events += chunk
        _append(backend, fake, chunk)
        stats = _drain(projector, backend)
        assert stats.events == len(chunk)  # only what is new since the checkpoint
        assert _rows(backend, projector) == _expected(events)
    positions = checkpoints.read(
        backend.store.connection, "eventgen_checkpoints", projector.checkpoint_name
    )
    assert positions == {"store": fake.head_position(backend.store.connection)}
    assert _drain(projector, backend).events == 0


def test_handler_row_op(backend: Backend, messages: list[type[Message]]) -> None:
    from eventgen.runtime.es.spec import ProjectionDefinition, RowOp

    projector, fake = _setup(backend, messages)
    shop = Shop(messages)
    order = uuid.uuid4()
    seen: list[Any] = []

    def handler(row: OrderSummary | None, event: Message) -> OrderSummary | None:
        seen.append(row)
        if row is None:
            return None
        if event.TYPE == "orders.OrderCancelled":
            return None  # delete
        return row.model_copy(update={"status": "HANDLED", "events_applied": 99})

    def project(event: Message) -> list[RowOp]:
        base = projector.definition.project(event)
        if event.TYPE in ("orders.OrderConfirmed", "orders.OrderCancelled"):
            key = event.order_id  # type: ignore[attr-defined]
            return [RowOp("handler", key, handler=handler)]
        return list(base)

    defn = ProjectionDefinition(projector.definition.spec, OrderSummary, project, ())
    custom = Projector(defn, fake)
    _append(backend, fake, [shop.make("OrderConfirmed", order), shop.make("OrderPlaced", order)])
    _append(backend, fake, [shop.make("OrderConfirmed", order)])
    _drain(custom, backend)
    row = custom.table.get(backend.store.connection, order)
    assert row is not None and (row.status, row.events_applied) == ("HANDLED", 99)
    assert seen[0] is None and isinstance(seen[1], OrderSummary)
    _append(backend, fake, [shop.make("OrderCancelled", order)])
    assert _drain(custom, backend).rows_deleted == 1
    assert custom.table.get(backend.store.connection, order) is None


# -- wait_until ---------------------------------------------------------------------------------


def test_wait_until_read_your_writes(backend: Backend, messages: list[type[Message]]) -> None:
    projector, fake = _setup(backend, messages)
    shop = Shop(messages)
    stop = threading.Event()
    failures: list[BaseException] = []

    def live() -> None:
        try:
            projector.run(config=backend.config, stop=stop)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            failures.append(exc)

    thread = threading.Thread(target=live, daemon=True)
    thread.start()
    try:
        conn = backend.store.connection
        projector.wait_until(conn, 0, timeout_s=1)  # nothing to wait for, projector or not
        for n in range(5):
            order = uuid.uuid4()
            _append(backend, fake, [shop.make("OrderPlaced", order, n)])
            projector.wait_until(conn, fake.head_position(conn), timeout_s=20)
            row = projector.table.get(conn, order)  # visible right after wait_until
            assert row is not None and row.status == "PLACED"
        with pytest.raises(TimeoutError, match="waiting for"):
            projector.wait_until(conn, fake.head_position(conn) + 100, timeout_s=0.3)
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive() and not failures


def test_wait_until_without_a_store_source_fails_at_once(
    backend: Backend, messages: list[type[Message]]
) -> None:
    """A Kafka-only projection has no store position to reach: ValueError, not a timeout."""
    table, _ = backend.names()
    spec = make_spec(table, store=backend.kind, store_source=False)
    projector = Projector(definition(spec, messages))
    with pytest.raises(ValueError, match="does not read the event store"):
        projector.wait_until(backend.store.connection, 1, timeout_s=5)


# -- rebuild ------------------------------------------------------------------------------------

EVENT_NAMES = [
    "OrderPlaced",
    "OrderConfirmed",
    "OrderCancelled",
    "OrderArchived",
    "CardCharged",
    "CardDeclined",
    "ShipmentDispatched",
    "ShipmentDelivered",
]
stream = st.lists(
    st.tuples(st.sampled_from(EVENT_NAMES), st.integers(0, 4), st.integers(0, 50)),
    min_size=1,
    max_size=60,
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    stream=stream,
    chunks=st.lists(st.integers(1, 20), min_size=1, max_size=5),
    batch=st.integers(1, 9),
)
def test_rebuild_equals_incremental(
    backend: Backend,
    messages: list[type[Message]],
    stream: list[tuple[str, int, int]],
    chunks: list[int],
    batch: int,
) -> None:
    projector, fake = _setup(backend, messages, batch=batch)
    shop = Shop(messages)
    orders = [uuid.UUID(int=k + 1) for k in range(5)]
    events = [shop.make(name, orders[k], n) for name, k, n in stream]
    # Incremental: events arrive in chunks, the projector drains after each.
    start, sizes = 0, iter(chunks * 60)
    while start < len(events):
        size = next(sizes)
        _append(backend, fake, events[start : start + size])
        start += size
        _drain(projector, backend)
    incremental = _rows(backend, projector)
    assert incremental == _expected(events)
    lines: list[str] = []
    projector.rebuild(config=backend.config, progress=lines.append)
    assert _rows(backend, projector) == incremental
    assert any("swapped" in line for line in lines), lines
    conn = backend.store.connection
    positions = checkpoints.read(conn, "eventgen_checkpoints", projector.checkpoint_name)
    assert positions == {"store": fake.head_position(conn)}
    # After the swap the projector continues from the moved checkpoint.
    more = [shop.make("CardDeclined", orders[0]), shop.make("OrderPlaced", orders[1], 9)]
    _append(backend, fake, more)
    assert _drain(projector, backend).events == len(more)
    assert _rows(backend, projector) == _expected(events + more)


def test_rebuild_twice_and_a_stopped_rebuild(
    backend: Backend, messages: list[type[Message]]
) -> None:
    projector, fake = _setup(backend, messages)
    shop = Shop(messages)
    orders = [uuid.uuid4() for _ in range(3)]
    events = [shop.make("OrderPlaced", o, n) for n, o in enumerate(orders)]
    events += [shop.make("CardDeclined", orders[0]), shop.make("ShipmentDispatched", orders[1])]
    _append(backend, fake, events)
    _drain(projector, backend)
    for _ in range(2):  # the swap leaves nothing behind that a second rebuild trips over
        projector.rebuild(config=backend.config)
        assert _rows(backend, projector) == _expected(events)
    # A rebuild told to stop ends before the swap: the live table is untouched.
    with backend.store.transaction(immediate=True) as conn:
        conn.execute(f"DELETE FROM {quote(projector.table.name)}")
    stop = threading.Event()
    stop.set()
    lines: list[str] = []
    projector.rebuild(config=backend.config, progress=lines.append, stop=stop)
    assert any("live table is unchanged" in line for line in lines), lines
    assert _rows(backend, projector) == {}


def test_rebuild_while_the_live_projector_and_writers_run(
    backend: Backend, messages: list[type[Message]]
) -> None:
    projector, fake = _setup(backend, messages, batch=50)
    shop = Shop(messages)
    orders = [uuid.uuid4() for _ in range(20)]
    rng = random.Random(7)
    written: list[Message] = []
    lock = threading.Lock()

    def chunk(size: int) -> list[Message]:
        out = []
        for _ in range(size):
            order = rng.choice(orders)
            name = rng.choice(
                ["OrderPlaced", "CardDeclined", "ShipmentDispatched", "OrderConfirmed"]
            )
            out.append(shop.make(name, order, rng.randint(0, 99)))
        return out

    first = chunk(600)
    _append(backend, fake, first)
    written += first
    stop = threading.Event()
    failures: list[BaseException] = []

    def live() -> None:
        try:
            projector.run(config=backend.config, stop=stop)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            failures.append(exc)

    def writer() -> None:
        own = Store.open(backend.kind, backend.config)
        try:
            for _ in range(30):
                if stop.is_set():
                    return
                with lock:
                    events = chunk(10)
                    with own.transaction(immediate=True) as conn:
                        fake.add(conn, events)
                    written.extend(events)
                time.sleep(0.01)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            failures.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=live, daemon=True), threading.Thread(target=writer)]
    for thread in threads:
        thread.start()
    try:
        lines: list[str] = []
        projector.rebuild(config=backend.config, progress=lines.append)
        assert any("swapped" in line for line in lines), lines
        threads[1].join(60)
        conn = backend.store.connection
        projector.wait_until(conn, fake.head_position(conn), timeout_s=60)
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    assert not failures, failures
    assert _rows(backend, projector) == _expected(written)


def test_overlapping_rebuilds_one_fails_fast_and_the_live_table_stays_whole(
    backend: Backend, messages: list[type[Message]]
) -> None:
    """A second rebuild while one runs fails at once (the rebuild lock), and a shadow table
    recreated behind a rebuild's back is never swapped in."""
    projector, fake = _setup(backend, messages, batch=50)
    shop = Shop(messages)
    events = [shop.make("OrderPlaced", uuid.uuid4(), n) for n in range(200)]
    _append(backend, fake, events)
    _drain(projector, backend)
    assert len(_rows(backend, projector)) == 200
    second: list[BaseException] = []
    lines: list[str] = []

    def overlap(line: str) -> None:
        lines.append(line)
        if "pass 1:" in line:  # the first rebuild is between passes: start another one
            try:
                projector.rebuild(config=backend.config, progress=lines.append)
            except RebuildRunning as exc:
                second.append(exc)

    projector.rebuild(config=backend.config, progress=overlap)
    assert len(second) == 1 and "another rebuild" in str(second[0]), lines
    assert any("swapped" in line for line in lines), lines
    assert _rows(backend, projector) == _expected(events)
    # The lock is released at the end: the next rebuild runs.
    projector.rebuild(config=backend.config)
    assert _rows(backend, projector) == _expected(events)

    # A shadow dropped and recreated (empty) mid-rebuild by anything else: no swap.
    shadow = projector.table.name + "__rebuild"

    def recreate(line: str) -> None:
        if "pass 1:" in line:
            with backend.store.transaction(immediate=True) as conn:
                conn.execute(f"DROP TABLE IF EXISTS {quote(shadow)}")
                for statement in statements(projector.table.ddl(backend.kind, shadow)):
                    conn.execute(statement)

    with pytest.raises(StoreError, match="dropped or recreated"):
        projector.rebuild(config=backend.config, progress=recreate)
    assert _rows(backend, projector) == _expected(events)


class _BusyStore(ShopEventStore):
    """A store with a writer that appends `chunk` events on its own connection each time
    the rebuild reads (at most `budget` times): always ahead of the reader, also while the
    swap's transaction holds the projection's lock."""

    def __init__(self, *args: Any, writer: Store, shop: Shop, orders: list[Any]) -> None:
        super().__init__(*args)
        self.writer, self.shop, self.orders = writer, shop, orders
        self.budget, self.calls, self.chunk = 0, 0, 10
        self.written: list[Message] = []

    def read_all(self, conn: Any, after_position: int = 0, limit: int = 1000) -> Any:
        if self.calls < self.budget:
            self.calls += 1
            events = [
                self.shop.make("CardDeclined", self.orders[(self.calls + n) % len(self.orders)])
                for n in range(self.chunk)
            ]
            with self.writer.transaction(immediate=True) as tx:
                self.add(tx, events)
            self.written += events
        return super().read_all(conn, after_position, limit)


@pytest.mark.postgres
def test_rebuild_swaps_while_a_writer_keeps_appending(
    backend: Backend, messages: list[type[Message]]
) -> None:
    """The catch-ups stop at the store head read when they start (the locked one: when the
    lock is taken), so a writer that always outpaces the rebuild does not keep it from
    swapping. (SQLite has one writer at a time: the swap's transaction holds it.)"""
    if backend.kind != "postgres":
        pytest.skip("SQLite writers wait for the swap's transaction")
    table, events_table = backend.names()
    shop = Shop(messages)
    orders = [uuid.uuid4() for _ in range(40)]
    writer = Store.open(backend.kind, backend.config)
    try:
        busy = _BusyStore(events_table, messages, backend.kind, writer=writer, shop=shop,
                          orders=orders)  # fmt: skip
        with backend.store.transaction(immediate=True) as conn:
            busy.ensure_schema(conn)
        spec = make_spec(table, store=backend.kind, batch=50)
        projector = Projector(definition(spec, messages), busy)
        first = [shop.make("OrderPlaced", order, n) for n, order in enumerate(orders)]
        first += [shop.make("CardDeclined", orders[n % 40], n) for n in range(460)]
        _append(backend, busy, first)
        _drain(projector, backend)
        busy.budget = 200  # ~20 reads are enough; the old locked loop read until the budget ran out
        lines: list[str] = []
        projector.rebuild(config=backend.config, progress=lines.append)
        assert any("swapped" in line for line in lines), lines
        assert 0 < busy.calls < busy.budget, (busy.calls, lines)
        busy.budget = 0
        _drain(projector, backend)
        assert _rows(backend, projector) == _expected(first + busy.written)
    finally:
        writer.close()


def test_runner_projections_rebuild(
    backend: Backend, messages: list[type[Message]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    from eventgen.runtime import runner

    projector, fake = _setup(backend, messages)
    shop = Shop(messages)
    order = uuid.uuid4()
    _append(backend, fake, [shop.make("OrderPlaced", order), shop.make("CardDeclined", order)])
    table = projector.definition.spec.table
    module = tmp_path / f"proj_{table}.py"
    module.write_text(
        "from tests.es.projector_proc import ShopEventStore, definition, make_spec\n"
        f"from tests.es.test_projector import _MESSAGES\n"
        f"projector = __import__('eventgen.runtime.es.projector', fromlist=['x']).Projector(\n"
        f"    definition(make_spec({table!r}, store={backend.kind!r}), _MESSAGES),\n"
        f"    ShopEventStore({fake.spec.table!r}, _MESSAGES, {backend.kind!r}))\n",
        encoding="utf-8",
    )
    _MESSAGES[:] = messages
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(ROOT))
    flags = (
        ["--postgres-dsn", backend.config.postgres_dsn or ""]
        if backend.kind == "postgres"
        else ["--sqlite-path", backend.config.sqlite_path]
    )
    code = runner.main(["projections", "rebuild", f"proj_{table}:projector", *flags])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "shadow table" in out and "swapped" in out
    row = projector.table.get(backend.store.connection, order)
    assert row is not None and row.declined_payments == 1 and row.events_applied == 2
    assert runner.main(["projections", "rebuild", f"proj_{table}:nothing", *flags]) == 2


_MESSAGES: list[type[Message]] = []
