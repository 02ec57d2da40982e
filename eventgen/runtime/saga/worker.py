"""`SagaApp`: the saga worker. A consumer app for the start event and the replies, a timer
thread, and `apply`, which persists one decision of the state machine.

One decision, one database transaction: the instance's new row (optimistic version), its log
rows, its whole timer set and its outgoing commands (outbox rows whose event_id is the step's
request id) commit together; a `local` step's aggregate command runs in the same transaction,
inside a savepoint (a rejection rolls back to it and the machine hears `on_local(ok=False)`).

- Consumer side: the consumer loop's store transaction (the one that writes the inbox row) is
  `ctx.db`; the handler loads the instance (`FOR UPDATE` on PostgreSQL), asks the machine and
  applies. A duplicate start (the instance exists) is ignored and counted. ConcurrencyError
  and SagaDataError propagate: the loop rolls back and retries the record; after its retries
  a SagaDataError dead-letters the record with a reason naming the instance. An undecodable
  reply never reaches a handler: the loop dead-letters it (reason `decode`) when the reply
  topic has a DLQ and the consumer spec has `dlq: true`.
- Timer side: a thread with its own connection polls every `timer_poll_s` (200 ms) and fires
  at most `timer_batch` due timers per poll, each in its own transaction (PostgreSQL:
  `FOR UPDATE SKIP LOCKED` on the timer and its instance, so two workers never fire one
  timer). A timer whose transaction fails is rolled back, logged with its instance and
  counted; the other instances' timers still fire. An instance whose stored data no longer
  loads, or whose timer failed at three polls in a row, is skipped until the restart.
- Counting: `SagaStats.transactions` is incremented where a saga transaction commits (the
  consumer loop's store is wrapped so its commit is seen; the timer thread and `operate`
  commit themselves); the other counters are staged per transaction and added on commit.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, get_args
from uuid import UUID

from eventgen.runtime.app.consumer import ConsumerApp
from eventgen.runtime.app.context import Context
from eventgen.runtime.app.loop import Loop
from eventgen.runtime.app.stats import RunStats
from eventgen.runtime.config import RuntimeConfig, load_config
from eventgen.runtime.db import Store, has_tables
from eventgen.runtime.errors import CommandRejected, ConcurrencyError, StartupError, StoreError
from eventgen.runtime.es.spec import CommandMeta
from eventgen.runtime.model import Message
from eventgen.runtime.outbox import OutboxWriter
from eventgen.runtime.saga.codec import dump_instance, load_instance
from eventgen.runtime.saga.companion import companion
from eventgen.runtime.saga.engine import SagaMachine
from eventgen.runtime.saga.errors import SagaDataError
from eventgen.runtime.saga.spec import SagaDefinition
from eventgen.runtime.saga.state import (
    Decision,
    LocalCommand,
    OutgoingCommand,
    SagaInstance,
    Timer,
    TimerKind,
)
from eventgen.runtime.saga.stats import SagaStats, Tally
from eventgen.runtime.saga.store import MAX_EXCLUDED, SagaStore, stream_id
from eventgen.runtime.spec import ConsumerSpec
from eventgen.runtime.transport import Transport

if TYPE_CHECKING:
    from eventgen.runtime.es.aggregate import AggregateRepository

log = logging.getLogger("eventgen.runtime.saga")

TIMER_POLL_S = 0.2  # the timer thread's poll interval
TIMER_BATCH = 100  # timers fired at most per poll (each in its own transaction)
TIMER_JOIN_S = 30.0  # how long `run` waits for the timer thread at the end
TIMER_FAILURES = 3  # a timer failing at this many polls in a row: its instance is skipped
LOCAL_SAVEPOINT = "eventgen_saga_local"
TIMER_KINDS = get_args(TimerKind)


def utc_now() -> datetime:
    return datetime.now(UTC)


class NoInstance(KeyError):
    """An operator command names an instance that does not exist."""


@dataclass(frozen=True)
class Acted:
    """What `SagaApp.act` did: the instance before and as stored, the commands it sent (each
    through the outbox, its request id as event id)."""

    before: SagaInstance
    instance: SagaInstance
    commands: tuple[OutgoingCommand, ...]


class SagaApp:
    """The ready object of a generated `<context>_sagas.py` (`place_order_saga`): runnable by
    `python -m eventgen.runtime run MODULE:ATTR`.

    `consumer` is the saga's generated ConsumerSpec (group `<context>.<saga>`, the topics of
    the start event and of every reply, idempotency = the outbox's store); `outbox` takes the
    commands; `messages` are the classes of every handled type; `local` maps a local step's
    name (or its command TYPE) to the repository of the aggregate that handles it.
    """

    def __init__(
        self,
        definition: SagaDefinition,
        consumer: ConsumerSpec,
        outbox: OutboxWriter,
        messages: Sequence[type[Message]],
        local: Mapping[str, AggregateRepository[Any]] | None = None,
        *,
        timer_poll_s: float = TIMER_POLL_S,
        timer_batch: int = TIMER_BATCH,
    ) -> None:
        self.definition = definition
        self.consumer_spec = consumer
        self.outbox = outbox
        self.messages = {cls.TYPE: cls for cls in messages}
        self.local: dict[str, AggregateRepository[Any]] = dict(local or {})
        self.timer_poll_s = timer_poll_s
        self.timer_batch = timer_batch
        self.store = SagaStore(definition.tables)
        self.machine = SagaMachine(definition)
        self.stats = SagaStats()
        self.app = _SagaConsumer(self, consumer, list(messages))
        for name in consumer.handles:
            cls = self.messages.get(name)
            if cls is not None and (name == definition.started_by or name in self._replies()):
                self.app.on(cls)(self._handler)
        self._idle_exit_s: float | None = None
        self._next_due: datetime | None = None
        self._last_fired = 0.0  # time.monotonic() of the last timer fired
        # The timer side: instances skipped until the restart (data that no longer loads, or
        # a timer that kept failing) and the failed polls in a row of the others.
        self._bad: set[tuple[str, str]] = set()
        self._failures: dict[tuple[str, str], int] = {}

    def __repr__(self) -> str:
        return f"SagaApp({self.definition.name}, group={self.consumer_spec.group})"

    def _replies(self) -> frozenset[str]:
        return frozenset(self.definition.reply_types())

    # ------------------------------------------------------------------ schema

    def ensure_schema(self, conn: Any) -> None:
        """The saga tables, the outbox table and the local repositories' event store tables,
        on the caller's connection and in its transaction (tables that exist are left alone)."""
        self.store.ensure_schema(conn)
        if not has_tables(conn, [self.outbox.spec.table]):
            self.outbox.ensure_schema(conn)
        for repository in self.local.values():
            repository.store.ensure_schema(conn)
            if repository.outbox is not None and not has_tables(
                conn, [repository.outbox.spec.table]
            ):
                repository.outbox.ensure_schema(conn)

    # ------------------------------------------------------------------ the run

    def run(
        self,
        config: RuntimeConfig | None = None,
        *,
        transport: Transport | None = None,
        max_messages: int | None = None,
        idle_exit_s: float | None = None,
        stop: threading.Event | None = None,
    ) -> SagaStats:
        """Consume and fire timers until `stop` is set, `max_messages` records were consumed,
        or nothing came for `idle_exit_s` seconds and no timer is due within that long; the
        counters. StartupError (one line) before anything runs when the consumer spec does
        not handle the start event or a reply, a topic is missing, or the store cannot open.
        """
        self._check_spec()
        config = config or load_config()
        self.outbox.configure(config)
        stop = stop or threading.Event()
        self.stats = SagaStats()
        self._idle_exit_s = idle_exit_s
        self._last_fired = 0.0
        self._bad, self._failures = set(), {}
        timer_store = self.open_store(config)
        try:
            with timer_store.transaction(immediate=True) as conn:
                self.ensure_schema(conn)
            self._refresh_next_due(timer_store)
        except Exception as exc:
            timer_store.close()
            if isinstance(exc, StartupError):
                raise
            raise StartupError(f"saga {self.definition.name}: store: {exc}") from None
        interval = config.log_interval_s
        with companion(
            lambda done: self._timer_loop(timer_store, done, interval),
            name=f"saga-timers-{self.definition.name}",
            join_s=TIMER_JOIN_S,
            on_stopped=timer_store.close,
        ):
            consumed = self.app.run(
                config,
                transport=transport,
                max_messages=max_messages,
                idle_exit_s=idle_exit_s,
                stop=stop,
            )
        self.stats.consumer = consumed
        log.info("saga %s stopped: %s", self.definition.name, self.stats.line())
        return self.stats

    def _check_spec(self) -> None:
        spec = self.consumer_spec
        wanted = {self.definition.started_by, *self._replies()}
        missing = sorted(wanted - set(spec.handles))
        if missing:
            raise StartupError(
                f"saga {self.definition.name}: consumer {spec.name} does not handle "
                f"{', '.join(missing)}"
            )
        unknown = sorted(name for name in wanted if name not in self.messages)
        if unknown:
            raise StartupError(
                f"saga {self.definition.name}: no message class for {', '.join(unknown)}"
            )
        if spec.idempotency == "none":
            raise StartupError(
                f"saga {self.definition.name}: consumer {spec.name} needs a store "
                "(idempotency: sqlite or postgres, the outbox's)"
            )

    def open_store(self, config: RuntimeConfig) -> Store:
        """A connection to the saga's store (the consumer's idempotency store, the outbox's)."""
        kind = self.consumer_spec.idempotency
        assert kind in ("sqlite", "postgres")
        try:
            return Store.open(kind, config)
        except StoreError as exc:
            raise StartupError(f"saga {self.definition.name}: {exc}") from None

    def timers_pending(self) -> bool:
        """A timer is due within the idle window, or one fired within it (its effects, a
        command and its reply, may still be on their way): an idle exit waits."""
        window = self._idle_exit_s or 0.0
        if time.monotonic() - self._last_fired < window:
            return True
        due = self._next_due
        return due is not None and due <= utc_now() + timedelta(seconds=window)

    # ------------------------------------------------------------------ consumer side

    def _handler(self, message: Message, ctx: Context[Any]) -> None:
        conn = ctx.db
        if conn is None:
            raise RuntimeError(f"saga {self.definition.name}: the consumer has no store")
        tally = Tally()
        now = utc_now()
        try:
            if message.TYPE == self.definition.started_by:
                self._start(conn, message, ctx.event_id, now, tally)
            else:
                self._reply(conn, message, ctx, now, tally)
        except ConcurrencyError:
            self.stats.conflict()
            raise
        store = self.app.loop_store
        if store is not None:
            store.staged.append(tally)

    def _start(
        self, conn: Any, event: Message, event_id: UUID, now: datetime, tally: Tally
    ) -> None:
        decision = self.machine.start(event, event_id=event_id, now=now)
        instance = decision.instance
        assert instance is not None
        found = self.store.load(conn, instance.saga, instance.saga_id, for_update=True)
        if found is not None:
            tally.duplicate_starts += 1
            log.info(
                "saga %s %s: duplicate start (event %s) ignored",
                instance.saga, instance.saga_id, event_id,
            )  # fmt: skip
            return
        self.apply(conn, None, decision, causation_id=event_id, now=now, tally=tally)
        tally.started += 1

    def _reply(
        self, conn: Any, message: Message, ctx: Context[Any], now: datetime, tally: Tally
    ) -> None:
        saga = self.definition.name
        saga_id = ctx.correlation_id
        found = None if saga_id is None else self.store.load(conn, saga, saga_id, for_update=True)
        if found is None:
            tally.ignored["unknown reply"] += 1
            log.info(
                "saga %s: %s (event %s, correlation %s) matches no instance: ignored",
                saga, message.TYPE, ctx.event_id, saga_id,
            )  # fmt: skip
            return
        instance = load_instance(self.definition, found)
        decision = self.machine.on_reply(instance, message, causation_id=ctx.causation_id, now=now)
        if decision.instance is None:
            tally.ignored[decision.ignored or "ignored"] += 1
            log.info(
                "saga %s %s: %s (event %s) ignored: %s",
                saga, saga_id, message.TYPE, ctx.event_id, decision.ignored,
            )  # fmt: skip
            return
        self.apply(conn, instance, decision, causation_id=ctx.event_id, now=now, tally=tally)
        tally.replies += 1

    # ------------------------------------------------------------------ applying

    def apply(
        self,
        conn: Any,
        instance: SagaInstance | None,
        decision: Decision,
        *,
        causation_id: UUID | None = None,
        now: datetime | None = None,
        tally: Tally | None = None,
    ) -> SagaInstance | None:
        """Persist `decision` taken on `instance` (None: a start) in the caller's transaction;
        the instance as stored (None when the decision changed nothing).

        The row is inserted (a start; ConcurrencyError if it exists) or updated with
        `expected_version = instance.version` (ConcurrencyError if it moved); the log grows by
        the decision's entries; the timer set becomes the decision's; every command goes to
        the outbox with its request id as event_id, the saga id as correlation_id and
        `causation_id` (the input's event id); a local command runs here (savepoint) and the
        machine's answer to it is applied with it. Operator commands call this too.
        """
        stored, _ = self._apply(
            conn, instance, decision, causation_id=causation_id, now=now, tally=tally
        )
        return stored

    def _apply(
        self,
        conn: Any,
        instance: SagaInstance | None,
        decision: Decision,
        *,
        causation_id: UUID | None = None,
        now: datetime | None = None,
        tally: Tally | None = None,
    ) -> tuple[SagaInstance | None, tuple[OutgoingCommand, ...]]:
        """`apply`, and every command it sent (the decision's and its local steps')."""
        new = decision.instance
        if new is None:
            return None, ()
        now = now or utc_now()
        commands = list(decision.commands)
        entries = list(decision.log)
        timers = tuple(decision.timers)
        local = decision.local
        for _ in range(len(self.definition.steps) + 1):
            if local is None:
                break
            ok, detail = self._run_local(conn, local, new.saga_id, now)
            follow = self.machine.on_local(new, step=local.step, ok=ok, detail=detail, now=now)
            local = None
            if follow.instance is not None:
                new = follow.instance
                commands.extend(follow.commands)
                entries.extend(follow.log)
                timers = tuple(follow.timers)
                local = follow.local
        else:
            if local is not None:
                raise RuntimeError(
                    f"saga {new.saga} {new.saga_id}: local steps do not end ({local.step})"
                )
        row = dump_instance(new, self.definition)
        if instance is None:
            if not self.store.insert(conn, row):
                raise ConcurrencyError(stream_id(new.saga, new.saga_id), 0, 0)
            stored_version = int(row["version"])
        else:
            stored_version = self.store.update(conn, row, instance.version)
        self.store.append_log(conn, new.saga, new.saga_id, entries, now)
        self.store.replace_timers(conn, new.saga, new.saga_id, timers)
        for command in commands:
            self.outbox.add(
                conn,
                command.message,
                event_id=command.request_id,
                correlation_id=new.saga_id,
                causation_id=causation_id,
            )
        if tally is not None:
            tally.status(None if instance is None else instance.status, new.status)
        return _with_version(new, stored_version), tuple(commands)

    def _run_local(
        self, conn: Any, local: LocalCommand, saga_id: str, now: datetime
    ) -> tuple[bool, str]:
        """Run a local step's aggregate command in a savepoint: (handled, detail)."""
        repository = self.local.get(local.step) or self.local.get(local.message.TYPE)
        if repository is None:
            raise RuntimeError(
                f"saga {self.definition.name}: no repository for local step {local.step} "
                f"({local.message.TYPE})"
            )
        meta = CommandMeta(event_id=local.request_id, occurred_at=now, correlation_id=saga_id)
        conn.execute(f"SAVEPOINT {LOCAL_SAVEPOINT}")
        try:
            events = repository.handle(conn, local.message, meta=meta)
        except CommandRejected as rejection:
            conn.execute(f"ROLLBACK TO SAVEPOINT {LOCAL_SAVEPOINT}")
            conn.execute(f"RELEASE SAVEPOINT {LOCAL_SAVEPOINT}")
            return False, str(rejection)
        conn.execute(f"RELEASE SAVEPOINT {LOCAL_SAVEPOINT}")
        return True, ", ".join(event.TYPE for event in events) or "no events"

    @contextmanager
    def operate(self, store: Store, *, immediate: bool = True) -> Iterator[tuple[Any, Tally]]:
        """An operator transaction on `store`: yields (connection, tally) for `apply(...,
        tally=tally)`; counted in `stats` (transactions, operator) when it commits."""
        tally = Tally()
        with store.transaction(immediate=immediate) as conn:
            yield conn, tally
        tally.operator += 1
        self.stats.committed(tally)

    def act(
        self,
        store: Store,
        saga_id: str,
        action: str,
        *,
        actor: str,
        reason: str,
        now: datetime | None = None,
    ) -> Acted:
        """An operator command (resume | retry-step | skip-step | abort) on one instance, in
        one transaction on `store`: load (locked), `on_operator`, `apply`; what it did (the
        instance before and as stored, the commands sent). Raises NoInstance (a KeyError)
        when there is no such instance, OperatorRefused (nothing changed) when its status
        does not allow the action, SagaDataError when its stored data no longer loads.
        Counted in `stats` (transactions, operator) when it commits."""
        now = now or utc_now()
        with self.operate(store) as (conn, tally):
            self.store.ensure_schema(conn)
            found = self.store.load(conn, self.definition.name, saga_id, for_update=True)
            if found is None:
                raise NoInstance(f"no {self.definition.name} instance {saga_id!r}")
            instance = load_instance(self.definition, found)
            decision = self.machine.on_operator(
                instance, action, actor=actor, reason=reason, now=now
            )
            stored, sent = self._apply(conn, instance, decision, now=now, tally=tally)
        assert stored is not None
        return Acted(before=instance, instance=stored, commands=sent)

    # ------------------------------------------------------------------ timer side

    def _timer_loop(self, store: Store, done: threading.Event, log_interval_s: float) -> None:
        next_line = time.monotonic() + log_interval_s
        while not done.is_set():
            if time.monotonic() >= next_line:
                next_line = time.monotonic() + log_interval_s
                log.info("saga %s progress: %s", self.definition.name, self.stats.line())
            try:
                # A plain read first: no transaction (no SQLite write lock) when nothing is due.
                self._refresh_next_due(store)
                due = self._next_due
                if due is not None and due <= utc_now() and self.fire_due(store, done=done):
                    self._refresh_next_due(store)
            except Exception:
                log.exception("saga %s: the timer poll failed", self.definition.name)
            done.wait(self.timer_poll_s)

    def _refresh_next_due(self, store: Store) -> None:
        """The earliest due timer of this saga type (read outside a transaction: the store's
        connection is in autocommit mode between transactions). Timers of instances this
        process skips do not count: an idle exit does not wait for them."""
        name = self.definition.name
        exclude, overflow = self._exclusion(self._bad)
        conn = store.connection
        due = self.store.next_due(conn, saga=name, exclude=exclude)
        if due is not None and overflow and due <= utc_now():
            # More skipped instances than one query excludes: past-due timers are not known
            # to be anyone else's; the next future one decides the idle exit.
            due = self.store.next_due(conn, saga=name, after=utc_now(), exclude=exclude)
        self._next_due = due

    def _exclusion(
        self, skipped: set[tuple[str, str]]
    ) -> tuple[list[tuple[str, str]], set[tuple[str, str]]]:
        """The skipped instances the store's query leaves out (at most MAX_EXCLUDED) and the
        rest (filtered here)."""
        ordered = sorted(skipped)
        return ordered[:MAX_EXCLUDED], set(ordered[MAX_EXCLUDED:])

    def fire_due(
        self, store: Store, *, now: datetime | None = None, done: threading.Event | None = None
    ) -> int:
        """Fire the timers due at `now` (default: the clock at each one), at most
        `timer_batch`, each in its own transaction on `store`; how many fired.

        A timer whose transaction fails (a ConcurrencyError aside: tried again) is rolled
        back, logged with its instance and counted (`timer_errors`); the instance is left out
        for the rest of this call, so the others' timers still fire. An instance whose stored
        data no longer loads (SagaDataError), or whose timer failed at TIMER_FAILURES calls in
        a row, is skipped by this process until it restarts (`skipped`; migrate the data or
        fix the cause, then restart). A failure before a timer was chosen (the store itself)
        propagates: the timer thread logs it and polls again."""
        fired = 0
        failed: set[tuple[str, str]] = set()  # instances whose timer failed in this call
        for _ in range(self.timer_batch):
            if done is not None and done.is_set():
                break
            tally = Tally()
            chosen: list[tuple[str, str, Timer]] = []
            try:
                with store.transaction(immediate=True) as conn:
                    outcome = self._fire_one(conn, now or utc_now(), tally, failed, chosen)
            except ConcurrencyError:
                self.stats.conflict()
                continue
            except Exception as exc:
                if not chosen:
                    raise
                self._timer_failed(chosen[0], exc, failed)
                continue
            if outcome == "none":
                break
            fired += 1
            self._failures.pop(chosen[0][:2], None)
            self._last_fired = time.monotonic()
            self.stats.committed(tally)
        return fired

    def _fire_one(
        self,
        conn: Any,
        now: datetime,
        tally: Tally,
        failed: set[tuple[str, str]],
        chosen: list[tuple[str, str, Timer]],
    ) -> str:
        """One due timer in `conn`'s transaction, not of a skipped or `failed` instance (it is
        put in `chosen` before anything is done with it): "fired" or "none" (nothing due)."""
        name = self.definition.name
        exclude, overflow = self._exclusion(self._bad | failed)
        # Each instance holds at most one timer per kind: the overflow's fill that many rows.
        limit = 1 + len(TIMER_KINDS) * len(overflow)
        due = self.store.due_timers(conn, now, limit, saga=name, exclude=exclude)
        found_due = next(((s, i, t) for s, i, t in due if (s, i) not in overflow), None)
        if found_due is None:
            return "none"
        chosen.append(found_due)
        saga, saga_id, timer = found_due
        found = self.store.load(conn, saga, saga_id, for_update=True)
        if found is None:
            self.store.delete_timer(conn, saga, saga_id, timer.kind)
            tally.timers_fired += 1
            tally.ignored["orphan timer"] += 1
            return "fired"
        instance = load_instance(self.definition, found)
        tally.timers_fired += 1
        decision = self.machine.on_timer(instance, timer, now=now)
        if decision.instance is None:
            self.store.delete_timer(conn, saga, saga_id, timer.kind)
            tally.ignored[decision.ignored or "stale timer"] += 1
            return "fired"
        decision = _without(decision, timer)
        self.apply(conn, instance, decision, now=now, tally=tally)
        return "fired"

    def _timer_failed(
        self, chosen: tuple[str, str, Timer], exc: Exception, failed: set[tuple[str, str]]
    ) -> None:
        """A timer's transaction failed (rolled back): leave its instance out for the rest of
        the poll; skip it for good when its data does not load or it keeps failing."""
        saga, saga_id, timer = chosen
        key = (saga, saga_id)
        failed.add(key)
        count = self._failures.get(key, 0) + 1
        self._failures[key] = count
        give_up = isinstance(exc, SagaDataError) or count >= TIMER_FAILURES
        what = f"timer {timer.kind} ({timer.phase} {timer.step or '-'}, attempt {timer.attempt})"
        if give_up:
            self._bad.add(key)
            self._failures.pop(key, None)
            log.error(
                "saga %s %s: %s not fired: %s; this worker skips the instance until it restarts",
                saga, saga_id, what, _describe(exc), exc_info=None if isinstance(exc, SagaDataError) else exc,
            )  # fmt: skip
        else:
            log.warning(
                "saga %s %s: %s failed (%d of %d): %s; rolled back, tried again at the next poll",
                saga, saga_id, what, count, TIMER_FAILURES, _describe(exc), exc_info=exc,
            )  # fmt: skip
        self.stats.timer_error(skipped=give_up)


