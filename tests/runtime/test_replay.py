"""DLQ replay against the real Kafka: a DLQ filled by hand, filters, dry run, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.failures.dlq import REPLAY_HEADER, REPLAY_ID_HEADER, Reason, dlq_headers
from eventgen.runtime.failures.replay import ReplayError, ReplayReport, parse_key, replay

TIMEOUT_S = 30.0


def unique(label: str) -> str:
    return f"egt-{label}-{uuid.uuid4().hex[:8]}"


@contextmanager
def topics(bootstrap: str, spec: dict[str, int]) -> Iterator[None]:
    """Create `{name: partitions}`, wait until the metadata lists them, delete them after."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    new = [NewTopic(name, num_partitions=n, replication_factor=1) for name, n in spec.items()]
    for future in admin.create_topics(new, request_timeout=TIMEOUT_S).values():
        future.result(timeout=TIMEOUT_S)
    deadline = time.monotonic() + TIMEOUT_S
    while not set(spec) <= set(admin.list_topics(timeout=TIMEOUT_S).topics):
        if time.monotonic() > deadline:
            raise TimeoutError(f"topics {sorted(spec)} not in the metadata")
        time.sleep(0.2)
    try:
        yield
    finally:
        for future in admin.delete_topics(list(spec), request_timeout=TIMEOUT_S).values():
            future.result(timeout=TIMEOUT_S)


