"""`dlq replay`: re-publish chosen dead letters to the topics they came from.

Reads a DLQ topic from its start up to the high watermarks taken when the replay starts (so
it stops by itself, also while new dead letters arrive), keeps the records that match every
filter given, and produces each to `eventgen-dlq-original-topic` (and its original partition
while the topic still has it) with the dead letter's key, value and headers, minus the
`eventgen-dlq-*` ones, plus `eventgen-replay-count` (1, or one more than the record carried)
and `eventgen-replay-id` (this run's id; see parking.py for what consumers do with both).

The producer is idempotent with `acks=all`; the replay flushes and fails loudly (ReplayError)
when any record is not acknowledged. `dry_run` lists what would be sent and creates no
producer at all. Dead letters are read `read_committed`: an aborted exactly-once DLQ write is
never replayed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import KafkaException, TopicPartition

from eventgen.runtime.config import ConfigError, RuntimeConfig, load_config
from eventgen.runtime.failures.dlq import (
    REASONS,
    REPLAY_HEADER,
    REPLAY_ID_HEADER,
    iso_utc,
    read_dlq_headers,
    without_dlq_headers,
)
from eventgen.runtime.partitioning import PARTITIONER
from eventgen.runtime.transport import ConsumerLike, KafkaTransport, Transport

__all__ = ["REPLAY_HEADER", "ReplayError", "ReplayItem", "ReplayReport", "main", "replay"]

BATCH = 500
POLL_S = 0.5


class ReplayError(Exception):
    """The replay cannot read, or could not deliver: one line naming the cause."""


@dataclass(frozen=True)
class ReplayItem:
    """One matching dead letter and where it went (or would go)."""

    dlq_partition: int
    dlq_offset: int
    reason: str
    key: bytes | None
    topic: str  # the original topic; empty when the dead letter does not name one
    partition: int | None  # the original partition it is sent to; None: by key
    replay_count: int
    failed_at: datetime | None
    error_class: str

    def describe(self, dry_run: bool) -> str:
        verb = "would send" if dry_run else "sent"
        where = f"{self.topic}[{self.partition}]" if self.partition is not None else self.topic
        at = iso_utc(self.failed_at) if self.failed_at else "-"
        return (
            f"{verb} @{self.dlq_partition}:{self.dlq_offset} reason={self.reason or '-'} "
            f"key={show_key(self.key)} failed_at={at} -> {where} (replay {self.replay_count})"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "dlq_partition": self.dlq_partition,
            "dlq_offset": self.dlq_offset,
            "reason": self.reason,
            "key": show_key(self.key),
            "topic": self.topic,
            "partition": self.partition,
            "replay_count": self.replay_count,
            "failed_at": iso_utc(self.failed_at) if self.failed_at else None,
            "error_class": self.error_class,
        }


@dataclass
class ReplayReport:
    """What a replay read, matched and sent; `sent` stays 0 in a dry run."""

    dlq_topic: str
    dry_run: bool
    run_id: str
    scanned: int = 0
    matched: int = 0
    sent: int = 0
    # Matching records that name no original topic (not written by eventgen): never sent.
    unroutable: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)
    by_topic: Counter[str] = field(default_factory=Counter)
    items: list[ReplayItem] = field(default_factory=list)

    def summary(self) -> str:
        verb = "would send" if self.dry_run else "sent"
        count = self.matched - self.unroutable if self.dry_run else self.sent
        reasons = ", ".join(f"{k}={v}" for k, v in sorted(self.by_reason.items())) or "none"
        topics = ", ".join(f"{k}={v}" for k, v in sorted(self.by_topic.items())) or "none"
        line = (
            f"{self.dlq_topic}: scanned {self.scanned}, matched {self.matched}, {verb} {count}"
            f" (by reason: {reasons}; by topic: {topics})"
        )
        if self.unroutable:
            line += f"; {self.unroutable} without {'eventgen-dlq-original-topic'} skipped"
        return line

    def as_json(self) -> dict[str, Any]:
        return {
            "dlq_topic": self.dlq_topic,
            "dry_run": self.dry_run,
            "run_id": self.run_id,
            "scanned": self.scanned,
            "matched": self.matched,
            "sent": self.sent,
            "unroutable": self.unroutable,
            "by_reason": dict(sorted(self.by_reason.items())),
            "by_topic": dict(sorted(self.by_topic.items())),
            "records": [item.as_json() for item in self.items],
        }


def show_key(key: bytes | None) -> str:
    """A key for people: its text when printable UTF-8, else `hex:...` (what --key accepts)."""
    if key is None:
        return "null"
    try:
        text = key.decode("utf-8")
    except UnicodeDecodeError:
        return f"hex:{key.hex()}"
    if text.isprintable() and not text.startswith("hex:") and text != "null":
        return text
    return f"hex:{key.hex()}"


def parse_key(text: str) -> bytes:
    """`--key`: `hex:0a1b...` for raw bytes, anything else its UTF-8 bytes."""
    if text.startswith("hex:"):
        try:
            return bytes.fromhex(text[4:])
        except ValueError:
            raise ValueError(f"--key {text!r}: not hex digits after 'hex:'") from None
    return text.encode("utf-8")


def parse_time(text: str) -> datetime:
    """`--since`/`--until`: ISO 8601 date or time; without a zone it is UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r}: expected ISO 8601, e.g. 2026-05-01T12:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def replay(
    dlq_topic: str,
    *,
    config: RuntimeConfig | None = None,
    transport: Transport | None = None,
    reason: str | Collection[str] | None = None,
    key: bytes | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    from_offset: int | None = None,
    to_offset: int | None = None,
    partition: int | None = None,
    dry_run: bool = False,
    out: Callable[[str], None] | None = print,
) -> ReplayReport:
    """Replay the dead letters of `dlq_topic` that match every filter given.

    Filters: `reason` (one or several of decode/handler/parked), `key` (exact bytes),
    `since` (inclusive) / `until` (exclusive) on the failure time (`eventgen-dlq-last-failure-
    at`, else the dead letter's own timestamp), `from_offset` / `to_offset` (inclusive) on the
    DLQ offsets, in every partition unless `partition` names one. `out` gets one line per
    matching record (after its delivery was acknowledged) and a summary; None: silent.
    """
    config = config or load_config()
    transport = transport or KafkaTransport()
    reasons = _reasons(reason)
    since, until = _aware(since), _aware(until)
    report = ReplayReport(dlq_topic, dry_run, uuid.uuid4().hex)
    consumer = transport.consumer(_consumer_conf(config, report.run_id))
    # Only the matching records are kept (a DLQ can be large); nothing is sent before the
    # whole range was read and every target topic checked.
    chosen: list[tuple[ReplayItem, Any]] = []
    try:
        topics = _partitions(consumer, config)
        if dlq_topic not in topics:
            raise ReplayError(f"DLQ topic {dlq_topic!r} does not exist")
        count = topics[dlq_topic]
        ends = _assign(consumer, dlq_topic, count, partition, from_offset, to_offset, config)
        for record in _read(consumer, dlq_topic, ends, config):
            report.scanned += 1
            item = _match(record, reasons, key, since, until, from_offset, to_offset, topics)
            if item is None:
                continue
            report.matched += 1
            if not item.topic:
                report.unroutable += 1
                continue
            if item.topic not in topics:
                raise ReplayError(
                    f"@{item.dlq_partition}:{item.dlq_offset}: original topic {item.topic!r} "
                    "does not exist (nothing was sent)"
                )
            chosen.append((item, record))
    finally:
        consumer.close()
    # By DLQ partition, then offset: the listing is the same on every run (records of several
    # partitions arrive interleaved), and each partition's (so each key's) order is kept.
    chosen.sort(key=lambda pair: (pair[0].dlq_partition, pair[0].dlq_offset))
    if not dry_run and chosen:
        _send(transport, config, chosen, report.run_id)
    for item, _ in chosen:
        report.items.append(item)
        report.by_reason[item.reason] += 1
        report.by_topic[item.topic] += 1
        if not dry_run:
            report.sent += 1
        if out is not None:
            out(item.describe(dry_run))
    if out is not None:
        out(report.summary())
    return report


