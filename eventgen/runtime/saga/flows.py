"""`FlowTracker`: watches a choreography that nobody orchestrates.

One row per flow in the choreography context's flows table (`eventgen.runtime.sql` kind
`flows`), keyed by (choreography, correlation id): the correlation id is
`str(message.<correlation>)` of every message of the choreography (its start event, every
reaction's `on` and `emits`, its outcomes). Per record, in the consumer loop's inbox
transaction (so a redelivered record changes nothing: the inbox skips it, and a step whose
event id is already in the row is not appended again):

- only the choreography's `started_by` opens a flow: the row is created (or a PENDING row
  becomes) RUNNING, `started_at` is the start event's `occurred_at`;
- any other message of the choreography for a correlation id whose flow has not started is
  kept in a PENDING row (`steps` in arrival order, `started_at` the first one's
  `occurred_at`). A PENDING row is not a flow: `flows()` and `flows list` leave it out unless
  asked for (`status=PENDING`), the sweep never marks it OVERDUE, and an outcome kept in it
  sets nothing. Such messages are expected: a message of the choreography can also belong to
  another conversation (the example's `inventory.StockReleased` is an outcome of
  OrderFulfilment and the reply to PlaceOrderSaga's compensation of an order that was never
  confirmed), and topics are not ordered with each other;
- when `started_by` arrives for a PENDING row, the flow starts: the start step comes first,
  then the kept steps are replayed in the order they were kept, and the first outcome among
  them sets the status as if it had come after the start;
- in a started flow `steps` (JSON list) gains `{type, at, event_id}`; a success outcome sets
  status SUCCEEDED, a failure outcome FAILED, and `outcome` to the outcome's type (the first
  outcome wins; later ones are only appended as steps);
- a flow that reached an outcome after it was flagged OVERDUE keeps its `overdue_at`.

A sweep marks RUNNING flows whose `started_at` is older than the deadline OVERDUE
(`overdue_at` set), and deletes PENDING rows whose `started_at` is older than
`PENDING_AGE_FACTOR` (7) times the deadline (their flow is not coming): once when the tracker
starts, then every `sweep_interval_s` and once when it stops, each time in its own transaction
on its own connection, at most `sweep_batch` rows per statement and `sweep_rounds` statements
of each kind per sweep.

Records of a type the consumer does not handle are skipped by the loop; a record of the
choreography whose payload lacks the correlation field is ignored (logged, counted).
Counters (`FlowStats`) of a record are staged while its handler runs and added when the
loop's transaction commits: a rolled-back or retried record is counted once, when it commits.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from eventgen.runtime.app.consumer import ConsumerApp
from eventgen.runtime.app.context import Context
from eventgen.runtime.app.stats import RunStats
from eventgen.runtime.config import RuntimeConfig, load_config
from eventgen.runtime.db import Store, dialect_of, ensure_tables, has_tables
from eventgen.runtime.errors import StartupError, StoreError
from eventgen.runtime.model import Message
from eventgen.runtime.saga.companion import companion
from eventgen.runtime.spec import ConsumerSpec
from eventgen.runtime.sql import iso_utc, quote
from eventgen.runtime.transport import Transport

log = logging.getLogger("eventgen.runtime.flows")

PENDING = "PENDING"
RUNNING = "RUNNING"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
OVERDUE = "OVERDUE"
FLOW_STATUSES = (PENDING, RUNNING, SUCCEEDED, FAILED, OVERDUE)
VISIBLE_STATUSES = (RUNNING, SUCCEEDED, FAILED, OVERDUE)

PENDING_AGE_FACTOR = 7  # PENDING rows older than this many deadlines are deleted by the sweep

SWEEP_INTERVAL_S = 5.0
SWEEP_BATCH = 500
SWEEP_ROUNDS = 20
SWEEP_JOIN_S = 30.0


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class FlowSpec:
    """A choreography as the tracker sees it (generated from the spec)."""

    choreography: str  # qualified name, e.g. "shipping.OrderFulfilment"
    correlation: str  # payload field of every message, e.g. "order_id"
    started_by: str  # message TYPE
    messages: tuple[str, ...]  # every message TYPE of the choreography, sorted
    success: tuple[str, ...]  # outcome TYPEs
    failure: tuple[str, ...]
    deadline_ms: int
    table: str


@dataclass
class FlowTally:
    """What recording one or more records did, before their transaction commits."""

    records: int = 0
    started: int = 0
    steps: int = 0
    pending: int = 0
    replayed: int = 0
    outcomes: int = 0
    repeated: int = 0
    ignored: int = 0

    def merge(self, other: FlowTally) -> None:
        for name in _TALLY_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))


_TALLY_FIELDS = tuple(f for f in FlowTally.__dataclass_fields__)


@dataclass
class FlowStats:
    """What a tracker run did, counted when the record's transaction committed.
    records: handler calls; started: flows started (by their started_by); steps: steps
    appended to started flows (replayed ones included); pending: records kept in a PENDING
    row; replayed: kept steps replayed when their flow started; outcomes: flows that reached
    an outcome; repeated: steps whose event id the row already had; ignored: records without
    the correlation field; overdue: flows the sweeps marked OVERDUE; expired: PENDING rows the
    sweeps deleted; sweeps: sweeps run."""

    records: int = 0
    started: int = 0
    steps: int = 0
    pending: int = 0
    replayed: int = 0
    outcomes: int = 0
    repeated: int = 0
    ignored: int = 0
    overdue: int = 0
    expired: int = 0
    sweeps: int = 0
    consumer: RunStats = field(default_factory=RunStats)

    def add(self, tally: FlowTally) -> None:
        for name in _TALLY_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(tally, name))

    def line(self) -> str:
        own = {k: v for k, v in asdict(self).items() if k != "consumer"}
        return " ".join(f"{k}={v}" for k, v in own.items()) + " " + self.consumer.line()


@dataclass(frozen=True)
class Flow:
    """One row of the flows table, as read back."""

    choreography: str
    correlation_id: str
    status: str
    started_at: datetime
    updated_at: datetime
    last_type: str
    outcome: str | None
    steps: tuple[dict[str, str], ...]
    overdue_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "choreography": self.choreography,
            "correlation_id": self.correlation_id,
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "last_type": self.last_type,
            "outcome": self.outcome,
            "steps": list(self.steps),
            "overdue_at": None if self.overdue_at is None else self.overdue_at.isoformat(),
        }


class FlowTracker:
    """The ready object `<choreography>_tracker` of `<context>_reactions.py`: runnable by
    `python -m eventgen.runtime run MODULE:ATTR`; `flows(conn, status=None)` reads its table."""

    def __init__(
        self,
        spec: FlowSpec,
        consumer: ConsumerSpec,
        messages: Sequence[type[Message]],
        *,
        sweep_interval_s: float = SWEEP_INTERVAL_S,
        sweep_batch: int = SWEEP_BATCH,
        sweep_rounds: int = SWEEP_ROUNDS,
    ) -> None:
        self.spec = spec
        self.consumer_spec = consumer
        self.messages = list(messages)
        self.sweep_interval_s = sweep_interval_s
        self.sweep_batch = sweep_batch
        self.sweep_rounds = sweep_rounds
        self.stats = FlowStats()
        self.app = _TrackerConsumer(self, consumer, self.messages)
        for cls in self.messages:
            if cls.TYPE in consumer.handles:
                self.app.on(cls)(self._handle)

    def __repr__(self) -> str:
        return f"FlowTracker({self.spec.choreography}, group={self.consumer_spec.group})"

    # ------------------------------------------------------------------ schema and reading

    def ensure_schema(self, conn: Any) -> None:
        """The flows table, on the caller's connection (left alone when it exists)."""
        if not has_tables(conn, [self.spec.table]):
            ensure_tables(conn, {"flows": self.spec.table})

    def flows(self, conn: Any, status: str | None = None, *, limit: int = 1000) -> list[Flow]:
        """This choreography's flows, oldest first; `status` filters (RUNNING, SUCCEEDED,
        FAILED, OVERDUE, or PENDING for the rows of flows not started yet, which are left out
        when `status` is None)."""
        if status is not None and status not in FLOW_STATUSES:
            raise ValueError(f"status {status!r}: expected one of {', '.join(FLOW_STATUSES)}")
        p = _mark(conn)
        sql = (
            "SELECT choreography, correlation_id, status, started_at, updated_at, last_type,"
            f" outcome, steps, overdue_at FROM {quote(self.spec.table)} WHERE choreography = {p}"
        )
        params: list[Any] = [self.spec.choreography]
        if status is not None:
            sql += f" AND status = {p}"
            params.append(status)
        else:
            sql += f" AND status <> {p}"
            params.append(PENDING)
        sql += f" ORDER BY started_at, correlation_id LIMIT {int(limit)}"
        rows = conn.execute(sql, params).fetchall()
        return [_flow(row) for row in rows]

    def flow(self, conn: Any, correlation_id: str) -> Flow | None:
        """The row of `correlation_id` (a PENDING one too: check `status`), or None."""
        p = _mark(conn)
        row = conn.execute(
            "SELECT choreography, correlation_id, status, started_at, updated_at, last_type,"
            f" outcome, steps, overdue_at FROM {quote(self.spec.table)}"
            f" WHERE choreography = {p} AND correlation_id = {p}",
            (self.spec.choreography, correlation_id),
        ).fetchone()
        return None if row is None else _flow(row)

    # ------------------------------------------------------------------ per record

    def _handle(self, message: Message, ctx: Context[Any]) -> None:
        conn = ctx.db
        if conn is None:
            raise RuntimeError(f"flow tracker {self.spec.choreography}: the consumer has no store")
        value = getattr(message, self.spec.correlation, None)
        if value is None:
            tally = FlowTally(ignored=1)
            log.info(
                "flow %s: %s (event %s) has no %s: ignored",
                self.spec.choreography, message.TYPE, ctx.event_id, self.spec.correlation,
            )  # fmt: skip
        else:
            tally = self.record(conn, str(value), message.TYPE, str(ctx.event_id), ctx.occurred_at)
        tally.records += 1
        # Staged: added to `stats` when the loop's transaction commits (a failed handler
        # raised before this line, so its statements, rolled back, are not counted either).
        self.app.stage(tally)

    def _outcome(self, type_: str) -> str | None:
        if type_ in self.spec.success:
            return SUCCEEDED
        if type_ in self.spec.failure:
            return FAILED
        return None

    def record(
        self,
        conn: Any,
        correlation_id: str,
        type_: str,
        event_id: str,
        occurred_at: datetime,
        *,
        now: datetime | None = None,
    ) -> FlowTally:
        """Upsert the flow (or its PENDING row) and append the step, in the caller's
        transaction; what it did, for the caller to count once the transaction commits."""
        now = now or utc_now()
        tally = FlowTally()
        spec = self.spec
        pg = dialect_of(conn) == "postgres"
        p = "%s" if pg else "?"
        table = quote(spec.table)
        lock = " FOR UPDATE" if pg else ""
        starts = type_ == spec.started_by
        step = {"type": type_, "at": iso_utc(occurred_at), "event_id": event_id}
        row = conn.execute(
            f"SELECT status, started_at, outcome, steps FROM {table}"
            f" WHERE choreography = {p} AND correlation_id = {p}{lock}",
            (spec.choreography, correlation_id),
        ).fetchone()
        if row is None:
            outcome_status = self._outcome(type_) if starts else None
            status = (outcome_status or RUNNING) if starts else PENDING
            inserted = conn.execute(
                f"INSERT INTO {table} (choreography, correlation_id, status, started_at,"
                f" updated_at, last_type, outcome, steps) VALUES ({p}, {p}, {p}, {p}, {p}, {p},"
                f" {p}, {p}) ON CONFLICT (choreography, correlation_id) DO NOTHING",
                (
                    spec.choreography,
                    correlation_id,
                    status,
                    _moment(occurred_at, pg),
                    _moment(now, pg),
                    type_,
                    type_ if outcome_status else None,
                    json.dumps([step]),
                ),
            ).rowcount
            if inserted != 1:
                # Another tracker instance inserted it meanwhile: retry the record (the loop
                # rolls back and calls again; the row is then there).
                raise RuntimeError(f"flow {spec.choreography} {correlation_id}: inserted meanwhile")
            if starts:
                tally.started = tally.steps = 1
                tally.outcomes = 1 if outcome_status else 0
            else:
                tally.pending = 1
            return tally
        status, started_at, outcome, raw_steps = row
        steps: list[dict[str, str]] = (
            json.loads(raw_steps) if isinstance(raw_steps, str) else list(raw_steps)
        )
        if any(s.get("event_id") == event_id for s in steps):
            tally.repeated = 1
            return tally
        started = _read_moment(started_at)
        if status == PENDING and not starts:
            steps.append(step)  # kept until the flow starts
            started = min(started, occurred_at)
            tally.pending = 1
        elif status == PENDING:
            # The flow starts: the start step, then the kept steps replayed in their order.
            kept, steps = steps, [step]
            status, outcome, started = RUNNING, None, occurred_at
            for earlier in [step, *kept]:
                if earlier is not step:
                    steps.append(earlier)
                reached = self._outcome(earlier["type"])
                if outcome is None and reached is not None:
                    status, outcome = reached, earlier["type"]
            tally.started = 1
            tally.steps = len(steps)
            tally.replayed = len(kept)
            tally.outcomes = 1 if outcome is not None else 0
        else:
            steps.append(step)
            reached = self._outcome(type_)
            if outcome is None and reached is not None:
                status, outcome = reached, type_
                tally.outcomes = 1
            tally.steps = 1
        conn.execute(
            f"UPDATE {table} SET status = {p}, started_at = {p}, updated_at = {p},"
            f" last_type = {p}, outcome = {p}, steps = {p}"
            f" WHERE choreography = {p} AND correlation_id = {p}",
            (
                status,
                _moment(started, pg),
                _moment(now, pg),
                type_,
                outcome,
                json.dumps(steps),
                spec.choreography,
                correlation_id,
            ),
        )
        return tally

    # ------------------------------------------------------------------ the sweep

    def sweep(self, conn: Any, *, now: datetime | None = None) -> int:
        """Mark RUNNING flows started before now - deadline OVERDUE, in the caller's
        transaction; at most `sweep_batch` rows per statement, `sweep_rounds` statements.
        The number of flows marked. (PENDING rows are never marked: see `expire_pending`.)"""
        now = now or utc_now()
        cutoff = now - timedelta(milliseconds=self.spec.deadline_ms)
        pg = dialect_of(conn) == "postgres"
        p = "%s" if pg else "?"
        table = quote(self.spec.table)
        set_overdue = f"UPDATE {table} SET status = {p}, overdue_at = {p}, updated_at = {p}"
        sql = f"{set_overdue} WHERE {self._pick(pg)}"
        moment = _moment(now, pg)
        chosen = (self.spec.choreography, RUNNING, _moment(cutoff, pg))
        return self._bounded(conn, sql, (OVERDUE, moment, moment, *chosen))

    def expire_pending(self, conn: Any, *, now: datetime | None = None) -> int:
        """Delete PENDING rows (messages of flows that never started) whose `started_at` is
        older than `PENDING_AGE_FACTOR` deadlines, in the caller's transaction; bounded like
        `sweep`. The number of rows deleted."""
        now = now or utc_now()
        cutoff = now - timedelta(milliseconds=PENDING_AGE_FACTOR * self.spec.deadline_ms)
        pg = dialect_of(conn) == "postgres"
        sql = f"DELETE FROM {quote(self.spec.table)} WHERE {self._pick(pg)}"
        chosen = (self.spec.choreography, PENDING, _moment(cutoff, pg))
        return self._bounded(conn, sql, chosen)

    def _pick(self, pg: bool) -> str:
        """The condition choosing at most `sweep_batch` rows of a status started before a
        cutoff (parameters: choreography, status, cutoff), oldest first."""
        p = "%s" if pg else "?"
        table = quote(self.spec.table)
        if pg:
            return (
                f"(choreography, correlation_id) IN (SELECT choreography, correlation_id"
                f" FROM {table} WHERE choreography = {p} AND status = {p} AND started_at < {p}"
                f" ORDER BY started_at LIMIT {int(self.sweep_batch)} FOR UPDATE SKIP LOCKED)"
            )
        return (
            f"rowid IN (SELECT rowid FROM {table} WHERE choreography = {p} AND status = {p}"
            f" AND started_at < {p} ORDER BY started_at LIMIT {int(self.sweep_batch)})"
        )

    def _bounded(self, conn: Any, sql: str, params: tuple[Any, ...]) -> int:
        """Run `sql` until it changes fewer than `sweep_batch` rows, at most `sweep_rounds`
        times; the rows changed."""
        changed = 0
        for _ in range(self.sweep_rounds):
            count = conn.execute(sql, params).rowcount
            changed += max(0, count)
            if count < self.sweep_batch:
                break
        return changed

    def _sweep_once(self, store: Store) -> None:
        try:
            with store.transaction(immediate=True) as conn:
                marked = self.sweep(conn)
                expired = self.expire_pending(conn)
        except Exception:  # a failed sweep is retried at the next interval
            log.exception("flow %s: sweep failed", self.spec.choreography)
            return
        self.stats.sweeps += 1
        self.stats.overdue += marked
        self.stats.expired += expired
        if marked:
            log.info("flow %s: %d flow(s) OVERDUE", self.spec.choreography, marked)
        if expired:
            log.info(
                "flow %s: %d PENDING row(s) older than %d deadlines deleted",
                self.spec.choreography, expired, PENDING_AGE_FACTOR,
            )  # fmt: skip

    def _sweep_loop(self, store: Store, done: threading.Event) -> None:
        while not done.wait(self.sweep_interval_s):
            self._sweep_once(store)

    # ------------------------------------------------------------------ the run

    def open_store(self, config: RuntimeConfig) -> Store:
        kind = self.consumer_spec.idempotency
        if kind == "none":
            kind = "sqlite"
        try:
            return Store.open(kind, config)
        except StoreError as exc:
            raise StartupError(f"flow tracker {self.spec.choreography}: {exc}") from None

    def run(
        self,
        config: RuntimeConfig | None = None,
        *,
        transport: Transport | None = None,
        max_messages: int | None = None,
        idle_exit_s: float | None = None,
        stop: threading.Event | None = None,
    ) -> FlowStats:
        """Consume every message of the choreography and sweep, until `stop` is set,
        `max_messages` records were consumed or nothing came for `idle_exit_s` seconds."""
        if self.consumer_spec.idempotency == "none":
            raise StartupError(
                f"flow tracker {self.spec.choreography}: consumer {self.consumer_spec.name} "
                "needs a store (idempotency: sqlite or postgres)"
            )
        config = config or load_config()
        stop = stop or threading.Event()
        self.stats = FlowStats()
        store = self.open_store(config)
        try:
            with store.transaction(immediate=True) as conn:
                self.ensure_schema(conn)
        except Exception as exc:  # noqa: BLE001 - any database error fails the start
            store.close()
            raise StartupError(f"flow tracker {self.spec.choreography}: store: {exc}") from None
        self._sweep_once(store)  # flows that passed their deadline while nobody watched

        def last_sweep() -> None:
            self._sweep_once(store)  # the flows that passed their deadline meanwhile
            store.close()

        with companion(
            lambda done: self._sweep_loop(store, done),
            name=f"flow-sweep-{self.spec.choreography}",
            join_s=SWEEP_JOIN_S,
            on_stopped=last_sweep,
        ):
            consumed = self.app.run(
                config,
                transport=transport,
                max_messages=max_messages,
                idle_exit_s=idle_exit_s,
                stop=stop,
            )
        self.stats.consumer = consumed
        log.info("flow tracker %s stopped: %s", self.spec.choreography, self.stats.line())
        return self.stats


