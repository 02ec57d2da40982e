"""Checks on what the generated services' runtime can promise for a consumer.

The runtime's guarantees (docs/services.md, the contract's "Guarantees, exactly") hold only for
some combinations of `delivery`, `idempotency`, `dlq` and `on_failure`; these checks refuse the
combinations it cannot keep and warn about the ones that silently weaken them, at validate
time, so nobody learns it from a double charge in production. They also guard the names of the
generated service module `<package>/<context>_app.py`.
"""

from __future__ import annotations

from collections.abc import Iterator

from eventgen.diagnostics import Diagnostic, Loc, error, warning
from eventgen.ir import naming
from eventgen.ir.model import Consumer, Project, Topic
from eventgen.rules.registry import Rule, declare

# What an unset retention means: the runtime sweeps inbox rows after 7 days by default
# (eventgen.runtime.spec.ConsumerSpec), and a topic without `retention:` keeps Kafka's default
# `log.retention.ms` of 7 days. Equal values do not warn.
DEFAULT_INBOX_RETENTION_MS = 7 * 24 * 3600 * 1000
KAFKA_DEFAULT_RETENTION_MS = 7 * 24 * 3600 * 1000
INFINITE = -1


def _duration(ms: int) -> str:
    """`ms` the way a spec writes it (the largest unit that divides it)."""
    if ms == INFINITE:
        return "infinite"
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def _at(con: Consumer, *attrs: str) -> Loc:
    """The position of the first of `attrs` the spec wrote, else the consumer's name."""
    written = dict(con.attr_locs)
    return next((written[a] for a in attrs if a in written), con.loc)


def check_delivery(project: Project) -> Iterator[Diagnostic]:
    """Delivery guarantees against the idempotency store and the DLQ."""
    for ctx in project.contexts:
        for con in ctx.consumers:
            yield from _delivery(con)


def _delivery(con: Consumer) -> Iterator[Diagnostic]:
    store = con.idempotency_store
    if con.delivery == "at-least-once" and store == "none":
        yield warning(
            "W0820",
            _at(con, "idempotency.store", "idempotency"),
            f"consumer `{con.name}` is at-least-once without an idempotency store: a redelivered "
            "message runs its handler again, and its database writes happen twice",
            "add `idempotency: {store: sqlite, retention: 7d}` (or postgres); if the handler "
            "is idempotent by itself, silence with `suppress: [W0820]`",
        )
    if con.delivery != "exactly-once":
        return
    if store != "none":
        yield error(
            "E0821",
            con.at("idempotency.store"),
            f"consumer `{con.name}` is exactly-once with a {store} idempotency store: database "
            "writes are outside the Kafka transaction, so a crash between the two commits "
            "repeats or loses them",
            "exactly-once covers Kafka outputs only (`ctx.publish`); for exactly-once database "
            "effects use `delivery: at-least-once` with this store",
        )
    if not con.dlq:
        yield error(
            "E0821",
            con.at("dlq"),
            f"consumer `{con.name}` is exactly-once without `dlq: true`: a record that keeps "
            "failing has nowhere to go: it can be neither committed in the transaction nor "
            "skipped, so its partition stops at it",
            "set `dlq: true`: the dead letter is written in the same transaction as the offset",
        )


def _retention(topic: Topic) -> int:
    if topic.cleanup == ("compact",):  # compaction alone never deletes a key's last record
        return INFINITE
    if topic.retention_ms is None:
        return KAFKA_DEFAULT_RETENTION_MS
    return topic.retention_ms


def _shorter(inbox_ms: int, topic_ms: int) -> bool:
    if inbox_ms == INFINITE:
        return False
    return topic_ms == INFINITE or inbox_ms < topic_ms


def _kept(topic_ms: int) -> str:
    return "forever" if topic_ms == INFINITE else f"for {_duration(topic_ms)}"


def _retention_hint(topic_ms: int) -> str:
    silence = "re-read (no offset reset or replay), silence with `suppress: [W0822]`"
    if topic_ms == INFINITE:
        return f"an inbox cannot keep ids forever; if old messages are never {silence}"
    return (
        f"set `idempotency.retention` to {_duration(topic_ms)} or more; if older messages "
        f"are never {silence}"
    )


def check_inbox_retention(project: Project) -> Iterator[Diagnostic]:
    """An inbox that forgets an event_id before the topic forgets the message."""
    for ctx in project.contexts:
        for con in ctx.consumers:
            if con.idempotency_store == "none":
                continue
            inbox = con.idempotency_retention_ms
            inbox_ms = DEFAULT_INBOX_RETENTION_MS if inbox is None else inbox
            for qualified in con.subscribe:
                topic = project.topic(qualified)
                topic_ms = _retention(topic)
                if not _shorter(inbox_ms, topic_ms):
                    continue
                yield warning(
                    "W0822",
                    _at(con, "idempotency.retention", "idempotency.store"),
                    f"consumer `{con.name}` forgets event ids after {_duration(inbox_ms)}"
                    f"{' (the default)' if inbox is None else ''}, but "
                    f"topic `{topic.kafka_name}` keeps messages {_kept(topic_ms)}: one "
                    "redelivered or replayed after that is handled twice",
                    _retention_hint(topic_ms),
                )