def _reasons(reason: str | Collection[str] | None) -> frozenset[str] | None:
    if reason is None:
        return None
    wanted = frozenset([reason] if isinstance(reason, str) else reason)
    unknown = sorted(wanted - set(REASONS))
    if unknown:
        raise ValueError(f"reason {', '.join(unknown)}: expected {', '.join(REASONS)}")
    return wanted


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _consumer_conf(config: RuntimeConfig, run_id: str) -> dict[str, Any]:
    return {
        "bootstrap.servers": config.bootstrap_servers,
        # A group of its own that never commits: replay leaves no offsets behind.
        "group.id": f"eventgen-dlq-replay-{run_id}",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "isolation.level": "read_committed",
        "socket.timeout.ms": max(1000, int(config.connect_timeout_s * 1000)),
        **dict(config.client),
    }


def _partitions(consumer: ConsumerLike, config: RuntimeConfig) -> dict[str, int]:
    """Every topic of the cluster and its partition count."""
    try:
        metadata = consumer.list_topics(timeout=config.connect_timeout_s)
    except KafkaException as exc:
        raise ReplayError(
            f"cannot reach Kafka at {config.bootstrap_servers}: {exc.args[0]}"
        ) from None
    return {
        name: len(meta.partitions)
        for name, meta in metadata.topics.items()
        if meta.error is None and meta.partitions
    }


