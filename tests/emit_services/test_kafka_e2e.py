"""A generated service end to end on the real Kafka: the user's handler module registers on the
generated app, the generated publisher writes, the runner runs the app, and a record written
under schema v1 reaches the handler as the current model through the generated upcaster."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from fastavro import schemaless_writer

from eventgen.runtime.avro import avro_schema, encode_key
from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.headers import envelope_headers
from eventgen.runtime.model import EnvelopeHead
from tests.emit_services.helpers import ROOT, build, import_fresh, write_specs
from tests.runtime.apps.kit import committed, produce, topics, unique

pytestmark = pytest.mark.kafka

PROJECT = """\
eventgen: 1
project: e2e
package: e2e_events
output: ../out
defaults:
  topic: {partitions: 2, replication_factor: 1, retention: 1d}
"""

CONTEXT = """\
eventgen: 1
context: people
topics:
  people-events:
    name: {base}.people
    key: uuid
    dlq: {{name: {base}.people.dlq}}
events:
  PersonRegistered:
    version: 2
    topic: people-events
    key: person_id
    fields: {{person_id: uuid, name: string}}
    upcast:
      - from: 1
        ops: [{{rename: {{full_name: name}}}}]
consumers:
  greeter:
    group: {base}-greeter
    subscribe: [people-events]
    handles: [PersonRegistered]
    delivery: at-least-once
    idempotency: {{store: sqlite, retention: 7d}}
outbox:
  table: people_outbox
  relay: polling
  poll_interval: 50ms
"""

HANDLERS = '''\
"""The user's module: handlers on the generated app (the runner starts `greeter`)."""

from e2e_events.people import PersonRegistered
from e2e_events.people_app import GreeterContext, greeter


@greeter.on(PersonRegistered)
def greet(event: PersonRegistered, ctx: GreeterContext) -> None:
    ctx.db.execute("CREATE TABLE IF NOT EXISTS greeted (person TEXT, name TEXT, version INT)")
    ctx.db.execute(
        "INSERT INTO greeted VALUES (?, ?, ?)",
        (str(event.person_id), event.name, ctx.schema_version),
    )
'''


def test_generated_app_publisher_and_upcaster(kafka_bootstrap_servers: str, tmp_path: Path) -> None:
    base = unique("gen")
    specs = write_specs(
        tmp_path / "specs",
        {"eventgen.yaml": PROJECT, "people.yaml": CONTEXT.format(base=base)},
    )
    out = tmp_path / "out"
    build(specs, out)
    (out / "greeter_handlers.py").write_text(HANDLERS, encoding="utf-8")
    topic = f"{base}.people"
    with topics(kafka_bootstrap_servers, {topic: 2, f"{topic}.dlq": 1}):
        app_module = import_fresh(out, "e2e_events", "people_app")
        people = sys.modules["e2e_events.people"]
        publisher = app_module.publisher
        publisher.configure(RuntimeConfig(bootstrap_servers=kafka_bootstrap_servers))
        ids = [uuid.uuid4() for _ in range(3)]
        for i, person in enumerate(ids):
            publisher.publish(people.PersonRegistered(person_id=person, name=f"p{i}"))
        publisher.flush(30.0)

        # A foreign producer still on v1: `full_name`, schema_version 1 in the headers.
        old = uuid.uuid4()
        cls = people.PersonRegistered
        buffer = BytesIO()
        schemaless_writer(buffer, avro_schema(cls, 1), {"person_id": old, "full_name": "Ada"})
        head = EnvelopeHead(
            event_id=uuid.uuid4(),
            type=cls.TYPE,
            schema_version=1,
            occurred_at="2024-05-01T10:15:00Z",  # type: ignore[arg-type]
        )
        key = encode_key(app_module.ROUTE_PEOPLE_PEOPLE_EVENTS.topic.key_schema, old)
        produce(
            kafka_bootstrap_servers, topic, [(None, key, buffer.getvalue(), envelope_headers(head))]
        )

        store = tmp_path / "inbox.sqlite3"
        env = {
            **os.environ,
            "PYTHONPATH": f"{ROOT}{os.pathsep}{out}",
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers,
            "EVENTGEN_SQLITE_PATH": str(store),
            "EVENTGEN_CONNECT_TIMEOUT": "20",
        }
        done = subprocess.run(
            [sys.executable, "-m", "eventgen.runtime", "run", "greeter_handlers:greeter",
             "--max-messages", "4", "--idle-exit", "20"],
            cwd=out, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        with sqlite3.connect(store) as conn:
            rows = sorted(conn.execute("SELECT person, name, version FROM greeted"))
        # The v1 record reaches the handler as the v2 model (`name`, not `full_name`); its
        # envelope keeps the version it was written with.
        expected = [(str(p), f"p{i}", 2) for i, p in enumerate(ids)] + [(str(old), "Ada", 1)]
        assert rows == sorted(expected)
        # Every record committed (a partition no key hashed to has no offset: -1001).
        offsets = committed(kafka_bootstrap_servers, f"{base}-greeter", topic, 2)
        assert sum(o for o in offsets if o >= 0) == 4


def test_generated_outbox_and_relay_feed_the_generated_app(
    kafka_bootstrap_servers: str, tmp_path: Path
) -> None:
    """outbox.add in the caller's SQLite transaction, the generated relay publishes, the
    generated app handles: what `outbox:` in the spec gives a service."""
    base = unique("gob")
    specs = write_specs(
        tmp_path / "specs",
        {"eventgen.yaml": PROJECT, "people.yaml": CONTEXT.format(base=base)},
    )
    out = tmp_path / "out"
    build(specs, out)
    topic = f"{base}.people"
    config = RuntimeConfig(
        bootstrap_servers=kafka_bootstrap_servers,
        sqlite_path=str(tmp_path / "service.sqlite3"),
        connect_timeout_s=20.0,
    )
    with topics(kafka_bootstrap_servers, {topic: 2, f"{topic}.dlq": 1}):
        module = import_fresh(out, "e2e_events", "people_app")
        people = sys.modules["e2e_events.people"]
        ids = [uuid.uuid4() for _ in range(3)]
        conn = sqlite3.connect(config.sqlite_path)
        try:
            module.outbox.ensure_schema(conn)
            conn.commit()
            with conn:  # one transaction: the rows commit with the caller's work, or not at all
                for i, person in enumerate(ids):
                    module.outbox.add(conn, people.PersonRegistered(person_id=person, name=f"o{i}"))
            with conn:  # a rolled-back transaction leaves nothing for the relay
                module.outbox.add(conn, people.PersonRegistered(person_id=uuid.uuid4(), name="x"))
                conn.rollback()
        finally:
            conn.close()
        relayed = module.relay.run(config, idle_exit_s=3.0)
        assert relayed.published == 3

        seen: list[tuple[str, str]] = []

        def greet(event: Any, ctx: Any) -> None:
            seen.append((str(event.person_id), event.name))

        module.greeter.on(people.PersonRegistered)(greet)  # imported at run time: no types here

        stats = module.greeter.run(config, idle_exit_s=5.0, max_messages=3)
        assert stats.handled == 3
        assert sorted(seen) == sorted((str(p), f"o{i}") for i, p in enumerate(ids))
