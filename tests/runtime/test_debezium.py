"""The Debezium route end to end on real services: PostgreSQL (wal_level=logical), Kafka and
the Kafka Connect worker of scripts/services.

A spec with a `relay: debezium` outbox is built with `eventgen build` (in process); the test
runs the generated SQL file, POSTs the generated `connect/<context>-outbox.json` to Connect byte
for byte, and writes rows through the generated `<context>_app.outbox` (insert and delete in the
caller's transaction). The records come out on the topic each row names with the key, value and
envelope headers the publisher would have written (`encode_for_outbox`), and decode into the
generated model.

Uses $EVENTGEN_CONNECT_URL with $KAFKA_BOOTSTRAP_SERVERS and $EVENTGEN_POSTGRES_DSN (one
`scripts/services start`, so the worker's EVENTGEN_PG_* point at that PostgreSQL); without it,
a private set of all three is started for the module.
"""

from __future__ import annotations

import importlib
import json
import os
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import psycopg
import pytest
from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka import Message as KafkaMessage
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from eventgen.emit.connect import connector_config, publication_name, slot_name
from eventgen.ir.model import Project
from eventgen.pipeline import load_project
from eventgen.runtime.config import RuntimeConfig, load_config
from eventgen.runtime.headers import HEADER_FIELDS
from eventgen.runtime.model import Envelope, Message
from eventgen.runtime.partitioning import partition_for
from eventgen.runtime.publisher import encode_for_outbox, producer_config
from eventgen.runtime.serde import codec_for
from eventgen.runtime.spec import PublisherSpec, Route
from eventgen.runtime.transport import RecordLike
from tests.emit_services.helpers import build, import_fresh
from tests.services import started_services

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.timeout(600)]

WAIT_S = 90.0  # each bounded wait: connector RUNNING, slot created, records consumed
HTTP_TIMEOUT_S = 30.0
PACKAGE = "dbz_events"


@pytest.fixture(scope="module")
def services() -> Iterator[dict[str, str]]:
    """KAFKA_BOOTSTRAP_SERVERS, EVENTGEN_POSTGRES_DSN and EVENTGEN_CONNECT_URL of one start."""
    names = ("KAFKA_BOOTSTRAP_SERVERS", "EVENTGEN_POSTGRES_DSN", "EVENTGEN_CONNECT_URL")
    if os.environ.get("EVENTGEN_CONNECT_URL"):
        missing = [n for n in names if not os.environ.get(n)]
        assert not missing, f"EVENTGEN_CONNECT_URL is set but not {missing}"
        yield {n: os.environ[n] for n in names}
        return
    with started_services("connect") as exports:
        yield exports


# -- the spec --------------------------------------------------------------------------------


def write_spec(root: Path, context: str, table: str) -> Path:
    specs = root / "specs"
    specs.mkdir()
    (specs / "eventgen.yaml").write_text(
        f"eventgen: 1\nproject: dbz\npackage: {PACKAGE}\noutput: ../generated\n"
        "defaults:\n  serialization: avro\n  compatibility: BACKWARD\n"
        "  topic: {partitions: 3, replication_factor: 1}\n"
    )
    (specs / f"{context}.yaml").write_text(
        f"eventgen: 1\ncontext: {context}\n"
        "topics:\n  payment-events: {key: uuid, cleanup: delete}\n"
        "  payment-audit: {cleanup: delete}\n"  # unkeyed: records without a key
        "events:\n"
        "  AuditNoted:\n"
        "    topic: payment-audit\n    key: order_id\n"
        "    fields: {order_id: uuid, text: string}\n"
        "  CardCharged:\n"
        "    topic: payment-events\n    key: order_id\n"
        "    fields:\n"
        "      order_id: uuid\n"
        "      amount: {type: 'decimal(12,2)'}\n"
        "      holder: string\n"
        "      note: {type: 'string?'}\n"
        "      charged_at: timestamp\n"
        f"outbox:\n  table: {table}\n  relay: debezium\n  store: postgres\n"
    )
    return specs