def _assign(
    consumer: ConsumerLike,
    topic: str,
    count: int,
    only: int | None,
    from_offset: int | None,
    to_offset: int | None,
    config: RuntimeConfig,
) -> dict[int, int]:
    """Assign the partitions to read from their start; {partition: end offset} of non-empty."""
    if only is not None and not 0 <= only < count:
        raise ReplayError(f"DLQ topic {topic!r} has no partition {only} (it has {count})")
    ends: dict[int, int] = {}
    starts: list[TopicPartition] = []
    for number in range(count) if only is None else [only]:
        try:
            marks = consumer.get_watermark_offsets(
                TopicPartition(topic, number), timeout=config.connect_timeout_s
            )
        except KafkaException as exc:
            raise ReplayError(f"{topic}[{number}]: cannot read offsets: {exc.args[0]}") from None
        if marks is None:
            raise ReplayError(f"{topic}[{number}]: no offsets (broker did not answer)")
        low, high = marks
        start = max(low, from_offset or 0)
        end = high if to_offset is None else min(high, to_offset + 1)
        if start < end:
            ends[number] = end
            starts.append(TopicPartition(topic, number, start))
    if starts:
        consumer.assign(starts)
    return ends


def _read(
    consumer: ConsumerLike, topic: str, ends: dict[int, int], config: RuntimeConfig
) -> Iterator[Any]:
    """Records of the assigned partitions up to `ends`, in offset order per partition.

    Done when every partition's position reached its end (positions move past transaction
    markers and aborted records too, which read_committed never delivers). Under
    read_committed the ends are the last stable offsets, so a transaction still open on the
    DLQ ends the read before it rather than stalling it. Fails when no progress is made for
    `connect_timeout_s` (the broker went away).
    """
    pending = dict(ends)
    stall = config.connect_timeout_s
    last_progress = time.monotonic()
    while pending:
        batch = consumer.consume(num_messages=BATCH, timeout=POLL_S)
        progressed = False
        for record in batch:
            error = record.error()
            if error is not None:
                if getattr(error, "code", lambda: None)() == _PARTITION_EOF:
                    continue
                raise ReplayError(f"reading {topic}: {error}")
            number, offset = record.partition(), record.offset()
            end = pending.get(number)
            if end is None or offset >= end:
                continue  # beyond the end taken at start: a dead letter newer than the run
            progressed = True
            yield record
        parts = [TopicPartition(topic, number) for number in pending]
        for position in consumer.position(parts):
            if position.offset >= 0 and position.offset >= pending[position.partition]:
                del pending[position.partition]
                progressed = True
        if progressed:
            last_progress = time.monotonic()
        elif time.monotonic() - last_progress > stall:
            left = ", ".join(f"[{n}] to {e}" for n, e in sorted(pending.items()))
            raise ReplayError(
                f"reading {topic}: no progress for {stall:g} s with partitions {left} unread "
                "(did the broker go away?)"
            )


_PARTITION_EOF = -191  # librdkafka's _PARTITION_EOF (only with enable.partition.eof)


def _match(
    record: Any,
    reasons: frozenset[str] | None,
    key: bytes | None,
    since: datetime | None,
    until: datetime | None,
    from_offset: int | None,
    to_offset: int | None,
    topics: dict[str, int],
) -> ReplayItem | None:
    offset = int(record.offset())
    if from_offset is not None and offset < from_offset:
        return None
    if to_offset is not None and offset > to_offset:
        return None
    headers = record.headers()
    info = read_dlq_headers(headers)
    if reasons is not None and info.reason not in reasons:
        return None
    if key is not None and record.key() != key:
        return None
    failed_at = info.last_failure_at
    if failed_at is None:
        kind, ms = record.timestamp()
        failed_at = datetime.fromtimestamp(ms / 1000.0, UTC) if kind != 0 and ms >= 0 else None
    if since is not None and (failed_at is None or failed_at < since):
        return None
    if until is not None and (failed_at is None or failed_at >= until):
        return None
    original = info.original_partition
    count = topics.get(info.original_topic, 0)
    target = original if original is not None and 0 <= original < count else None
    return ReplayItem(
        dlq_partition=int(record.partition()),
        dlq_offset=offset,
        reason=info.reason,
        key=record.key(),
        topic=info.original_topic,
        partition=target,
        replay_count=_replay_count(headers) + 1,
        failed_at=failed_at,
        error_class=info.error_class,
    )


def _replay_count(headers: Sequence[tuple[str, bytes | None]] | None) -> int:
    count = 0
    for name, value in headers or ():
        if name == REPLAY_HEADER and value is not None:
            try:
                count = int(value.decode("ascii"))
            except (UnicodeDecodeError, ValueError):
                count = 0
    return count