# ---------------------------------------------------------------------- the consumer inside


class _CountingStore(Store):
    """The consumer loop's store: counts a committed transaction that ran a saga handler
    (the handlers stage their tallies in `staged`; a rollback drops them)."""

    def __init__(self, inner: Store, stats: SagaApp) -> None:
        super().__init__(inner.dialect, inner.connection, inner.where, inner.timeout_s)
        self.owner = stats
        self.staged: list[Tally] = []

    @contextmanager
    def transaction(self, *, immediate: bool = False) -> Iterator[Any]:
        self.staged = []
        # SQLite: the write lock at BEGIN. The record's transaction always writes (the inbox
        # row, the instance), and a deferred one that read before the timer thread or the
        # relay committed would fail its lock upgrade at once (SQLITE_BUSY) instead of waiting.
        immediate = immediate or self.dialect == "sqlite"
        try:
            with super().transaction(immediate=immediate) as conn:
                yield conn
        except BaseException:
            self.staged = []
            raise
        staged, self.staged = self.staged, []
        if staged:
            total = Tally()
            for tally in staged:
                total.merge(tally)
            self.owner.stats.committed(total)


class _SagaLoop(Loop):
    """The consumer loop of a saga: an idle exit also waits for due timers (its store, the
    counting one, knows the saga worker)."""

    def _pending(self) -> bool:
        store = self.store
        return isinstance(store, _CountingStore) and store.owner.timers_pending()


