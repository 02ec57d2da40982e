"""The generated query app on real Kafka and SQLite: a spec with a projection and a query that
has a topic and a key is built with the real CLI; the projection table is filled through the
generated ProjectionTable; the app (in a thread, bounded by max_messages / idle_exit_s)
answers a found and a not-found query to the `reply_to` topic with the request's correlation,
causation and key; a request without `reply_to` and an undecodable one are skipped and counted;
offsets are committed once the replies are acknowledged; a failing query function is answered
with an `error`; the generated module passes mypy --strict and the manifest names the app."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.db import Store
from eventgen.runtime.es.query import QueryApp, QueryError, QueryStats
from eventgen.runtime.publisher import produce_envelope, producer_config
from eventgen.runtime.runner import check_runnable
from eventgen.runtime.serde import encode_key
from eventgen.runtime.transport import KafkaTransport
from tests.emit_services.helpers import build, import_fresh, run_mypy, write_specs
from tests.runtime.relay_proc import create_topic, delete_topic

PACKAGE = "ask_events"
TICKET = uuid.UUID("3f2b8c1e-6a4d-4e9b-8f7a-2c1d0e9b8a76")

PROJECT = """\
eventgen: 1
project: askdemo
package: ask_events
output: ../out
defaults:
  topic: {partitions: 2, replication_factor: 1}
"""

DESK = """\
eventgen: 1
context: desk
topics:
  tickets: {key: uuid, name: {tickets}}
  questions: {key: uuid, name: {questions}}
types:
  TicketStats:
    fields: {open: int}
events:
  TicketOpened:
    topic: tickets
    key: ticket_id
    fields: {ticket_id: uuid, title: string, priority: {type: int, default: 3}}
  TicketClosed:
    topic: tickets
    key: ticket_id
    fields: {ticket_id: uuid}
queries:
  GetTicket:
    doc: One ticket by id.
    topic: questions
    key: ticket_id
    params: {ticket_id: uuid}
    returns: Ticket
  FindTicket:
    params: {title: string}
    returns: Ticket
  GetTicketStats:
    topic: questions
    key: ticket_id
    params: {ticket_id: uuid}
    returns: TicketStats
projections:
  Ticket:
    key: ticket_id
    fields:
      ticket_id: uuid
      title: string
      priority: {type: int, default: 3}
      open: {type: boolean, default: true}
      amount: {type: decimal, precision: 10, scale: 2, default: "0.50"}
    on:
      TicketOpened: {upsert: {title: $.title, priority: $.priority}}
      TicketClosed: {set: {open: false}}
"""


LEDGER = """\
eventgen: 1
context: ledger
topics:
  entries: {key: uuid, name: {entries}}
  lookups: {key: uuid, name: {lookups}}
events:
  EntryBooked:
    topic: entries
    key: entry_id
    fields:
      entry_id: uuid
      amount: {type: decimal, precision: 12, scale: 2}
      booked_at: timestamp
queries:
  GetLedgerEntry:
    topic: lookups
    key: entry_id
    params: {entry_id: uuid}
    returns: EsHLedgerEntry
projections:
  EsHLedgerEntry:
    key: entry_id
    fields:
      entry_id: uuid
      amount: {type: decimal, precision: 12, scale: 2}
      booked_at: timestamp
    on:
      EntryBooked: {upsert: {amount: $.amount, booked_at: $.booked_at}}
outbox:
  table: es_h_ledger_outbox
  relay: polling
  store: postgres
