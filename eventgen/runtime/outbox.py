"""The transactional outbox writer: `add(conn, message)` inserts one row in the caller's transaction.

The row holds the record exactly as the publisher would write it (value bytes from the route's
codec, key bytes, the envelope fields as columns, extra headers as JSON), so the relay only
copies bytes and never needs the message classes. Columns follow Debezium's outbox event
router (`id`, `aggregatetype`, `aggregateid`, `type`, `payload`); docs/outbox.md has the rest.

Ordering: on PostgreSQL `add` first takes a transaction-scoped advisory lock on the aggregate
(topic + key), so two transactions that write the same aggregate are serialised: the second
one's insert (and its `seq`) happens after the first one committed. Per aggregate, `seq` order
is therefore commit order, which is what lets the relay publish by `seq` without ever
skipping or reordering a row of a late-committing transaction. SQLite has one writer at a time
anyway, so the same holds without a lock.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from eventgen.runtime.config import RuntimeConfig, load_config
from eventgen.runtime.db import Dialect, dialect_of, ensure_tables
from eventgen.runtime.headers import HEADER_FIELDS
from eventgen.runtime.model import Envelope, Message
from eventgen.runtime.serde import codec_for, encode_key
from eventgen.runtime.spec import OutboxSpec, Route
from eventgen.runtime.sql import quote

ExtraHeaders = Mapping[str, str | bytes] | Sequence[tuple[str, str | bytes]]
# The classid half of the two-key advisory locks: keeps the runtime's locks apart from the
# application's own pg_advisory_* use (which mostly uses the one-bigint form anyway).
LOCK_NAMESPACE = "eventgen.outbox"

COLUMNS = (
    "id", "aggregatetype", "aggregateid", "type", "payload", "key", "schema_version",
    "occurred_at", "correlation_id", "causation_id", "headers",
)  # fmt: skip


class OutboxError(ValueError):
    """A message this outbox cannot take (no route) or a connection not in a transaction."""


class OutboxWriter:
    """Adds messages to the outbox table of `spec` inside the caller's transaction."""

    def __init__(self, spec: OutboxSpec) -> None:
        self.spec = spec
        self._table = quote(spec.table)
        self._config: RuntimeConfig | None = None

    def configure(self, config: RuntimeConfig | None = None) -> None:
        """Use `config` (the codec's registry settings); default: read it at the first add."""
        self._config = config or load_config()

    def ensure_schema(self, conn: Any) -> None:
        """Create the outbox table on the caller's connection, in its transaction."""
        ensure_tables(conn, {"outbox": self.spec.table})

    def add(
        self,
        conn: Any,
        message: Message,
        *,
        correlation_id: str | None = None,
        causation_id: UUID | None = None,
        headers: ExtraHeaders | None = None,
        event_id: UUID | None = None,
        occurred_at: datetime | None = None,
    ) -> UUID:
        """Insert `message` into the outbox in `conn`'s open transaction; its event_id.

        Nothing is committed here: the row becomes visible when the caller commits, and
        vanishes with a rollback. Under `relay: debezium` the row is inserted and deleted
        again in the same transaction (Debezium reads the insert from the WAL).
        """
        dialect = dialect_of(conn)
        _require_transaction(conn, dialect)
        route = self._route(message)
        envelope = message.envelope(
            event_id=event_id,
            occurred_at=occurred_at,
            correlation_id=correlation_id,
            causation_id=causation_id,
        )
        row = self._row(envelope, route, headers)
        if dialect == "postgres":
            if row["aggregateid"] is not None:
                conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtext(%s), hashtext(%s))",
                    (f"{LOCK_NAMESPACE}:{self.spec.table}", aggregate_lock_key(row)),
                )
            row["id"] = envelope.event_id
            marks = ", ".join("%s" for _ in COLUMNS)
        else:
            if self.spec.relay == "debezium":
                raise OutboxError("relay: debezium needs store: postgres (it reads the WAL)")
            row["id"] = str(envelope.event_id)
            marks = ", ".join("?" for _ in COLUMNS)
        values = tuple(row[name] for name in COLUMNS)
        conn.execute(f"INSERT INTO {self._table} ({', '.join(COLUMNS)}) VALUES ({marks})", values)
        if self.spec.relay == "debezium":
            conn.execute(f"DELETE FROM {self._table} WHERE id = %s", (envelope.event_id,))
        return envelope.event_id

    def _route(self, message: Message) -> Route:
        publisher = self.spec.publisher
        try:
            if publisher is None:
                raise KeyError(message.TYPE)
            return publisher.route(message.TYPE)
        except KeyError:
            raise OutboxError(
                f"outbox {self.spec.table} of context {self.spec.context} has no route for "
                f"{message.TYPE}"
            ) from None

    def _row(
        self, envelope: Envelope[Message], route: Route, extra: ExtraHeaders | None
    ) -> dict[str, Any]:
        if self._config is None:
            self.configure()
        assert self._config is not None
        value, envelope_headers = codec_for(route, self._config).encode(envelope, route)
        wire = dict(envelope_headers)
        key = encode_key(route, envelope.payload)
        # Headers beyond the envelope (from the codec, then the caller's) travel as JSON.
        others = [(name, data) for name, data in envelope_headers if name not in HEADER_FIELDS]
        others.extend(_header_pairs(extra))
        return {
            "aggregatetype": route.topic.name,
            "aggregateid": None if key is None else aggregate_id(envelope.payload.partition_key()),
            "type": envelope.type,
            "payload": value,
            "key": key,
            "schema_version": envelope.schema_version,
            "occurred_at": _text(wire.get("occurred_at")) or envelope.occurred_at.isoformat(),
            "correlation_id": _text(wire.get("correlation_id")),
            "causation_id": _text(wire.get("causation_id")),
            "headers": dump_headers(others),
        }