# -- Connect REST, PostgreSQL, Kafka ---------------------------------------------------------


def http(method: str, url: str, body: bytes | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, method=method)
    request.add_header("Content-Type", "application/json")
    request.add_header("Accept", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
            text = response.read()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as e:
        text = e.read()
        try:
            return e.code, json.loads(text)
        except ValueError:
            return e.code, text.decode(errors="replace")


def wait_running(connect_url: str, name: str) -> None:
    deadline = time.monotonic() + WAIT_S
    status: Any = None
    while time.monotonic() < deadline:
        try:
            code, status = http("GET", f"{connect_url}/connectors/{name}/status")
        except urllib.error.URLError as e:  # a worker (re)starting refuses connections
            code, status = 0, str(e)
        if code == 200:
            states = [status["connector"]["state"], *(t["state"] for t in status["tasks"])]
            if "FAILED" in states:
                pytest.fail(f"connector {name} failed: {json.dumps(status, indent=1)[:4000]}")
            if status["tasks"] and set(states) == {"RUNNING"}:
                return
        time.sleep(0.5)
    pytest.fail(f"connector {name} not RUNNING within {WAIT_S}s: {status}")


def wait_slot(dsn: str, slot: str) -> None:
    """The task creates the slot when it starts streaming; rows written before are not read."""
    deadline = time.monotonic() + WAIT_S
    with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT active FROM pg_replication_slots WHERE slot_name = %s", (slot,)
            ).fetchone()
            if row is not None and row[0]:
                return
            time.sleep(0.5)
    pytest.fail(f"replication slot {slot} not active within {WAIT_S}s")


def drop_connector(connect_url: str, name: str, dsn: str, slot: str, publication: str) -> None:
    """Delete the connector, then its slot and publication (a left-over slot holds WAL)."""
    http("DELETE", f"{connect_url}/connectors/{name}")
    deadline = time.monotonic() + WAIT_S
    with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT active FROM pg_replication_slots WHERE slot_name = %s", (slot,)
            ).fetchone()
            if row is None:
                break
            if not row[0]:
                conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
                break
            time.sleep(0.5)
        conn.execute(f'DROP PUBLICATION IF EXISTS "{publication}"')


def consume(bootstrap: str, topic: str, count: int) -> list[KafkaMessage]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"dbz-test-{uuid.uuid4().hex[:12]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    records: list[KafkaMessage] = []
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + WAIT_S
        while len(records) < count and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            if (err := msg.error()) is not None:
                assert err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART, err
                continue
            records.append(msg)
    finally:
        consumer.close()
    assert len(records) == count, f"{len(records)} of {count} records on {topic} in {WAIT_S}s"
    return records


# -- one route: spec, generated models, table, topic, connector ------------------------------


@dataclass
class Sent:
    envelope: Envelope[Message]
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