def replay_headers(
    headers: Sequence[tuple[str, bytes | None]] | None, count: int, run_id: str
) -> list[tuple[str, bytes]]:
    """The original headers (no `eventgen-dlq-*`, no earlier replay headers) + replay ones."""
    kept = [
        (name, value)
        for name, value in without_dlq_headers(headers)
        if name not in (REPLAY_HEADER, REPLAY_ID_HEADER)
    ]
    return [*kept, (REPLAY_HEADER, str(count).encode()), (REPLAY_ID_HEADER, run_id.encode())]


def _send(
    transport: Transport,
    config: RuntimeConfig,
    chosen: list[tuple[ReplayItem, Any]],
    run_id: str,
) -> None:
    producer = transport.producer(
        {
            "bootstrap.servers": config.bootstrap_servers,
            "acks": "all",
            "enable.idempotence": True,
            # The original partition is kept (see _send), but a consistent default matters.
            "partitioner": PARTITIONER,
            # A delivery that cannot succeed fails in bounded time instead of 5 minutes.
            "message.timeout.ms": max(5000, int(config.connect_timeout_s * 1000)),
            **dict(config.client),
        }
    )
    failures: list[str] = []

    def delivered(err: Any, msg: Any) -> None:
        if err is not None:
            failures.append(f"{msg.topic()}: {err}")

    for item, record in chosen:
        headers = replay_headers(record.headers(), item.replay_count, run_id)
        for _ in range(100):  # a full local queue: serve callbacks, try again (bounded)
            try:
                producer.produce(
                    item.topic,
                    value=record.value(),
                    key=record.key(),
                    partition=-1 if item.partition is None else item.partition,
                    on_delivery=delivered,
                    headers=headers,
                )
                break
            except BufferError:
                producer.poll(POLL_S)
        else:
            raise ReplayError(f"producer queue stayed full sending to {item.topic!r}")
        producer.poll(0)
    left = producer.flush(config.connect_timeout_s + 5)
    if left:
        raise ReplayError(f"{left} replayed record(s) not acknowledged in time")
    if failures:
        shown = "; ".join(failures[:5]) + (" ..." if len(failures) > 5 else "")
        raise ReplayError(f"{len(failures)} replayed record(s) failed: {shown}")


def parser(prog: str = "dlq replay") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Re-publish dead letters of a DLQ topic to their original topics.",
        epilog="Exit 0: records replayed (or listed with --dry-run); 1: no record matched; "
        "2: bad usage, or Kafka could not be read or did not acknowledge.",
    )
    p.add_argument("--topic", required=True, help="the DLQ topic (full Kafka name)")
    p.add_argument("--bootstrap-servers", help="Kafka (default: $KAFKA_BOOTSTRAP_SERVERS)")
    p.add_argument(
        "--reason", action="append", choices=REASONS, help="only this reason (repeatable)"
    )
    p.add_argument("--key", help="only this record key: text, or hex:0a1b... for raw bytes")
    p.add_argument("--since", help="failed at or after (ISO 8601; UTC without a zone)")
    p.add_argument("--until", help="failed before (ISO 8601; UTC without a zone)")
    p.add_argument("--from-offset", type=int, help="first DLQ offset (inclusive)")
    p.add_argument("--to-offset", type=int, help="last DLQ offset (inclusive)")
    p.add_argument("--partition", type=int, help="only this DLQ partition")
    p.add_argument("--dry-run", action="store_true", help="list what would be sent, send nothing")
    p.add_argument("--format", choices=("text", "json"), default="text")
    return p


def main(argv: Sequence[str] | None = None, *, prog: str = "dlq replay") -> int:
    """`python -m eventgen.runtime dlq replay ...`: the exit code (see `parser()`)."""
    try:
        args = parser(prog).parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # argparse: --help is 0, bad usage 2
        return exc.code if isinstance(exc.code, int) else 2
    try:
        config = load_config({"bootstrap_servers": args.bootstrap_servers})
        key = None if args.key is None else parse_key(args.key)
        since = None if args.since is None else parse_time(args.since)
        until = None if args.until is None else parse_time(args.until)
        for name in ("from_offset", "to_offset", "partition"):
            if (getattr(args, name) or 0) < 0:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 0")
    except (ConfigError, ValueError) as exc:
        print(f"dlq replay: {exc}", file=sys.stderr)
        return 2
    text = args.format == "text"
    try:
        report = replay(
            args.topic,
            config=config,
            reason=args.reason,
            key=key,
            since=since,
            until=until,
            from_offset=args.from_offset,
            to_offset=args.to_offset,
            partition=args.partition,
            dry_run=args.dry_run,
            out=print if text else None,
        )
    except (ReplayError, KafkaException) as exc:
        print(f"dlq replay: {exc}", file=sys.stderr)
        return 2
    if not text:
        print(json.dumps(report.as_json(), indent=2))
    return 0 if report.matched - report.unroutable > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
