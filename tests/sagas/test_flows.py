"""The choreography flow tracker (FlowTracker) on the real Kafka, with SQLite and PostgreSQL.

One topic carries a hand-made choreography's messages (Started, Dispatched, then the success
outcome Committed or the failure outcome Refused) and a message of no choreography (Noise).
Flows: one reaches success, one failure, one started two hours ago with no outcome is flagged
OVERDUE by the sweep (deadline 10 minutes), one started now stays RUNNING; a record delivered
twice is counted once; Noise changes nothing; `flows list --format json` prints the rows.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar, Literal

import pytest

from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.db import Store
from eventgen.runtime.model import Message
from eventgen.runtime.registry import TopicBinding
from eventgen.runtime.saga import flows_cli
from eventgen.runtime.saga.flows import FAILED, OVERDUE, RUNNING, SUCCEEDED, FlowSpec, FlowTracker
from eventgen.runtime.serde import codec_for, encode_key
from eventgen.runtime.spec import ConsumerSpec, RetryPolicy, Route
from tests.runtime.apps.kit import Raw, produce, topics

pytestmark = pytest.mark.kafka

Kind = Literal["sqlite", "postgres"]
DIALECTS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


class _Flow(Message):
    VERSION: ClassVar[int] = 1
    SCHEMAS: ClassVar[str] = "tests.sagas.no_schemas"

    order: str

    def partition_key(self) -> str:
        return self.order


class Started(_Flow):
    TYPE: ClassVar[str] = "flowkit.Started"


class Dispatched(_Flow):
    TYPE: ClassVar[str] = "flowkit.Dispatched"


class Committed(_Flow):
    TYPE: ClassVar[str] = "flowkit.Committed"


class Refused(_Flow):
    TYPE: ClassVar[str] = "flowkit.Refused"


class Noise(_Flow):
    TYPE: ClassVar[str] = "flowkit.Noise"


FLOW_MESSAGES: tuple[type[Message], ...] = (Started, Dispatched, Committed, Refused)


class _Holder:
    """What `flows list` resolves (`tests.sagas.test_flows:HOLDER.tracker`)."""

    tracker: FlowTracker | None = None


HOLDER = _Holder()


@dataclass
class Setup:
    kind: Kind
    config: RuntimeConfig
    topic: str
    table: str
    inbox: str
    tracker: FlowTracker

    def route(self) -> Route:
        return Route(
            TopicBinding(self.topic, (*FLOW_MESSAGES, Noise), "string"), "json", None, None
        )

    def record(self, message: Message, occurred_at: datetime | None = None) -> Raw:
        route = self.route()
        envelope = message.envelope(occurred_at=occurred_at)
        value, headers = codec_for(route, RuntimeConfig()).encode(envelope, route)
        return None, encode_key(route, message), value, headers


def _tracker(kind: Kind, topic: str, suffix: str) -> FlowTracker:
    table = f"flowkit_flows_{suffix}"
    spec = FlowSpec(
        choreography="flowkit.Fulfilment",
        correlation="order",
        started_by=Started.TYPE,
        messages=tuple(sorted(cls.TYPE for cls in FLOW_MESSAGES)),
        success=(Committed.TYPE,),
        failure=(Refused.TYPE,),
        deadline_ms=600_000,
        table=table,
    )
    route = Route(TopicBinding(topic, (*FLOW_MESSAGES, Noise), "string"), "json", None, None)
    consumer = ConsumerSpec(
        name="fulfilment-tracker",
        context="flowkit",
        group=f"flowkit.{suffix}.fulfilment-tracker",
        topics=(route,),
        handles=spec.messages,
        retry=RetryPolicy(max_attempts=3, initial_ms=50, max_interval_ms=200),
        dlq=False,
        idempotency=kind,
        inbox_table=f"flowkit_inbox_{suffix}",
    )
    return FlowTracker(spec, consumer, FLOW_MESSAGES, sweep_interval_s=0.2)


@pytest.fixture(params=DIALECTS)
def setup(
    request: pytest.FixtureRequest, tmp_path: Path, kafka_bootstrap_servers: str
) -> Iterator[Setup]:
    kind: Kind = request.param
    dsn = request.getfixturevalue("postgres_dsn") if kind == "postgres" else None
    suffix = uuid.uuid4().hex[:8]
    topic = f"flowkit-{suffix}"
    config = RuntimeConfig(
        bootstrap_servers=kafka_bootstrap_servers,
        sqlite_path=str(tmp_path / "flows.sqlite3"),
        postgres_dsn=dsn,
        connect_timeout_s=20.0,
    )
    tracker = _tracker(kind, topic, suffix)
    made = Setup(
        kind, config, topic, tracker.spec.table, tracker.consumer_spec.inbox_table, tracker
    )
    with topics(kafka_bootstrap_servers, {topic: 3}):
        try:
            yield made
        finally:
            HOLDER.tracker = None
            if kind == "postgres":
                store = Store.open("postgres", config)
                try:
                    for table in (made.table, made.inbox):
                        store.connection.execute(f'DROP TABLE IF EXISTS "{table}"')
                finally:
                    store.close()


def test_flows_succeed_fail_overdue_and_dedupe(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    ok, bad, old, fresh = (f"order-{n}-{uuid.uuid4().hex[:6]}" for n in range(4))
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    dispatched = setup.record(Dispatched(order=ok))
    records = [
        setup.record(Started(order=ok)),
        dispatched,
        dispatched,  # the same record (same event id) a second time
        setup.record(Noise(order=ok)),  # of no choreography: skipped
        setup.record(Committed(order=ok)),
        setup.record(Started(order=bad)),
        setup.record(Refused(order=bad)),
        setup.record(Started(order=old), occurred_at=long_ago),
        setup.record(Started(order=fresh)),
    ]
    produce(setup.config.bootstrap_servers, setup.topic, records)
    stats = setup.tracker.run(setup.config, max_messages=len(records), idle_exit_s=30.0)
    assert stats.consumer.consumed == len(records)
    assert stats.consumer.duplicates + stats.repeated == 1
    assert stats.consumer.skipped == 1

    store = Store.open(setup.kind, setup.config)
    try:
        with store.transaction() as conn:
            flows = {f.correlation_id: f for f in setup.tracker.flows(conn)}
            overdue = setup.tracker.flows(conn, OVERDUE)
    finally:
        store.close()
    assert set(flows) == {ok, bad, old, fresh}
    assert flows[ok].status == SUCCEEDED
    assert flows[ok].outcome == Committed.TYPE
    assert [s["type"] for s in flows[ok].steps] == [Started.TYPE, Dispatched.TYPE, Committed.TYPE]
    assert flows[bad].status == FAILED
    assert flows[bad].outcome == Refused.TYPE
    assert flows[old].status == OVERDUE
    assert flows[old].overdue_at is not None
    assert flows[old].outcome is None
    assert flows[fresh].status == RUNNING
    assert flows[fresh].overdue_at is None
    assert [f.correlation_id for f in overdue] == [old]
    assert stats.overdue == 1

    HOLDER.tracker = setup.tracker
    flags = (
        ["--postgres-dsn", setup.config.postgres_dsn or ""]
        if setup.kind == "postgres"
        else ["--sqlite-path", setup.config.sqlite_path]
    )
    capsys.readouterr()
    code = flows_cli.main(
        ["list", "tests.sagas.test_flows:HOLDER.tracker", "--format", "json", *flags],
        prog="flows",
    )
    out = capsys.readouterr().out
    assert code == 0
    listed = {row["correlation_id"]: row for row in json.loads(out)}
    assert {k: v["status"] for k, v in listed.items()} == {
        ok: SUCCEEDED,
        bad: FAILED,
        old: OVERDUE,
        fresh: RUNNING,
    }
    assert listed[ok]["outcome"] == Committed.TYPE
    assert len(listed[ok]["steps"]) == 3

    code = flows_cli.main(
        [
            "list",
            "tests.sagas.test_flows:HOLDER.tracker",
            "--status",
            FAILED,
            "--format",
            "json",
            *flags,
        ],
        prog="flows",
    )
    assert code == 0
    assert [row["correlation_id"] for row in json.loads(capsys.readouterr().out)] == [bad]


def test_a_late_outcome_keeps_overdue_at(setup: Setup) -> None:
    """A flow flagged OVERDUE that then reaches its outcome records it and keeps overdue_at;
    the same step recorded twice (same event id) is appended once."""
    order = f"order-{uuid.uuid4().hex[:6]}"
    tracker = setup.tracker
    store = Store.open(setup.kind, setup.config)
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    try:
        with store.transaction() as conn:
            tracker.ensure_schema(conn)
            tracker.record(conn, order, Started.TYPE, str(uuid.uuid4()), long_ago)
        with store.transaction() as conn:
            assert tracker.sweep(conn) == 1
            assert tracker.sweep(conn) == 0
        step = str(uuid.uuid4())
        for _ in range(2):
            with store.transaction() as conn:
                tracker.record(conn, order, Committed.TYPE, step, datetime.now(UTC))
        with store.transaction() as conn:
            flow = tracker.flow(conn, order)
    finally:
        store.close()
    assert flow is not None
    assert flow.status == SUCCEEDED
    assert flow.outcome == Committed.TYPE
    assert flow.overdue_at is not None
    assert len(flow.steps) == 2