@dataclass
class DebeziumRoute:
    """A built spec with a running connector for a fresh context; `write` adds outbox rows
    through the generated `<context>_app.outbox`."""

    services: dict[str, str]
    out: Path  # the build's output dir
    app: ModuleType  # <package>.<context>_app
    models: ModuleType  # <package>.<context>
    topic: str
    audit_topic: str
    table: str
    name: str
    body: bytes  # connect/<context>-outbox.json as the build wrote it

    @property
    def connect_url(self) -> str:
        return self.services["EVENTGEN_CONNECT_URL"]

    @property
    def dsn(self) -> str:
        return self.services["EVENTGEN_POSTGRES_DSN"]

    @property
    def bootstrap(self) -> str:
        return self.services["KAFKA_BOOTSTRAP_SERVERS"]

    def route(self, message_type: type[Message]) -> Route:
        spec: PublisherSpec = self.app.PUBLISHER_SPEC
        return spec.route(message_type.TYPE)

    def charged(self, i: int) -> Message:
        message: Message = self.models.CardCharged.model_validate(
            {
                "order_id": uuid.uuid4(),
                "amount": f"{i}.5{i % 10}",
                "holder": f"Grace Hopper \u2713 {i}",
                "note": None if i % 2 else f"note {i}",
                "charged_at": datetime(2026, 1, 2, 3, 4, 5, 600000 + i, tzinfo=UTC),
            }
        )
        return message

    def write(self, count: int) -> list[Sent]:
        """`count` CardCharged rows, one transaction each, half with correlation ids."""
        sent = []
        with psycopg.connect(self.dsn, connect_timeout=10) as conn:
            for i in range(count):
                with conn.transaction():
                    sent.append(self.add(conn, self.charged(i), i))
            left = conn.execute(f'SELECT count(*) FROM "{self.table}"').fetchone()
            assert left == (0,), "the insert-then-delete rows must not stay in the table"
        return sent

    def add(
        self,
        conn: psycopg.Connection[Any],
        message: Message,
        i: int,
        headers: dict[str, str] | None = None,
    ) -> Sent:
        """`outbox.add` in `conn`'s open transaction; what the publisher would have sent."""
        envelope = message.envelope(
            correlation_id=f"corr-{i}" if i % 2 else None,
            causation_id=uuid.uuid4() if i % 2 else None,
        )
        event_id = self.app.outbox.add(
            conn,
            message,
            correlation_id=envelope.correlation_id,
            causation_id=envelope.causation_id,
            headers=headers,
            event_id=envelope.event_id,
            occurred_at=envelope.occurred_at,
        )
        assert event_id == envelope.event_id
        value, key, wire = encode_for_outbox(envelope, self.route(type(message)), RuntimeConfig())
        return Sent(envelope, key, value, wire)

    def status(self) -> Any:
        code, status = http("GET", f"{self.connect_url}/connectors/{self.name}/status")
        assert code == 200, status
        return status


@pytest.fixture
def debezium_route(services: dict[str, str], tmp_path: Path) -> Iterator[DebeziumRoute]:
    """`eventgen build` of a fresh context, its SQL file run, its topics created, its
    connector file POSTed; everything removed again afterwards."""
    suffix = uuid.uuid4().hex[:10]
    context_name, table = f"pay{suffix}", f"pay{suffix}_outbox"
    specs = write_spec(tmp_path, context_name, table)
    out = tmp_path / "out"
    build(specs, out)
    app = import_fresh(out, PACKAGE, f"{context_name}_app")
    models = importlib.import_module(f"{PACKAGE}.{context_name}")
    app.outbox.configure(RuntimeConfig())  # no registry: the header codecs
    project, findings = load_project(specs)
    assert project is not None, [str(f) for f in findings]
    context = project.context(context_name)
    body = (out / "connect" / f"{context_name}-outbox.json").read_bytes()
    emitted = json.loads(body)
    assert emitted == connector_config(project, context)
    route = DebeziumRoute(
        services=services,
        out=out,
        app=app,
        models=models,
        topic=project.topics_by_name[f"{context_name}.payment-events"].kafka_name,
        audit_topic=project.topics_by_name[f"{context_name}.payment-audit"].kafka_name,
        table=table,
        name=emitted["name"],
        body=body,
    )
    slot, publication = slot_name(project, context), publication_name(project, context)
    with psycopg.connect(route.dsn, autocommit=True, connect_timeout=10) as conn:
        level = conn.execute("SHOW wal_level").fetchone()
        assert level == ("logical",), f"PostgreSQL at {route.dsn} runs with wal_level={level}"
        ddl = (out / "sql" / context_name / f"{table}.postgres.sql").read_text()
        conn.execute(ddl.encode())  # the generated DDL file, several statements
    admin = AdminClient({"bootstrap.servers": route.bootstrap})
    topics = [route.topic, route.audit_topic]
    created = admin.create_topics(
        [NewTopic(t, num_partitions=3, replication_factor=1) for t in topics]
    )
    for future in created.values():
        future.result(timeout=30)
    try:
        code, answer = http("POST", f"{route.connect_url}/connectors", route.body)
        assert code == 201, (code, answer)
        wait_running(route.connect_url, route.name)
        wait_slot(route.dsn, slot)
        yield route
    finally:
        drop_connector(route.connect_url, route.name, route.dsn, slot, publication)
        with psycopg.connect(route.dsn, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'DROP TABLE IF EXISTS "{table}"')
        admin.delete_topics(topics)


