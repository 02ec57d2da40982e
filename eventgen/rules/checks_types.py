"""Typed flows: every assigned value, sent payload and example value fits its target field.

Names and paths are checked by checks_flows/checks_sagas (E0801, E0802); this check takes the
ones that resolved and compares types. A path's type comes from the fields its root stands
for; a literal is checked by the one value validator (eventgen.ir.values, which runs the
runtime's own scalar validators), so a literal accepted here is one a generated model takes.

Decisions (documented in docs/spec-behaviour.md):
- a nullable source into a non-nullable target is an error (it would fail at run time the
  first time the source is null); make the target nullable or read a non-null field;
- scalars must match, except the lossless widenings int -> long, int -> double and
  float -> double, and a decimal into a decimal that holds it (no fewer integer digits, no
  smaller scale); records and enums must be the same type; lists and maps compare items;
- a target's constraints (lengths, ranges, patterns) are checked for literals only: a path's
  value is known at run time, where the generated model checks it;
- `inc` needs a non-nullable number field (int, long, float, double, decimal); `append` needs
  a list field and takes ONE item (replace the whole list with `set`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from eventgen.diagnostics import Diagnostic, Loc, error
from eventgen.ir import values
from eventgen.ir.guards import GuardSyntaxError, clauses
from eventgen.ir.model import (
    NO_LOC,
    Assignments,
    Constraints,
    Example,
    Expr,
    Field,
    ListOf,
    MapOf,
    Message,
    Named,
    Project,
    RecordType,
    Scalar,
    TypeRef,
    thaw,
)
from eventgen.ir.paths import field_path_type
from eventgen.ir.types import non_null
from eventgen.rules.registry import Rule, declare

# The envelope `$meta.` reads (eventgen.runtime.model.EnvelopeHead; a test keeps them equal).
# `message_id` is the language's name for a command's id: the envelope carries it as event_id.
ENVELOPE_TYPES: Mapping[str, TypeRef] = {
    "event_id": Scalar("uuid"),
    "message_id": Scalar("uuid"),
    "type": Scalar("string"),
    "schema_version": Scalar("int"),
    "occurred_at": Scalar("timestamp"),
    "correlation_id": Scalar("string", nullable=True),
    "causation_id": Scalar("uuid", nullable=True),
}
NUMBERS = frozenset({"int", "long", "float", "double", "decimal"})
WIDENING = frozenset({("int", "long"), ("int", "double"), ("float", "double")})
NO_CONSTRAINTS = Constraints()
OTHER = "another type"
NULLABLE = "it may be null"
Roots = Mapping[str, Sequence[Field] | None]


class TypeChecker:
    def __init__(self, project: Project) -> None:
        self.project = project
        self.lookup = project.types_by_name.get
        self.found: list[Diagnostic] = []

    def fields_of(self, message: str) -> tuple[Field, ...] | None:
        found = self.project.messages_by_name.get(message)
        return found.fields if found else None

    def expr_type(self, expr: Expr, roots: Roots) -> TypeRef | None:
        """The type a path reads, or None (a literal, or a path E0802 already reports)."""
        if expr.root is None:
            return None
        if expr.root == "$meta":
            return ENVELOPE_TYPES.get(expr.path[0]) if len(expr.path) == 1 else None
        fields = roots.get(expr.root)
        if fields is None:
            return None
        return field_path_type(fields, expr.path, self.lookup)

    def assignments(
        self,
        op: str,
        values_: Assignments,
        targets: Sequence[Field] | None,
        roots: Roots,
        fallback: Loc,
        what: str,
    ) -> None:
        """Check each `target: value` of one op against the target field's type."""
        if targets is None:
            return
        by_name = {f.name: f for f in targets}
        for name, expr in values_:
            target = by_name.get(name)
            if target is None:
                continue  # E0801
            loc = expr.loc if expr.loc != NO_LOC else fallback
            self.assignment(op, name, expr, target, roots, loc, what)

    def assignment(
        self, op: str, name: str, expr: Expr, target: Field, roots: Roots, loc: Loc, what: str
    ) -> None:
        ref, constraints = target.type, target.constraints
        if op == "inc":
            if not (isinstance(ref, Scalar) and ref.name in NUMBERS and not ref.nullable):
                self.found.append(
                    error(
                        "E0817",
                        loc,
                        f"{what}: `inc` needs a number field, but `{name}` is `{ref}`",
                        "inc takes a non-nullable int, long, float, double or decimal field"
                        " (give it a default such as 0)",
                    )
                )
                return
        elif op == "append":
            if not isinstance(ref, ListOf):
                self.found.append(
                    error(
                        "E0817",
                        loc,
                        f"{what}: `append` needs a list field, but `{name}` is `{ref}`",
                        "append adds one item to a list field; use `set` to replace a value",
                    )
                )
                return
            ref, constraints = ref.item, NO_CONSTRAINTS
        self.value(expr, ref, constraints, roots, loc, f"{what} `{name}`")

    def value(
        self,
        expr: Expr,
        ref: TypeRef,
        constraints: Constraints,
        roots: Roots,
        loc: Loc,
        what: str,
    ) -> None:
        if expr.root is None:
            literal = thaw(expr.literal)  # as written: a list shows as a list, not a tuple
            problem = values.value_problem(literal, ref, self.lookup, constraints=constraints)
            if problem is not None:
                self.found.append(error("E0816", loc, f"{what}: {problem}", f"expected `{ref}`"))
            return
        source = self.expr_type(expr, roots)
        if source is None:
            return
        if problem := assign_problem(source, ref):
            detail = "" if problem == OTHER else f": {problem}"
            hint = f"expected `{ref}`, got `{source}`"
            if problem == NULLABLE:
                hint += "; make the target nullable or read a field that is not"
            self.found.append(
                error("E0816", loc, f"{what}: `{expr}` is `{source}`, not `{ref}`{detail}", hint)
            )

    def required(self, values_: Assignments, message: str, loc: Loc, what: str) -> None:
        """A payload must give every field that has no default and is not nullable."""
        fields = self.fields_of(message)
        if fields is None:
            return
        given = {name for name, _ in values_}
        missing = [f.name for f in fields if f.name not in given and not optional(f)]
        if missing:
            names = ", ".join(f"`{m}`" for m in missing)
            short = message.rsplit(".", 1)[-1]
            self.found.append(
                error(
                    "E0818",
                    loc,
                    f"{what} {short} misses required field(s) {names}",
                    "give every field that has no default and is not nullable",
                )
            )


