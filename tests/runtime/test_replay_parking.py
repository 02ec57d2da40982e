"""park-key end to end on the real Kafka: a failing key is parked, replay releases it, and
the key's records are handled in their original order (the consumer app is the runtime's)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from eventgen.runtime.app import Context
from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.failures.dlq import REPLAY_HEADER
from eventgen.runtime.failures.parking import ParkedKeys
from eventgen.runtime.failures.replay import replay
from eventgen.runtime.spec import PARKED_TABLE
from tests.runtime.apps.kit import encoded, headers_of, produce, read_all, topics, unique
from tests.runtime.apps.shop import Placed, make_app

pytestmark = pytest.mark.kafka


@pytest.fixture
def names(kafka_bootstrap_servers: str) -> Iterator[dict[str, str]]:
    base = unique("park")
    made = {"topic": f"{base}.in", "dlq": f"{base}.in.dlq", "group": f"{base}-g"}
    with topics(kafka_bootstrap_servers, {made["topic"]: 1, made["dlq"]: 1}):
        yield made


class Shop:
    """A park-key consumer whose handler fails for key `a` while `broken` is set."""

    def __init__(self, bootstrap: str, names: dict[str, str], tmp_path: Path) -> None:
        self.names = names
        self.config = RuntimeConfig(
            bootstrap_servers=bootstrap,
            sqlite_path=str(tmp_path / "store.sqlite3"),
            connect_timeout_s=10.0,
            log_interval_s=60.0,
        )
        self.broken = True
        self.handled: list[tuple[str, int, bool]] = []  # order, seq, replayed

    def run(self) -> None:
        app = make_app(
            self.names["topic"], self.names["group"], dlq=self.names["dlq"], on_failure="park-key"
        )

        @app.on(Placed)
        def handle(event: Placed, ctx: Context[Placed]) -> None:
            if self.broken and event.order == "a":
                raise RuntimeError(f"cannot place {event.seq}")
            replayed = any(name == REPLAY_HEADER for name, _ in ctx.headers)
            self.handled.append((event.order, event.seq, replayed))

        app.run(self.config, idle_exit_s=3.0)

    def parked(self) -> list[tuple[bytes, int]]:
        conn = sqlite3.connect(self.config.sqlite_path)
        try:
            keys = ParkedKeys(PARKED_TABLE, self.names["group"]).keys(conn)
        finally:
            conn.close()
        return [(k.key, k.offset) for k in keys]

    def letters(self) -> list[tuple[str, str, int]]:
        """(reason, order key, replay count) of every dead letter, in DLQ order."""
        out = []
        for record in read_all(self.config.bootstrap_servers, self.names["dlq"]):
            h = headers_of(record)
            count = int(h.get(REPLAY_HEADER, "0"))
            # The key is a bare Avro string: one length byte (short keys), then the text.
            out.append((h["eventgen-dlq-reason"], record.key()[1:].decode(), count))
        return out


def test_parked_key_is_released_by_replay_and_keeps_its_order(
    kafka_bootstrap_servers: str, names: dict[str, str], tmp_path: Path
) -> None:
    topic, dlq = names["topic"], names["dlq"]
    orders = [("a", 1), ("a", 2), ("b", 3), ("a", 4), ("b", 5)]
    produce(
        kafka_bootstrap_servers, topic, [encoded(topic, Placed(order=o, seq=s)) for o, s in orders]
    )
    shop = Shop(kafka_bootstrap_servers, names, tmp_path)
    shop.run()
    # a/1 failed and parked `a`; a/2 and a/4 followed it to the DLQ; b went on.
    assert shop.handled == [("b", 3, False), ("b", 5, False)]
    assert shop.letters() == [("handler", "a", 0), ("parked", "a", 0), ("parked", "a", 0)]
    assert len(shop.parked()) == 1

    # Replayed while still broken: a/1 fails again and parks `a` under this run's id, so
    # the run's a/2 and a/4 do not release it and go back to the DLQ, in order.
    first = replay(dlq, config=shop.config, out=None)
    assert (first.sent, first.by_reason) == (3, {"handler": 1, "parked": 2})
    shop.run()
    assert shop.handled == [("b", 3, False), ("b", 5, False)]
    assert shop.letters()[3:] == [("handler", "a", 1), ("parked", "a", 1), ("parked", "a", 1)]
    assert len(shop.parked()) == 1

    # Fixed: replay the newest letters; the first one releases `a`, all three are handled in
    # their original order, and a new record of `a` is handled after them.
    shop.broken = False
    second = replay(dlq, config=shop.config, from_offset=3, out=None)
    assert second.sent == 3 and [i.replay_count for i in second.items] == [2, 2, 2]
    produce(kafka_bootstrap_servers, topic, [encoded(topic, Placed(order="a", seq=6))])
    shop.run()
    assert shop.handled[2:] == [("a", 1, True), ("a", 2, True), ("a", 4, True), ("a", 6, False)]
    assert shop.parked() == []
    assert len(shop.letters()) == 6  # nothing new dead-lettered