# ---------------------------------------------------------------------- the consumer inside


class _CountingStore(Store):
    """The consumer loop's store: the tallies its handlers staged are added to the tracker's
    stats when the transaction commits, dropped when it rolls back."""

    def __init__(self, inner: Store, owner: FlowTracker) -> None:
        super().__init__(inner.dialect, inner.connection, inner.where, inner.timeout_s)
        self.owner = owner
        self.staged: list[FlowTally] = []

    @contextmanager
    def transaction(self, *, immediate: bool = False) -> Iterator[Any]:
        self.staged = []
        try:
            with super().transaction(immediate=immediate) as conn:
                yield conn
        except BaseException:
            self.staged = []
            raise
        staged, self.staged = self.staged, []
        for tally in staged:
            self.owner.stats.add(tally)


class _TrackerConsumer(ConsumerApp):
    """The tracker's ConsumerApp: its store counts what committed."""

    def __init__(
        self, owner: FlowTracker, spec: ConsumerSpec, messages: list[type[Message]]
    ) -> None:
        super().__init__(spec, messages)
        self.owner = owner
        self.loop_store: _CountingStore | None = None

    def _open_store(self, config: RuntimeConfig) -> Store | None:
        store = super()._open_store(config)
        self.loop_store = None if store is None else _CountingStore(store, self.owner)
        return self.loop_store

    def stage(self, tally: FlowTally) -> None:
        """Count `tally` when the running loop's transaction commits (at once without one)."""
        store = self.loop_store
        if store is None:
            self.owner.stats.add(tally)
        else:
            store.staged.append(tally)


# ---------------------------------------------------------------------- helpers


def _mark(conn: Any) -> str:
    return "%s" if dialect_of(conn) == "postgres" else "?"


def _moment(moment: datetime, pg: bool) -> Any:
    return moment.astimezone(UTC) if pg else iso_utc(moment)


def _read_moment(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text)


def _flow(row: Sequence[Any]) -> Flow:
    raw = row[7]
    steps = json.loads(raw) if isinstance(raw, str) else list(raw)
    return Flow(
        choreography=row[0],
        correlation_id=row[1],
        status=row[2],
        started_at=_read_moment(row[3]),
        updated_at=_read_moment(row[4]),
        last_type=row[5],
        outcome=row[6],
        steps=tuple(steps),
        overdue_at=None if row[8] is None else _read_moment(row[8]),
    )