class _SagaConsumer(ConsumerApp):
    """The saga's ConsumerApp: its store counts commits, its loop waits for due timers."""

    loop_class = _SagaLoop

    def __init__(self, owner: SagaApp, spec: ConsumerSpec, messages: list[type[Message]]) -> None:
        super().__init__(spec, messages)
        self.owner = owner
        self.loop_store: _CountingStore | None = None

    def _open_store(self, config: RuntimeConfig) -> Store | None:
        store = super()._open_store(config)
        self.loop_store = None if store is None else _CountingStore(store, self.owner)
        return self.loop_store

    def run(
        self,
        config: RuntimeConfig | None = None,
        *,
        transport: Transport | None = None,
        max_messages: int | None = None,
        idle_exit_s: float | None = None,
        stop: threading.Event | None = None,
    ) -> RunStats:
        """ConsumerApp.run with the saga loop (stream processing only)."""
        spec = self.spec
        missing = self.missing()
        if missing:
            raise StartupError(f"consumer {spec.name}: no handler for {', '.join(missing)}")
        if spec.processing != "stream":
            raise StartupError(f"saga consumer {spec.name}: expected processing: stream")
        return super().run(
            config,
            transport=transport,
            max_messages=max_messages,
            idle_exit_s=idle_exit_s,
            stop=stop,
        )


# ---------------------------------------------------------------------- helpers


def _without(decision: Decision, fired: Timer) -> Decision:
    """The decision's timers minus the one that just fired (a machine that kept it would make
    it fire again at every poll)."""
    kept = tuple(timer for timer in decision.timers if timer != fired)
    if len(kept) == len(decision.timers):
        return decision
    log.warning("saga decision kept the fired timer %s; dropped", fired)
    return Decision(
        instance=decision.instance,
        commands=decision.commands,
        local=decision.local,
        timers=kept,
        log=decision.log,
        ignored=decision.ignored,
        extra=decision.extra,
    )


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _with_version(instance: SagaInstance, version: int) -> SagaInstance:
    from dataclasses import replace

    return instance if instance.version == version else replace(instance, version=version)
