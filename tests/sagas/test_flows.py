"""The choreography flow tracker (FlowTracker) on the real Kafka, with SQLite and PostgreSQL.

One topic carries a hand-made choreography's messages (Started, Dispatched, then the success
outcome Committed or the failure outcome Refused) and a message of no choreography (Noise).
Flows: one reaches success, one failure, one started two hours ago with no outcome is flagged
OVERDUE by the sweep (deadline 10 minutes), one started now stays RUNNING; a record delivered
twice is counted once; Noise changes nothing; `flows list --format json` prints the rows.
Only Started opens a flow: an outcome of a flow that never started stays in a PENDING row
(not listed, never OVERDUE, no outcome), steps seen before their start are replayed after it;
PENDING rows older than 7 deadlines are deleted by the sweep, bounded; counters are added when
the record's transaction commits (a commit that fails once counts nothing).
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
from eventgen.runtime.saga.flows import (
    FAILED,
    OVERDUE,
    PENDING,
    RUNNING,
    SUCCEEDED,
    FlowSpec,
    FlowTracker,
)
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
    ok, bad, old, fresh, orphan, late = (f"order-{n}-{uuid.uuid4().hex[:6]}" for n in range(6))
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
        # An outcome of a flow that never started, 30 minutes old: past the deadline (10
        # minutes), not yet past the 7 deadlines after which the sweep deletes a PENDING row.
        setup.record(Refused(order=orphan), occurred_at=long_ago + timedelta(minutes=90)),
        # Steps (an outcome among them) seen before their flow's start: kept, then replayed.
        setup.record(Dispatched(order=late)),
        setup.record(Committed(order=late)),
        setup.record(Started(order=late)),
    ]
    produce(setup.config.bootstrap_servers, setup.topic, records)
    stats = setup.tracker.run(setup.config, max_messages=len(records), idle_exit_s=30.0)
    assert stats.consumer.consumed == len(records)
    assert stats.consumer.duplicates + stats.repeated == 1
    assert stats.consumer.skipped == 1
    assert (stats.started, stats.pending, stats.replayed) == (5, 3, 2)
    assert stats.outcomes == 3  # ok, bad, late: the orphan's Refused is no outcome

    store = Store.open(setup.kind, setup.config)
    try:
        with store.transaction() as conn:
            flows = {f.correlation_id: f for f in setup.tracker.flows(conn)}
            overdue = setup.tracker.flows(conn, OVERDUE)
            pending = setup.tracker.flows(conn, PENDING)
            kept = setup.tracker.flow(conn, orphan)
    finally:
        store.close()
    assert set(flows) == {ok, bad, old, fresh, late}
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
    assert flows[late].status == SUCCEEDED
    assert flows[late].outcome == Committed.TYPE
    assert [s["type"] for s in flows[late].steps] == [
        Started.TYPE,
        Dispatched.TYPE,
        Committed.TYPE,
    ]
    assert [f.correlation_id for f in pending] == [orphan]
    assert kept is not None
    assert (kept.status, kept.outcome, kept.overdue_at) == (PENDING, None, None)
    assert [s["type"] for s in kept.steps] == [Refused.TYPE]

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
        late: SUCCEEDED,
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

    code = flows_cli.main(
        [
            "list",
            "tests.sagas.test_flows:HOLDER.tracker",
            "--status",
            PENDING,
            "--format",
            "json",
            *flags,
        ],
        prog="flows",
    )
    assert code == 0
    assert [row["correlation_id"] for row in json.loads(capsys.readouterr().out)] == [orphan]


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


def test_pending_rows_expire_after_seven_deadlines_bounded(setup: Setup) -> None:
    """The sweep never marks a PENDING row OVERDUE; `expire_pending` deletes the PENDING rows
    older than 7 deadlines (70 minutes here), at most sweep_batch x sweep_rounds per call,
    and leaves younger PENDING rows and started flows alone."""
    tracker = FlowTracker(
        setup.tracker.spec, setup.tracker.consumer_spec, FLOW_MESSAGES, sweep_batch=2,
        sweep_rounds=2,
    )  # fmt: skip
    now = datetime.now(UTC)
    stale = [f"stale-{n}-{uuid.uuid4().hex[:6]}" for n in range(5)]
    young, started = f"young-{uuid.uuid4().hex[:6]}", f"started-{uuid.uuid4().hex[:6]}"
    store = Store.open(setup.kind, setup.config)
    try:
        with store.transaction() as conn:
            tracker.ensure_schema(conn)
            for order in stale:
                tracker.record(conn, order, Committed.TYPE, str(uuid.uuid4()), now - 8 * _TEN_MIN)
            tracker.record(conn, young, Refused.TYPE, str(uuid.uuid4()), now - 6 * _TEN_MIN)
            tracker.record(conn, started, Started.TYPE, str(uuid.uuid4()), now - 8 * _TEN_MIN)
        with store.transaction() as conn:
            assert tracker.sweep(conn) == 1  # the started flow; no PENDING row
            expired = [tracker.expire_pending(conn) for _ in range(3)]
            left = {f.correlation_id: f.status for f in tracker.flows(conn, PENDING)}
            flow = tracker.flow(conn, started)
    finally:
        store.close()
    assert expired == [4, 1, 0]
    assert left == {young: PENDING}
    assert flow is not None and flow.status == OVERDUE


_TEN_MIN = timedelta(minutes=10)


@pytest.mark.postgres
def test_counters_are_added_when_the_transaction_commits(
    tmp_path: Path, kafka_bootstrap_servers: str, postgres_dsn: str
) -> None:
    """A deferred constraint trigger on the flows table refuses the first commit (a sequence,
    which no rollback undoes, counts its calls): the loop rolls back and handles the records
    again; each is counted once, when its transaction commits."""
    suffix = uuid.uuid4().hex[:8]
    topic = f"flowkit-{suffix}"
    config = RuntimeConfig(
        bootstrap_servers=kafka_bootstrap_servers,
        postgres_dsn=postgres_dsn,
        sqlite_path=str(tmp_path / "unused.sqlite3"),
        connect_timeout_s=20.0,
    )
    tracker = _tracker("postgres", topic, suffix)
    table, inbox = tracker.spec.table, tracker.consumer_spec.inbox_table
    sequence, function = f"flowkit_fail_{suffix}", f"flowkit_fail_once_{suffix}"
    order = f"order-{uuid.uuid4().hex[:6]}"
    setup = Setup("postgres", config, topic, table, inbox, tracker)
    store = Store.open("postgres", config)
    try:
        with store.transaction() as conn:
            tracker.ensure_schema(conn)
        conn = store.connection
        conn.execute(f'CREATE SEQUENCE "{sequence}"')
        conn.execute(
            f'CREATE FUNCTION "{function}"() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN'
            f" IF nextval('\"{sequence}\"') = 1 THEN"
            " RAISE EXCEPTION 'commit refused once (test)'; END IF; RETURN NULL; END $$"
        )
        conn.execute(
            f'CREATE CONSTRAINT TRIGGER "{function}" AFTER INSERT OR UPDATE ON "{table}"'
            " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW"
            f' EXECUTE FUNCTION "{function}"()'
        )
        records = [
            setup.record(Started(order=order)),
            setup.record(Dispatched(order=order)),
            setup.record(Committed(order=order)),
        ]
        with topics(kafka_bootstrap_servers, {topic: 1}):
            produce(kafka_bootstrap_servers, topic, records)
            stats = tracker.run(config, max_messages=len(records), idle_exit_s=30.0)
        with store.transaction() as conn:
            flow = tracker.flow(conn, order)
            (calls,) = conn.execute(f'SELECT last_value FROM "{sequence}"').fetchone()
    finally:
        conn = store.connection
        for statement in (
            f'DROP TABLE IF EXISTS "{table}"',
            f'DROP TABLE IF EXISTS "{inbox}"',
            f'DROP FUNCTION IF EXISTS "{function}"()',
            f'DROP SEQUENCE IF EXISTS "{sequence}"',
        ):
            conn.execute(statement)
        store.close()
    assert calls >= 2  # the refused commit, then at least one that went through
    assert flow is not None
    assert flow.status == SUCCEEDED
    assert [s["type"] for s in flow.steps] == [Started.TYPE, Dispatched.TYPE, Committed.TYPE]
    assert (stats.records, stats.started, stats.steps, stats.outcomes) == (3, 1, 3, 1)
    assert stats.repeated == 0