# -- the tests -------------------------------------------------------------------------------


def test_outbox_rows_reach_their_topic_as_the_publisher_writes_them(
    debezium_route: DebeziumRoute,
) -> None:
    sent = debezium_route.write(6)
    records = consume(debezium_route.bootstrap, debezium_route.topic, len(sent))
    by_key = {r.key(): r for r in records}
    assert len(by_key) == len(sent)
    route = debezium_route.route(debezium_route.models.CardCharged)
    codec = codec_for(route, RuntimeConfig())
    for one in sent:
        record = by_key[one.key]
        assert record.topic() == debezium_route.topic
        assert record.value() == one.value
        # Exactly the publisher's headers, in its order. One difference: the publisher leaves
        # out a None correlation_id/causation_id, the router writes the NULL column as a header
        # with a null value (every runtime decoder ignores those).
        published = dict(one.headers)
        assert [n for n, _ in one.headers] == [n for n in HEADER_FIELDS if n in published]
        assert record.headers() == [(n, published.get(n)) for n in HEADER_FIELDS]
        # confluent-kafka's stubs type headers() wider than what it returns (bytes values).
        decoded = codec.decode(cast(RecordLike, record), route)
        assert decoded == one.envelope
        assert decoded.payload == one.envelope.payload
        # Connect's Java producer partitions by murmur2 of the key bytes, as the runtime's
        # producers do (eventgen.runtime.partitioning; librdkafka's default is CRC32).
        assert one.key is not None
        assert record.partition() == partition_for(one.key, 3)


def test_one_connector_routes_each_row_to_its_topic_and_keeps_a_null_key(
    debezium_route: DebeziumRoute,
) -> None:
    """Rows for two topics in one transaction: each record on the topic its row names; the
    unkeyed topic's record has no key (the `key` column is NULL), bytes and headers exact."""
    charged = debezium_route.charged(0)
    noted = debezium_route.models.AuditNoted(order_id=uuid.uuid4(), text="charged")
    with psycopg.connect(debezium_route.dsn, connect_timeout=10) as conn, conn.transaction():
        sent = [debezium_route.add(conn, charged, 0), debezium_route.add(conn, noted, 1)]
    assert sent[0].key is not None and sent[1].key is None
    for one, topic in zip(sent, [debezium_route.topic, debezium_route.audit_topic], strict=True):
        (record,) = consume(debezium_route.bootstrap, topic, 1)
        assert (record.topic(), record.key(), record.value()) == (topic, one.key, one.value)
        published = dict(one.headers)
        assert record.headers() == [(n, published.get(n)) for n in HEADER_FIELDS]


def test_extra_headers_are_not_carried(debezium_route: DebeziumRoute) -> None:
    """Headers beyond the envelope (`add(..., headers=...)`) are not carried by this route: the
    EventRouter cannot expand the JSON `headers` column into headers (docs/debezium.md)."""
    with psycopg.connect(debezium_route.dsn, connect_timeout=10) as conn, conn.transaction():
        one = debezium_route.add(conn, debezium_route.charged(1), 1, headers={"tenant": "t-1"})
    (record,) = consume(debezium_route.bootstrap, debezium_route.topic, 1)
    assert record.value() == one.value
    assert [name for name, _ in cast(RecordLike, record).headers() or []] == list(HEADER_FIELDS)


