"""Checks on orchestrated sagas and choreographies."""

from __future__ import annotations

from collections.abc import Sequence

from eventgen.diagnostics import Diagnostic, Loc, error
from eventgen.ir import naming
from eventgen.ir.model import Expr, Field, Project
from eventgen.rules.checks_flows import Checker
from eventgen.rules.registry import Rule, declare


def check_sagas(project: Project) -> list[Diagnostic]:
    c = Checker(project)
    _sagas(c)
    _choreographies(c)
    return c.found


def _sagas(c: Checker) -> None:
    for ctx in c.project.contexts:
        for saga in ctx.sagas:
            data_names = {f.name for f in saga.data}
            if saga.correlation not in data_names:
                c.found.append(
                    error(
                        "E0806",
                        saga.loc,
                        f"correlation `{saga.correlation}` is not a field of the saga's data",
                    )
                )
            c.targets(saga.init, saga.data, saga.loc, f"saga {saga.name}'s data")
            c.exprs(saga.init, saga.loc, {"$": c.fields_of(saga.started_by)}, "init of")
            set_so_far = {t for t, _ in saga.init}
            names: set[str] = set()
            pivots = [s for s in saga.steps if s.pivot]
            if len(pivots) > 1:
                c.found.append(
                    error(
                        "E0810",
                        pivots[1].loc,
                        f"saga {saga.name} has {len(pivots)} pivot steps; at most one",
                    )
                )
            after_pivot = False
            python_names: dict[str, str] = {}  # the generated functions' part: `a-b` is `a_b`
            for step in saga.steps:
                other = python_names.get(naming.snake(step.name))
                if step.name in names:
                    c.found.append(
                        error("E0805", step.loc, f"step name `{step.name}` is used twice")
                    )
                elif other is not None:
                    c.found.append(
                        error(
                            "E0805",
                            step.loc,
                            f"step names `{other}` and `{step.name}` are the same Python name "
                            f"`{naming.snake(step.name)}` in the generated saga module",
                            "rename one of them",
                        )
                    )
                names.add(step.name)
                python_names.setdefault(naming.snake(step.name), step.name)
                # No check for a send step without a timeout: the resolver gives every send
                # step its own `timeout:` or defaults.timeout (built in: 30s).
                c.targets(step.payload, c.fields_of(step.command), step.loc, step.command)
                c.exprs(step.payload, step.loc, {"$data": saga.data}, "payload")
                for reply in (*step.success, *step.failure):
                    c.targets(reply.saves, saga.data, step.loc, f"saga {saga.name}'s data (save)")
                    c.exprs(
                        reply.saves,
                        step.loc,
                        {"$": c.fields_of(reply.message), "$data": saga.data},
                        "save",
                    )
                    set_so_far.update(t for t, _ in reply.saves)
                if step.compensate is not None:
                    if after_pivot:
                        c.found.append(
                            error(
                                "E0809",
                                step.loc,
                                f"step `{step.name}` follows the pivot, so it must retry, not compensate",
                            )
                        )
                    comp = step.compensate
                    c.targets(comp.payload, c.fields_of(comp.command), step.loc, comp.command)
                    c.exprs(comp.payload, step.loc, {"$data": saga.data}, "compensation payload")
                    for _, expr in comp.payload:
                        _compensation_reads(c, expr, saga.data, set_so_far, step.loc)
                after_pivot = after_pivot or step.pivot


def _compensation_reads(
    c: Checker, expr: Expr, data: Sequence[Field], set_so_far: set[str], loc: Loc
) -> None:
    if expr.root != "$data" or not expr.path:
        return
    field = next((f for f in data if f.name == expr.path[0]), None)
    if field is not None and expr.path[0] not in set_so_far and not field.type.nullable:
        c.found.append(
            error(
                "E0807",
                loc,
                f"compensation reads `$data.{expr.path[0]}`, which may be unset here",
                "save it in an earlier step or init, or make the data field nullable",
            )
        )


def _choreographies(c: Checker) -> None:
    for ctx in c.project.contexts:
        for ch in ctx.choreographies:
            outcomes = set(ch.outcomes_success) | set(ch.outcomes_failure)
            emitted = {ch.started_by} | {
                e for r in ch.reactions for e in (r.emits_success, r.emits_failure) if e
            }
            triggers = {r.on for r in ch.reactions}
            for r in ch.reactions:
                if r.on not in emitted:
                    c.found.append(
                        error("E0811", r.loc, f"reaction on {r.on}: nobody in {ch.name} emits it")
                    )
            for message in sorted(emitted):
                if message not in outcomes and message not in triggers:
                    c.found.append(
                        error(
                            "E0812",
                            ch.loc,
                            f"{message} is emitted but neither triggers a reaction nor is an outcome",
                        )
                    )
            edges = {
                r.on: [e for e in (r.emits_success, r.emits_failure) if e] for r in ch.reactions
            }
            if cycle := _find_cycle(edges):
                c.found.append(error("E0813", ch.loc, "cycle: " + " -> ".join(cycle)))


def _find_cycle(edges: dict[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        if state.get(node) == 1:
            return path[path.index(node) :] + [node]
        if state.get(node) == 2:
            return None
        state[node] = 1
        for nxt in edges.get(node, ()):
            if found := visit(nxt, [*path, node]):
                return found
        state[node] = 2
        return None

    for start in sorted(edges):
        if found := visit(start, []):
            return found
    return None


# The codes these checks report, composed into the ruleset by eventgen.rules.catalog.
RULES: tuple[Rule, ...] = (
    declare(
        "E0805",
        "error",
        "rule",
        "saga step names are not unique (also once `-` reads as `_`)",
        check_sagas,
    ),
    declare(
        "E0806", "error", "rule", "saga correlation or save target is not in `data`", check_sagas
    ),
    declare(
        "E0807",
        "error",
        "rule",
        "compensation reads saga data that may be unset and is not nullable",
        check_sagas,
    ),
    declare("E0809", "error", "rule", "step after the pivot declares a compensation", check_sagas),
    declare("E0810", "error", "rule", "more than one pivot step", check_sagas),
    declare("E0811", "error", "rule", "choreography trigger that nobody emits", check_sagas),
    declare(
        "E0812", "error", "rule", "choreography path that ends without an outcome", check_sagas
    ),
    declare("E0813", "error", "rule", "choreography has a cycle", check_sagas),
)
