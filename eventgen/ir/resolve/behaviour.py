"""Aggregates, projections, sagas and choreographies: resolve names, keep expressions."""

from __future__ import annotations

from typing import Any, Literal

from eventgen.diagnostics import Loc
from eventgen.ir.model import (
    Aggregate,
    AggregateCommand,
    ApplyRule,
    Assignments,
    Choreography,
    ChoreographyReaction,
    Compensation,
    Defaults,
    Projection,
    Reaction,
    Saga,
    SagaStep,
)  # fmt: skip
from eventgen.ir.paths import parse_expr
from eventgen.ir.resolve.fields import build_fields
from eventgen.ir.resolve.scope import Item, Scope
from eventgen.ir.resolve.topics import build_retry, duration
from eventgen.spec.nodes import PList, PMap, as_list

APPLY_OPS: tuple[Literal["set", "inc", "append", "upsert"], ...] = (
    "set",
    "inc",
    "append",
    "upsert",
)


def assignments(node: Any) -> Assignments:
    if not isinstance(node, PMap):
        return ()
    return tuple(
        (target, parse_expr(value, node.value_loc(target))) for target, value in node.items()
    )


def _map(node: Any, loc: Loc) -> PMap:
    return node if isinstance(node, PMap) else PMap(loc)


def _rules(scope: Scope, message: str, spec: PMap, loc: Loc) -> list[ApplyRule]:
    key = parse_expr(spec["key"], spec.value_loc("key")) if "key" in spec else None
    # In the order the spec writes them: the ops of one event run one after another.
    rules: list[ApplyRule] = []
    for op in spec:
        if op in APPLY_OPS:
            rules.append(ApplyRule(message, op, assignments(spec[op]), key=key, loc=loc))
        elif op == "handler" and isinstance(spec[op], str):
            rules.append(ApplyRule(message, "handler", handler=spec[op], key=key, loc=loc))
        elif op == "delete" and spec[op] is True:
            rules.append(ApplyRule(message, "delete", key=key, loc=loc))
    if not rules:
        scope.error(
            "E0311", loc, "no operation given", "use set, inc, append, upsert, delete or handler"
        )
    return rules


def _rules_by_event(scope: Scope, item: Item, by_event: PMap) -> list[ApplyRule]:
    """The apply rules of an `events:` (aggregate) or `on:` (projection) mapping, in order."""
    rules: list[ApplyRule] = []
    for raw, spec in by_event.items():
        loc = by_event.key_loc(raw)
        if (message := scope.resolve_message(raw, item.context, loc, ("event",))) is not None:
            rules.extend(_rules(scope, message, _map(spec, loc), loc))
    return rules


def build_aggregate(scope: Scope, item: Item) -> Aggregate:
    node = _map(item.node, item.loc)
    applies = _rules_by_event(scope, item, _map(node.get("events"), item.loc))
    commands: list[AggregateCommand] = []
    raw_commands = _map(node.get("commands"), item.loc)
    for raw, spec in raw_commands.items():
        loc = raw_commands.key_loc(raw)
        spec = _map(spec, loc)
        command = scope.resolve_message(raw, item.context, loc, ("command",))
        emit = _map(spec.get("emit"), loc)
        emits = []
        for raw_event, payload in emit.items():
            event = scope.resolve_message(
                raw_event, item.context, emit.key_loc(raw_event), ("event",)
            )
            if event:
                emits.append((event, assignments(payload)))
        if command:
            requires = spec.get("requires") if isinstance(spec.get("requires"), str) else None
            commands.append(AggregateCommand(command, requires, tuple(emits), loc))
    snapshot = _map(node.get("snapshot"), item.loc)
    return Aggregate(
        qualified=item.qualified,
        context=item.context,
        name=item.name,
        id_field=node.get("id", ""),
        state=build_fields(scope, node.get("state"), item.context),
        snapshot_every=snapshot.get("every"),
        applies=tuple(applies),
        commands=tuple(commands),
        loc=item.key_loc,
    )


def build_projection(scope: Scope, item: Item) -> Projection:
    node = _map(item.node, item.loc)
    rules = _rules_by_event(scope, item, _map(node.get("on"), item.loc))
    return Projection(
        qualified=item.qualified,
        context=item.context,
        name=item.name,
        key=node.get("key", ""),
        fields=build_fields(scope, node.get("fields"), item.context),
        on=tuple(rules),
        loc=item.key_loc,
    )


def _expect(scope: Scope, node: Any, context: str, loc: Loc) -> tuple[Reaction, ...]:
    found: list[Reaction] = []
    if isinstance(node, PList):
        for i, raw in enumerate(node):
            if message := scope.resolve_message(raw, context, node.item_loc(i), ("event",)):
                found.append(Reaction(message))
    elif isinstance(node, PMap):
        for raw, spec in node.items():
            if message := scope.resolve_message(raw, context, node.key_loc(raw), ("event",)):
                saves = assignments(spec.get("save")) if isinstance(spec, PMap) else ()
                found.append(Reaction(message, saves))
    return tuple(found)


