"""Who produces and who consumes each topic, and the Mermaid flowcharts drawn from it.

Producers, from the spec: a context produces its events (their topic is where it publishes
them); a saga's context sends its steps' and compensations' commands; a choreography
reaction's service sends its `do` command. A command or query with no sender in the spec is
drawn from one "outside the spec" node, so no topic looks unfed. Consumers are the spec's
consumers (name and group); a consumer with `dlq` dead-letters to its topic's DLQ.

Node ids are generated (`p0`, `t3`, `k1`, `d2`) and every label goes through
`diagrams.label` (entity codes for anything but plain characters), so no name or doc can
break the diagram's syntax.
"""

from __future__ import annotations

from dataclasses import dataclass

from eventgen.emit.diagrams import label
from eventgen.ir.model import Consumer, Project, Topic

OUTSIDE = ""  # the producer "context" of messages no spec item sends
MAX_LABELLED = 3  # an edge names at most this many messages, else counts them


@dataclass(frozen=True)
class Produce:
    producer: str  # context name, or OUTSIDE
    topic: str  # qualified topic id
    messages: tuple[str, ...]  # qualified, sorted


@dataclass(frozen=True)
class Consume:
    consumer: Consumer
    topic: str
    messages: tuple[str, ...]  # handled messages that are on this topic, sorted


def produces(project: Project) -> list[Produce]:
    """Every (producer, topic) pair with the messages it sends there, sorted."""
    senders: dict[str, set[str]] = {}
    for saga in project.all_sagas():
        for step in saga.steps:
            senders.setdefault(step.command, set()).add(saga.context)
            if step.compensate is not None:
                senders.setdefault(step.compensate.command, set()).add(saga.context)
    for ch in project.all_choreographies():
        for r in ch.reactions:
            senders.setdefault(r.do, set()).add(r.service)
    pairs: dict[tuple[str, str], set[str]] = {}
    for m in project.all_messages():
        if m.topic is None:
            continue
        who = {m.context} if m.kind == "event" else senders.get(m.qualified) or {OUTSIDE}
        for producer in who:
            pairs.setdefault((producer, m.topic), set()).add(m.qualified)
    return [Produce(p, t, tuple(sorted(ms))) for (p, t), ms in sorted(pairs.items())]


def consumes(project: Project) -> list[Consume]:
    """Every (consumer, subscribed topic) pair with the handled messages on that topic."""
    found = []
    for ctx in project.contexts:
        for consumer in ctx.consumers:
            for topic in sorted(consumer.subscribe):
                on = tuple(
                    sorted(
                        h
                        for h in consumer.handles
                        if (m := project.messages_by_name.get(h)) is not None and m.topic == topic
                    )
                )
                found.append(Consume(consumer, topic, on))
    return found


def _short(qualified: str) -> str:
    return qualified.rsplit(".", 1)[-1]


def _edge_label(messages: tuple[str, ...]) -> str:
    if not messages:
        return ""
    if len(messages) > MAX_LABELLED:
        return f"{len(messages)} messages"
    return ", ".join(_short(m) for m in messages)


def _dlq_name(topic: Topic) -> str | None:
    return topic.dlq.topic if topic.dlq is not None else None


def flowchart(project: Project, only: str | None = None) -> str:
    """`flowchart LR` of producers -> topics -> consumers (and consumers -> DLQs).

    With `only` (a context name), just the edges that touch that context: its producers,
    its topics or its consumers.
    """
    prods = produces(project)
    cons = consumes(project)
    if only is not None:
        prods = [p for p in prods if p.producer == only or project.topic(p.topic).context == only]
        cons = [
            c for c in cons if c.consumer.context == only or project.topic(c.topic).context == only
        ]
    ids: dict[tuple[str, str], str] = {}
    nodes: list[str] = []

    def node(kind: str, key: str, shape: str, text: str) -> str:
        if (kind, key) not in ids:
            ids[(kind, key)] = f"{kind}{len([k for k in ids if k[0] == kind])}"
            left, right = {"box": ("[", "]"), "topic": ("([", "])"), "hex": ("{{", "}}")}[shape]
            nodes.append(f'  {ids[(kind, key)]}{left}"{label(text)}"{right}')
        return ids[(kind, key)]

    edges: list[str] = []
    for p in prods:
        source = (
            node("x", "", "hex", "outside the spec")
            if p.producer == OUTSIDE
            else node("p", p.producer, "box", f"context {p.producer}")
        )
        topic = project.topic(p.topic)
        target = node("t", topic.qualified, "topic", topic.kafka_name)
        edges.append(_arrow(source, target, _edge_label(p.messages), dashed=False))
    for c in cons:
        topic = project.topic(c.topic)
        source = node("t", topic.qualified, "topic", topic.kafka_name)
        who = f"{c.consumer.context}: {c.consumer.name} (group {c.consumer.group})"
        target = node("k", c.consumer.qualified, "box", who)
        edges.append(_arrow(source, target, _edge_label(c.messages), dashed=False))
        dlq = _dlq_name(topic)
        if c.consumer.dlq and dlq is not None:
            dead = node("d", dlq, "topic", f"{dlq} (DLQ)")
            edges.append(_arrow(target, dead, "dead letters", dashed=True))
    if not nodes:
        nodes.append(f'  none["{label("no topics")}"]')
    return "\n".join(["flowchart LR", *nodes, *sorted(set(edges), key=edges.index)])


def _arrow(source: str, target: str, text: str, *, dashed: bool) -> str:
    arrow = "-.->" if dashed else "-->"
    return f"  {source} {arrow}|{label(text)}| {target}" if text else f"  {source} {arrow} {target}"