def test_runtime_producers_partition_as_connect_does(
    debezium_route: DebeziumRoute,
) -> None:
    """A producer with the runtime's settings (publisher.producer_config: murmur2_random) puts
    each key on the partition Connect put it on (librdkafka's default, CRC32, would not)."""
    sent = debezium_route.write(8)
    records = consume(debezium_route.bootstrap, debezium_route.topic, len(sent))
    via_connect = {r.key(): r.partition() for r in records}
    producer = Producer(
        producer_config(load_config({"bootstrap_servers": debezium_route.bootstrap}), None)
    )
    delivered: dict[bytes, int] = {}

    def on_delivery(err: KafkaError | None, msg: KafkaMessage) -> None:
        assert err is None, err
        key = msg.key()
        assert isinstance(key, bytes)
        partition = msg.partition()
        assert partition is not None
        delivered[key] = partition

    for one in sent:
        producer.produce(debezium_route.topic, key=one.key, value=b"x", on_delivery=on_delivery)
    assert producer.flush(30) == 0
    assert delivered == via_connect
    assert len(set(via_connect.values())) > 1  # the keys did spread, so the match means something


def test_rows_written_while_the_connector_is_stopped_arrive_after_resume(
    debezium_route: DebeziumRoute,
) -> None:
    """Stopping the connector (PUT .../stop) leaves its slot in PostgreSQL; the slot keeps the
    WAL from the last flushed position, so rows committed meanwhile are sent after resume."""
    before = debezium_route.write(3)
    consume(debezium_route.bootstrap, debezium_route.topic, len(before))
    code, answer = http(
        "PUT", f"{debezium_route.connect_url}/connectors/{debezium_route.name}/stop"
    )
    assert code in (202, 204), answer  # 204 once done, 202 if still under way
    deadline = time.monotonic() + WAIT_S
    while debezium_route.status()["connector"]["state"] != "STOPPED":
        assert time.monotonic() < deadline, debezium_route.status()
        time.sleep(0.5)
    during = debezium_route.write(3)
    code, answer = http(
        "PUT", f"{debezium_route.connect_url}/connectors/{debezium_route.name}/resume"
    )
    assert code in (202, 204), answer  # 204 once done, 202 if still under way
    wait_running(debezium_route.connect_url, debezium_route.name)
    records = consume(debezium_route.bootstrap, debezium_route.topic, len(before) + len(during))
    got = [dict(cast(RecordLike, r).headers() or []).get("event_id") or b"" for r in records]
    want = [str(one.envelope.event_id).encode() for one in before + during]
    # Offsets were flushed when the task stopped, so nothing is sent twice here (a crash
    # instead of a stop could repeat what came after the last flush: at-least-once).
    assert sorted(got) == sorted(want)


def validation_errors(connect_url: str, config: dict[str, str]) -> dict[str, list[str]]:
    code, result = http(
        "PUT",
        f"{connect_url}/connector-plugins/PostgresConnector/config/validate",
        json.dumps(config).encode(),
    )
    assert code == 200, result
    return {
        c["value"]["name"]: c["value"]["errors"]
        for c in result["configs"]
        if c.get("value") and c["value"]["errors"]
    }


def test_connect_validates_the_emitted_config(services: dict[str, str], tmp_path: Path) -> None:
    """Connect's own validation (PUT .../config/validate) accepts the emitted config: the
    connector, the EventRouter, DropHeaders and the converters find no error in it, and the
    connector reaches PostgreSQL through the worker's ${env:EVENTGEN_PG_*} values."""
    project, _ = load_project(write_spec(tmp_path, "payv", "payv_outbox"))
    assert isinstance(project, Project)
    config = connector_config(project, project.context("payv"))["config"]
    connect_url = services["EVENTGEN_CONNECT_URL"]
    assert validation_errors(connect_url, config) == {}
    # The validation does connect: an unknown variable leaves the host unresolved, and the
    # same check then reports the failed connection.
    broken = dict(config, **{"database.hostname": "${env:EVENTGEN_PG_NO_SUCH_HOST}"})
    assert "database.hostname" in validation_errors(connect_url, broken)