def _step(scope: Scope, node: PMap, context: str, loc: Loc, defaults: Defaults) -> SagaStep:
    send = _map(node.get("send"), loc)
    expect = _map(node.get("expect"), loc)
    kind = "local" if "local" in node else "send"
    raw_command = node.get("local") if kind == "local" else send.get("command")
    where = node.value_loc("local") if kind == "local" else send.value_loc("command")
    command = scope.resolve_message(raw_command, context, where, ("command",)) or "?"
    compensation = None
    if isinstance(node.get("compensate"), PMap):
        comp = node["compensate"]
        comp_send = _map(comp.get("send"), loc)
        comp_cmd = scope.resolve_message(
            comp_send.get("command"), context, comp_send.value_loc("command"), ("command",)
        )
        comp_expect = _expect(scope, _map(comp.get("expect"), loc).get("success"), context, loc)
        compensation = Compensation(
            comp_cmd or "?",
            assignments(comp_send.get("payload")),
            tuple(r.message for r in comp_expect),
        )
    return SagaStep(
        name=node.get("name", "?"),
        kind=kind,  # type: ignore[arg-type]
        command=command,
        payload=assignments(send.get("payload")),
        success=_expect(scope, expect.get("success"), context, expect.value_loc("success")),
        failure=_expect(scope, expect.get("failure"), context, expect.value_loc("failure")),
        timeout_ms=duration(
            scope, node, "timeout", defaults.timeout_ms if kind == "send" else None
        ),
        retry=build_retry(scope, node["retry"], defaults.retry) if "retry" in node else None,
        compensate=compensation,
        pivot=node.get("pivot") is True,
        loc=loc,
    )


def build_saga(scope: Scope, item: Item, defaults: Defaults) -> Saga:
    node = _map(item.node, item.loc)
    started_by = scope.resolve_message(
        node.get("started_by"), item.context, node.value_loc("started_by"), ("event",)
    )
    steps = as_list(node.get("steps"), item.loc)
    failure = _map(node.get("on_compensation_failure"), item.loc)
    return Saga(
        qualified=item.qualified,
        context=item.context,
        name=item.name,
        started_by=started_by or "?",
        correlation=node.get("correlation", ""),
        doc=node.get("doc") if isinstance(node.get("doc"), str) else None,
        data=build_fields(scope, node.get("data"), item.context),
        init=assignments(node.get("init")),
        deadline_ms=duration(scope, node, "deadline"),
        steps=tuple(
            _step(scope, s, item.context, steps.item_loc(i), defaults)
            for i, s in enumerate(steps)
            if isinstance(s, PMap)
        ),
        compensation_retry=build_retry(scope, failure["retry"], defaults.retry)
        if "retry" in failure
        else None,
        compensation_then=failure.get("then"),
        loc=item.key_loc,
    )


CHOREOGRAPHY_DEADLINE_MS = 3_600_000  # a choreography without `deadline:`: 1h


def build_choreography(scope: Scope, item: Item) -> Choreography:
    node = _map(item.node, item.loc)
    ctx = item.context
    reactions: list[ChoreographyReaction] = []
    raw_reactions = as_list(node.get("reactions"), item.loc)
    for i, spec in enumerate(raw_reactions):
        if not isinstance(spec, PMap):
            continue
        service = spec.get("service", "")
        if service not in scope.contexts:
            scope.error(
                "E0304", spec.value_loc("service"), f"unknown service (context) `{service}`"
            )
        home = service if service in scope.contexts else ctx
        emits = _map(spec.get("emits"), raw_reactions.item_loc(i))

        def emitted(key: str, emits: PMap = emits, home: str = home) -> str | None:
            if key not in emits:
                return None
            return scope.resolve_message(emits[key], home, emits.value_loc(key), ("event",))

        reactions.append(
            ChoreographyReaction(
                service=service,
                on=scope.resolve_message(spec.get("on"), ctx, spec.value_loc("on"), ("event",))
                or "?",
                do=scope.resolve_message(spec.get("do"), home, spec.value_loc("do"), ("command",))
                or "?",
                emits_success=emitted("success"),
                emits_failure=emitted("failure"),
                loc=raw_reactions.item_loc(i),
            )
        )
    outcomes = _map(node.get("outcomes"), item.loc)
    return Choreography(
        qualified=item.qualified,
        context=ctx,
        name=item.name,
        correlation=node.get("correlation", ""),
        started_by=scope.resolve_message(
            node.get("started_by"), ctx, node.value_loc("started_by"), ("event",)
        )
        or "?",
        reactions=tuple(reactions),
        outcomes_success=tuple(
            r.message for r in _expect(scope, outcomes.get("success"), ctx, item.loc)
        ),
        outcomes_failure=tuple(
            r.message for r in _expect(scope, outcomes.get("failure"), ctx, item.loc)
        ),
        deadline_ms=duration(scope, node, "deadline") or CHOREOGRAPHY_DEADLINE_MS,
        doc=node.get("doc") if isinstance(node.get("doc"), str) else None,
        loc=item.key_loc,
    )