"""


class Built:
    def __init__(self, out: Path, questions: str, lookups: str, replies: str) -> None:
        self.out = out
        self.questions = questions
        self.lookups = lookups
        self.replies = replies

    def module(self) -> ModuleType:
        return import_fresh(self.out, PACKAGE, "desk_projections")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("query-app")
    suffix = uuid.uuid4().hex[:10]
    questions, tickets = f"es-h-questions-{suffix}", f"es-h-tickets-{suffix}"
    lookups, entries = f"es-h-lookups-{suffix}", f"es-h-entries-{suffix}"
    desk = DESK.replace("{questions}", questions).replace("{tickets}", tickets)
    ledger = LEDGER.replace("{lookups}", lookups).replace("{entries}", entries)
    files = {"eventgen.yaml": PROJECT, "desk.yaml": desk, "ledger.yaml": ledger}
    specs = write_specs(root / "specs", files)
    out = root / "out"
    build(specs, out)
    return Built(out, questions, lookups, f"es-h-replies-{suffix}")


@pytest.fixture(scope="module")
def topics(built: Built, kafka_bootstrap_servers: str) -> Iterator[Built]:
    create_topic(kafka_bootstrap_servers, built.questions, 2)
    create_topic(kafka_bootstrap_servers, built.lookups, 2)
    create_topic(kafka_bootstrap_servers, built.replies, 1)
    yield built
    delete_topic(kafka_bootstrap_servers, built.questions)
    delete_topic(kafka_bootstrap_servers, built.lookups)
    delete_topic(kafka_bootstrap_servers, built.replies)


def _config(bootstrap: str, path: Path) -> RuntimeConfig:
    return RuntimeConfig(bootstrap_servers=bootstrap, sqlite_path=str(path), connect_timeout_s=20)


def _start(app: QueryApp[Any, Any], config: RuntimeConfig, count: int) -> tuple[Any, Any]:
    """The app in a thread, ending after `count` requests (or 60 s without one)."""
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["stats"] = app.run(config=config, max_messages=count, idle_exit_s=60)
        except Exception as exc:  # noqa: BLE001 - reported by _finish
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, result


def _finish(thread: threading.Thread, result: dict[str, Any]) -> QueryStats:
    thread.join(120)
    assert not thread.is_alive(), "the query app did not stop"
    assert "error" not in result, result.get("error")
    stats = result["stats"]
    assert isinstance(stats, QueryStats)
    return stats


def _produce(config: RuntimeConfig, app: QueryApp[Any, Any], query: Any, **headers: str) -> Any:
    """A request produced by hand (no correlation_id; `reply_to` only when given)."""
    producer = KafkaTransport().producer(producer_config(config, None))
    envelope = query.envelope()
    produce_envelope(producer, envelope, app.route, config, headers=headers)
    assert producer.flush(30) == 0
    return envelope


def _produce_garbage(config: RuntimeConfig, topic: str) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": config.bootstrap_servers})
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    headers: list[tuple[str, str | bytes | None]] = [
        ("event_id", str(uuid.uuid4()).encode()),
        ("type", b"desk.GetTicket"),
        ("schema_version", b"1"),
        ("occurred_at", now.encode()),
        ("reply_to", b"nowhere"),
    ]
    producer.produce(topic, value=b"\xff\xfe not avro", key=b"k", headers=headers)
    assert producer.flush(30) == 0


def _topic_exists(bootstrap: str, topic: str) -> bool:
    from confluent_kafka.admin import AdminClient

    return topic in AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=30).topics


def _committed(bootstrap: str, group: str, topic: str) -> tuple[list[int], list[int]]:
    """The group's committed offsets on `topic`'s two partitions, and the partitions' ends."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        partitions = [TopicPartition(topic, p) for p in range(2)]
        found = consumer.committed(partitions, timeout=30)
        ends = []
        for tp in partitions:
            marks = consumer.get_watermark_offsets(tp, timeout=30)
            assert marks is not None
            ends.append(marks[1])
    finally:
        consumer.close()
    return [max(0, tp.offset) for tp in found], ends


