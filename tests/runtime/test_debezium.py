"""The Debezium route end to end on real services: PostgreSQL (wal_level=logical), Kafka and
the Kafka Connect worker of scripts/services.

A spec with a `relay: debezium` outbox is loaded through the real pipeline, its models are
generated and imported, and the connector file the build emits (`connect/<context>-outbox.json`)
is POSTed to Connect byte for byte. Rows inserted (and deleted in the same transaction,
as the writer does for Debezium) come out on the topic their `aggregatetype` names with the
key, value and envelope headers the publisher's codec produces, and decode into the model.

Uses $EVENTGEN_CONNECT_URL with $KAFKA_BOOTSTRAP_SERVERS and $EVENTGEN_POSTGRES_DSN (one
`scripts/services start`, so the worker's EVENTGEN_PG_* point at that PostgreSQL); without it,
a private set of all three is started for the module.
"""

from __future__ import annotations

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
from eventgen.emit.layout import connector_path
from eventgen.emit.services import emit_connect
from eventgen.ir.model import Context, Project
from eventgen.pipeline import load_project
from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.headers import HEADER_FIELDS
from eventgen.runtime.model import Envelope, Message
from eventgen.runtime.registry import TopicBinding
from eventgen.runtime.serde import codec_for, encode_key
from eventgen.runtime.spec import Route
from eventgen.runtime.sql import table_ddl
from eventgen.runtime.transport import RecordLike
from tests.models.fixtures import import_package
from tests.services import started_services

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.timeout(600)]

WAIT_S = 90.0  # each bounded wait: connector RUNNING, slot created, records consumed
HTTP_TIMEOUT_S = 30.0


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
        "eventgen: 1\nproject: dbz\npackage: dbz_events\noutput: ../generated\n"
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


def topic_binding(package: ModuleType, kafka_name: str) -> TopicBinding:
    topics = __import__(f"{package.__name__}.topics", fromlist=["topics"])
    for value in vars(topics).values():
        if isinstance(value, TopicBinding) and value.name == kafka_name:
            return value
    raise AssertionError(f"no TopicBinding for {kafka_name} in {topics.__name__}")


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


def outbox_insert(
    conn: psycopg.Connection[Any],
    table: str,
    topic: str,
    key: bytes | None,
    value: bytes,
    headers: dict[str, bytes],
) -> None:
    """One row as OutboxWriter.add writes it for `relay: debezium`: insert, then delete in the
    same transaction (the WAL keeps the insert; the table stays empty)."""
    text = {name: raw.decode() for name, raw in headers.items()}
    row = conn.execute(
        f'INSERT INTO "{table}" (id, aggregatetype, aggregateid, type, payload, key,'
        " schema_version, occurred_at, correlation_id, causation_id)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING seq",
        (
            text["event_id"], topic, None if key is None else key.hex(), text["type"], value,
            key, int(text["schema_version"]), text["occurred_at"],
            text.get("correlation_id"), text.get("causation_id"),
        ),
    ).fetchone()  # fmt: skip
    assert row is not None
    conn.execute(f'DELETE FROM "{table}" WHERE seq = %s', (row[0],))


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


def murmur2_partition(key: bytes, partitions: int) -> int:
    """The partition of Kafka's Java default partitioner (what Connect's producer uses):
    murmur2 of the key bytes (seed 0x9747b28c), sign bit cleared, modulo the partition count."""
    m, mask = 0x5BD1E995, 0xFFFFFFFF
    h = (0x9747B28C ^ len(key)) & mask
    whole = len(key) // 4 * 4
    for i in range(0, whole, 4):
        k = int.from_bytes(key[i : i + 4], "little")
        k = (k * m) & mask
        k ^= k >> 24
        k = (k * m) & mask
        h = ((h * m) & mask) ^ k
    rest = key[whole:]
    if rest:
        h ^= int.from_bytes(rest, "little")
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return (h & 0x7FFFFFFF) % partitions


@dataclass
class Sent:
    envelope: Envelope[Message]
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


@dataclass
class DebeziumRoute:
    """A running connector for a fresh context; `write` adds outbox rows."""

    services: dict[str, str]
    project: Project
    context: Context
    message_class: type[Message]
    topic: str
    table: str
    route: Route
    audit_class: type[Message]
    audit_topic: str
    audit_route: Route
    name: str
    body: bytes

    @property
    def connect_url(self) -> str:
        return self.services["EVENTGEN_CONNECT_URL"]

    @property
    def dsn(self) -> str:
        return self.services["EVENTGEN_POSTGRES_DSN"]

    @property
    def bootstrap(self) -> str:
        return self.services["KAFKA_BOOTSTRAP_SERVERS"]

    def write(self, count: int) -> list[Sent]:
        """`count` CardCharged rows, one transaction each, half with correlation ids."""
        sent = []
        with psycopg.connect(self.dsn, connect_timeout=10) as conn:
            for i in range(count):
                message = self.message_class.model_validate(
                    {
                        "order_id": uuid.uuid4(),
                        "amount": f"{i}.5{i % 10}",
                        "holder": f"Grace Hopper \u2713 {i}",
                        "note": None if i % 2 else f"note {i}",
                        "charged_at": datetime(2026, 1, 2, 3, 4, 5, 600000 + i, tzinfo=UTC),
                    }
                )
                with conn.transaction():
                    sent.append(self.add(conn, message, self.route, i))
            left = conn.execute(f'SELECT count(*) FROM "{self.table}"').fetchone()
            assert left == (0,), "the insert-then-delete rows must not stay in the table"
        return sent

    def add(self, conn: psycopg.Connection[Any], message: Message, route: Route, i: int) -> Sent:
        """One outbox row for `message` in `conn`'s open transaction."""
        envelope = Envelope[Message](
            event_id=uuid.uuid4(),
            type=message.TYPE,
            schema_version=message.VERSION,
            occurred_at=datetime.now(UTC),
            correlation_id=f"corr-{i}" if i % 2 else None,
            causation_id=uuid.uuid4() if i % 2 else None,
            payload=message,
        )
        value, headers = codec_for(route, RuntimeConfig()).encode(envelope, route)
        key = encode_key(route, message)
        outbox_insert(conn, self.table, route.topic.name, key, value, dict(headers))
        return Sent(envelope, key, value, headers)

    def status(self) -> Any:
        code, status = http("GET", f"{self.connect_url}/connectors/{self.name}/status")
        assert code == 200, status
        return status


