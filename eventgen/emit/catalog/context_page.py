"""`docs/contexts/<context>.md`: one context's messages, types, topics and services."""

from __future__ import annotations

from eventgen.emit import layout
from eventgen.emit.catalog import flows
from eventgen.emit.catalog import markdown as md
from eventgen.emit.catalog.messages import item_kind, message_section, type_section
from eventgen.emit.diagrams import _ms
from eventgen.ir import naming
from eventgen.ir.model import Context, Project, Topic

TOPIC_HEADER = (
    "topic",
    "partitions",
    "replication",
    "min ISR",
    "retention",
    "cleanup",
    "compression",
    "key",
    "DLQ",
    "compatibility",
    "config",
)
CONSUMER_HEADER = (
    "consumer",
    "group",
    "subscribes",
    "handles",
    "delivery",
    "processing",
    "retry",
    "DLQ",
    "idempotency",
)


def kinds_of(project: Project) -> dict[str, tuple[str, str]]:
    """Named type -> (its context, its heading kind), for links from field tables."""
    return {t.qualified: (t.context, item_kind(t)) for t in project.all_types()}


def retention(ms: int | None) -> str:
    if ms is None:
        return "broker default"
    return "infinite" if ms == -1 else _ms(ms)


def topic_row(topic: Topic, here: str) -> list[str]:
    dlq = "-"
    if topic.dlq is not None:
        dlq = md.code(topic.dlq.topic)
        if topic.dlq.retention_ms is not None:
            dlq += " " + md.text(f"(retention {retention(topic.dlq.retention_ms)})")
    config = ", ".join(md.code(f"{k}={v}") for k, v in topic.config) or "-"
    return [
        md.code(topic.kafka_name),
        str(topic.partitions),
        str(topic.replication_factor),
        str(topic.min_insync_replicas) if topic.min_insync_replicas is not None else "default",
        md.text(retention(topic.retention_ms)),
        md.text(", ".join(topic.cleanup)) or "-",
        md.text(topic.compression or "default"),
        md.code(str(topic.key_type)) if topic.key_type is not None else "none",
        dlq,
        md.text(topic.compatibility),
        config,
    ]


def topic_users(
    topic: Topic, produced: list[flows.Produce], consumed: list[flows.Consume]
) -> list[str]:
    """Who produces to and who consumes from `topic`, as list items."""
    out = []
    for p in produced:
        if p.topic != topic.qualified:
            continue
        who = "outside the spec" if p.producer == flows.OUTSIDE else f"context {p.producer}"
        names = ", ".join(md.code(m) for m in p.messages)
        out.append(f"- produced by {md.text(who)}: {names}")
    for c in consumed:
        if c.topic != topic.qualified:
            continue
        k = c.consumer
        names = ", ".join(md.code(m) for m in c.messages) or "no message of this topic"
        out.append(
            f"- consumed by {md.code(k.qualified)} (group {md.code(k.group)}, "
            f"{md.text(k.delivery)}): {names}"
        )
    return out or ["- no producer or consumer in the spec"]


def _history_links(project: Project, topic: Topic) -> list[str]:
    """Links to the topic's subjects on the history page (the history stage writes a version
    for every subject: a key subject when the topic has a key type, a value subject when
    messages are on it)."""
    parts = ["key"] if topic.key_type is not None else []
    if any(m.topic == topic.qualified for m in project.all_messages()):
        parts.append("value")
    subjects = [naming.subject(topic.kafka_name, part) for part in parts]
    targets = [md.link(s, "../schema-history.md#" + md.anchor(s)) for s in subjects]
    return ["- schema history: " + ", ".join(targets)] if targets else []