def check_parking(project: Project) -> Iterator[Diagnostic]:
    """`on_failure: park-key` needs keys to park and a DLQ to park them in."""
    for ctx in project.contexts:
        for con in ctx.consumers:
            if con.on_failure != "park-key":
                continue
            for qualified in con.subscribe:
                topic = project.topic(qualified)
                if topic.key_type is None:
                    yield error(
                        "E0823",
                        con.at("on_failure"),
                        f"consumer `{con.name}` parks failed keys, but topic "
                        f"`{topic.kafka_name}` has no `key:` type: its records have no key "
                        "to park",
                        f"give topic `{topic.local_name}` a key type, or use "
                        "`on_failure: dead-letter`",
                    )
            if con.idempotency_store != "postgres":
                where = (
                    "its SQLite idempotency store"
                    if con.idempotency_store == "sqlite"
                    else "the embedded SQLite file (it has no idempotency store)"
                )
                yield warning(
                    "W0828",
                    con.at("on_failure"),
                    f"consumer `{con.name}` keeps its parked keys in {where}: every instance "
                    "has its own file, so a key parked by one instance is not parked on the "
                    "instance that gets its partition after a rebalance",
                    "use `idempotency: {store: postgres}` when the consumer runs as more than "
                    "one instance; for a single instance, silence with `suppress: [W0828]`",
                )
            if not con.dlq:
                yield error(
                    "E0824",
                    con.at("on_failure"),
                    f"consumer `{con.name}` parks failed keys without `dlq: true`: parked "
                    "records go to the DLQ, which it does not have",
                    "set `dlq: true`",
                )


def check_outbox(project: Project) -> Iterator[Diagnostic]:
    """The outbox table's name, and the store a Debezium relay can read."""
    for ctx in project.contexts:
        box = ctx.outbox
        if box is not None and (
            not naming.SQL_TABLE.fullmatch(box.table) or len(box.table) > naming.SQL_TABLE_MAX
        ):
            yield error(
                "E0827",
                box.at("table"),
                f"outbox table `{box.table}` is not a plain SQL table name: lower-case letters, "
                f"digits and `_`, not starting with a digit, at most {naming.SQL_TABLE_MAX} "
                "characters",
                f"e.g. `{naming.sql_identifier(ctx.name, 'outbox')[: naming.SQL_TABLE_MAX]}`",
            )
        elif box is not None and box.table in naming.RUNTIME_TABLES:
            yield error(
                "E0827",
                box.at("table"),
                f"outbox table `{box.table}` is a table the runtime keeps for its consumers",
                f"e.g. `{naming.sql_identifier(ctx.name, 'outbox')}`",
            )
        if box is not None and box.relay == "debezium" and box.store != "postgres":
            yield error(
                "E0826",
                box.at("store") if "store" in dict(box.attr_locs) else box.at("relay"),
                f"the outbox of `{ctx.name}` is relayed by Debezium but stored in {box.store}: "
                "Debezium's connector reads PostgreSQL's write-ahead log only",
                "add `store: postgres` to `outbox:`, or use `relay: polling`",
            )


def check_app_names(project: Project) -> Iterator[Diagnostic]:
    """Consumer app objects against the fixed names of `<context>_app.py` and each other."""
    for ctx in project.contexts:
        module = naming.app_module(ctx.name)
        seen: dict[str, Consumer] = {}
        for con in ctx.consumers:
            attr = naming.py_app_attr(con.name)
            if attr in naming.APP_FIXED_NAMES:
                yield error(
                    "E0825",
                    con.loc,
                    f"consumer `{con.name}` would be `{module}.{attr}`, which is the context's "
                    f"{attr}",
                    f"rename the consumer, e.g. `{con.name}-handler`",
                )
            elif attr in seen:
                other = seen[attr]
                yield error(
                    "E0825",
                    con.loc,
                    f"consumers `{other.name}` and `{con.name}` would both be `{module}.{attr}`",
                    f"the other is at {other.loc}",
                )
            seen.setdefault(attr, con)


RULES: tuple[Rule, ...] = (
    declare(
        "E0821",
        "error",
        "rule",
        "exactly-once consumer with effects outside Kafka: an idempotency store, or no DLQ",
        check_delivery,
    ),
    declare(
        "E0823",
        "error",
        "rule",
        "`on_failure: park-key` on a consumer of a topic without a key type",
        check_parking,
    ),
    declare("E0824", "error", "rule", "`on_failure: park-key` without `dlq: true`", check_parking),
    declare(
        "E0825",
        "error",
        "rule",
        "consumer name is a fixed name of `<context>_app.py` (`publisher`, `outbox`, `relay`) "
        "or meets another consumer's after the naming authority's mapping",
        check_app_names,
    ),
    declare(
        "E0826",
        "error",
        "rule",
        "`relay: debezium` on an outbox whose `store:` is not postgres",
        check_outbox,
    ),
    declare(
        "E0827",
        "error",
        "rule",
        "outbox table is not a plain lower-case SQL name of at most 48 characters, or is one of "
        "the runtime's own tables",
        check_outbox,
    ),
    declare(
        "W0820",
        "warning",
        "rule",
        "at-least-once consumer without an idempotency store: database effects repeat on "
        "redelivery",
        check_delivery,
    ),
    declare(
        "W0828",
        "warning",
        "rule",
        "`on_failure: park-key` with parked keys in SQLite: per instance, lost on a rebalance",
        check_parking,
    ),
    declare(
        "W0822",
        "warning",
        "rule",
        "idempotency retention shorter than a subscribed topic's retention",
        check_inbox_retention,
    ),
)
