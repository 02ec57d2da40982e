"""Hand-built IR objects for topic tests (no spec loading involved)."""

from __future__ import annotations

from typing import Any

from eventgen.diagnostics import Loc
from eventgen.ir.model import Context, Defaults, Dlq, Message, Project, Retry, Topic


def topic(
    name: str = "events",
    context: str = "orders",
    *,
    config: dict[str, str] | None = None,
    file: str = "orders.yaml",
    line: int = 10,
    dlq: bool | int | None = None,
    kafka_name: str | None = None,
    **fields: Any,
) -> Topic:
    """A topic at `file:line`; config keys sit on the following lines, in order."""
    config = config or {}
    kafka = kafka_name or f"{context}.{name}"
    args: dict[str, Any] = {
        "partitions": 3,
        "replication_factor": 1,
        "min_insync_replicas": None,
        "retention_ms": None,
        "retention_bytes": None,
        "cleanup": ("delete",),
        "compression": None,
        "key_type": None,
        "compatibility": "BACKWARD",
        **fields,
    }
    dlq_obj = None
    if dlq is not None and dlq is not False:
        dlq_obj = Dlq(f"{kafka}.dlq", None if dlq is True else int(dlq))
    return Topic(
        qualified=f"{context}.{name}",
        context=context,
        local_name=name,
        kafka_name=kafka,
        dlq=dlq_obj,
        config=tuple(config.items()),
        loc=Loc(file, line, 3),
        config_locs=tuple((key, Loc(file, line + 1 + i, 14)) for i, key in enumerate(config)),
        **args,
    )


def message(name: str, topic_id: str, key: tuple[str, ...] | None, line: int = 40) -> Message:
    context = topic_id.split(".")[0]
    return Message(
        kind="event",
        qualified=f"{context}.{name}",
        context=context,
        name=name,
        fields=(),
        topic=topic_id,
        key=key,
        loc=Loc(f"{context}.yaml", line, 3),
    )


def project(*topics: Topic, messages: tuple[Message, ...] = (), env: str | None = None) -> Project:
    """A project whose contexts hold the given topics and messages."""
    names = sorted({t.context for t in topics} | {m.context for m in messages})
    contexts = tuple(
        Context(
            name=n, doc=None, files=(f"{n}.yaml",), types=(),
            messages=tuple(m for m in messages if m.context == n),
            topics=tuple(sorted((t for t in topics if t.context == n), key=lambda t: t.qualified)),
            consumers=(), outbox=None, aggregates=(), projections=(), sagas=(), choreographies=(),
        )
        for n in names
    )  # fmt: skip
    retry = Retry(max_attempts=3, initial_ms=100, multiplier=2.0, max_interval_ms=1000)
    defaults = Defaults("avro", "BACKWARD", "closed", "at-least-once", 30000, retry)
    return Project(
        name="shop", package="shop", output="generated", environment=env,
        defaults=defaults, contexts=contexts, spec_files=tuple(f"{n}.yaml" for n in names),
    )  # fmt: skip
