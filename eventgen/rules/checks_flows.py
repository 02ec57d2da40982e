"""Checks on consumers, versions, aggregates, projections, sagas and choreographies."""

from __future__ import annotations

from collections.abc import Sequence

from eventgen.diagnostics import Diagnostic, Loc, error, warning
from eventgen.ir.guards import CLAUSE, GuardSyntaxError, clauses
from eventgen.ir.model import NO_LOC, Assignments, Expr, Field, Project
from eventgen.ir.paths import ENVELOPE_FIELDS, field_path_type
from eventgen.rules.registry import Rule, declare

GUARD = CLAUSE  # the clause grammar; split guards with eventgen.ir.guards, never by hand


class Checker:
    """Collects findings with access to the project's lookups."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.types = project.types_by_name
        self.messages = project.messages_by_name
        self.found: list[Diagnostic] = []

    def fields_of(self, message: str) -> tuple[Field, ...] | None:
        """The message's fields; None when it did not resolve (already reported, so skip)."""
        found = self.messages.get(message)
        return found.fields if found else None

    def path_ok(self, fields: Sequence[Field], path: Sequence[str]) -> bool:
        return field_path_type(fields, path, self.types.get) is not None

    def exprs(
        self, values: Assignments, loc: Loc, roots: dict[str, Sequence[Field] | None], what: str
    ) -> None:
        """Check `$`-paths against the fields each root stands for."""
        for target, expr in values:
            self.expr(expr, loc, roots, f"{what} `{target}`")

    def expr(
        self, expr: Expr, loc: Loc, roots: dict[str, Sequence[Field] | None], what: str
    ) -> None:
        if expr.root is None or (expr.root in roots and roots[expr.root] is None):
            return
        loc = expr.loc if expr.loc != NO_LOC else loc  # at the value itself when known
        if expr.root == "$meta":
            if expr.path[0] not in ENVELOPE_FIELDS:
                self.found.append(
                    error(
                        "E0802",
                        loc,
                        f"{what}: `{expr}` is not an envelope field",
                        ", ".join(ENVELOPE_FIELDS),
                    )
                )
            elif len(expr.path) > 1:
                self.found.append(
                    error(
                        "E0802",
                        loc,
                        f"{what}: `{expr}` steps into `$meta.{expr.path[0]}`, which has no fields",
                    )
                )
            return
        if expr.root not in roots:
            self.found.append(error("E0802", loc, f"{what}: `{expr.root}` cannot be used here"))
        elif not self.path_ok(roots[expr.root] or (), expr.path):
            self.found.append(error("E0802", loc, f"{what}: `{expr}` names no existing field"))

    def targets(
        self, values: Assignments, fields: Sequence[Field] | None, loc: Loc, what: str
    ) -> None:
        if fields is None:
            return
        names = {f.name for f in fields}
        for target, _ in values:
            if target not in names:
                self.found.append(error("E0801", loc, f"`{target}` is not a field of {what}"))


def check_behaviour(project: Project) -> list[Diagnostic]:
    c = Checker(project)
    _consumers_and_versions(c)
    _aggregates(c)
    _projections(c)
    return c.found


def _consumers_and_versions(c: Checker) -> None:
    aggregates = {a.qualified for ctx in c.project.contexts for a in ctx.aggregates}
    for ctx in c.project.contexts:
        for con in ctx.consumers:
            for handled in con.handles:
                topic = c.messages[handled].topic
                if topic is not None and topic not in con.subscribe:
                    c.found.append(
                        error(
                            "E0814",
                            con.loc,
                            f"consumer `{con.name}` handles {handled}, which is on none of its topics",
                            f"{handled} travels on `{topic}`",
                        )
                    )
    for m in c.project.all_messages():
        if m.aggregate is not None and m.aggregate not in aggregates:
            c.found.append(
                error("E0305", m.loc, f"{m.name} names unknown aggregate `{m.aggregate}`")
            )
        known = {v.version for v in m.versions}
        for ex in m.examples:
            if ex.version not in known:
                c.found.append(
                    error(
                        "E0705",
                        ex.loc,
                        f"example of {m.name} is for version {ex.version}, which does not exist",
                    )
                )
        for v in m.versions:
            if not v.complete:
                c.found.append(
                    warning(
                        "W0706",
                        m.loc,
                        f"{m.name} v{v.version}'s schema cannot be reconstructed from the upcasters",
                        "declare older types: `remove: {field: type}`, `convert: {field, to, from: type}`; a `handler` op hides them",
                    )
                )


