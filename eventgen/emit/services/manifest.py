"""The manifest's service sections: `publishers`, `consumers`, `outbox`, `sql`.

Each entry's `python` is `module:attr` of a ready object in the generated package (importing
it connects to nothing), so tools and the runner find apps without reading the spec.
"""

from __future__ import annotations

from typing import Any

from eventgen.emit import layout
from eventgen.ir import naming
from eventgen.ir.model import Project


def service_sections(project: Project) -> dict[str, list[dict[str, Any]]]:
    publishers: list[dict[str, Any]] = []
    consumers: list[dict[str, Any]] = []
    outboxes: list[dict[str, Any]] = []
    sql: list[dict[str, Any]] = []
    for ctx in project.contexts:
        if not layout.has_services(ctx):
            continue
        module = layout.app_module(project, ctx.name)
        publishers.append(
            {
                "context": ctx.name,
                "python": f"{module}:{layout.PUBLISHER_ATTR}",
                "messages": sorted(
                    naming.message_type(m.qualified) for m in ctx.messages if m.topic
                ),
            }
        )
        for c in sorted(ctx.consumers, key=lambda c: c.name):
            store = c.idempotency_store
            consumers.append(
                {
                    "name": c.name,
                    "qualified": c.qualified,
                    "context": ctx.name,
                    "python": f"{module}:{naming.py_app_attr(c.name)}",
                    "group": c.group,
                    "topics": [project.topic(t).kafka_name for t in c.subscribe],
                    "handles": sorted(naming.message_type(h) for h in c.handles),
                    "delivery": c.delivery,
                    "processing": c.processing,
                    "idempotency": {
                        "store": store,
                        "retention_ms": c.idempotency_retention_ms if store != "none" else None,
                        "table": layout.INBOX_TABLE if store != "none" else None,
                    },
                    "dlq": c.dlq,
                    # Where its dead letters go (the subscribed topics' DLQs), for `dlq replay`.
                    "dlq_topics": sorted(
                        {dlq.topic for t in c.subscribe if (dlq := project.topic(t).dlq)}
                    )
                    if c.dlq
                    else [],
                    "on_failure": c.on_failure,
                }
            )
        if ctx.outbox is not None:
            o = ctx.outbox
            writer = f"{module}:{layout.OUTBOX_ATTR}"
            debezium = o.relay == "debezium"
            outboxes.append(
                {
                    "context": ctx.name,
                    "python": writer,
                    "writer": writer,
                    "relay": None if debezium else f"{module}:{layout.RELAY_ATTR}",
                    "table": o.table,
                    "relay_kind": o.relay,
                    "store": o.store,
                    "connector": layout.connector_path(ctx.name) if debezium else None,
                }
            )
        by_dialect: dict[str, list[str]] = {}
        for dialect, _, table in layout.service_tables(ctx):
            by_dialect.setdefault(dialect, []).append(layout.sql_path(ctx.name, table, dialect))
        for name in sorted(by_dialect):
            sql.append({"context": ctx.name, "dialect": name, "files": sorted(by_dialect[name])})
    return {"publishers": publishers, "consumers": consumers, "outbox": outboxes, "sql": sql}