def optional(f: Field) -> bool:
    return f.has_default or f.type.nullable


def assign_problem(source: TypeRef, target: TypeRef) -> str | None:
    """Why a value of type `source` cannot be stored in `target`, or None."""
    if source.nullable and not target.nullable:
        return NULLABLE
    match non_null(source), non_null(target):
        case Scalar() as s, Scalar() as t:
            return _scalar_problem(s, t)
        case (ListOf(a), ListOf(b)) | (MapOf(a), MapOf(b)):
            inner = assign_problem(a, b)
            return None if inner is None else f"items: {inner}"
        case Named(a), Named(b) if a == b:
            return None
    return OTHER


def _scalar_problem(s: Scalar, t: Scalar) -> str | None:
    if s.name == t.name == "decimal":
        assert s.precision is not None and s.scale is not None
        assert t.precision is not None and t.scale is not None
        if s.scale <= t.scale and s.precision - s.scale <= t.precision - t.scale:
            return None
        return "it may have more digits than the target holds"
    if s.name == t.name or (s.name, t.name) in WIDENING:
        return None
    return OTHER


def check_typed_flows(project: Project) -> list[Diagnostic]:
    c = TypeChecker(project)
    _aggregates(c)
    _projections(c)
    _sagas(c)
    _examples(c)
    return c.found