def _aggregates(c: Checker) -> None:
    for ctx in c.project.contexts:
        for agg in ctx.aggregates:
            for rule in agg.applies:
                fields = c.fields_of(rule.message)
                if fields is not None and agg.id_field not in {f.name for f in fields}:
                    c.found.append(
                        error(
                            "E0815",
                            rule.loc,
                            f"{rule.message} has no id field `{agg.id_field}` of aggregate {agg.name}",
                        )
                    )
                c.targets(rule.assignments, agg.state, rule.loc, f"aggregate {agg.name}'s state")
                c.exprs(rule.assignments, rule.loc, {"$": fields, "$state": agg.state}, "value of")
            for cmd in agg.commands:
                _guard(c, cmd.requires, agg.state, cmd.loc)
                for event, payload in cmd.emits:
                    c.targets(payload, c.fields_of(event), cmd.loc, event)
                    c.exprs(
                        payload,
                        cmd.loc,
                        {"$": c.fields_of(cmd.command), "$state": agg.state},
                        "value of",
                    )


def _guard(c: Checker, text: str | None, state: Sequence[Field], loc: Loc) -> None:
    if text is None:
        return
    names = {f.name for f in state}
    try:
        found = clauses(text)
    except GuardSyntaxError as exc:
        hint = "close the quote; a literal holding one quote kind is quoted with the other"
        c.found.append(error("E0803", loc, f"guard does not parse: {exc}", hint))
        return
    for clause in found:
        if clause.field is None:
            c.found.append(
                error(
                    "E0803",
                    loc,
                    f"guard `{clause.text}` does not parse",
                    "write `field op literal`, joined by and/or",
                )
            )
        elif clause.field not in names:
            c.found.append(
                error("E0803", loc, f"guard names `{clause.field}`, which is not in the state")
            )


def _projections(c: Checker) -> None:
    for ctx in c.project.contexts:
        for proj in ctx.projections:
            if proj.key not in {f.name for f in proj.fields}:
                c.found.append(
                    error(
                        "E0815", proj.loc, f"projection key `{proj.key}` is not one of its fields"
                    )
                )
            for rule in proj.on:
                fields = c.fields_of(rule.message)
                c.targets(rule.assignments, proj.fields, rule.loc, f"projection {proj.name}")
                c.exprs(rule.assignments, rule.loc, {"$": fields}, "value of")
                if rule.key is not None:
                    c.expr(rule.key, rule.loc, {"$": fields}, "row key")
                elif fields is not None and proj.key not in {f.name for f in fields}:
                    c.found.append(
                        error(
                            "E0804",
                            rule.loc,
                            f"{rule.message} has no `{proj.key}` field to find the row",
                            f"add `key: $.<field>` to say which field holds the {proj.key}",
                        )
                    )


# The codes these checks report, composed into the ruleset by eventgen.rules.catalog.
RULES: tuple[Rule, ...] = (
    declare("E0305", "error", "rule", "unknown aggregate or projection reference", check_behaviour),
    declare(
        "E0705",
        "error",
        "rule",
        "example names a version the message does not have",
        check_behaviour,
    ),
    declare(
        "W0706",
        "warning",
        "rule",
        "older version's schema cannot be reconstructed (untyped remove/handler)",
        check_behaviour,
    ),
    declare(
        "E0801",
        "error",
        "rule",
        "assignment target is not a field of the state, row, data or payload",
        check_behaviour,
    ),
    declare(
        "E0802",
        "error",
        "rule",
        "path expression names a field that does not exist",
        check_behaviour,
    ),
    declare(
        "E0803",
        "error",
        "rule",
        "aggregate guard does not parse or names unknown state",
        check_behaviour,
    ),
    declare(
        "E0804",
        "error",
        "rule",
        "projection cannot find the row key for a message",
        check_behaviour,
    ),
    declare(
        "E0814",
        "error",
        "rule",
        "consumer handles a message that is on none of its topics",
        check_behaviour,
    ),
    declare(
        "E0815", "error", "rule", "aggregate or projection key/id field missing", check_behaviour
    ),
)