def aggregate_id(value: Any) -> str:
    """The key as text (`aggregateid`): strings as they are, numbers and UUIDs by `str`,
    composite keys as compact JSON with sorted names."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float | UUID):
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def aggregate_lock_key(row: Mapping[str, Any]) -> str:
    """What the per-aggregate advisory lock hashes: topic and key text (`/` is not in topics)."""
    return f"{row['aggregatetype']}/{row['aggregateid']}"


def dump_headers(pairs: Sequence[tuple[str, bytes]]) -> str:
    """Extra headers as JSON: `[[name, text]]`, or `[name, {"base64": ...}]` if not UTF-8."""
    out: list[list[Any]] = []
    for name, data in pairs:
        try:
            out.append([name, data.decode("utf-8")])
        except UnicodeDecodeError:
            out.append([name, {"base64": base64.b64encode(data).decode("ascii")}])
    return json.dumps(out, separators=(",", ":"), ensure_ascii=False)


def load_headers(text: str | None) -> list[tuple[str, bytes]]:
    """Inverse of `dump_headers`."""
    pairs: list[tuple[str, bytes]] = []
    for name, data in json.loads(text or "[]"):
        if isinstance(data, dict):
            pairs.append((str(name), base64.b64decode(data["base64"])))
        else:
            pairs.append((str(name), str(data).encode("utf-8")))
    return pairs


def _header_pairs(extra: ExtraHeaders | None) -> list[tuple[str, bytes]]:
    if extra is None:
        return []
    items = extra.items() if isinstance(extra, Mapping) else extra
    pairs = []
    for name, data in items:
        if name in HEADER_FIELDS:
            raise OutboxError(f"header {name!r} is an envelope header; set it through add()")
        pairs.append((name, data.encode("utf-8") if isinstance(data, str) else bytes(data)))
    return pairs


def _text(data: bytes | None) -> str | None:
    return None if data is None else data.decode("utf-8")


def _require_transaction(conn: Any, dialect: Dialect) -> None:
    """Refuse an autocommit connection outside a transaction: the row would commit alone."""
    if dialect == "sqlite":
        if not conn.in_transaction and conn.isolation_level is None:
            raise OutboxError("outbox add() needs an open transaction on the sqlite3 connection")
        return
    from psycopg.pq import TransactionStatus

    if conn.autocommit and conn.info.transaction_status == TransactionStatus.IDLE:
        raise OutboxError(
            "outbox add() needs an open transaction (conn.transaction()) on the psycopg "
            "connection: in autocommit mode the row would commit on its own"
        )
