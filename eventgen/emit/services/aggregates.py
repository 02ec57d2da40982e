"""`<package>/<context>_aggregates.py`: state models, apply, guarded deciders, repositories.

Per context with aggregates the module holds, in this order:

- `EVENT_STORE_SPEC` and `event_store` (the context's event store, for the events of its
  aggregates);
- per aggregate `<Name>State` (a frozen Record whose fields are rendered by the model emitter,
  so types, constraints and defaults are those of the message models), `apply_<agg>` (a
  `match` on the event class; `set`, `inc`, `append`, `handler` ops in spec order),
  `decide_<agg>_<command>` (the guard compiled by guards.py, the `CommandRejected` raise, the
  `emit` mappings), `reject_<agg>_<command>` for commands with `replies.failure` (filled by
  the rules of eventgen.rules.checks_aggregates), the `AggregateDefinition` literal
  `<AGG>` (with the state-schema hash) and the repository `<agg>`;
- the command consumers' handlers: `<app>.on(Command)(<agg>.handle_consumed)`, and the app
  object re-exported, so running the module's app runs with its handlers.

Every spec string reaches the source through literals.py (`py_str`, `py_docstring`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from eventgen.emit import layout
from eventgen.emit.layout import TypeIndex
from eventgen.emit.pymodels.imports import STDLIB, Imports, _isort_key
from eventgen.emit.pymodels.literals import py_comment, py_docstring, py_str
from eventgen.emit.pymodels.types import TypeWriter
from eventgen.emit.pymodels.views import ClassView, _record
from eventgen.emit.services.guards import compile_rejection, parse_guard
from eventgen.ir import naming
from eventgen.ir.model import (
    Aggregate,
    AggregateCommand,
    ApplyRule,
    Assignments,
    Context,
    EnumType,
    Expr,
    Field,
    ListOf,
    Message,
    Named,
    Project,
    RecordType,
    TypeRef,
    thaw,
)
from eventgen.ir.types import non_null
from eventgen.rules.checks_aggregates import failure_reply_fill, failure_reply_of

RT = "eventgen.runtime"
SPEC = "eventgen.runtime.es.spec"
STORE = "eventgen.runtime.es.store"
REPOSITORY = "eventgen.runtime.es.aggregate"
HOOK = "_hook"  # in naming.AGGREGATES_FIXED_NAMES
STATE_HASH_FORMAT = "eventgen-aggregate-state/1"
# `$meta.` names (the language's envelope fields) as the decider reads them.
META = {
    "event_id": "meta.event_id",
    "message_id": "meta.event_id",
    "occurred_at": "meta.occurred_at",
    "correlation_id": "meta.correlation_id",
    "causation_id": "meta.causation_id",
    "type": "command.TYPE",
    "schema_version": "command.VERSION",
}


def state_class(agg: Aggregate) -> str:
    return naming.aggregate_state_class(agg.name)


def definition_constant(agg: Aggregate) -> str:
    return naming.aggregate_constant(agg.name)


def apply_function(agg: Aggregate) -> str:
    return naming.aggregate_function("apply", agg.name)


def decide_function(agg: Aggregate, command: str) -> str:
    return naming.aggregate_function("decide", agg.name, command.rsplit(".", 1)[-1])


def reject_function(agg: Aggregate, command: str) -> str:
    return naming.aggregate_function("reject", agg.name, command.rsplit(".", 1)[-1])


def aggregates_source(project: Project, ctx: Context) -> str:
    return _Module(project, ctx).source()


def state_hash(project: Project, agg: Aggregate) -> str:
    """sha256 of the state schema: field names, types (nullability, precision), defaults,
    and the shapes of the named types they reach (record fields, enum symbols)."""
    index = TypeIndex(project)
    named: list[dict[str, Any]] = []
    for t in index.referenced(agg.state):
        if isinstance(t, EnumType):
            named.append({"name": t.qualified, "symbols": list(t.symbols), "default": t.default})
        else:
            named.append({"name": t.qualified, "fields": [_field_shape(f) for f in t.fields]})
    shape = {
        "format": STATE_HASH_FORMAT,
        "aggregate": agg.qualified,
        "state": [_field_shape(f) for f in agg.state],
        "types": sorted(named, key=lambda n: str(n["name"])),
    }
    text = json.dumps(shape, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _field_shape(f: Field) -> dict[str, Any]:
    shape: dict[str, Any] = {"name": f.name, "type": str(f.type), "nullable": f.type.nullable}
    if f.has_default:
        shape["default"] = thaw(f.default)
    return shape


class _Module:
    def __init__(self, project: Project, ctx: Context) -> None:
        self.project = project
        self.ctx = ctx
        self.index = TypeIndex(project)
        self.aggs = ctx.aggregates
        self.consumers = layout.aggregate_command_consumers(project, ctx)
        defined = set(naming.AGGREGATES_FIXED_NAMES)  # EVENT_STORE_SPEC, event_store, _hook...
        for agg in self.aggs:
            defined |= {
                state_class(agg),
                apply_function(agg),
                definition_constant(agg),
                naming.aggregate_attr(agg.name),
            }
            for cmd in agg.commands:
                defined |= {decide_function(agg, cmd.command), reject_function(agg, cmd.command)}
        self.imports = Imports(project.package, defined)
        # No context is "this module's": every named type is imported from its model module.
        self.writer = TypeWriter(project, self.index, "\0", self.imports)
        self.hooks = False
        self.exports: list[str] = [layout.EVENT_STORE_SPEC, layout.EVENT_STORE_ATTR]

    # -- names -------------------------------------------------------------------------------

    def rt(self, module: str, name: str) -> str:
        return self.imports.use(module, name)

    def message(self, qualified: str) -> str:
        m = self.project.message(qualified)
        module = f"{self.project.package}.{naming.py_module(m.context)}"
        return self.imports.use(module, naming.py_class(m.name), naming.pascal(m.context) + m.name)

    # -- module ------------------------------------------------------------------------------

    def source(self) -> str:
        body: list[str] = []
        store_events = sorted({ev for agg in self.aggs for ev in self._events(agg)})
        table, snapshots = layout.event_store_tables(self.ctx)
        spec = (
            f"{layout.EVENT_STORE_SPEC} = {self.rt(SPEC, 'EventStoreSpec')}(\n"
            f"    context={py_str(self.ctx.name)},\n"
            f"    table={py_str(table)},\n"
            f"    snapshot_table={py_str(snapshots)},\n"
            f"    store={py_str(layout.event_store_kind(self.ctx))},\n"
            ")"
        )
        classes = sorted((self.message(q) for q in store_events), key=str)
        body.append(spec)
        body.append(
            f"{layout.EVENT_STORE_ATTR} = {self.rt(STORE, 'EventStore')}(\n"
            f"    {layout.EVENT_STORE_SPEC},\n    messages=({_tuple_items(classes)}),\n)\n"
            + py_docstring(
                f"The {self.ctx.name} event store: tables {table} and {snapshots} "
                f"({layout.event_store_kind(self.ctx)})."
            )
        )
        for agg in self.aggs:
            body.extend(self._aggregate(agg))
        body.extend(self._consumers())
        if self.hooks:
            self.imports.use("typing", "Any")
            body.insert(2, HOOK_SOURCE)
        return self._header() + "\n\n\n".join(body) + "\n"

    def _header(self) -> str:
        lines = self.imports.lines()
        if self.hooks:
            # `import x` lines open the stdlib section (isort order), before its `from` lines.
            first_stdlib = bool(lines) and lines[0].split()[1].split(".")[0] in STDLIB
            gap = [] if first_stdlib else [""]
            lines = ["import functools", "import importlib", *gap, *lines]
        exports = ", ".join(
            py_str(n) for n in sorted(self.exports, key=lambda e: _isort_key((e, e)))
        )
        doc = (
            f"Event-sourced aggregates of the {self.ctx.name} context: state models, apply, "
            "guarded command deciders and repositories (generated; no guard text is evaluated "
            "at runtime)."
        )
        return (
            py_comment(layout.header(self.ctx.files))
            + "\n"
            + py_docstring(doc)
            + "\n\nfrom __future__ import annotations\n\n"
            + "\n".join(lines)
            + f"\n\n__all__ = [{exports}]\n\n\n"
        )

    def _events(self, agg: Aggregate) -> list[str]:
        """The events `apply` takes (spec order) and those the commands emit, each once."""
        found = dict.fromkeys(r.message for r in agg.applies)
        for cmd in agg.commands:
            found.update(dict.fromkeys(event for event, _ in cmd.emits))
        return list(found)

    # -- one aggregate -----------------------------------------------------------------------

    def _aggregate(self, agg: Aggregate) -> list[str]:
        out = [self._state(agg), self._apply(agg)]
        for cmd in agg.commands:
            out.append(self._decide(agg, cmd))
            reply = failure_reply_of(self.project, cmd)
            if reply is not None:
                out.append(self._reject(agg, cmd, reply))
        out.append(self._definition(agg))
        attr = naming.aggregate_attr(agg.name)
        outbox = (
            self.imports.use(layout.app_module(self.project, self.ctx.name), layout.OUTBOX_ATTR)
            if self.ctx.outbox is not None
            else "None"
        )
        out.append(
            f"{attr} = {self.rt(REPOSITORY, 'AggregateRepository')}"
            f"({definition_constant(agg)}, {layout.EVENT_STORE_ATTR}, {outbox})\n"
            + py_docstring(
                f"The {agg.name} repository: `{attr}.load(conn, id)`, "
                f"`{attr}.handle(conn, command)`."
            )
        )
        self.exports += [state_class(agg), definition_constant(agg), attr]
        return out

    def _state(self, agg: Aggregate) -> str:
        doc = f"State of the {agg.name} aggregate ({agg.qualified}), folded from its events."
        view = _record(state_class(agg), doc, agg.state, self.rt(RT, "Record"), self.writer)
        return _class_source(view)

    def _apply(self, agg: Aggregate) -> str:
        state = state_class(agg)
        rules: dict[str, list[ApplyRule]] = {}
        for rule in agg.applies:
            rules.setdefault(rule.message, []).append(rule)
        lines = [
            (
                f"def {apply_function(agg)}(state: {state}, event: {self.rt(RT, 'Message')}) "
                f"-> {state}:"
            ),
            "    "
            + _indented_doc(
                f"{agg.name} after `event`; events it does not list leave the state as is.",
                indent=4,
            ),
        ]
        if rules:
            lines.append("    match event:")
        for message, ops in rules.items():
            lines.append(f"        case {self.message(message)}():")
            steps = [self._op(agg, rule, self.project.message(message)) for rule in ops]
            for step in steps[:-1]:
                lines.append(f"            state = {step}")
            lines.append(f"            return {steps[-1]}")
        lines.append("    return state")
        return "\n".join(lines)

    def _op(self, agg: Aggregate, rule: ApplyRule, event: Message) -> str:
        """The expression of one op: the state after it."""
        state_fields = {f.name: f for f in agg.state}
        if rule.op == "handler":
            assert rule.handler is not None
            self.hooks = True
            callable_ = self.imports.use("collections.abc", "Callable")
            hook_type = f"{callable_}[[{state_class(agg)}, {self.message(rule.message)}], {state_class(agg)}]"
            return f"{self._hook_call(hook_type, rule.handler)}(state, event)"
        items: list[str] = []
        for name, expr in rule.assignments:
            target = state_fields[name]
            attr = f"state.{naming.py_attr(name)}"
            if rule.op == "set":
                value = self._value(expr, target.type, {"$": ("event", event.fields)}, agg)
            elif rule.op == "inc":
                amount = self._value(expr, target.type, {"$": ("event", event.fields)}, agg)
                current = f"(0 if {attr} is None else {attr})" if target.type.nullable else attr
                value = f"{current} + {amount}"
            elif rule.op == "append":
                item_type = non_null(target.type)
                assert isinstance(item_type, ListOf)
                item = self._value(expr, item_type.item, {"$": ("event", event.fields)}, agg)
                current = f"({attr} or ())" if target.type.nullable else attr
                value = f"(*{current}, {item})"
            else:
                raise ValueError(f"aggregate op {rule.op} is not supported")
            items.append(f"{py_str(naming.py_attr(name))}: {value}")
        return f"state.model_copy(update={{{', '.join(items)}}})"

    def _hook_call(self, hook_type: str, path: str) -> str:
        # A cast through a typed local would need a statement; `_hook` returns Any, and the
        # call site's annotation is the declared contract of the user's function.
        return f"{self.imports.use('typing', 'cast')}({hook_type}, {HOOK}({py_str(path)}))"

    def _decide(self, agg: Aggregate, cmd: AggregateCommand) -> str:
        command = self.project.message(cmd.command)
        cls = self.message(cmd.command)
        meta = self.rt(SPEC, "CommandMeta")
        message = self.rt(RT, "Message")
        name = decide_function(agg, cmd.command)
        lines = [
            (
                f"def {name}(state: {state_class(agg)}, command: {cls}, meta: {meta}) "
                f"-> list[{message}]:"
            )
        ]
        doc = f"{command.name} on {agg.name}: "
        doc += f"requires `{cmd.requires}`." if cmd.requires else "no guard."
        lines.append("    " + _indented_doc(doc, indent=4))
        if cmd.requires is not None:
            guard = parse_guard(cmd.requires, agg.state)
            values = ", ".join(
                f"{py_str(f.name)}: state.{naming.py_attr(f.name)}" for f in guard.fields
            )
            ident = _command_id(agg, command)
            lines += [
                f"    if {compile_rejection(guard, self.writer)}:",
                f"        raise {self.rt(RT, 'CommandRejected')}(",
                f"            {py_str(agg.name)},",
                f"            {py_str(naming.message_type(command.qualified))},",
                f"            {long_str(cmd.requires)},",
                f"            {{{values}}},",
                f"            {ident},",
                "        )",
            ]
        events = [self._build(event, payload, agg, command) for event, payload in cmd.emits]
        lines.append(f"    return [{', '.join(events)}]")
        return "\n".join(lines)

    def _build(self, event: str, payload: Assignments, agg: Aggregate, command: Message) -> str:
        target = self.project.message(event)
        by_name = {f.name: f for f in target.fields}
        roots = {"$": ("command", command.fields), "$state": ("state", agg.state)}
        pairs = [
            (name, self._value(expr, by_name[name].type, roots, agg)) for name, expr in payload
        ]
        # A field declared through `Field(default, deprecated=True)` (or an alias) has a
        # default mypy does not see: omitted ones are passed their default explicitly.
        given = {name for name, _ in payload}
        for f in target.fields:
            hidden = f.deprecated or naming.py_attr(f.name) != f.name
            if f.name not in given and hidden and (f.has_default or f.type.nullable):
                default = f.default if f.has_default else None
                value = layout.typed_value(f.type, thaw(default), self.index)
                pairs.append((f.name, self.writer.value(f.type, value)))
        cls = self.message(event)
        return _construct(cls, pairs)

    def _reject(self, agg: Aggregate, cmd: AggregateCommand, reply: Message) -> str:
        command = self.project.message(cmd.command)
        fills, missing = failure_reply_fill(command, reply)
        if missing:  # E0830 refuses the build before emitters run
            raise ValueError(f"failure reply {reply.qualified} cannot be filled")
        pairs: list[tuple[str, str]] = []
        for fill in fills:
            f = fill.field
            if fill.source == "reason":
                limit = f.constraints.max_length
                pairs.append((f.name, "str(rejection)" + (f"[:{limit}]" if limit else "")))
            elif fill.source == "command":
                pairs.append((f.name, f"command.{naming.py_attr(f.name)}"))
            elif fill.source == "occurred_at":
                pairs.append((f.name, "meta.occurred_at"))
        cls = self.message(reply.qualified)
        lines = [
            (
                f"def {reject_function(agg, cmd.command)}(\n"
                f"    command: {self.message(cmd.command)}, "
                f"rejection: {self.rt(RT, 'CommandRejected')}, meta: {self.rt(SPEC, 'CommandMeta')}\n"
                f") -> {cls}:"
            ),
            "    "
            + _indented_doc(
                f"The failure reply {reply.name} of a rejected {command.name}: `reason` is the "
                "rejection's text, same-named fields come from the command, a required "
                "timestamp is when the command was issued.",
                indent=4,
            ),
            f"    return {_construct(cls, pairs)}",
        ]
        return "\n".join(lines)

    def _definition(self, agg: Aggregate) -> str:
        events = [self.message(q) for q in self._events(agg)]
        commands = [
            f"({self.message(c.command)}, {decide_function(agg, c.command)})" for c in agg.commands
        ]
        replies = [
            f"({self.message(c.command)}, {reject_function(agg, c.command)})"
            for c in agg.commands
            if failure_reply_of(self.project, c) is not None
        ]
        definition = self.rt(SPEC, "AggregateDefinition")
        return (
            f"{definition_constant(agg)}: {definition}[{state_class(agg)}] = {definition}(\n"
            f"    name={py_str(agg.name)},\n"
            f"    qualified={py_str(agg.qualified)},\n"
            f"    context={py_str(agg.context)},\n"
            f"    id_field={py_str(naming.py_attr(agg.id_field))},\n"
            f"    state={state_class(agg)},\n"
            f"    state_hash={py_str(state_hash(self.project, agg))},\n"
            f"    snapshot_every={agg.snapshot_every!r},\n"
            f"    events=({_tuple_items(events)}),\n"
            f"    apply={apply_function(agg)},\n"
            f"    commands=({_tuple_items(commands)}),\n"
            f"    failure_replies=({_tuple_items(replies)}),\n"
            ")"
        )

    # -- values ------------------------------------------------------------------------------

    def _value(
        self,
        expr: Expr,
        target: TypeRef,
        roots: Mapping[str, tuple[str, Sequence[Field]]],
        agg: Aggregate,
    ) -> str:
        """Python for a spec value stored in a `target` field: a path or a typed literal."""
        if expr.root is None:
            value = layout.typed_value(target, thaw(expr.literal), self.index)
            return self.writer.value(target, value)
        if expr.root == "$meta":
            return META[expr.path[0]]
        fields: Sequence[Field]
        if expr.root == "$state":
            base, fields = "state", agg.state
        else:
            base, fields = roots[expr.root]
        return self._path(base, fields, expr.path)

    def _path(self, base: str, fields: Sequence[Field], path: tuple[str, ...]) -> str:
        """`base.a.b`; None when a nullable record on the way is None."""
        expr, guards = base, []
        for i, part in enumerate(path):
            f = next(f for f in fields if f.name == part)
            expr = f"{expr}.{naming.py_attr(part)}"
            if i < len(path) - 1:
                if f.type.nullable:
                    guards.append(expr)
                named = self.index[_named(f.type)]
                assert isinstance(named, RecordType)
                fields = named.fields
        if guards:
            return f"(None if {' or '.join(f'{g} is None' for g in guards)} else {expr})"
        return expr

    # -- command consumers -------------------------------------------------------------------

    def _consumers(self) -> list[str]:
        out: list[str] = []
        app_module = layout.app_module(self.project, self.ctx.name)
        aggs = {a.name: a for a in self.aggs}
        for consumer in sorted(self.ctx.consumers, key=lambda c: c.name):
            if consumer.name not in self.consumers:
                continue
            app = self.imports.use(app_module, naming.py_app_attr(consumer.name))
            repo = naming.aggregate_attr(aggs[self.consumers[consumer.name]].name)
            lines = [
                f"{app}.on({self.message(h)})({repo}.handle_consumed)" for h in consumer.handles
            ]
            out.append("\n".join(lines))
            self.exports.append(app)
        return out


def _command_id(agg: Aggregate, command: Message) -> str:
    if any(f.name == agg.id_field for f in command.fields):
        return f"command.{naming.py_attr(agg.id_field)}"
    return "None"


def _named(ref: TypeRef) -> str:
    base = non_null(ref)
    assert isinstance(base, Named)
    return base.name


def _construct(cls: str, pairs: list[tuple[str, str]]) -> str:
    """`Cls(a=..., b=...)`; `Cls.model_validate({...})` when a field's attribute is escaped
    (type checkers see an aliased field's init parameter as its alias)."""
    if any(naming.py_attr(name) != name for name, _ in pairs):
        items = ", ".join(f"{py_str(name)}: {value}" for name, value in pairs)
        return f"{cls}.model_validate({{{items}}})"
    return f"{cls}({', '.join(f'{name}={value}' for name, value in pairs)})"


def long_str(text: str, width: int = 60) -> str:
    """A string literal, split at spaces into implicitly concatenated parts when it would not
    fit a line (each part is its own `py_str`, so no escape is ever cut in two)."""
    whole = py_str(text)
    if len(whole) <= width:
        return whole
    parts: list[str] = []
    for word in re.split(r"(?<=\s)", text):
        while len(word) > width // 2:  # a long word: cut (between characters, never escapes)
            parts.append(word[: width // 2])
            word = word[width // 2 :]
        if parts and len(py_str(parts[-1] + word)) <= width:
            parts[-1] += word
        elif word:
            parts.append(word)
    return "(" + " ".join(py_str(p) for p in parts) + ")"


def _tuple_items(items: list[str]) -> str:
    return ", ".join(items) + ("," if len(items) == 1 else "")


def _class_source(view: ClassView) -> str:
    lines = [f"class {view.name}({view.base}):"]
    if view.docstring:
        lines.append(f"    {_indent(view.docstring)}")
        if view.fields:
            lines.append("")
    for f in view.fields:
        lines.append(f"    {f.declaration}")
        if f.docstring:
            lines.append(f"    {_indent(f.docstring)}")
    if not view.fields and not view.docstring:
        lines.append("    pass")
    return "\n".join(lines)


def _indented_doc(text: str, indent: int) -> str:
    return _indent(py_docstring(text, indent=indent))


def _indent(text: str) -> str:
    """Continuation lines of a block (a docstring) indented one level, as templates do."""
    return text.replace("\n", "\n    ")


HOOK_SOURCE = f"""@functools.cache
def {HOOK}(path: str) -> Any:
    \"\"\"A user's apply hook `package.module:function`, imported on first use.\"\"\"
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)"""
