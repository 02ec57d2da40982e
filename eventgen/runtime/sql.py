"""DDL of the runtime's tables (outbox, inbox, parked keys) for SQLite and PostgreSQL.

One function writes the text, so the files the generator writes under generated/sql/ and what
`Store.ensure_schema` runs are the same bytes. Every statement is idempotent
(`IF NOT EXISTS`), so running the DDL again at start-up is harmless.

Time columns: PostgreSQL `timestamptz`; SQLite `TEXT` holding `iso_utc()` (fixed-width UTC
ISO-8601 with microseconds and `Z`), which sorts as the instants do, so retention sweeps can
compare strings.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal

Dialect = Literal["sqlite", "postgres"]
TableKind = Literal[
    "outbox",
    "inbox",
    "parked",
    "events",
    "snapshots",
    "checkpoints",
    "saga_instances",
    "saga_log",
    "saga_timers",
    "flows",
]

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")
# PostgreSQL truncates identifiers past 63 bytes; index names add a suffix to the table's.
_MAX_TABLE = 48


class SqlNameError(ValueError):
    """A table name that is not a plain lower-case SQL identifier."""


def quote(table: str) -> str:
    """The table name double-quoted, after checking it is `[a-z_][a-z0-9_]*` (no injection)."""
    if not isinstance(table, str) or not _IDENTIFIER.fullmatch(table) or len(table) > _MAX_TABLE:
        raise SqlNameError(
            f"table name {table!r}: expected [a-z_][a-z0-9_]* of at most {_MAX_TABLE} characters"
        )
    return f'"{table}"'


def iso_utc(moment: datetime) -> str:
    """A timestamp as SQLite stores it: UTC, microseconds, `Z` (sortable as text)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: give a timezone-aware one")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def table_ddl(dialect: Dialect, kind: TableKind, table: str) -> str:
    """`CREATE TABLE IF NOT EXISTS` (and its indexes) for `kind` named `table`.

    Deterministic: the same arguments always give the same text, statements separated by
    `;\\n` and the text ending in `;\\n`.
    """
    if dialect not in ("sqlite", "postgres"):
        raise ValueError(f"dialect {dialect!r}: expected 'sqlite' or 'postgres'")
    name = quote(table)
    index = f'"{table}_'
    pg = dialect == "postgres"
    blob = "bytea" if pg else "BLOB"
    text = "text" if pg else "TEXT"
    moment = "timestamptz" if pg else "TEXT"
    if kind == "outbox":
        # Column names follow Debezium's outbox event router (id, aggregatetype, aggregateid,
        # type, payload); the rest is what the polling relay needs to rebuild the record.
        seq = "bigserial PRIMARY KEY" if pg else "INTEGER PRIMARY KEY AUTOINCREMENT"
        now = "now()" if pg else "(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"
        lines = [
            f"seq {seq}",
            f"id {'uuid' if pg else 'TEXT'} NOT NULL UNIQUE",
            f"aggregatetype {text} NOT NULL",
            f"aggregateid {text}",
            f"type {text} NOT NULL",
            f"payload {blob}",
            f"key {blob}",
            f"schema_version {'integer' if pg else 'INTEGER'} NOT NULL",
            f"occurred_at {text} NOT NULL",
            f"correlation_id {text}",
            f"causation_id {text}",
            f"headers {text} NOT NULL DEFAULT '[]'",
            f"created_at {moment} NOT NULL DEFAULT {now}",
            # Set by a relay that keeps published rows for a retention (retention_ms > 0).
            f"published_at {moment}",
        ]
        statements = [
            _create(name, lines),
            # The relay's scan: unpublished rows by seq.
            (
                f'CREATE INDEX IF NOT EXISTS {index}pending" ON {name} (seq) '
                "WHERE published_at IS NULL"
            ),
            (
                f'CREATE INDEX IF NOT EXISTS {index}published_at" ON {name} (published_at) '
                "WHERE published_at IS NOT NULL"
            ),
        ]
    elif kind == "inbox":
        lines = [
            f"consumer_group {text} NOT NULL",
            f"event_id {'uuid' if pg else 'TEXT'} NOT NULL",
            f"handled_at {moment} NOT NULL",
            "PRIMARY KEY (consumer_group, event_id)",
        ]
        statements = [
            _create(name, lines),
            f'CREATE INDEX IF NOT EXISTS {index}handled_at" ON {name} (consumer_group, handled_at)',
        ]
    elif kind == "parked":
        # `offset` is a reserved word in both dialects: always write it quoted.
        lines = [
            f"consumer_group {text} NOT NULL",
            f"topic {text} NOT NULL",
            f"key {blob} NOT NULL",
            f"parked_at {moment} NOT NULL",
            f"reason {text} NOT NULL",
            f'"offset" {"bigint" if pg else "INTEGER"} NOT NULL',
            "PRIMARY KEY (consumer_group, topic, key)",
        ]
        statements = [_create(name, lines)]
    elif kind == "events":
        # The event store. `position` is the global order readers tail; appends take a
        # store-wide lock first (eventgen.runtime.es.store), so positions are handed out in
        # commit order and a reader never skips an event that commits late. `payload` is the
        # message's wire JSON in the version it was written in (`schema_version`).
        seq = "bigserial PRIMARY KEY" if pg else "INTEGER PRIMARY KEY AUTOINCREMENT"
        now = "now()" if pg else "(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"
        lines = [
            f"position {seq}",
            f"stream_id {text} NOT NULL",
            f"version {'integer' if pg else 'INTEGER'} NOT NULL",
            f"event_id {'uuid' if pg else 'TEXT'} NOT NULL UNIQUE",
            f"type {text} NOT NULL",
            f"schema_version {'integer' if pg else 'INTEGER'} NOT NULL",
            f"occurred_at {moment} NOT NULL",
            f"correlation_id {text}",
            f"causation_id {'uuid' if pg else 'TEXT'}",
            f"payload {text} NOT NULL",
            f"recorded_at {moment} NOT NULL DEFAULT {now}",
            "UNIQUE (stream_id, version)",
        ]
        statements = [_create(name, lines)]
    elif kind == "snapshots":
        # One snapshot per stream (the newest); `state_hash` names the state schema it was
        # taken under, so a changed state model ignores old snapshots.
        lines = [
            f"stream_id {text} PRIMARY KEY",
            f"version {'integer' if pg else 'INTEGER'} NOT NULL",
            f"state_hash {text} NOT NULL",
            f"state {blob} NOT NULL",
            f"taken_at {moment} NOT NULL",
        ]
        statements = [_create(name, lines)]
    elif kind == "checkpoints":
        # Per projection and source (`store` or `<topic>:<partition>`): the last position or
        # offset applied, written in the transaction that writes the projection's rows.
        lines = [
            f"projection {text} NOT NULL",
            f"source {text} NOT NULL",
            f"position {'bigint' if pg else 'INTEGER'} NOT NULL",
            f"updated_at {moment} NOT NULL",
            "PRIMARY KEY (projection, source)",
        ]
        statements = [_create(name, lines)]
    elif kind in ("saga_instances", "saga_log", "saga_timers", "flows"):
        statements = _saga_ddl(kind, name, index, pg)
    else:
        raise ValueError(
            f"table kind {kind!r}: expected outbox, inbox, parked, events, snapshots, "
            "checkpoints, saga_instances, saga_log, saga_timers or flows"
        )
    return "".join(f"{statement};\n" for statement in statements)


