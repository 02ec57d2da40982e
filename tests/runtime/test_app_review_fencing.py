"""exactly-once on the real Kafka: a LIVE zombie instance is fenced by its successor.

Instance A (instance_id "x") stops mid-transaction: its handler has published an output and
blocks. Instance B with the same instance_id starts (its init_transactions fences A's
transactional.id and aborts A's open transaction), takes the partition once A's
max.poll.interval.ms has passed, and processes every record. Then A resumes: its transaction
must fail, A's run must end, and a read_committed reader sees every output exactly once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from eventgen.runtime.app import Context
from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.serde import codec_for
from tests.runtime.apps.kit import committed, encoded, produce, read_all, topics, unique
from tests.runtime.apps.shop import Billed, Placed, make_app, output_route

pytestmark = pytest.mark.kafka

RECORDS = 5
WAIT_S = 90.0  # every wait of this test is bounded by this


@pytest.fixture
def names(kafka_bootstrap_servers: str) -> Iterator[dict[str, str]]:
    base = unique("fence")
    made = {"topic": f"{base}.in", "dlq": f"{base}.in.dlq", "out": f"{base}.out",
            "group": f"{base}-g"}  # fmt: skip
    with topics(kafka_bootstrap_servers, {made["topic"]: 1, made["dlq"]: 1, made["out"]: 1}):
        yield made


def test_a_live_zombie_instance_is_fenced_and_outputs_are_seen_exactly_once(
    kafka_bootstrap_servers: str, names: dict[str, str], tmp_path: Path
) -> None:
    topic, dlq, out, group = names["topic"], names["dlq"], names["out"], names["group"]
    # A blocked handler leaves the group after max.poll.interval.ms: kept short so that B is
    # assigned the partition while A is still alive (and still in its transaction).
    client = {"session.timeout.ms": "6000", "max.poll.interval.ms": "7000"}
    produce(kafka_bootstrap_servers, topic,
            [encoded(topic, Placed(order=f"k{i}", seq=i)) for i in range(RECORDS)])  # fmt: skip

    def app_config(name: str) -> RuntimeConfig:
        return RuntimeConfig(bootstrap_servers=kafka_bootstrap_servers, connect_timeout_s=30.0,
                             sqlite_path=str(tmp_path / f"{name}.sqlite3"), instance_id="x",
                             client=client)  # fmt: skip

    # --- instance A: publishes for the first record, then blocks inside its transaction.
    app_a = make_app(topic, group, dlq=dlq, output=out, delivery="exactly-once",
                     idempotency="none", name="fence-a")  # fmt: skip
    blocked, release, stop_a = threading.Event(), threading.Event(), threading.Event()
    a_calls: list[int] = []

    @app_a.on(Placed)
    def handle_a(event: Placed, ctx: Context[Placed]) -> None:
        a_calls.append(event.seq)
        ctx.publish(Billed(order=event.order, seq=event.seq))
        if len(a_calls) == 1:
            blocked.set()
            release.wait(WAIT_S)

    outcome: list[BaseException | None] = []

    def run_a() -> None:
        try:
            app_a.run(app_config("a"), idle_exit_s=5.0, stop=stop_a)
        except BaseException as exc:  # noqa: BLE001 - the outcome is asserted below
            outcome.append(exc)
        else:
            outcome.append(None)

    thread_a = threading.Thread(target=run_a, daemon=True)
    thread_a.start()
    try:
        assert blocked.wait(WAIT_S), "instance A never handled a record"

        # --- instance B: same instance_id, takes over and processes every record.
        app_b = make_app(topic, group, dlq=dlq, output=out, delivery="exactly-once",
                         idempotency="none", name="fence-b")  # fmt: skip

        @app_b.on(Placed)
        def handle_b(event: Placed, ctx: Context[Placed]) -> None:
            ctx.publish(Billed(order=event.order, seq=event.seq))

        stop_b = threading.Event()
        backstop = threading.Timer(WAIT_S, stop_b.set)
        backstop.start()
        try:
            stats_b = app_b.run(app_config("b"), max_messages=RECORDS, stop=stop_b)
        finally:
            backstop.cancel()
        assert not stop_b.is_set(), "instance B did not finish within the bound"
        assert stats_b.handled == RECORDS
        calls_before_release = len(a_calls)
    finally:
        release.set()  # --- A resumes: its transaction belongs to a fenced epoch
        thread_a.join(WAIT_S)
        if thread_a.is_alive():
            stop_a.set()
            thread_a.join(WAIT_S)
    assert not thread_a.is_alive()
    assert calls_before_release == 1  # A was stopped mid-transaction, on its first record
    assert outcome and outcome[0] is not None, "instance A was not fenced"
    assert "fenced" in str(outcome[0]).lower() or "fatal" in str(outcome[0]).lower(), outcome

    route = output_route(out)
    codec = codec_for(route, app_config("reader"))
    outputs = read_all(kafka_bootstrap_servers, out)
    seqs = [codec.decode(r, route).payload.seq for r in outputs]  # type: ignore[attr-defined]
    assert sorted(seqs) == list(range(RECORDS))  # each exactly once, A's output not among them
    assert read_all(kafka_bootstrap_servers, dlq) == []  # A dead-lettered nothing either
    assert committed(kafka_bootstrap_servers, group, topic, 1) == [RECORDS]
