"""The manifest's service sections: `publishers`, `consumers`, `outbox`, `sql`, `aggregates`,
`projections`, `queries`, `sagas`, `choreographies`.

Each entry's `python` is `module:attr` of a ready object in the generated package (importing
it connects to nothing), so tools and the runner find apps without reading the spec.
"""

from __future__ import annotations

from typing import Any

from eventgen.emit import layout
from eventgen.emit.services import saga_table
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
                # Its own messages and the commands its sagas send (through its outbox).
                "messages": sorted(
                    {naming.message_type(m.qualified) for m in ctx.messages if m.topic}
                    | {
                        naming.message_type(m.qualified)
                        for m in saga_table.context_saga_commands(project, ctx)
                    }
                ),
            }
        )
        generated = layout.aggregate_command_consumers(project, ctx)
        for c in sorted(ctx.consumers, key=lambda c: c.name):
            store = c.idempotency_store
            # An aggregate's command consumer: the aggregates module registers its handlers.
            home = layout.aggregates_module(project, ctx.name) if c.name in generated else module
            consumers.append(
                {
                    "name": c.name,
                    "qualified": c.qualified,
                    "context": ctx.name,
                    "python": f"{home}:{naming.py_app_attr(c.name)}",
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
        for proj in ctx.projections:  # the read-model tables (eventgen.emit.services.projections)
            for dialect in ("postgres", "sqlite"):
                table = layout.projection_table(proj.name)
                by_dialect.setdefault(dialect, []).append(layout.sql_path(ctx.name, table, dialect))
        for name in sorted(by_dialect):
            sql.append({"context": ctx.name, "dialect": name, "files": sorted(by_dialect[name])})
    return {
        "publishers": publishers,
        "consumers": consumers,
        "outbox": outboxes,
        "sql": sql,
        **event_sourcing_sections(project),
        **saga_sections(project),
    }


def event_sourcing_sections(project: Project) -> dict[str, list[dict[str, Any]]]:
    """`aggregates`, `projections` and `queries`: where each ready object lives, and its tables."""
    from eventgen.emit.services.readmodels import query_app

    aggregates: list[dict[str, Any]] = []
    projections: list[dict[str, Any]] = []
    queries: list[dict[str, Any]] = []
    for ctx in project.contexts:
        events_table, snapshots_table = layout.event_store_tables(ctx)
        module = layout.aggregates_module(project, ctx.name)
        by_aggregate: dict[str, list[str]] = {}
        for consumer, aggregate in layout.aggregate_command_consumers(project, ctx).items():
            by_aggregate.setdefault(aggregate, []).append(consumer)
        for agg in sorted(ctx.aggregates, key=lambda a: a.name):
            aggregates.append(
                {
                    "name": agg.name,
                    "qualified": agg.qualified,
                    "context": ctx.name,
                    "python": f"{module}:{layout.aggregate_attr(agg.name)}",
                    "event_store": f"{module}:{layout.EVENT_STORE_ATTR}",
                    "id": agg.id_field,
                    "commands": sorted(naming.message_type(c.command) for c in agg.commands),
                    "events": sorted({naming.message_type(r.message) for r in agg.applies}),
                    "snapshot_every": agg.snapshot_every,
                    "store": layout.event_store_kind(ctx),
                    "tables": {"events": events_table, "snapshots": snapshots_table},
                    "command_consumers": sorted(by_aggregate.get(agg.name, [])),
                }
            )
        views = layout.projections_module(project, ctx.name)
        names = {p.qualified for p in ctx.projections}
        for proj in sorted(ctx.projections, key=lambda p: p.name):
            own = {m.qualified for m in ctx.messages if m.aggregate}
            handled = sorted({r.message for r in proj.on})
            topics = sorted(
                {
                    project.topic(t).kafka_name
                    for m in handled
                    if m not in own and (t := project.message(m).topic)
                }
            )
            projections.append(
                {
                    "name": proj.name,
                    "qualified": proj.qualified,
                    "context": ctx.name,
                    "python": f"{views}:{layout.projector_attr(proj.name)}",
                    "table": layout.projection_table(proj.name),
                    "key": proj.key,
                    "handles": [naming.message_type(m) for m in handled],
                    "sources": {"store": any(m in own for m in handled), "topics": topics},
                    "group": layout.projector_group(ctx, proj.name),
                    "checkpoint_table": layout.CHECKPOINT_TABLE,
                    "store": layout.event_store_kind(ctx),
                }
            )
        for query in sorted((m for m in ctx.messages if m.kind == "query"), key=lambda m: m.name):
            returns = query.returns or ""
            returns = returns if "." in returns else f"{ctx.name}.{returns}"
            reads = returns if returns in names else None
            queries.append(
                {
                    "name": query.name,
                    "qualified": query.qualified,
                    "context": ctx.name,
                    "python": f"{views}:{layout.query_attr(query.name)}",
                    "params": [f.name for f in query.fields],
                    "returns": returns,
                    "projection": reads,
                    "table": layout.projection_table(reads.rsplit(".", 1)[-1]) if reads else None,
                    "app": query_app(project, ctx, query),  # answers it on its topic, or None
                }
            )
    return {"aggregates": aggregates, "projections": projections, "queries": queries}


def saga_sections(project: Project) -> dict[str, list[dict[str, Any]]]:
    """`sagas` (per saga: its worker, group, topics, steps, tables and diagram) and
    `choreographies` (eventgen.emit.services.reactions.choreography_entries)."""
    from eventgen.emit.services import reactions, sagas

    entries: list[dict[str, Any]] = []
    for ctx in project.contexts:
        module = layout.sagas_module(project, ctx.name)
        instances, log, timers = layout.saga_tables(ctx)
        for saga in sorted(ctx.sagas, key=lambda s: s.name):
            entries.append(
                {
                    "name": saga.name,
                    "qualified": saga.qualified,
                    "context": ctx.name,
                    "python": f"{module}:{sagas.app_attr(saga)}",
                    "group": layout.saga_group(ctx, saga.name),
                    "topics": [t.kafka_name for t in saga_table.consumed_topics(project, saga)],
                    "started_by": naming.message_type(saga.started_by),
                    "handles": [naming.message_type(m) for m in saga_table.handled_messages(saga)],
                    "steps": [s.name for s in saga.steps],
                    "pivot": next((s.name for s in saga.steps if s.pivot), None),
                    "store": ctx.outbox.store if ctx.outbox is not None else None,
                    "tables": {"instances": instances, "log": log, "timers": timers},
                    "diagram": layout.saga_doc_path(saga.name),
                }
            )
    # The choreography author's entries (task D); [] until reactions.py defines them.
    choreography_entries = getattr(reactions, "choreography_entries", None)
    choreographies = choreography_entries(project) if choreography_entries is not None else []
    return {"sagas": entries, "choreographies": list(choreographies)}