def _saga_ddl(kind: str, name: str, index: str, pg: bool) -> list[str]:
    """The saga runtime's tables (eventgen.runtime.saga.store) and the choreography flows."""
    text = "text" if pg else "TEXT"
    moment = "timestamptz" if pg else "TEXT"
    integer = "integer" if pg else "INTEGER"
    if kind == "saga_instances":
        # `data` is the saga data model's JSON, `state` the engine's per-step bookkeeping
        # (eventgen.runtime.saga.codec); `data_hash` names the data schema it was written under.
        # `version` is the optimistic lock: every write is `... WHERE version = <read>`.
        lines = [
            f"saga {text} NOT NULL",
            f"saga_id {text} NOT NULL",
            f"status {text} NOT NULL",
            f"step {text}",
            f"version {integer} NOT NULL",
            f"data_hash {text} NOT NULL",
            f"data {text} NOT NULL",
            f"state {text} NOT NULL",
            f"reason {text}",
            f"started_at {moment} NOT NULL",
            f"updated_at {moment} NOT NULL",
            f"deadline_at {moment}",
            "PRIMARY KEY (saga, saga_id)",
        ]
        return [
            _create(name, lines),
            f'CREATE INDEX IF NOT EXISTS {index}status" ON {name} (saga, status, updated_at)',
        ]
    if kind == "saga_log":
        # Every transition with its cause; operator commands also record who and why.
        lines = [
            f"saga {text} NOT NULL",
            f"saga_id {text} NOT NULL",
            f"seq {integer} NOT NULL",
            f"at {moment} NOT NULL",
            f"cause {text} NOT NULL",
            f"from_status {text}",
            f"to_status {text} NOT NULL",
            f"step {text}",
            f"detail {text} NOT NULL DEFAULT ''",
            f"actor {text}",
            f"reason {text}",
            "PRIMARY KEY (saga, saga_id, seq)",
        ]
        return [_create(name, lines)]
    if kind == "saga_timers":
        # At most one timer per instance and kind (timeout, retry, deadline).
        lines = [
            f"saga {text} NOT NULL",
            f"saga_id {text} NOT NULL",
            f"kind {text} NOT NULL",
            f"phase {text} NOT NULL",
            f"step {text}",
            f"attempt {integer} NOT NULL",
            f"due_at {moment} NOT NULL",
            "PRIMARY KEY (saga, saga_id, kind)",
        ]
        return [
            _create(name, lines),
            f'CREATE INDEX IF NOT EXISTS {index}due_at" ON {name} (due_at)',
        ]
    # flows: one row per choreography flow (eventgen.runtime.saga.flows), keyed by correlation.
    lines = [
        f"choreography {text} NOT NULL",
        f"correlation_id {text} NOT NULL",
        f"status {text} NOT NULL",
        f"started_at {moment} NOT NULL",
        f"updated_at {moment} NOT NULL",
        f"last_type {text} NOT NULL",
        f"outcome {text}",
        f"steps {text} NOT NULL DEFAULT '[]'",
        f"overdue_at {moment}",
        "PRIMARY KEY (choreography, correlation_id)",
    ]
    return [
        _create(name, lines),
        f'CREATE INDEX IF NOT EXISTS {index}status" ON {name} (choreography, status, started_at)',
    ]


def statements(ddl: str) -> list[str]:
    """The statements of a `table_ddl` text, one per item (sqlite3 runs one at a time)."""
    return [part.strip() for part in ddl.split(";\n") if part.strip()]


def _create(name: str, lines: list[str]) -> str:
    body = ",\n".join(f"    {line}" for line in lines)
    return f"CREATE TABLE IF NOT EXISTS {name} (\n{body}\n)"