@pytest.fixture
def debezium_route(services: dict[str, str], tmp_path: Path) -> Iterator[DebeziumRoute]:
    suffix = uuid.uuid4().hex[:10]
    context_name, table = f"pay{suffix}", f"pay{suffix}_outbox"
    project, findings = load_project(write_spec(tmp_path, context_name, table))
    assert project is not None, [str(f) for f in findings]
    context = project.context(context_name)
    package = import_package(project, tmp_path / "pkg")[context_name]
    kafka_topic = project.topics_by_name[f"{context_name}.payment-events"].kafka_name
    audit_topic = project.topics_by_name[f"{context_name}.payment-audit"].kafka_name
    top = __import__(project.package)
    # The file exactly as `eventgen build` writes it, POSTed unchanged.
    generated = emit_connect(project)[connector_path(context_name)].data
    emitted = json.loads(generated)
    assert emitted == connector_config(project, context)
    route = DebeziumRoute(
        services=services,
        project=project,
        context=context,
        message_class=package.CardCharged,
        topic=kafka_topic,
        table=table,
        route=Route(topic=topic_binding(top, kafka_topic)),
        audit_class=package.AuditNoted,
        audit_topic=audit_topic,
        audit_route=Route(topic=topic_binding(top, audit_topic)),
        name=emitted["name"],
        body=generated,
    )
    slot, publication = slot_name(project, context), publication_name(project, context)
    with psycopg.connect(route.dsn, autocommit=True, connect_timeout=10) as conn:
        level = conn.execute("SHOW wal_level").fetchone()
        assert level == ("logical",), f"PostgreSQL at {route.dsn} runs with wal_level={level}"
        conn.execute(table_ddl("postgres", "outbox", table))
    admin = AdminClient({"bootstrap.servers": route.bootstrap})
    topics = [kafka_topic, audit_topic]
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
    codec = codec_for(debezium_route.route, RuntimeConfig())
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
        decoded = codec.decode(cast(RecordLike, record), debezium_route.route)
        assert decoded == one.envelope
        assert decoded.payload == one.envelope.payload
        # Connect's Java producer partitions by murmur2 of the key bytes (librdkafka's
        # default, consistent_random, is CRC32: see docs/debezium.md).
        assert one.key is not None
        assert record.partition() == murmur2_partition(one.key, 3)


def test_one_connector_routes_each_row_to_its_topic_and_keeps_a_null_key(
    debezium_route: DebeziumRoute,
) -> None:
    """Rows for two topics in one transaction: each record on the topic its row names; the
    unkeyed topic's record has no key (the `key` column is NULL), bytes and headers exact."""
    order_id = uuid.uuid4()
    charged = debezium_route.message_class.model_validate(
        {
            "order_id": order_id,
            "amount": "10.00",
            "holder": "Ada",
            "note": None,
            "charged_at": datetime(2026, 1, 1, tzinfo=UTC),
        }
    )
    noted = debezium_route.audit_class.model_validate({"order_id": order_id, "text": "charged"})
    with psycopg.connect(debezium_route.dsn, connect_timeout=10) as conn, conn.transaction():
        sent = [
            debezium_route.add(conn, charged, debezium_route.route, 0),
            debezium_route.add(conn, noted, debezium_route.audit_route, 1),
        ]
    assert sent[0].key is not None and sent[1].key is None
    for one, topic in zip(sent, [debezium_route.topic, debezium_route.audit_topic], strict=True):
        (record,) = consume(debezium_route.bootstrap, topic, 1)
        assert (record.topic(), record.key(), record.value()) == (topic, one.key, one.value)
        published = dict(one.headers)
        assert record.headers() == [(n, published.get(n)) for n in HEADER_FIELDS]


def test_librdkafka_murmur2_random_partitions_as_connect_does(
    debezium_route: DebeziumRoute,
) -> None:
    """A librdkafka producer with `partitioner: murmur2_random` puts each key on the partition
    Connect put it on (with the default consistent_random, most keys differ)."""
    sent = debezium_route.write(8)
    records = consume(debezium_route.bootstrap, debezium_route.topic, len(sent))
    via_connect = {r.key(): r.partition() for r in records}
    producer = Producer(
        {"bootstrap.servers": debezium_route.bootstrap, "partitioner": "murmur2_random"}
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