def topics_section(project: Project, ctx: Context) -> list[str]:
    out = ["## Topics", ""]
    if not ctx.topics:
        return out + ["No topics.", ""]
    out += md.table(TOPIC_HEADER, [topic_row(t, ctx.name) for t in ctx.topics])
    out.append("")
    produced, consumed = flows.produces(project), flows.consumes(project)  # once per page
    for topic in ctx.topics:
        out += [f"### {md.text('Topic ' + topic.local_name)}", ""]
        if topic.doc:
            out += [md.prose(topic.doc), ""]
        out += [*topic_users(topic, produced, consumed), *_history_links(project, topic), ""]
    return out


def consumers_section(ctx: Context) -> list[str]:
    out = ["## Consumers", ""]
    if not ctx.consumers:
        return out + ["No consumers.", ""]
    rows = []
    for k in ctx.consumers:
        retry = f"{k.retry.max_attempts} attempts, from {_ms(k.retry.initial_ms)}"
        rows.append(
            [
                md.code(k.name),
                md.code(k.group),
                ", ".join(md.code(t) for t in k.subscribe) or "-",
                ", ".join(md.code(h) for h in k.handles) or "-",
                md.text(k.delivery),
                md.text(k.processing),
                md.text(retry),
                md.text(f"yes ({k.on_failure})" if k.dlq else "no"),
                md.text(k.idempotency_store),
            ]
        )
    return out + md.table(CONSUMER_HEADER, rows) + [""]


def services_section(ctx: Context) -> list[str]:
    """Aggregates, projections, sagas and choreographies, briefly, with links."""
    out = ["## Aggregates, projections, sagas", ""]
    items = []
    for agg in ctx.aggregates:
        commands = ", ".join(md.code(c.command) for c in agg.commands) or "none"
        applies = ", ".join(md.code(a.message) for a in agg.applies) or "none"
        items.append(
            f"- aggregate {md.code(agg.name)} (id {md.code(agg.id_field)}): "
            f"handles {commands}; applies {applies}"
        )
    for proj in ctx.projections:
        on = ", ".join(md.code(r.message) for r in proj.on) or "none"
        items.append(f"- projection {md.code(proj.name)} (key {md.code(proj.key)}): on {on}")
    for saga in ctx.sagas:
        page = md.link(saga.name, "../" + layout.saga_doc_path(saga.name).removeprefix("docs/"))
        items.append(
            f"- saga {page}: started by {md.code(saga.started_by)}, {len(saga.steps)} steps"
        )
    for ch in ctx.choreographies:
        target = "../" + layout.choreography_doc_path(ch.name).removeprefix("docs/")
        items.append(
            f"- choreography {md.link(ch.name, target)}: started by {md.code(ch.started_by)}, "
            f"{len(ch.reactions)} reactions"
        )
    return out + (items or ["None."]) + [""]


def context_page(project: Project, ctx: Context) -> str:
    kinds = kinds_of(project)
    topics = {t.qualified: t.kafka_name for t in project.all_topics()}
    out = [
        f"# Context {md.text(ctx.name)}",
        "",
        f"<!-- {layout.header(project.spec_files)} -->",
        "",
        md.link("Catalog index", "../index.md")
        + " · "
        + md.link("Schema history", "../schema-history.md"),
        "",
    ]
    if ctx.doc:
        out += [md.prose(ctx.doc), ""]
    out += ["```mermaid", flows.flowchart(project, only=ctx.name), "```", ""]
    for kind, title in (("event", "Events"), ("command", "Commands"), ("query", "Queries")):
        messages = [m for m in ctx.messages if m.kind == kind]
        out += [f"## {title}", ""]
        if not messages:
            out += ["None.", ""]
        for m in messages:
            topic = topics.get(m.topic) if m.topic else None
            out += message_section(m, ctx.name, kinds, topic)
    out += ["## Types", ""]
    out += [line for t in ctx.types for line in type_section(t, ctx.name, kinds)] or ["None.", ""]
    out += topics_section(project, ctx)
    out += consumers_section(ctx)
    out += services_section(ctx)
    return "\n".join(out).rstrip("\n") + "\n"
