"""A small hand-built saga for the worker tests, its topics, and participants replying through
the real Kafka.

ShipSaga (context `kit`), started by `kit.Begun`:
  reserve  send Reserve -> Reserved (success) | ReserveFailed (failure); timeout 1.5 s, retried
           on timeout up to 3 attempts (backoff 200 ms), then compensate; compensation
           Release -> Released
  charge   send Charge  -> Charged (success, COMPLETED) | ChargeFailed (failure: compensate);
           timeout 5 s: compensate
Participants (one thread, one consumer of the commands topic) answer as a `Behaviour` says.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, cast

from confluent_kafka import Consumer, Producer

from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.model import Envelope, Message, Record
from eventgen.runtime.outbox import OutboxWriter
from eventgen.runtime.registry import TopicBinding
from eventgen.runtime.relay import PollingRelay
from eventgen.runtime.saga.codec import schema_hash
from eventgen.runtime.saga.spec import (
    COMPENSATE,
    COMPLETED,
    NEXT_COMPENSATION,
    RETRY,
    STUCK,
    TIMEOUT,
    CompensationSpec,
    SagaDefinition,
    SagaTables,
    StepRetry,
    StepSpec,
    Transition,
)
from eventgen.runtime.saga.stats import SagaStats
from eventgen.runtime.saga.worker import SagaApp
from eventgen.runtime.serde import codec_for, encode_key
from eventgen.runtime.spec import ConsumerSpec, OutboxSpec, PublisherSpec, RetryPolicy, Route

WAIT_S = 60.0  # the longest any test waits for a saga to settle


class _Kit(Message):
    VERSION: ClassVar[int] = 1
    SCHEMAS: ClassVar[str] = "tests.sagas.no_schemas"

    order: str

    def partition_key(self) -> str:
        return self.order


class Begun(_Kit):
    TYPE: ClassVar[str] = "kit.Begun"
    amount: int = 10


class Reserve(_Kit):
    TYPE: ClassVar[str] = "kit.Reserve"


class Reserved(_Kit):
    TYPE: ClassVar[str] = "kit.Reserved"


class ReserveFailed(_Kit):
    TYPE: ClassVar[str] = "kit.ReserveFailed"


class Release(_Kit):
    TYPE: ClassVar[str] = "kit.Release"


class Released(_Kit):
    TYPE: ClassVar[str] = "kit.Released"


class Charge(_Kit):
    TYPE: ClassVar[str] = "kit.Charge"
    amount: int


class Charged(_Kit):
    TYPE: ClassVar[str] = "kit.Charged"


class ChargeFailed(_Kit):
    TYPE: ClassVar[str] = "kit.ChargeFailed"


class ShipData(Record):
    order: str
    amount: int


REPLIES: tuple[type[Message], ...] = (Reserved, ReserveFailed, Released, Charged, ChargeFailed)
COMMANDS: tuple[type[Message], ...] = (Reserve, Release, Charge)


def definition(tables: SagaTables, *, reserve_timeout_ms: int = 1500) -> SagaDefinition:
    steps = (
        StepSpec(
            name="reserve",
            kind="send",
            command=Reserve.TYPE,
            build=lambda data: Reserve(order=data.order),
            timeout_ms=reserve_timeout_ms,
            retry=StepRetry(max_attempts=3, initial_ms=200, retry_on=("timeout",)),
            compensation=CompensationSpec(
                Release.TYPE, lambda data: Release(order=data.order), (Released.TYPE,)
            ),
        ),
        StepSpec(
            name="charge",
            kind="send",
            command=Charge.TYPE,
            build=lambda data: Charge(order=data.order, amount=data.amount),
            timeout_ms=5000,
        ),
    )
    rows = (
        Transition("RUNNING", "reserve", Reserved.TYPE, "success", "charge"),
        Transition("RUNNING", "reserve", ReserveFailed.TYPE, "failure", COMPENSATE),
        Transition("RUNNING", "reserve", TIMEOUT, "timeout", RETRY, exhausted=COMPENSATE),
        Transition("RUNNING", "charge", Charged.TYPE, "success", COMPLETED),
        Transition("RUNNING", "charge", ChargeFailed.TYPE, "failure", COMPENSATE),
        Transition("RUNNING", "charge", TIMEOUT, "timeout", COMPENSATE),
        Transition("COMPENSATING", "reserve", Released.TYPE, "compensated", NEXT_COMPENSATION),
        Transition("COMPENSATING", "reserve", TIMEOUT, "timeout", RETRY, exhausted=STUCK),
    )
    return SagaDefinition(
        name="ShipSaga",
        context="kit",
        data_model=ShipData,
        data_hash=schema_hash(ShipData),
        correlation="order",
        started_by=Begun.TYPE,
        init=lambda event: ShipData(order=event.order, amount=event.amount),
        steps=steps,
        transitions=rows,
        deadline_ms=3_600_000,
        tables=tables,
    )


def route(topic: str, messages: tuple[type[Message], ...], dlq: str | None = None) -> Route:
    return Route(TopicBinding(topic, messages, "string"), "json", None, dlq)


@dataclass
class World:
    """Unique names of one test: topics, group, tables, the database."""

    kind: Literal["sqlite", "postgres"]
    config: RuntimeConfig
    base: str = field(default_factory=lambda: f"egsaga-{uuid.uuid4().hex[:8]}")

    @property
    def suffix(self) -> str:
        return self.base.rsplit("-", 1)[1]

    @property
    def begin_topic(self) -> str:
        return f"{self.base}.begin"

    @property
    def commands_topic(self) -> str:
        return f"{self.base}.commands"

    @property
    def replies_topic(self) -> str:
        return f"{self.base}.replies"

    @property
    def replies_dlq(self) -> str:
        return f"{self.base}.replies.dlq"

    def topics(self) -> dict[str, int]:
        return {
            self.begin_topic: 2,
            self.commands_topic: 2,
            self.replies_topic: 2,
            self.replies_dlq: 1,
            f"{self.base}.begin.dlq": 1,
        }

    def tables(self) -> SagaTables:
        s = self.suffix
        return SagaTables(f"kit_saga_i_{s}", f"kit_saga_l_{s}", f"kit_saga_t_{s}")

    def all_tables(self) -> list[str]:
        t = self.tables()
        s = self.suffix
        return [t.instances, t.log, t.timers, f"kit_outbox_{s}", f"kit_inbox_{s}"]

    def begin_route(self) -> Route:
        return route(self.begin_topic, (Begun,), f"{self.base}.begin.dlq")

    def replies_route(self) -> Route:
        return route(self.replies_topic, REPLIES, self.replies_dlq)

    def commands_route(self) -> Route:
        return route(self.commands_topic, COMMANDS)

    def outbox_spec(self) -> OutboxSpec:
        publisher = PublisherSpec(
            "kit",
            tuple(sorted((cls.TYPE, self.commands_route()) for cls in COMMANDS)),
        )
        return OutboxSpec(
            "kit", f"kit_outbox_{self.suffix}", "polling", self.kind, poll_interval_ms=50,
            publisher=publisher,
        )  # fmt: skip

    def consumer_spec(self) -> ConsumerSpec:
        handles = tuple(sorted([Begun.TYPE, *(cls.TYPE for cls in REPLIES)]))
        return ConsumerSpec(
            name="ship-saga",
            context="kit",
            group=f"{self.base}.ship-saga",
            topics=(self.begin_route(), self.replies_route()),
            handles=handles,
            retry=RetryPolicy(max_attempts=2, initial_ms=50, max_interval_ms=200),
            dlq=True,
            idempotency=self.kind,
            inbox_table=f"kit_inbox_{self.suffix}",
        )

    def app(self, **options: Any) -> SagaApp:
        return SagaApp(
            definition(self.tables(), **options),
            self.consumer_spec(),
            OutboxWriter(self.outbox_spec()),
            (Begun, *REPLIES),
        )


# ---------------------------------------------------------------------- Kafka


def encode(r: Route, envelope: Envelope[Any]) -> tuple[bytes | None, bytes, list[Any]]:
    value, headers = codec_for(r, RuntimeConfig()).encode(envelope, r)
    return encode_key(r, envelope.payload), value, headers


def produce(bootstrap: str, topic: str, items: list[tuple[bytes | None, bytes, list[Any]]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    errors: list[Any] = []
    for key, value, headers in items:
        producer.produce(
            topic,
            value=value,
            key=key,
            headers=headers,
            on_delivery=lambda err, _m: errors.append(err) if err else None,
        )
    assert producer.flush(30) == 0
    assert errors == []


def begin(world: World, bootstrap: str, *orders: str) -> list[Envelope[Any]]:
    envelopes: list[Envelope[Any]] = [Begun(order=order).envelope() for order in orders]
    r = world.begin_route()
    produce(bootstrap, world.begin_topic, [encode(r, e) for e in envelopes])
    return envelopes


Behaviour = Callable[[Envelope[Message], int], Message | None]
"""(command envelope, how many times this command TYPE was seen for its order) -> reply."""


def happy(envelope: Envelope[Message], _seen: int) -> Message | None:
    command = envelope.payload
    replies: dict[str, type[_Kit]] = {
        Reserve.TYPE: Reserved, Charge.TYPE: Charged, Release.TYPE: Released,
    }  # fmt: skip
    return replies[command.TYPE](order=command.order)  # type: ignore[attr-defined]


class Participants:
    """One thread consuming the commands topic and replying as `behaviour` says; `seen` keeps
    every command envelope, in order."""

    def __init__(self, world: World, bootstrap: str, behaviour: Behaviour) -> None:
        self.world = world
        self.bootstrap = bootstrap
        self.behaviour = behaviour
        self.seen: list[Envelope[Message]] = []
        self.counts: dict[tuple[str, str], int] = {}
        self.errors: list[BaseException] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True, name="participants")

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.errors.append(exc)

    def _loop(self) -> None:
        commands = self.world.commands_route()
        replies = self.world.replies_route()
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": f"{self.world.base}.participants",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": True,
            }
        )
        producer = Producer({"bootstrap.servers": self.bootstrap, "acks": "all"})
        consumer.subscribe([self.world.commands_topic])
        codec = codec_for(commands, RuntimeConfig())
        try:
            while not self.stop.is_set():
                record = consumer.poll(0.2)
                if record is None or record.error() is not None:
                    continue
                envelope = codec.decode(cast(Any, record), commands)
                order = envelope.payload.order  # type: ignore[attr-defined]
                with self.lock:
                    self.seen.append(envelope)
                    key = (envelope.type, order)
                    self.counts[key] = self.counts.get(key, 0) + 1
                    count = self.counts[key]
                reply = self.behaviour(envelope, count)
                if reply is None:
                    continue
                out = reply.envelope(
                    correlation_id=envelope.correlation_id, causation_id=envelope.event_id
                )
                key_bytes, value, headers = encode(replies, out)
                producer.produce(
                    self.world.replies_topic, value=value, key=key_bytes, headers=headers
                )
                assert producer.flush(30) == 0
        finally:
            consumer.close()

    def types(self, order: str) -> list[str]:
        with self.lock:
            return [e.type for e in self.seen if e.payload.order == order]  # type: ignore[attr-defined]


@dataclass
class Running:
    """A worker, a relay and participants in threads; `stats` once the worker returned."""

    app: SagaApp
    stop: threading.Event
    thread: threading.Thread
    relay_stop: threading.Event
    relay: threading.Thread
    result: list[SagaStats]
    errors: list[BaseException]


@contextmanager
def running(world: World, app: SagaApp, *, idle_exit_s: float | None = None) -> Iterator[Running]:
    """Run the worker and the outbox relay in threads; stop both at the end (bounded)."""
    stop, relay_stop = threading.Event(), threading.Event()
    result: list[SagaStats] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            result.append(app.run(world.config, idle_exit_s=idle_exit_s, stop=stop))
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    def relay() -> None:
        try:
            PollingRelay(world.outbox_spec()).run(world.config, stop=relay_stop)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    worker = threading.Thread(target=work, daemon=True, name="saga-worker")
    relaying = threading.Thread(target=relay, daemon=True, name="relay")
    worker.start()
    relaying.start()
    run = Running(app, stop, worker, relay_stop, relaying, result, errors)
    try:
        yield run
    finally:
        stop.set()
        worker.join(60)
        relay_stop.set()
        relaying.join(60)
        assert not worker.is_alive() and not relaying.is_alive()


@contextmanager
def participants(world: World, bootstrap: str, behaviour: Behaviour) -> Iterator[Participants]:
    p = Participants(world, bootstrap, behaviour)
    p.thread.start()
    try:
        yield p
    finally:
        p.stop.set()
        p.thread.join(30)
        assert not p.thread.is_alive()
        assert p.errors == []


def wait_for(check: Callable[[], Any], what: str, timeout_s: float = WAIT_S) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout_s:g} s waiting for {what}"
        time.sleep(0.1)


def sqlite_path(tmp: Path) -> str:
    return str(tmp / "saga.sqlite3")