@pytest.mark.kafka
def test_query_app_answers_over_kafka(
    topics: Built, tmp_path: Path, kafka_bootstrap_servers: str
) -> None:
    desk = topics.module()
    models = __import__(f"{PACKAGE}.desk", fromlist=["GetTicket"])
    app = desk.get_ticket_app
    assert isinstance(app, QueryApp)
    assert app.spec.group == "desk.get-ticket-answerer"
    assert app.route.topic.name == topics.questions
    config = _config(kafka_bootstrap_servers, tmp_path / "desk.sqlite3")

    store = Store.open("sqlite", config)
    try:
        table = desk.ticket_table
        with store.transaction() as conn:
            table.ensure_schema(conn)
            table.apply(
                conn,
                [
                    models.TicketOpened(ticket_id=TICKET, title="printer on fire", priority=1),
                    models.TicketOpened(ticket_id=uuid.uuid4(), title="other", priority=2),
                    models.TicketClosed(ticket_id=TICKET),
                ],
            )
        expected = table.get(store.connection, TICKET)
    finally:
        store.close()
    assert expected is not None and expected.open is False

    thread, result = _start(app, config, count=6)
    with app.client(reply_topic=topics.replies, config=config) as client:
        skipped = _produce(config, app, models.GetTicket(ticket_id=TICKET))  # no reply_to
        _produce_garbage(config, topics.questions)
        nowhere = f"es-h-nowhere-{uuid.uuid4().hex[:10]}"  # never created, and not auto-created
        _produce(config, app, models.GetTicket(ticket_id=TICKET), reply_to=nowhere)
        # Found: value, key and headers of the answer.
        query = models.GetTicket(ticket_id=TICKET)
        sent = client.send(query, correlation_id="corr-found")
        assert sent.correlation_id == "corr-found"
        reply = client.wait("corr-found", timeout_s=90)
        assert reply.type == "desk.GetTicket"
        assert reply.found is True and reply.error is None
        assert reply.result == {
            "ticket_id": str(TICKET),
            "title": "printer on fire",
            "priority": 1,
            "open": False,
            "amount": "0.50",
        }
        assert reply.result == expected.model_dump(mode="json")
        assert reply.correlation_id == "corr-found"
        assert reply.headers["type"] == "desk.GetTicket.Result"
        assert reply.key == encode_key(app.route, query)
        assert reply.causation_id == str(sent.event_id) != str(skipped.event_id)
        # Not found: None, and the reply says so.
        missing = uuid.uuid4()
        assert client.ask(models.GetTicket(ticket_id=missing), timeout_s=90) is None
        # No correlation_id on the request: the answer correlates on its event_id.
        bare = _produce(config, app, models.GetTicket(ticket_id=TICKET), reply_to=topics.replies)
        assert bare.correlation_id is None
        answer = client.wait(str(bare.event_id), timeout_s=90)
        assert answer.found is True
        assert answer.causation_id == str(bare.event_id)
        assert answer.result is not None and answer.result["title"] == "printer on fire"
    stats = _finish(thread, result)
    assert (stats.requests, stats.answered, stats.found, stats.not_found) == (6, 3, 2, 1)
    assert (stats.no_reply_to, stats.bad_reply_to, stats.undecodable) == (1, 1, 1)
    assert stats.failed == 0
    assert not _topic_exists(kafka_bootstrap_servers, nowhere)
    # Every request on the topic was committed after its reply was acknowledged (the skipped
    # ones too): the group's committed offsets are the partitions' ends.
    committed, ends = _committed(kafka_bootstrap_servers, app.spec.group, topics.questions)
    assert committed == ends and sum(committed) >= 6


@pytest.mark.kafka
def test_failing_query_is_answered_with_an_error(
    topics: Built, tmp_path: Path, kafka_bootstrap_servers: str
) -> None:
    desk = topics.module()
    models = __import__(f"{PACKAGE}.desk", fromlist=["GetTicket"])
    app = desk.get_ticket_app
    config = _config(kafka_bootstrap_servers, tmp_path / "empty.sqlite3")  # no ticket table
    thread, result = _start(app, config, count=2)
    with app.client(reply_topic=topics.replies, config=config) as client:
        with pytest.raises(QueryError, match="no such table"):
            client.ask(models.GetTicket(ticket_id=TICKET), timeout_s=90)
        # The raw reply: found false, result null, the error text.
        reply = client.request(models.GetTicket(ticket_id=TICKET), timeout_s=90)
        assert (reply.found, reply.result) == (False, None)
        assert reply.error is not None and "OperationalError" in reply.error
    stats = _finish(thread, result)
    assert (stats.requests, stats.answered, stats.failed) == (2, 2, 2)


@pytest.mark.kafka
def test_ask_row_and_timeout(topics: Built, tmp_path: Path, kafka_bootstrap_servers: str) -> None:
    desk = topics.module()
    models = __import__(f"{PACKAGE}.desk", fromlist=["GetTicket"])
    app = desk.get_ticket_app
    config = _config(kafka_bootstrap_servers, tmp_path / "rows.sqlite3")
    store = Store.open("sqlite", config)
    try:
        with store.transaction() as conn:
            desk.ticket_table.ensure_schema(conn)
            desk.ticket_table.apply(conn, [models.TicketOpened(ticket_id=TICKET, title="t")])
    finally:
        store.close()
    # Nobody answers yet: the wait is bounded.
    client = app.client(reply_topic=topics.replies, config=config)
    with client, pytest.raises(TimeoutError, match="no answer"):
        client.ask(models.GetTicket(ticket_id=TICKET), timeout_s=3)
    # The app answers the earlier request too (at-least-once: it is on the topic).
    thread, result = _start(app, config, count=2)
    row = app.ask(models.GetTicket(ticket_id=TICKET), reply_topic=topics.replies, config=config,
                  timeout_s=90)  # fmt: skip
    assert isinstance(row, desk.Ticket)
    assert (row.ticket_id, row.title, row.amount) == (TICKET, "t", Decimal("0.50"))
    stats = _finish(thread, result)
    assert (stats.requests, stats.answered, stats.found) == (2, 2, 2)


