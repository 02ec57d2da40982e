"""The Kafka Connect connector config of a `relay: debezium` outbox (pure: IR in, dict out).

The generator writes it to `connect/<context>-outbox.json`; the file is the body of
`POST /connectors` (`{"name": ..., "config": {...}}`) as it is, no edits. The connector is
Debezium's PostgreSQL connector with its outbox EventRouter, set up so that a row of the outbox
table becomes exactly the record the publisher would have produced:

- topic: the row's `aggregatetype` (the full Kafka topic name, `${routedByValue}` as is);
- key and value: the `key` and `payload` bytea columns, bytes untouched (ByteArrayConverter);
- headers: the six envelope headers under their publisher names, as UTF-8 text
  (SimpleHeaderConverter writes a STRING as its UTF-8 bytes and the INT32 `schema_version`
  as decimal text, which is what `eventgen.runtime.headers.envelope_headers` writes).

Connection settings are `${env:EVENTGEN_PG_*}` placeholders, resolved inside the Connect worker
by its EnvVarConfigProvider, so the file holds no host or secret. docs/debezium.md explains every
setting, what the route does on restart and where it differs from the polling relay.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from eventgen.ir.model import Context, Outbox, Project
from eventgen.ir.naming import sql_identifier

CONNECTOR_CLASS = "io.debezium.connector.postgresql.PostgresConnector"
EVENT_ROUTER = "io.debezium.transforms.outbox.EventRouter"
DROP_HEADERS = "org.apache.kafka.connect.transforms.DropHeaders"
BYTES_CONVERTER = "org.apache.kafka.connect.converters.ByteArrayConverter"
HEADER_CONVERTER = "org.apache.kafka.connect.storage.SimpleHeaderConverter"

# The worker's environment variables the connector reads (scripts/services sets them for its
# own PostgreSQL; in production the Connect deployment does).
PG_ENV = {
    "database.hostname": "EVENTGEN_PG_HOST",
    "database.port": "EVENTGEN_PG_PORT",
    "database.user": "EVENTGEN_PG_USER",
    "database.password": "EVENTGEN_PG_PASSWORD",
    "database.dbname": "EVENTGEN_PG_DATABASE",
}
# The schema of the outbox table: the runtime's DDL creates it unqualified, i.e. in the
# database's default schema.
PG_SCHEMA = "public"

# Outbox column -> record header (the publisher's envelope header names, in its order).
ENVELOPE_HEADERS = (
    ("id", "event_id"),
    ("type", "type"),
    ("schema_version", "schema_version"),
    ("occurred_at", "occurred_at"),
    ("correlation_id", "correlation_id"),
    ("causation_id", "causation_id"),
)
# PostgreSQL truncates names (slots, publications) past NAMEDATALEN - 1 bytes.
PG_NAME_MAX = 63


class ConnectConfigError(ValueError):
    """The context cannot have a Debezium connector (no outbox, or not `relay: debezium`)."""


def connector_name(project: Project, context: Context) -> str:
    """The connector's name in Connect: one per (project, context)."""
    return f"eventgen-{project.name}-{context.name}-outbox"


def pg_name(*parts: str) -> str:
    """A replication slot / publication name: `[a-z0-9_]`, at most 63 characters.

    Slot names allow only lower-case letters, digits and underscores. A name that would be
    longer is cut and ends in 8 hex digits of a hash of the whole name, so two long names that
    share a prefix still differ.
    """
    name = re.sub(r"[^a-z0-9_]", "_", sql_identifier(*parts))
    if len(name) <= PG_NAME_MAX:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: PG_NAME_MAX - 9]}_{digest}"


def slot_name(project: Project, context: Context) -> str:
    return pg_name("eventgen", project.name, context.name, "outbox")


def publication_name(project: Project, context: Context) -> str:
    # Same text as the slot: a different object kind in PostgreSQL, so no clash.
    return pg_name("eventgen", project.name, context.name, "outbox")


def debezium_outbox(context: Context) -> Outbox:
    outbox = context.outbox
    if outbox is None or outbox.relay != "debezium":
        raise ConnectConfigError(f"context {context.name!r} has no outbox with relay: debezium")
    return outbox


def connector_config(project: Project, context: Context) -> dict[str, Any]:
    """`{"name": ..., "config": {...}}` for the context's `relay: debezium` outbox."""
    outbox = debezium_outbox(context)
    name = connector_name(project, context)
    config: dict[str, str] = {
        # The name inside too: `PUT /connectors/<name>/config` with this map (an idempotent
        # create-or-update, what a deployment wants) then works as well as `POST /connectors`.
        "name": name,
        "connector.class": CONNECTOR_CLASS,
        # One task: the PostgreSQL connector reads one slot and never runs more.
        "tasks.max": "1",
        **{key: f"${{env:{var}}}" for key, var in PG_ENV.items()},
        # Required and validated as a topic name; the outbox records go to the topics the
        # rows name, so only Debezium's own topics (none are enabled here) would use it.
        "topic.prefix": f"eventgen.{project.name}.{context.name}",
        # pgoutput is built into PostgreSQL 10+ (the default, decoderbufs, needs a plugin).
        "plugin.name": "pgoutput",
        "slot.name": slot_name(project, context),
        "publication.name": publication_name(project, context),
        # Debezium creates the publication for the included table only (default: all tables).
        "publication.autocreate.mode": "filtered",
        "table.include.list": f"{PG_SCHEMA}\\.{re.escape(outbox.table)}",
        # The writer deletes each row in the transaction that inserted it: a snapshot would
        # find nothing, and reading the table at start-up would only re-send rows a polling
        # relay left behind. Streaming starts at the slot's position (docs/debezium.md).
        "snapshot.mode": "no_data",
        # No `__debezium.context.*` headers (connector name, task id, run id): the records
        # carry the publisher's headers and nothing else.
        "extended.headers.enabled": "false",
        # The writer's DELETE must not become a tombstone (the router drops deletes anyway).
        "tombstones.on.delete": "false",
        # Bytes in, bytes out: key and payload are already the wire bytes of the records.
        "binary.handling.mode": "bytes",
        "key.converter": BYTES_CONVERTER,
        "value.converter": BYTES_CONVERTER,
        "header.converter": HEADER_CONVERTER,
        "transforms": "outbox,dropid",
        "transforms.outbox.type": EVENT_ROUTER,
        "transforms.outbox.table.field.event.id": "id",
        "transforms.outbox.table.field.event.key": "key",
        "transforms.outbox.table.field.event.payload": "payload",
        "transforms.outbox.route.by.field": "aggregatetype",
        "transforms.outbox.route.topic.regex": "(?<routedByValue>.*)",
        # The full topic name, not Debezium's default `outbox.event.<aggregatetype>`.
        "transforms.outbox.route.topic.replacement": "${routedByValue}",
        "transforms.outbox.table.fields.additional.placement": ",".join(
            f"{column}:header:{header}" for column, header in ENVELOPE_HEADERS
        ),
        # The writer only inserts (and deletes); an UPDATE means someone else edits the table.
        "transforms.outbox.table.op.invalid.behavior": "error",
        # The router always adds the row id as header `id`; the publisher's records carry it
        # as `event_id` only, so the copy goes.
        "transforms.dropid.type": DROP_HEADERS,
        "transforms.dropid.headers": "id",
    }
    return {"name": name, "config": config}