def _aggregates(c: TypeChecker) -> None:
    for ctx in c.project.contexts:
        for agg in ctx.aggregates:
            what = f"aggregate {agg.name}"
            for rule in agg.applies:
                roots = {"$": c.fields_of(rule.message), "$state": agg.state}
                c.assignments(rule.op, rule.assignments, agg.state, roots, rule.loc, what)
            for cmd in agg.commands:
                if cmd.requires is not None:
                    _guard(c, cmd.requires, agg.state, cmd.loc, what)
                roots = {"$": c.fields_of(cmd.command), "$state": agg.state}
                for event, payload in cmd.emits:
                    where = f"emit of {event.rsplit('.', 1)[-1]}"
                    c.assignments("set", payload, c.fields_of(event), roots, cmd.loc, where)
                    c.required(payload, event, cmd.loc, "emit of")


# Scalars a guard may compare with < <= > >= (their wire forms order as their values do).
ORDERED = frozenset(
    {"int", "long", "float", "double", "decimal", "string", "date", "time", "timestamp"}
)


def _guard(c: TypeChecker, text: str, state: Sequence[Field], loc: Loc, what: str) -> None:
    """Each `field op literal` of a guard compares like with like (clauses that do not parse
    or name unknown state are E0803)."""
    by_name = {f.name: f for f in state}
    try:
        found = clauses(text)
    except GuardSyntaxError:
        return  # E0803 (checks_flows)
    for clause in found:
        name, op, literal = clause.field, clause.op, clause.literal
        if name is None or op is None or literal is None or name not in by_name:
            continue
        if problem := guard_problem(by_name[name].type, op, literal, c.lookup):
            c.found.append(
                error(
                    "E0819",
                    loc,
                    f"{what}: guard `{clause.text}`: {problem}",
                    f"`{name}` is `{by_name[name].type}`",
                )
            )


def guard_problem(ref: TypeRef, op: str, literal: str, lookup: values.Lookup) -> str | None:
    """Why `field op literal` cannot compare a `ref` field, or None."""
    quoted = literal[:1] in "\"'" and len(literal) >= 2
    text = literal[1:-1] if quoted else literal
    if literal == "null":
        return None if ref.nullable and op in ("==", "!=") else f"`{ref}` is never null here"
    target = lookup(ref.name) if isinstance(ref, Named) else None
    match non_null(ref):
        case Scalar(name) if op not in ("==", "!=") and name not in ORDERED:
            return f"`{op}` does not order `{name}` values; use == or !="
        case Named() if op not in ("==", "!=") and not isinstance(target, RecordType):
            return f"`{op}` does not order enum symbols; use == or !="
        case Scalar(name) if name in ("int", "long", "float", "double") and not quoted:
            value: Any = _number(text)
        case Scalar("boolean") if not quoted:
            value = {"true": True, "false": False}.get(text, text)
        case Scalar() | Named():
            value = text
        case _:
            return f"a `{ref}` cannot be compared with a literal"
    if isinstance(target, RecordType):
        return f"a record (`{ref}`) cannot be compared with a literal"
    return values.value_problem(value, non_null(ref), lookup)