@pytest.mark.kafka
@pytest.mark.postgres
def test_query_app_on_postgres(
    topics: Built, postgres_dsn: str, kafka_bootstrap_servers: str
) -> None:
    """A context whose store is PostgreSQL: the app reads the projection there."""
    ledger = import_fresh(topics.out, PACKAGE, "ledger_projections")
    models = __import__(f"{PACKAGE}.ledger", fromlist=["GetLedgerEntry"])
    app = ledger.get_ledger_entry_app
    assert (app.spec.store, app.route.topic.name) == ("postgres", topics.lookups)
    config = RuntimeConfig(
        bootstrap_servers=kafka_bootstrap_servers, postgres_dsn=postgres_dsn, connect_timeout_s=20
    )
    entry = uuid.uuid4()
    booked = datetime(2024, 5, 1, 10, 15, 30, 250000, tzinfo=UTC)
    store = Store.open("postgres", config)
    try:
        table = ledger.es_h_ledger_entry_table
        with store.transaction() as conn:
            conn.execute("DROP TABLE IF EXISTS es_h_ledger_entry")  # this test's table only
            table.ensure_schema(conn)
            event = models.EntryBooked(entry_id=entry, amount=Decimal("12.30"), booked_at=booked)
            table.apply(conn, [event])
        expected = table.get(store.connection, entry)
    finally:
        store.close()
    assert expected is not None
    thread, result = _start(app, config, count=3)
    with app.client(reply_topic=topics.replies, config=config) as client:
        answer = client.ask(models.GetLedgerEntry(entry_id=entry), timeout_s=90)
        assert answer == expected.model_dump(mode="json")
        assert answer is not None and answer["amount"] == "12.30"
        assert client.ask_row(models.GetLedgerEntry(entry_id=entry), timeout_s=90) == expected
        assert client.ask(models.GetLedgerEntry(entry_id=uuid.uuid4()), timeout_s=90) is None
    stats = _finish(thread, result)
    assert (stats.requests, stats.found, stats.not_found, stats.failed) == (3, 2, 1, 0)


# -- the generated code ------------------------------------------------------------------------


def test_generated_app_and_manifest(built: Built) -> None:
    desk = built.module()
    app = desk.get_ticket_app
    check_runnable(app, "ask_events.desk_projections:get_ticket_app")
    assert app.function is desk.get_ticket
    assert app.row is desk.Ticket
    assert app.query.TYPE == "desk.GetTicket"
    assert app.spec.params == ("ticket_id",)
    assert app.spec.store == "sqlite" and app.spec.projection == "desk.Ticket"
    assert "get_ticket_app" in desk.__all__
    # No topic (FindTicket) or a hooked query (GetTicketStats returns a type): no app.
    assert not hasattr(desk, "find_ticket_app")
    assert not hasattr(desk, "get_ticket_stats_app")
    assert "python -m eventgen.runtime run ask_events.desk_projections:get_ticket_app" in " ".join(
        (built.out / "ask_events" / "desk_projections.py").read_text().split()
    )
    manifest = json.loads((built.out / "eventgen-manifest.json").read_text())
    apps = {q["name"]: q["app"] for q in manifest["queries"]}
    assert apps == {
        "FindTicket": None,
        "GetTicket": "ask_events.desk_projections:get_ticket_app",
        "GetTicketStats": None,
        "GetLedgerEntry": "ask_events.ledger_projections:get_ledger_entry_app",
    }


def test_generated_module_passes_mypy_strict(built: Built) -> None:
    done = run_mypy(built.out, f"{PACKAGE}/desk_projections.py", f"{PACKAGE}/ledger_projections.py")
    assert done.returncode == 0, done.stdout + done.stderr
