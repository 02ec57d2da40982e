"""Turn loaded spec documents into a `Project`: collect names, resolve, assemble sorted."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from eventgen.diagnostics import Diagnostic, Loc
from eventgen.ir import naming
from eventgen.ir.model import Context, Defaults, Dlq, EnumType, Outbox, Project, RecordType, Retry
from eventgen.ir.resolve.behaviour import (
    build_aggregate,
    build_choreography,
    build_projection,
    build_saga,
)
from eventgen.ir.resolve.fields import build_fields, check_field_default, default_loc
from eventgen.ir.resolve.messages import build_message
from eventgen.ir.resolve.scope import Item, Scope
from eventgen.ir.resolve.topics import (
    build_consumer,
    build_outbox,
    build_retry,
    build_topic,
    duration,
)
from eventgen.spec.nodes import PList, PMap
from eventgen.spec.project import DEFAULT_OUTPUT, SpecSet

SECTIONS = (
    "types", "events", "commands", "queries", "topics", "consumers",
    "aggregates", "projections", "sagas", "choreographies",
)  # fmt: skip
MESSAGE_KINDS = {"events": "event", "commands": "command", "queries": "query"}
# Sections whose names become classes in the context's generated module.
CLASS_SECTIONS = ("types", "events", "commands", "queries", "projections")
BASE_RETRY = Retry(
    max_attempts=5, initial_ms=200, multiplier=2.0, max_interval_ms=30_000, jitter="full"
)


def build_defaults(scope: Scope, node: PMap) -> Defaults:
    return Defaults(
        serialization=node.get("serialization", "avro"),
        compatibility=node.get("compatibility", "BACKWARD"),
        json_content_model=node.get("json_content_model", "closed"),
        delivery=node.get("delivery", "at-least-once"),
        timeout_ms=duration(scope, node, "timeout", 30_000) or 30_000,
        retry=build_retry(scope, node.get("retry"), BASE_RETRY),
    )


def _map(node: Any, loc: Loc) -> PMap:
    return node if isinstance(node, PMap) else PMap(loc)


def _collect(scope: Scope, specset: SpecSet) -> dict[str, dict[str, dict[str, Item]]]:
    """items[context][section][name], reporting names defined twice."""
    items: dict[str, dict[str, dict[str, Item]]] = {}
    for doc in specset.contexts:
        context = doc.root.get("context")
        if not isinstance(context, str):
            continue
        if not naming.CONTEXT_NAME.fullmatch(context):
            scope.error(
                "E0401",
                doc.root.value_loc("context"),
                f"context name `{context}` is not lower_snake or kebab-case",
            )
        scope.contexts.setdefault(context, []).append(doc.root)
        per_context = items.setdefault(context, {s: {} for s in SECTIONS})
        for section in SECTIONS:
            entries = _map(doc.root.get(section), doc.root.loc)
            for name, node in entries.items():
                if name in per_context[section]:
                    first = per_context[section][name]
                    scope.error(
                        "E0402",
                        entries.key_loc(name),
                        f"{section[:-1]} `{name}` of context `{context}` is defined twice",
                        f"first defined at {first.key_loc}",
                    )
                    continue
                per_context[section][name] = Item(
                    context, name, doc.path, node, entries.key_loc(name), entries.value_loc(name)
                )
    for context, sections in items.items():
        seen: dict[str, Item] = {}
        for section in CLASS_SECTIONS:
            for name, item in sections[section].items():
                if name in seen:
                    scope.error(
                        "E0403",
                        item.key_loc,
                        f"`{name}` names two things in context `{context}`; both would be the class {name}",
                        f"the other is at {seen[name].key_loc}",
                    )
                seen.setdefault(name, item)
    return items


def _build_types(scope: Scope, items: dict[str, dict[str, dict[str, Item]]]) -> None:
    for sections in items.values():
        for item in sections["types"].values():
            scope.raw_types[item.qualified] = item
    for sections in items.values():
        for item in sections["types"].values():
            node = _map(item.node, item.loc)
            doc = node.get("doc")
            if "enum" in node:
                listed = node.get("enum") or ()
                written = [
                    (s, listed.item_loc(i) if isinstance(listed, PList) else item.key_loc)
                    for i, s in enumerate(listed)
                    if isinstance(s, str)
                ]
                symbols = tuple(s for s, _ in written)
                scope.types.types[item.qualified] = EnumType(
                    item.qualified,
                    item.context,
                    item.name,
                    symbols,
                    node.get("default"),
                    doc,
                    item.key_loc,
                    node.value_loc("default") if "default" in node else item.key_loc,
                    tuple(loc for _, loc in written),
                )
            else:
                fields = build_fields(scope, node.get("fields"), item.context, check_defaults=False)
                scope.types.types[item.qualified] = RecordType(
                    item.qualified, item.context, item.name, fields, doc, item.key_loc
                )
    for named in scope.types.types.values():
        if not isinstance(named, RecordType):
            continue
        raw = scope.raw_types[named.qualified]
        fields_node = _map(raw.node, raw.loc).get("fields")
        for fld in named.fields:
            check_field_default(scope, fld, default_loc(fields_node, fld.name))


def build_project(specset: SpecSet, env: str | None) -> tuple[Project, list[Diagnostic]]:
    """Resolve everything; the Project is complete only when no error was reported."""
    scope = Scope()
    assert specset.project is not None
    root = specset.project.root
    defaults_node = _map(root.get("defaults"), root.loc)
    defaults = build_defaults(scope, defaults_node)
    topic_defaults = _map(defaults_node.get("topic"), defaults_node.loc)
    items = _collect(scope, specset)
    _build_types(scope, items)
    for sections in items.values():
        for item in sections["topics"].values():
            scope.raw_topics[item.qualified] = item
        for section, kind in MESSAGE_KINDS.items():
            for item in sections[section].values():
                scope.raw_messages[item.qualified] = (kind, item)
    for sections in items.values():
        for item in sections["topics"].values():
            scope.topics[item.qualified] = build_topic(scope, item, topic_defaults, defaults)
    for qualified, (kind, item) in scope.raw_messages.items():
        scope.messages[qualified] = build_message(scope, kind, item)
    contexts = [_context(scope, name, items[name], defaults) for name in sorted(items)]
    contexts = add_consumer_dlqs(contexts)
    project = Project(
        name=str(root.get("project", "")),
        package=str(root.get("package", "")),
        output=str(root.get("output", DEFAULT_OUTPUT)),
        environment=env,
        defaults=defaults,
        contexts=tuple(contexts),
        spec_files=tuple(sorted([specset.project.path, *(d.path for d in specset.contexts)])),
        project_locs=tuple((k, root.value_loc(k)) for k in ("project", "package", "output")),
        environment_locs=_environment_locs(root),
    )
    return project, scope.diagnostics


def _environment_locs(root: PMap) -> tuple[tuple[str, Loc], ...]:
    envs = root.get("environments")
    return tuple((n, envs.key_loc(n)) for n in sorted(envs)) if isinstance(envs, PMap) else ()


def _context(
    scope: Scope, name: str, sections: dict[str, dict[str, Item]], defaults: Defaults
) -> Context:
    docs = scope.contexts[name]
    outbox: Outbox | None = None
    for doc in docs:
        if isinstance(doc.get("outbox"), PMap):
            if outbox is not None:
                scope.error(
                    "E0402", doc.key_loc("outbox"), f"context `{name}` declares its outbox twice"
                )
            outbox = build_outbox(scope, name, doc["outbox"])
    doc_text = next((d.get("doc") for d in docs if isinstance(d.get("doc"), str)), None)

    def built(section: str, func: Any, *extra: Any) -> tuple[Any, ...]:
        return tuple(func(scope, sections[section][n], *extra) for n in sorted(sections[section]))

    messages = [scope.messages[f"{name}.{n}"] for s in MESSAGE_KINDS for n in sections[s]]
    return Context(
        name=name,
        doc=doc_text,
        files=tuple(sorted({i.file for s in sections.values() for i in s.values()})),
        types=tuple(scope.types.types[f"{name}.{n}"] for n in sorted(sections["types"])),
        messages=tuple(sorted(messages, key=lambda m: m.name)),
        topics=tuple(scope.topics[f"{name}.{n}"] for n in sorted(sections["topics"])),
        consumers=built("consumers", build_consumer, defaults),
        outbox=outbox,
        aggregates=built("aggregates", build_aggregate),
        projections=built("projections", build_projection),
        sagas=built("sagas", build_saga, defaults),
        choreographies=built("choreographies", build_choreography),
        loc=min(d.value_loc("context") for d in docs),
    )


def add_consumer_dlqs(contexts: list[Context]) -> list[Context]:
    """A consumer with `dlq: true` needs a DLQ on each topic it reads: create missing ones."""
    wanted = {t for c in contexts for con in c.consumers if con.dlq for t in con.subscribe}
    result = []
    for ctx in contexts:
        topics = tuple(
            replace(t, dlq=Dlq(naming.dlq_topic(t.kafka_name)))
            if t.qualified in wanted and t.dlq is None
            else t
            for t in ctx.topics
        )
        result.append(replace(ctx, topics=topics))
    return result