def _number(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _projections(c: TypeChecker) -> None:
    for ctx in c.project.contexts:
        for proj in ctx.projections:
            key = next((f for f in proj.fields if f.name == proj.key), None)
            keyed: set[str] = set()  # each op of one message is a rule; they share the key
            for rule in proj.on:
                roots = {"$": c.fields_of(rule.message)}
                what = f"projection {proj.name}"
                c.assignments(rule.op, rule.assignments, proj.fields, roots, rule.loc, what)
                if key is not None and rule.message not in keyed:
                    keyed.add(rule.message)
                    _row_key(c, rule.key, rule.message, key, rule.loc, f"{what} row key")


def _row_key(
    c: TypeChecker, expr: Expr | None, message: str, key: Field, loc: Loc, what: str
) -> None:
    """The value that finds the row must have the row key's type (`key: $.x`, or the
    message's own field named like the key)."""
    if expr is None:
        fields = c.fields_of(message) or ()
        if (own := next((f for f in fields if f.name == key.name), None)) is None:
            return  # E0804
        expr = Expr("$", (own.name,), loc=loc)
    where = expr.loc if expr.loc != NO_LOC else loc
    c.value(expr, key.type, NO_CONSTRAINTS, {"$": c.fields_of(message)}, where, what)


def _sagas(c: TypeChecker) -> None:
    for ctx in c.project.contexts:
        for saga in ctx.sagas:
            what = f"saga {saga.name}"
            init_roots = {"$": c.fields_of(saga.started_by)}
            c.assignments("set", saga.init, saga.data, init_roots, saga.loc, f"{what} init")
            data_roots = {"$data": saga.data}
            for step in saga.steps:
                local = step.kind == "local"
                send = f"payload of {step.command.rsplit('.', 1)[-1]}"
                c.assignments(
                    "set", step.payload, c.fields_of(step.command), data_roots, step.loc, send
                )
                if not local:  # a local step runs its command with no payload to check
                    c.required(step.payload, step.command, step.loc, "send of")
                for reply in (*step.success, *step.failure):
                    roots = {"$": c.fields_of(reply.message), "$data": saga.data}
                    c.assignments("set", reply.saves, saga.data, roots, step.loc, f"{what} save")
                if step.compensate is not None:
                    comp = step.compensate
                    send = f"compensation payload of {comp.command.rsplit('.', 1)[-1]}"
                    fields = c.fields_of(comp.command)
                    c.assignments("set", comp.payload, fields, data_roots, step.loc, send)
                    c.required(comp.payload, comp.command, step.loc, "compensation send of")


def _examples(c: TypeChecker) -> None:
    for m in c.project.all_messages():
        versions = {v.version: v for v in m.versions}
        for ex in m.examples:
            if ex.expect is not None:
                _expect(c, m, ex)
            version = versions.get(ex.version)
            if version is None or not version.complete:
                continue  # E0705; an incomplete version's older types are unknown (W0706)
            locs = dict(ex.value_locs)
            for path, problem in example_problems(ex, version.fields, c.lookup, m):
                c.found.append(
                    error(
                        "E0708",
                        _nearest(locs, path, ex.loc),
                        f"example of {m.name} v{ex.version}: {problem}",
                    )
                )


def _expect(c: TypeChecker, m: Message, ex: Example) -> None:
    """`expect:` is a payload of the current version: checked like an example of it."""
    locs = dict(ex.expect_locs)
    current = Example(m.version, ex.expect)
    for path, problem in example_problems(current, m.fields, c.lookup, m):
        c.found.append(
            error(
                "E0709",
                _nearest(locs, path, ex.loc),
                f"`expect` of {m.name}'s v{ex.version} example (a v{m.version} payload): {problem}",
                "write the payload as the current version has it, after every upcaster step",
            )
        )


def _nearest(
    locs: Mapping[tuple[str | int, ...], Loc], path: tuple[str | int, ...], at: Loc
) -> Loc:
    for end in range(len(path), -1, -1):
        if (found := locs.get(path[:end])) is not None:
            return found
    return at


Problem = tuple[tuple[str | int, ...], str]


def example_problems(
    ex: Example, fields: Sequence[Field], lookup: values.Lookup, m: Message
) -> list[Problem]:
    """Every bad value of an example payload, each with its path (an explicit work stack)."""
    found: list[Problem] = []
    payload = thaw(ex.payload)  # values are quoted as written (lists, not tuples)
    if not isinstance(payload, Mapping):
        return [((), f"the payload is not a mapping of {m.name}'s fields")]
    # (path, value, fields of the record it is) or (path, value, type, constraints)
    stack: list[tuple[Any, ...]] = [((), payload, tuple(fields))]
    while stack:
        item = stack.pop()
        if len(item) == 3:
            found.extend(_record(item[0], item[1], item[2], stack))
        else:
            found.extend(_value(item[0], item[1], item[2], item[3], lookup, stack))
    return sorted(found, key=lambda p: [str(s) for s in p[0]])


def _dotted(path: tuple[str | int, ...]) -> str:
    return "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in path).lstrip(".")


def _record(
    path: tuple[str | int, ...], value: Mapping[str, Any], fields: Sequence[Field], stack: list[Any]
) -> Iterator[Problem]:
    names = {f.name for f in fields}
    for key in value:
        if key not in names:
            yield (*path, key), f"`{_dotted((*path, key))}` is not a field"
    missing = [f.name for f in fields if f.name not in value and not optional(f)]
    if missing:
        where = f" in `{_dotted(path)}`" if path else ""
        yield path, f"misses required field(s) {', '.join(f'`{m}`' for m in missing)}{where}"
    for f in fields:
        if f.name in value:
            stack.append(((*path, f.name), value[f.name], f.type, f.constraints))


def _value(
    path: tuple[str | int, ...],
    value: Any,
    ref: TypeRef,
    constraints: Constraints,
    lookup: values.Lookup,
    stack: list[Any],
) -> Iterator[Problem]:
    """One value: containers of the right shape are opened (children pushed), leaves checked."""
    shown = _dotted(path)
    if value is not None:
        match ref:
            case ListOf(item) if isinstance(value, (list, tuple)):
                children = [((*path, i), v, item, NO_CONSTRAINTS) for i, v in enumerate(value)]
                yield from _container(path, value, ref, constraints, lookup, children, stack)
                return
            case MapOf(item) if isinstance(value, Mapping):
                children = [((*path, k), v, item, NO_CONSTRAINTS) for k, v in value.items()]
                yield from _container(path, value, ref, constraints, lookup, children, stack)
                return
            case Named(name) if isinstance(value, Mapping):
                target = lookup(name)
                if isinstance(target, RecordType):
                    stack.append((path, value, target.fields))
                    return
    if problem := values.value_problem(value, ref, lookup, shown, constraints=constraints):
        yield path, problem


def _container(
    path: tuple[str | int, ...],
    value: Any,
    ref: TypeRef,
    constraints: Constraints,
    lookup: values.Lookup,
    children: list[tuple[Any, ...]],
    stack: list[Any],
) -> Iterator[Problem]:
    # Items are checked one by one (each at its own line); the container's own constraints
    # (min/max length) are checked on it as a whole, with items that all pass.
    bad = [
        child
        for child in children
        if values.value_problem(child[1], child[2], lookup, constraints=child[3])
    ]
    stack.extend(children)
    if not bad and (
        problem := values.value_problem(value, ref, lookup, _dotted(path), constraints=constraints)
    ):
        yield path, problem


# The codes this check reports, composed into the ruleset by eventgen.rules.catalog.
RULES: tuple[Rule, ...] = (
    declare(
        "E0708",
        "error",
        "rule",
        "example payload value does not fit its message version",
        check_typed_flows,
    ),
    declare(
        "E0709",
        "error",
        "rule",
        "example `expect` does not fit the message's current version",
        check_typed_flows,
    ),
    declare(
        "E0816",
        "error",
        "rule",
        "assigned or sent value does not fit the target field's type",
        check_typed_flows,
    ),
    declare(
        "E0817",
        "error",
        "rule",
        "`inc` on a field that is not a number, or `append` onto a field that is not a list",
        check_typed_flows,
    ),
    declare(
        "E0818",
        "error",
        "rule",
        "`send` or `emit` payload misses a required field of the command or event",
        check_typed_flows,
    ),
    declare(
        "E0819",
        "error",
        "rule",
        "aggregate guard compares a state field with a literal of another type",
        check_typed_flows,
    ),
)
