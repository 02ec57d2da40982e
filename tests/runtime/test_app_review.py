"""Defects a review found in the consumer app, each on the real Kafka where it needs a broker.

- batch + park-key: a key parked while a failed batch is isolated parks its later records of
  the same batch (reason `parked`), they are not handled;
- park-key: the park row and the DLQ write are one unit, a failure in between marks nothing
  done (the key is parked after a restart, its later records are not handled);
- a rejected asynchronous offset commit is not taken for a committed one at stop;
- a handler annotated with a class the message is not an instance of is a start-up error;
- ctx.db is None when the idempotency store is `none`, also under park-key;
- one StartupError class for apps, relays and the runner.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eventgen.runtime import errors
from eventgen.runtime.app import Context, StartupError
from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.failures.parking import ParkedKeys
from eventgen.runtime.model import Message
from eventgen.runtime.transport import ConsumerLike, KafkaTransport, ProducerLike
from tests.runtime.apps.kit import committed, encoded, headers_of, produce, read_all, topics, unique
from tests.runtime.apps.shop import Placed, Shipped, make_app

BACKSTOP_S = 60.0  # a run that the test stops itself is stopped after this at the latest


@pytest.fixture
def names(kafka_bootstrap_servers: str) -> Iterator[dict[str, str]]:
    base = unique("review")
    made = {"topic": f"{base}.in", "dlq": f"{base}.in.dlq", "group": f"{base}-g"}
    with topics(kafka_bootstrap_servers, {made["topic"]: 1, made["dlq"]: 1}):
        yield made


def config(bootstrap: str, tmp_path: Path) -> RuntimeConfig:
    return RuntimeConfig(bootstrap_servers=bootstrap, connect_timeout_s=10.0,
                         sqlite_path=str(tmp_path / "store.sqlite3"))  # fmt: skip


def reasons(bootstrap: str, dlq: str, expect: int) -> list[tuple[str, str]]:
    letters = read_all(bootstrap, dlq, expect=expect)
    return [
        (headers_of(r)["eventgen-dlq-reason"], headers_of(r)["eventgen-dlq-original-offset"])
        for r in letters
    ]


@pytest.mark.kafka
def test_batch_isolation_parks_the_later_records_of_a_poison_key_in_the_same_batch(
    kafka_bootstrap_servers: str, names: dict[str, str], tmp_path: Path
) -> None:
    topic, dlq, group = names["topic"], names["dlq"], names["group"]
    produce(kafka_bootstrap_servers, topic,
            [encoded(topic, Placed(order=k, seq=s)) for k, s in [("A", 0), ("A", 1), ("B", 2)]])  # fmt: skip
    app = make_app(topic, group, dlq=dlq, on_failure="park-key", idempotency="none",
                   processing="batch", batch_max_records=10, batch_max_wait_ms=2000)  # fmt: skip
    handled: list[tuple[str, int]] = []
    sizes: list[int] = []

    @app.on_batch
    def handle(pairs: list[tuple[Any, Context[Any]]]) -> None:
        sizes.append(len(pairs))
        if any(event.seq == 0 for event, _ in pairs):
            raise LookupError("poison")
        handled.extend((event.order, event.seq) for event, _ in pairs)

    stats = app.run(config(kafka_bootstrap_servers, tmp_path), idle_exit_s=3.0)
    assert sizes[0] == 3, sizes  # one batch: the case under test
    assert handled == [("B", 2)]  # A/1 did not overtake A/0
    assert reasons(kafka_bootstrap_servers, dlq, 2) == [("handler", "0"), ("parked", "1")]
    assert (stats.handled, stats.dead_lettered) == (1, 2)
    assert committed(kafka_bootstrap_servers, group, topic, 1) == [3]


@pytest.mark.kafka
def test_a_failed_parking_marks_nothing_done_and_the_key_is_parked_after_a_restart(
    kafka_bootstrap_servers: str,
    names: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    topic, dlq, group = names["topic"], names["dlq"], names["group"]
    cfg = config(kafka_bootstrap_servers, tmp_path)
    produce(kafka_bootstrap_servers, topic,
            [encoded(topic, Placed(order=k, seq=s)) for k, s in [("A", 0), ("A", 1), ("B", 2)]])  # fmt: skip
    handled: list[tuple[str, int]] = []

    def app_run(stop: threading.Event | None = None) -> None:
        app = make_app(topic, group, dlq=dlq, on_failure="park-key", idempotency="none")

        @app.on(Placed)
        def handle(event: Placed, ctx: Context[Placed]) -> None:
            if event.seq == 0:
                raise LookupError("poison")
            handled.append((event.order, event.seq))

        if stop is None:
            app.run(cfg, idle_exit_s=3.0)
            return
        backstop = threading.Timer(BACKSTOP_S, stop.set)
        backstop.start()
        try:
            app.run(cfg, stop=stop)
        finally:
            backstop.cancel()

    # Run 1: the database fails every parking; the run is stopped at the second try.
    stop = threading.Event()
    tries: list[int] = []
    real_park = ParkedKeys.park

    def broken_park(self: ParkedKeys, *args: Any, **kwargs: Any) -> None:
        tries.append(1)
        if len(tries) >= 2:
            stop.set()
        raise OSError("db connection lost")

    monkeypatch.setattr(ParkedKeys, "park", broken_park)
    app_run(stop)
    assert len(tries) >= 2  # the record was tried again, not given up
    assert handled == []  # nothing past the poison record ran
    assert committed(kafka_bootstrap_servers, group, topic, 1)[0] <= 0  # not past it

    # Run 2: the database works; the poison record is dead-lettered and parks its key.
    monkeypatch.setattr(ParkedKeys, "park", real_park)
    app_run()
    assert handled == [("B", 2)]
    assert reasons(kafka_bootstrap_servers, dlq, 2) == [("handler", "0"), ("parked", "1")]
    assert committed(kafka_bootstrap_servers, group, topic, 1) == [3]


class _Swallowing:
    """The real consumer, except that every asynchronous commit is dropped: what the loop
    sees when the broker rejects one (the outcome reaches only an on_commit callback)."""

    def __init__(self, consumer: ConsumerLike, dropped: list[int]) -> None:
        self._consumer = consumer
        self._dropped = dropped

    def commit(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("asynchronous", True):
            self._dropped.append(len(kwargs.get("offsets") or ()))
            return None
        return self._consumer.commit(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._consumer, name)


class _Transport:
    def __init__(self, dropped: list[int]) -> None:
        self.real = KafkaTransport()
        self.dropped = dropped

    def consumer(self, conf: dict[str, Any]) -> ConsumerLike:
        return _Swallowing(self.real.consumer(conf), self.dropped)

    def producer(self, conf: dict[str, Any]) -> ProducerLike:
        return self.real.producer(conf)


@pytest.mark.kafka
def test_a_rejected_async_commit_is_committed_synchronously_at_stop(
    kafka_bootstrap_servers: str, names: dict[str, str], tmp_path: Path
) -> None:
    topic, dlq, group = names["topic"], names["dlq"], names["group"]
    produce(kafka_bootstrap_servers, topic,
            [encoded(topic, Placed(order="A", seq=s)) for s in range(5)])  # fmt: skip
    app = make_app(topic, group, dlq=dlq, idempotency="none")

    @app.on(Placed)
    def handle(event: Placed, ctx: Context[Placed]) -> None:
        pass

    dropped: list[int] = []
    stats = app.run(
        config(kafka_bootstrap_servers, tmp_path), transport=_Transport(dropped), idle_exit_s=3.0
    )
    assert stats.handled == 5
    assert dropped  # the case under test: an asynchronous commit was made and lost
    assert committed(kafka_bootstrap_servers, group, topic, 1) == [5]


@pytest.mark.kafka
@pytest.mark.parametrize(("idempotency", "has_db"), [("none", False), ("sqlite", True)])
def test_ctx_db_is_none_without_an_idempotency_store_also_under_park_key(
    kafka_bootstrap_servers: str,
    names: dict[str, str],
    tmp_path: Path,
    idempotency: str,
    has_db: bool,
) -> None:
    topic, dlq, group = names["topic"], names["dlq"], names["group"]
    produce(kafka_bootstrap_servers, topic, [encoded(topic, Placed(order="A", seq=1))])
    app = make_app(topic, group, dlq=dlq, on_failure="park-key", idempotency=idempotency)
    seen: list[Any] = []

    @app.on(Placed)
    def handle(event: Placed, ctx: Context[Placed]) -> None:
        seen.append(ctx.db)

    app.run(config(kafka_bootstrap_servers, tmp_path), idle_exit_s=3.0)
    assert len(seen) == 1
    assert (seen[0] is not None) is has_db


def test_a_handler_annotated_with_another_message_class_is_a_startup_error() -> None:
    app = make_app("t", "g")

    def wrong(event: Shipped, ctx: Context[Shipped]) -> None:
        pass

    with pytest.raises(StartupError) as raised:
        app.on(Placed)(wrong)  # type: ignore[arg-type]
    text = str(raised.value)
    assert "wrong" in text and "Placed" in text and "Shipped" in text, text
    assert app.missing() == ["shop.Placed"]  # not registered


def test_handlers_with_fitting_or_unresolvable_annotations_register() -> None:
    def exact(event: Placed, ctx: Context[Placed]) -> None:
        pass

    def base(event: Message, ctx: Context[Any]) -> None:
        pass

    def bare(event, ctx):  # type: ignore[no-untyped-def]
        pass

    def unresolvable(event: NoSuchName, ctx: Context[Any]) -> None:  # type: ignore[name-defined]  # noqa: F821
        pass

    def anything(event: Any, ctx: Any) -> None:  # typing.Any is a class on Python 3.11+
        pass

    def union(event: Placed | None, ctx: Context[Any]) -> None:
        pass

    for handler in (exact, base, bare, unresolvable, anything, union):
        app = make_app("t", "g")
        app.on(Placed)(handler)
        assert app.missing() == []


def test_one_startup_error_class_for_apps_relays_and_the_runner() -> None:
    assert StartupError is errors.StartupError