def produce(
    bootstrap: str,
    topic: str,
    records: Sequence[tuple[int, bytes | None, bytes | None, list[tuple[str, bytes]]]],
) -> None:
    """Produce (partition, key, value, headers) in order; every delivery must succeed."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    errors: list[Any] = []

    def done(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(err)

    for partition, key, value, headers in records:
        wire: list[tuple[str, str | bytes | None]] = list(headers)
        producer.produce(
            topic, value=value, key=key, partition=partition, headers=wire, on_delivery=done
        )
    assert producer.flush(TIMEOUT_S) == 0, "records not delivered in time"
    assert not errors, errors


def end_offsets(bootstrap: str, topic: str, partitions: int) -> list[int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("probe")})
    try:
        return [
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=TIMEOUT_S)[1]
            for p in range(partitions)
        ]
    finally:
        consumer.close()


def read_all(bootstrap: str, topic: str, partitions: int) -> list[Any]:
    """Every record of `topic` up to its current end, by partition then offset (bounded)."""
    ends = end_offsets(bootstrap, topic, partitions)
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": unique("reader"), "enable.auto.commit": False}
    )
    got: list[Any] = []
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions) if ends[p]])
        want = sum(ends)
        deadline = time.monotonic() + TIMEOUT_S
        while len(got) < want and time.monotonic() < deadline:
            for record in consumer.consume(num_messages=100, timeout=0.5):
                assert record.error() is None, record.error()
                got.append(record)
    finally:
        consumer.close()
    assert len(got) == sum(ends), f"read {len(got)} of {sum(ends)} records of {topic}"
    return sorted(got, key=lambda r: (r.partition(), r.offset()))


# ---------------------------------------------------------------------------------- the tests

T_EARLY = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
T_MID = datetime(2026, 1, 1, 11, 0, tzinfo=UTC)
T_LATE = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@dataclass
class Setup:
    bootstrap: str
    dlq: str
    orders: str
    payments: str

    def config(self) -> RuntimeConfig:
        return RuntimeConfig(bootstrap_servers=self.bootstrap, connect_timeout_s=15)


def dead_letter(
    original: list[tuple[str, bytes]],
    *,
    reason: Reason,
    topic: str,
    partition: int,
    offset: int,
    failed_at: datetime,
) -> list[tuple[str, bytes]]:
    return dlq_headers(
        original,
        reason=reason,
        error=RuntimeError("boom") if reason != "parked" else None,
        topic=topic,
        partition=partition,
        offset=offset,
        timestamp_ms=1_767_261_600_000,
        group="g",
        attempts=3,
        first_failure_at=failed_at,
        last_failure_at=failed_at,
    )


@pytest.fixture
def setup(kafka_bootstrap_servers: str) -> Iterator[Setup]:
    """A 2-partition DLQ filled by hand, and the two (3-partition) topics its letters name.

    DLQ partition 0: @0 handler orders[2] key k1 (10:00), @1 parked orders[2] key k1 (11:00,
    replayed twice before), @2 decode payments[0] binary key (12:00), @3 a foreign record
    without DLQ headers. Partition 1: @0 handler orders[1] key k2 (11:00).
    """
    bootstrap = kafka_bootstrap_servers
    s = Setup(bootstrap, unique("dlq"), unique("orders"), unique("payments"))
    with topics(bootstrap, {s.dlq: 2, s.orders: 3, s.payments: 3}):
        envelope = [("event_id", b"e-1"), ("type", b"orders.OrderPlaced")]
        produce(
            bootstrap,
            s.dlq,
            [
                (0, b"k1", b"v0", dead_letter(envelope, reason="handler", topic=s.orders,
                                              partition=2, offset=40, failed_at=T_EARLY)),
                (0, b"k1", b"v1", dead_letter(
                    [("type", b"orders.OrderPlaced"), (REPLAY_HEADER, b"2"),
                     (REPLAY_ID_HEADER, b"old-run")],
                    reason="parked", topic=s.orders, partition=2, offset=41, failed_at=T_MID)),
                (0, b"\x00\xff", b"\x00bad", dead_letter([], reason="decode", topic=s.payments,
                                                         partition=0, offset=7, failed_at=T_LATE)),
                (0, None, b"foreign", [("x", b"y")]),
                (1, b"k2", b"v2", dead_letter(envelope, reason="handler", topic=s.orders,
                                              partition=1, offset=3, failed_at=T_MID)),
            ],
        )  # fmt: skip
        yield s


def quiet() -> list[str]:
    return []


@pytest.mark.kafka
def test_replay_everything_routable(setup: Setup) -> None:
    lines: list[str] = []
    report = replay(setup.dlq, config=setup.config(), out=lines.append)
    assert (report.scanned, report.matched, report.sent, report.unroutable) == (5, 5, 4, 1)
    assert report.by_reason == {"handler": 2, "parked": 1, "decode": 1}
    assert report.by_topic == {setup.orders: 3, setup.payments: 1}
    assert len(lines) == 5 and lines[-1].startswith(f"{setup.dlq}: scanned 5, matched 5, sent 4")
    assert "1 without eventgen-dlq-original-topic skipped" in lines[-1]

    orders = read_all(setup.bootstrap, setup.orders, 3)
    assert [(r.partition(), r.key(), r.value()) for r in orders] == [
        (1, b"k2", b"v2"),
        (2, b"k1", b"v0"),  # same partition as the original, in DLQ order
        (2, b"k1", b"v1"),
    ]
    first = orders[1].headers()
    assert first[:2] == [("event_id", b"e-1"), ("type", b"orders.OrderPlaced")]
    assert first[2:] == [(REPLAY_HEADER, b"1"), (REPLAY_ID_HEADER, report.run_id.encode())]
    assert not [n for n, _ in orders[2].headers() if n.startswith("eventgen-dlq-")]
    # Replayed twice before: the count goes on from the record's own header, the id is new.
    assert orders[2].headers() == [
        ("type", b"orders.OrderPlaced"),
        (REPLAY_HEADER, b"3"),
        (REPLAY_ID_HEADER, report.run_id.encode()),
    ]
    payments = read_all(setup.bootstrap, setup.payments, 3)
    assert [(r.partition(), r.key(), r.value()) for r in payments] == [(0, b"\x00\xff", b"\x00bad")]
    # The run read up to the ends taken at its start; the DLQ itself is untouched.
    assert end_offsets(setup.bootstrap, setup.dlq, 2) == [4, 1]


@pytest.mark.kafka
def test_dry_run_sends_nothing(setup: Setup) -> None:
    lines: list[str] = []
    report = replay(setup.dlq, config=setup.config(), dry_run=True, out=lines.append)
    assert report.sent == 0 and report.matched == 5 and len(report.items) == 4
    assert all(line.startswith("would send @") for line in lines[:-1])
    assert f"-> {setup.orders}[2] (replay 3)" in lines[1]
    assert end_offsets(setup.bootstrap, setup.orders, 3) == [0, 0, 0]
    assert end_offsets(setup.bootstrap, setup.payments, 3) == [0, 0, 0]


def picked(report: ReplayReport) -> list[tuple[int, int]]:
    return [(item.dlq_partition, item.dlq_offset) for item in report.items]


@pytest.mark.kafka
def test_filters(setup: Setup) -> None:
    config = setup.config()

    def run(**kw: Any) -> list[tuple[int, int]]:
        return picked(replay(setup.dlq, config=config, dry_run=True, out=None, **kw))

    assert run(reason="handler") == [(0, 0), (1, 0)]
    assert run(reason=["parked", "decode"]) == [(0, 1), (0, 2)]
    assert run(key=b"k1") == [(0, 0), (0, 1)]
    assert run(key=b"\x00\xff") == [(0, 2)]
    assert run(key=b"nope") == []
    assert run(since=T_MID) == [(0, 1), (0, 2), (1, 0)]
    assert run(until=T_MID) == [(0, 0)]
    assert run(since=T_MID, until=T_LATE) == [(0, 1), (1, 0)]
    assert run(from_offset=1, to_offset=2) == [(0, 1), (0, 2)]
    assert run(to_offset=0) == [(0, 0), (1, 0)]
    assert run(partition=1) == [(1, 0)]
    assert run(reason="handler", key=b"k1", until=T_MID) == [(0, 0)]
    with pytest.raises(ValueError, match="reason bogus"):
        run(reason="bogus")


@pytest.mark.kafka
def test_missing_topics_fail_loudly(setup: Setup, kafka_bootstrap_servers: str) -> None:
    with pytest.raises(ReplayError, match="does not exist"):
        replay(unique("nodlq"), config=setup.config(), out=None)
    with pytest.raises(ReplayError, match="no partition 5"):
        replay(setup.dlq, config=setup.config(), partition=5, out=None)
    # A dead letter whose original topic is gone: nothing at all is sent.
    dlq, gone = unique("dlq"), unique("gone")
    with topics(kafka_bootstrap_servers, {dlq: 1}):
        headers = dead_letter([], reason="handler", topic=gone, partition=0, offset=1,
                              failed_at=T_EARLY)  # fmt: skip
        produce(kafka_bootstrap_servers, dlq, [(0, b"k", b"v", headers)])
        with pytest.raises(ReplayError, match=f"original topic '{gone}' does not exist"):
            replay(dlq, config=setup.config(), out=None)


# ------------------------------------------------------------------------ the CLI, as a process


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eventgen.runtime.failures.replay", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.kafka
def test_cli_exit_codes_and_json(setup: Setup) -> None:
    base = ["--bootstrap-servers", setup.bootstrap, "--topic", setup.dlq]
    listed = cli(*base, "--dry-run", "--reason", "handler", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    doc = json.loads(listed.stdout)
    assert (doc["dry_run"], doc["matched"], doc["sent"]) == (True, 2, 0)
    assert [(r["dlq_partition"], r["dlq_offset"], r["key"]) for r in doc["records"]] == [
        (0, 0, "k1"),
        (1, 0, "k2"),
    ]
    assert end_offsets(setup.bootstrap, setup.orders, 3) == [0, 0, 0]

    nothing = cli(*base, "--key", "hex:abcd")
    assert nothing.returncode == 1, nothing.stderr
    assert "matched 0" in nothing.stdout

    sent = cli(*base, "--key", "hex:00ff", "--since", "2026-01-01T11:30:00")
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.splitlines()[0].startswith("sent @0:2 reason=decode key=hex:00ff")
    assert end_offsets(setup.bootstrap, setup.payments, 3) == [1, 0, 0]

    missing = cli("--bootstrap-servers", setup.bootstrap, "--topic", unique("nodlq"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_cli_usage_errors() -> None:
    assert cli().returncode == 2  # --topic is required
    bad_key = cli("--topic", "t", "--key", "hex:zz")
    assert bad_key.returncode == 2 and "not hex digits" in bad_key.stderr
    bad_time = cli("--topic", "t", "--since", "yesterday")
    assert bad_time.returncode == 2 and "ISO 8601" in bad_time.stderr
    bad_reason = cli("--topic", "t", "--reason", "oops")
    assert bad_reason.returncode == 2
    assert cli("--help").returncode == 0


def test_cli_unreachable_broker_is_exit_2() -> None:
    gone = cli(
        "--bootstrap-servers", "127.0.0.1:1", "--topic", "t",
        env={"EVENTGEN_CONNECT_TIMEOUT": "2"},
    )  # fmt: skip
    assert gone.returncode == 2, gone.stdout
    assert "cannot reach Kafka at 127.0.0.1:1" in gone.stderr


def test_key_text_and_hex() -> None:
    assert parse_key("k1") == b"k1"
    assert parse_key("hex:00ff") == b"\x00\xff"
    assert parse_key("ä") == "ä".encode()


def transactional(bootstrap: str) -> Producer:
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": unique("txn")})
    producer.init_transactions(TIMEOUT_S)
    return producer


def txn_send(producer: Producer, topic: str, key: bytes, headers: list[tuple[str, bytes]]) -> None:
    wire: list[tuple[str, str | bytes | None]] = list(headers)
    producer.produce(topic, value=b"v-" + key, key=key, partition=0, headers=wire)


@pytest.mark.kafka
def test_aborted_dead_letters_are_never_replayed_and_the_read_ends(
    kafka_bootstrap_servers: str,
) -> None:
    bootstrap = kafka_bootstrap_servers
    dlq, orders = unique("dlq"), unique("orders")
    with topics(bootstrap, {dlq: 1, orders: 1}):
        headers = dead_letter([], reason="handler", topic=orders, partition=0, offset=1,
                              failed_at=T_EARLY)  # fmt: skip
        producer = transactional(bootstrap)
        producer.begin_transaction()
        txn_send(producer, dlq, b"aborted", headers)
        assert producer.flush(TIMEOUT_S) == 0  # written to the log, then aborted
        producer.abort_transaction(TIMEOUT_S)
        producer.begin_transaction()
        txn_send(producer, dlq, b"committed", headers)
        producer.commit_transaction(TIMEOUT_S)
        # aborted @0, abort marker @1, committed @2, commit marker @3: the last offset is no
        # record at all, and the read must still end.
        assert end_offsets(bootstrap, dlq, 1) == [4]
        config = RuntimeConfig(bootstrap_servers=bootstrap, connect_timeout_s=15)
        report = replay(dlq, config=config, out=None)
        assert (report.scanned, report.sent) == (1, 1)
        assert [r.key() for r in read_all(bootstrap, orders, 1)] == [b"committed"]


@pytest.mark.kafka
def test_an_open_transaction_is_not_replayed_and_the_read_ends_before_it(
    kafka_bootstrap_servers: str,
) -> None:
    bootstrap = kafka_bootstrap_servers
    dlq, orders = unique("dlq"), unique("orders")
    with topics(bootstrap, {dlq: 1, orders: 1}):
        headers = dead_letter([], reason="handler", topic=orders, partition=0, offset=1,
                              failed_at=T_EARLY)  # fmt: skip
        produce(bootstrap, dlq, [(0, b"before", b"v", headers)])
        producer = transactional(bootstrap)
        producer.begin_transaction()
        txn_send(producer, dlq, b"open", headers)
        assert producer.flush(TIMEOUT_S) == 0
        try:
            # read_committed: the end taken at the start is the last stable offset (1).
            config = RuntimeConfig(bootstrap_servers=bootstrap, connect_timeout_s=10)
            report = replay(dlq, config=config, out=None)
            assert (report.scanned, report.sent) == (1, 1)
            assert [r.key() for r in read_all(bootstrap, orders, 1)] == [b"before"]
        finally:
            producer.abort_transaction(TIMEOUT_S)
