"""`<package>/<context>_sagas.py`: per spec saga its data model, mappings, table and worker.

Per saga (`PlaceOrderSaga` -> prefix `place_order_saga`), in this order:

- `PlaceOrderSagaData`: a frozen Record of the saga's `data` (rendered by the model emitter, so
  types, constraints and defaults are those of the message models);
- `init_place_order_saga(event)`: the `init` mapping of the `started_by` event;
- per step `send_<prefix>_<step>(data)` (the `send` payload), `local_<prefix>_<step>(data)`
  (a local step's command, its fields filled from same-named data fields),
  `compensate_<prefix>_<step>(data)` and `save_<prefix>_<step>_<reply>(data, reply)` for every
  reply with a `save`;
- `PLACE_ORDER_SAGA_STEPS`, `PLACE_ORDER_SAGA_TRANSITIONS` (the rows of
  eventgen.emit.services.saga_table, the one authority the diagrams share) and
  `PLACE_ORDER_SAGA`, the `SagaDefinition` with the data-schema hash;
- `PLACE_ORDER_SAGA_CONSUMER` (group layout.saga_group, the topics of started_by and every
  reply, the outbox's store as idempotency store) and `place_order_saga`, the runnable
  `SagaApp(definition, consumer, outbox, messages, local)`.

A nullable value into a required command field goes through `_present`, which raises
SagaDataError naming the instance (the rules refuse that for `send` payloads; a local
command's same-named fields can meet it). Every spec string reaches the source through
literals.py (`py_str`, `py_docstring`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from eventgen.emit import layout
from eventgen.emit.layout import TypeIndex
from eventgen.emit.pymodels.imports import Imports, _isort_key
from eventgen.emit.pymodels.literals import py_comment, py_docstring, py_literal, py_str
from eventgen.emit.pymodels.types import TypeWriter
from eventgen.emit.pymodels.views import _record
from eventgen.emit.services import saga_table
from eventgen.emit.services.aggregates import (
    _class_source,
    _construct,
    _field_shape,
    _indented_doc,
    _named,
)
from eventgen.emit.services.apps import _retry, _Runtime
from eventgen.emit.services.saga_table import TransitionRow, saga_transitions
from eventgen.ir import naming
from eventgen.ir.model import (
    Assignments,
    Context,
    EnumType,
    Expr,
    Field,
    Message,
    Project,
    Retry,
    Saga,
    SagaStep,
    TypeRef,
    thaw,
)
from eventgen.rules.checks_saga_runtime import local_fill, local_repositories

# The table builder is re-exported: the diagram emitter reads it here or in saga_table.
__all__ = [
    "TransitionRow",
    "app_attr",
    "consumer_constant",
    "consumer_name",
    "data_class",
    "data_hash",
    "definition_constant",
    "init_function",
    "module_names",
    "prefix",
    "saga_transitions",
    "sagas_source",
    "save_function",
    "step_function",
    "steps_constant",
    "transitions_constant",
]

RT = "eventgen.runtime"
SPEC = "eventgen.runtime.saga.spec"
WORKER = "eventgen.runtime.saga.worker"
ERRORS = "eventgen.runtime.saga.errors"
DATA_HASH_FORMAT = "eventgen-saga-data/1"
PRESENT = "_present"
# Names the module defines besides the per-saga ones.
FIXED_NAMES = frozenset({PRESENT, "_T"})
# The runtime's constants (eventgen.runtime.saga.spec) by value, so the table reads as names.
TARGET_NAMES = {
    saga_table.TIMEOUT: "TIMEOUT",
    saga_table.DONE: "DONE",
    saga_table.REJECTED: "REJECTED",
    saga_table.COMPLETED: "COMPLETED",
    saga_table.COMPENSATE: "COMPENSATE",
    saga_table.RETRY: "RETRY",
    saga_table.NEXT_COMPENSATION: "NEXT_COMPENSATION",
    saga_table.STUCK: "STUCK",
    saga_table.FAILED: "FAILED",
}


# -- names (the manifest, the diagrams and the tests read them here) --------------------------


def prefix(saga: Saga) -> str:
    """`PlaceOrderSaga` -> `place_order_saga` (functions); the app object has the same name."""
    return naming.snake(saga.name)


def data_class(saga: Saga) -> str:
    return naming.py_class(saga.name + "Data")


def init_function(saga: Saga) -> str:
    return f"init_{prefix(saga)}"


def step_function(role: str, saga: Saga, step: str) -> str:
    """`send_place_order_saga_reserve_stock`, `local_...`, `compensate_...`."""
    return f"{role}_{prefix(saga)}_{naming.snake(step)}"


def save_function(saga: Saga, step: str, reply: str) -> str:
    return f"save_{prefix(saga)}_{naming.snake(step)}_{naming.snake(reply.rsplit('.', 1)[-1])}"


def steps_constant(saga: Saga) -> str:
    return f"{prefix(saga).upper()}_STEPS"


def transitions_constant(saga: Saga) -> str:
    return f"{prefix(saga).upper()}_TRANSITIONS"


def definition_constant(saga: Saga) -> str:
    return prefix(saga).upper()


def consumer_constant(saga: Saga) -> str:
    return f"{prefix(saga).upper()}_CONSUMER"


def app_attr(saga: Saga) -> str:
    return layout.saga_attr(saga.name)


def consumer_name(saga: Saga) -> str:
    """The worker's consumer name (`place-order-saga`), as its group's local part."""
    return naming.snake(saga.name).replace("_", "-")


def module_names(saga: Saga) -> set[str]:
    """Every module-level name a saga defines (the rules refuse two sagas that meet)."""
    names = {
        data_class(saga), init_function(saga), steps_constant(saga), transitions_constant(saga),
        definition_constant(saga), consumer_constant(saga), app_attr(saga),
    }  # fmt: skip
    for step in saga.steps:
        role = "local" if step.kind == "local" else "send"
        names.add(step_function(role, saga, step.name))
        if step.compensate is not None:
            names.add(step_function("compensate", saga, step.name))
        for reply in (*step.success, *step.failure):
            if reply.saves:
                names.add(save_function(saga, step.name, reply.message))
    return names


def sagas_source(project: Project, ctx: Context) -> str:
    return _Module(project, ctx).source()


def data_hash(project: Project, saga: Saga) -> str:
    """sha256 of the data schema: field names, types (nullability, precision), defaults, and
    the shapes of the named types they reach (record fields, enum symbols); a stored instance
    whose hash differs no longer loads (SagaDataError)."""
    index = TypeIndex(project)
    named: list[dict[str, Any]] = []
    for t in index.referenced(saga.data):
        if isinstance(t, EnumType):
            named.append({"name": t.qualified, "symbols": list(t.symbols), "default": t.default})
        else:
            named.append({"name": t.qualified, "fields": [_field_shape(f) for f in t.fields]})
    shape = {
        "format": DATA_HASH_FORMAT,
        "saga": saga.qualified,
        "data": [_field_shape(f) for f in saga.data],
        "types": sorted(named, key=lambda n: str(n["name"])),
    }
    text = json.dumps(shape, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class _Module:
    def __init__(self, project: Project, ctx: Context) -> None:
        self.project = project
        self.ctx = ctx
        self.index = TypeIndex(project)
        defined = set(FIXED_NAMES)
        for saga in ctx.sagas:
            defined |= module_names(saga)
        self.imports = Imports(project.package, defined)
        self.rt = _Runtime(self.imports)
        self.writer = TypeWriter(project, self.index, "\0", self.imports)
        self.exports: list[str] = []
        self.present = False

    # -- names -------------------------------------------------------------------------------

    def use(self, module: str, name: str) -> str:
        return self.imports.use(module, name)

    def message(self, qualified: str) -> str:
        m = self.project.message(qualified)
        module = f"{self.project.package}.{naming.py_module(m.context)}"
        return self.imports.use(module, naming.py_class(m.name), naming.pascal(m.context) + m.name)

    def app_module(self) -> str:
        return layout.app_module(self.project, self.ctx.name)

    # -- module ------------------------------------------------------------------------------

    def source(self) -> str:
        body: list[str] = []
        for saga in self.ctx.sagas:
            body.extend(self._saga(saga))
        if self.present:
            body.insert(0, self._present_source())
        return self._header() + "\n\n\n".join(body) + "\n"

    def _header(self) -> str:
        lines = self.imports.lines()
        exports = ", ".join(
            py_str(n) for n in sorted(self.exports, key=lambda e: _isort_key((e, e)))
        )
        names = ", ".join(s.name for s in self.ctx.sagas)
        doc = (
            f"Orchestrated sagas of the {self.ctx.name} context ({names}): data models, the "
            "typed mappings of their spec, transition tables and runnable workers (generated). "
            "Run one with `python -m eventgen.runtime run "
            f"{layout.sagas_module(self.project, self.ctx.name)}:ATTR`."
        )
        return (
            py_comment(layout.header(self._sources()))
            + "\n"
            + py_docstring(doc)
            + "\n\nfrom __future__ import annotations\n\n"
            + "\n".join(lines)
            + f"\n\n__all__ = [{exports}]\n\n\n"
        )

    def _sources(self) -> list[str]:
        """The context's files, the project file and the files of every context whose
        messages a saga sends, receives or runs."""
        from eventgen.emit.files import context_sources

        found = set(context_sources(self.project, self.ctx))
        for saga in self.ctx.sagas:
            names = {saga.started_by, *saga_table.sent_commands(saga)}
            names |= set(saga_table.reply_messages(saga))
            for name in names:
                m = self.project.messages_by_name.get(name)
                if m is not None:
                    found |= set(self.project.context(m.context).files)
        return sorted(found)

    def _present_source(self) -> str:
        error = self.use(ERRORS, "SagaDataError")
        type_var = self.use("typing", "TypeVar")
        return (
            f'_T = {type_var}("_T")\n\n\n'
            f"def {PRESENT}(value: _T | None, saga: str, saga_id: str, field: str) -> _T:\n"
            + "    "
            + _indented_doc(
                "`value`, which a required command field needs: None is stored data that "
                "cannot build the command.",
                indent=4,
            )
            + "\n    if value is None:\n"
            f'        raise {error}(saga, saga_id, f"{{field}} is not set")\n'
            "    return value"
        )

    # -- one saga ----------------------------------------------------------------------------

    def _saga(self, saga: Saga) -> list[str]:
        out = [self._data(saga), self._init(saga)]
        rows = saga_transitions(saga)
        for step in saga.steps:
            role = "local" if step.kind == "local" else "send"
            if step.kind == "local":
                out.append(self._local(saga, step))
            else:
                out.append(self._send(saga, step, role, step.command, step.payload))
            if step.compensate is not None:
                comp = step.compensate
                out.append(self._send(saga, step, "compensate", comp.command, comp.payload))
            for reply in (*step.success, *step.failure):
                if reply.saves:
                    out.append(self._save(saga, step, reply.message, reply.saves))
        out.append(self._steps(saga))
        out.append(self._transitions(saga, rows))
        out.append(self._definition(saga))
        out.append(self._consumer(saga))
        out.append(self._app(saga))
        self.exports += [
            data_class(saga),
            steps_constant(saga),
            transitions_constant(saga),
            definition_constant(saga),
            consumer_constant(saga),
            app_attr(saga),
        ]
        return out

    def _data(self, saga: Saga) -> str:
        started = saga.started_by.rsplit(".", 1)[-1]
        doc = (
            f"Data of saga {saga.name} ({saga.qualified}): set from {started} by `init`, "
            f"then by the replies' `save`; `{saga.correlation}` is the saga id."
        )
        view = _record(data_class(saga), doc, saga.data, self.rt("model", "Record"), self.writer)
        return _class_source(view)

    def _init(self, saga: Saga) -> str:
        event = self.project.message(saga.started_by)
        cls = data_class(saga)
        roots = {"$": ("event", tuple(event.fields)), "$data": ("data", saga.data)}
        pairs = self._pairs(saga, saga.init, saga.data, roots, None)
        doc = f"The data of a new {saga.name} from the {event.name} that starts it."
        return "\n".join(
            [
                f"def {init_function(saga)}(event: {self.message(saga.started_by)}) -> {cls}:",
                "    " + _indented_doc(doc, indent=4),
                f"    return {_construct(cls, pairs)}",
            ]
        )

    def _send(
        self, saga: Saga, step: SagaStep, role: str, command: str, payload: Assignments
    ) -> str:
        target = self.project.message(command)
        roots = {"$data": ("data", saga.data)}
        pairs = self._pairs(saga, payload, target.fields, roots, saga.correlation)
        pairs += self._hidden(target, {name for name, _ in payload})
        cls = self.message(command)
        what = "compensation" if role == "compensate" else "command"
        doc = f"The {what} {target.name} of step {step.name} from the saga data."
        return "\n".join(
            [
                f"def {step_function(role, saga, step.name)}(data: {data_class(saga)}) -> {cls}:",
                "    " + _indented_doc(doc, indent=4),
                f"    return {_construct(cls, pairs)}",
            ]
        )

    def _local(self, saga: Saga, step: SagaStep) -> str:
        target = self.project.message(step.command)
        fills, missing = local_fill(self.project, saga, step)
        if missing:  # E0835 refuses the build before emitters run
            raise ValueError(f"local command {step.command} cannot be filled")
        pairs: list[tuple[str, str]] = []
        for f, source in fills:
            value = f"data.{naming.py_attr(source.name)}"
            if source.type.nullable and not f.type.nullable:
                value = self._present_call(saga, value, f.name)
            pairs.append((f.name, value))
        pairs += self._hidden(target, {f.name for f, _ in fills})
        cls = self.message(step.command)
        doc = (
            f"The local command {target.name} of step {step.name}: its fields from the "
            "same-named fields of the saga data."
        )
        return "\n".join(
            [
                f"def {step_function('local', saga, step.name)}(data: {data_class(saga)}) -> {cls}:",
                "    " + _indented_doc(doc, indent=4),
                f"    return {_construct(cls, pairs)}",
            ]
        )

    def _save(self, saga: Saga, step: SagaStep, reply: str, saves: Assignments) -> str:
        message = self.project.message(reply)
        roots = {"$": ("reply", tuple(message.fields)), "$data": ("data", saga.data)}
        pairs = self._pairs(saga, saves, saga.data, roots, None)
        items = ", ".join(f"{py_str(naming.py_attr(name))}: {value}" for name, value in pairs)
        cls = data_class(saga)
        doc = f"The saga data after {message.name} answered step {step.name} (its `save`)."
        return "\n".join(
            [
                (
                    f"def {save_function(saga, step.name, reply)}(data: {cls}, "
                    f"reply: {self.message(reply)}) -> {cls}:"
                ),
                "    " + _indented_doc(doc, indent=4),
                f"    return data.model_copy(update={{{items}}})",
            ]
        )

    def _steps(self, saga: Saga) -> str:
        spec = self.rt("saga.spec", "StepSpec")
        items: list[str] = []
        for i, step in enumerate(saga.steps):
            role = "local" if step.kind == "local" else "send"
            args = [
                f"name={py_str(step.name)}",
                f"kind={py_str(step.kind)}",
                f"command={py_str(naming.message_type(step.command))}",
                f"build={step_function(role, saga, step.name)}",
            ]
            if step.kind == "send":
                args.append(f"timeout_ms={py_literal(step.timeout_ms)}")
                if step.retry is not None:
                    args.append(f"retry={self._step_retry(step.retry, step.retry.retry_on)}")
            if step.compensate is not None:
                comp = step.compensate
                success = _tuple(py_str(naming.message_type(m)) for m in comp.expect_success)
                args.append(
                    f"compensation={self.rt('saga.spec', 'CompensationSpec')}("
                    f"command={py_str(naming.message_type(comp.command))}, "
                    f"build={step_function('compensate', saga, step.name)}, "
                    f"success={success})"
                )
            if step.pivot:
                args.append("pivot=True")
            if saga_table.is_forward(saga, i):
                args.append("forward=True")
            items.append(f"    {spec}({', '.join(args)}),")
        return (
            f"{steps_constant(saga)}: tuple[{spec}, ...] = (\n"
            + "\n".join(items)
            + "\n)\n"
            + py_docstring(f"The steps of {saga.name}, in spec order.")
        )

    def _step_retry(self, retry: Retry, retry_on: Sequence[str] | None) -> str:
        args = [
            f"max_attempts={retry.max_attempts}",
            f"initial_ms={retry.initial_ms}",
            f"multiplier={retry.multiplier!r}",
            f"max_interval_ms={retry.max_interval_ms}",
        ]
        if retry_on is not None:
            on = saga_table.step_retry_on(retry)
            args.append(f"retry_on={_tuple(py_str(w) for w in on)}")
        return f"{self.rt('saga.spec', 'StepRetry')}({', '.join(args)})"

    def _transitions(self, saga: Saga, rows: list[TransitionRow]) -> str:
        transition = self.rt("saga.spec", "Transition")
        lines: list[str] = []
        current: tuple[str, str] | None = None
        for row in rows:
            if (row.status, row.step) != current:
                current = (row.status, row.step)
                phase = "compensation of" if row.status == "COMPENSATING" else "step"
                lines.append(f"    # {phase} {_comment_text(row.step)}")
            args = [
                py_str(row.status),
                py_str(row.step),
                self._target(row.on),
                py_str(row.outcome),
                self._target(row.target),
            ]
            if row.exhausted is not None:
                args.append(f"exhausted={self._target(row.exhausted)}")
            if row.saves:
                assert row.reply is not None
                args.append(f"save={save_function(saga, row.step, row.reply)}")
            lines.append(f"    {transition}({', '.join(args)}),")
        doc = (
            f"The state machine of {saga.name}: (status, step, on) -> outcome, target; "
            "`exhausted` is where a retry goes when no attempt is left."
        )
        return (
            f"{transitions_constant(saga)}: tuple[{transition}, ...] = (\n"
            + "\n".join(lines)
            + "\n)\n"
            + py_docstring(doc)
        )

    def _target(self, value: str) -> str:
        """A step name, message TYPE, or one of the runtime's pseudo-message/target names."""
        if value in TARGET_NAMES:
            return self.rt("saga.spec", TARGET_NAMES[value])
        return py_str(value)

    def _definition(self, saga: Saga) -> str:
        definition = self.rt("saga.spec", "SagaDefinition")
        tables = self.rt("saga.spec", "SagaTables")
        instances, log, timers = layout.saga_tables(self.ctx)
        args = [
            f"name={py_str(saga.name)}",
            f"context={py_str(saga.context)}",
            f"data_model={data_class(saga)}",
            f"data_hash={py_str(data_hash(self.project, saga))}",
            f"correlation={py_str(naming.py_attr(saga.correlation))}",
            f"started_by={py_str(naming.message_type(saga.started_by))}",
            f"init={init_function(saga)}",
            f"steps={steps_constant(saga)}",
            f"transitions={transitions_constant(saga)}",
            f"deadline_ms={py_literal(saga.deadline_ms)}",
        ]
        if saga.compensation_retry is not None:
            args.append(f"compensation_retry={self._step_retry(saga.compensation_retry, None)}")
        args.append(f"compensation_then={py_str(saga.compensation_then or 'park')}")
        args.append(f"tables={tables}({py_str(instances)}, {py_str(log)}, {py_str(timers)})")
        return (
            f"{definition_constant(saga)} = {definition}(\n"
            + "".join(f"    {a},\n" for a in args)
            + ")\n"
            + py_docstring(f"Saga {saga.name} as the runtime interprets it.")
        )

    def _consumer(self, saga: Saga) -> str:
        outbox = self.ctx.outbox
        if outbox is None:  # E0833 refuses the build before emitters run
            raise ValueError(f"saga {saga.name} needs an outbox in context {self.ctx.name}")
        topics = saga_table.consumed_topics(self.project, saga)
        routes = [self.use(self.app_module(), layout.route_constant(t)) for t in topics]
        handles = [py_str(naming.message_type(m)) for m in saga_table.handled_messages(saga)]
        dlq = bool(topics) and all(t.dlq is not None for t in topics)
        args = [
            ("name", py_str(consumer_name(saga))),
            ("context", py_str(self.ctx.name)),
            ("group", py_str(layout.saga_group(self.ctx, saga.name))),
            ("topics", _tuple(routes)),
            ("handles", _tuple(handles)),
            ("delivery", py_str("at-least-once")),
            ("processing", py_str("stream")),
            ("retry", _retry(self.project.defaults.retry, self.rt)),
            ("dlq", repr(dlq)),
            ("idempotency", py_str(outbox.store)),
            ("publisher", self.use(self.app_module(), layout.PUBLISHER_SPEC)),
        ]
        doc = (
            f"The {saga.name} worker's consumer: group {layout.saga_group(self.ctx, saga.name)}, "
            f"at-least-once, its inbox in the outbox's {outbox.store} store (one transaction "
            "per record: inbox row, instance, log, timers and commands)."
        )
        if not dlq:
            doc += (
                " Not every topic has a DLQ: an undecodable record stops its partition until "
                "the worker restarts (the consumer loop without a DLQ)."
            )
        return (
            f"{consumer_constant(saga)} = {self.rt('spec', 'ConsumerSpec')}(\n"
            + "".join(f"    {k}={v},\n" for k, v in args)
            + ")\n"
            + py_docstring(doc)
        )

    def _app(self, saga: Saga) -> str:
        messages = [self.message(m) for m in saga_table.handled_messages(saga)]
        owners = local_repositories(self.ctx)
        local: dict[str, str] = {}
        for step in saga.steps:
            if step.kind == "local":
                owner = owners.get(step.command)
                if owner is None:  # E0834 refuses the build before emitters run
                    raise ValueError(f"no aggregate of {self.ctx.name} handles {step.command}")
                module = layout.aggregates_module(self.project, self.ctx.name)
                local[naming.message_type(step.command)] = self.use(
                    module, naming.aggregate_attr(owner)
                )
        outbox = self.use(self.app_module(), layout.OUTBOX_ATTR)
        mapping = ", ".join(f"{py_str(k)}: {v}" for k, v in sorted(local.items()))
        attr = app_attr(saga)
        module = layout.sagas_module(self.project, self.ctx.name)
        return (
            f"{attr} = {self.use(WORKER, 'SagaApp')}(\n"
            f"    {definition_constant(saga)},\n"
            f"    {consumer_constant(saga)},\n"
            f"    {outbox},\n"
            f"    {_tuple(messages)},\n"
            f"    {{{mapping}}},\n"
            ")\n"
            + py_docstring(
                (f"{saga.doc.strip()}\n\n" if saga.doc and saga.doc.strip() else "")
                + f"The {saga.name} worker: `python -m eventgen.runtime run {module}:{attr}`; "
                f"operators: `python -m eventgen.runtime saga list {module}:{attr}`."
            )
        )

    # -- values ------------------------------------------------------------------------------

    def _pairs(
        self,
        saga: Saga,
        values: Assignments,
        targets: Sequence[Field],
        roots: Mapping[str, tuple[str, Sequence[Field]]],
        correlation: str | None,
    ) -> list[tuple[str, str]]:
        """(target field, Python value) per assignment; `correlation` set: the values read
        `data`, and a nullable value into a required field goes through `_present`."""
        by_name = {f.name: f for f in targets}
        out: list[tuple[str, str]] = []
        for name, expr in values:
            target = by_name[name]
            value, nullable = self._value(expr, target.type, roots)
            if nullable and not target.type.nullable and correlation is not None:
                value = self._present_call(saga, value, name)
            out.append((name, value))
        return out

    def _present_call(self, saga: Saga, value: str, field: str) -> str:
        self.present = True
        saga_id = f"str(data.{naming.py_attr(saga.correlation)})"
        return f"{PRESENT}({value}, {py_str(saga.name)}, {saga_id}, {py_str(field)})"

    def _hidden(self, target: Message, given: set[str]) -> list[tuple[str, str]]:
        """Omitted deprecated or aliased fields with a default, passed explicitly (mypy does
        not see the default of a field declared through `Field(...)`)."""
        out: list[tuple[str, str]] = []
        for f in target.fields:
            hidden = f.deprecated or naming.py_attr(f.name) != f.name
            if f.name not in given and hidden and (f.has_default or f.type.nullable):
                default = f.default if f.has_default else None
                value = layout.typed_value(f.type, thaw(default), self.index)
                out.append((f.name, self.writer.value(f.type, value)))
        return out

    def _value(
        self, expr: Expr, target: TypeRef, roots: Mapping[str, tuple[str, Sequence[Field]]]
    ) -> tuple[str, bool]:
        """Python for a spec value stored in a `target` field, and whether it may be None."""
        if expr.root is None:
            value = layout.typed_value(target, thaw(expr.literal), self.index)
            return self.writer.value(target, value), value is None
        base, fields = roots[expr.root]
        return self._path(base, fields, expr.path)

    def _path(self, base: str, fields: Sequence[Field], path: tuple[str, ...]) -> tuple[str, bool]:
        """`base.a.b`; None when a nullable record on the way is None."""
        expr, guards, nullable = base, [], False
        for i, part in enumerate(path):
            f = next(f for f in fields if f.name == part)
            expr = f"{expr}.{naming.py_attr(part)}"
            nullable = f.type.nullable
            if i < len(path) - 1:
                if f.type.nullable:
                    guards.append(expr)
                named = self.index[_named(f.type)]
                assert not isinstance(named, EnumType)
                fields = named.fields
        if guards:
            text = f"(None if {' or '.join(f'{g} is None' for g in guards)} else {expr})"
            return text, True
        return expr, nullable


def _tuple(items: Any) -> str:
    parts = list(items)
    return f"({parts[0]},)" if len(parts) == 1 else f"({', '.join(parts)})"


def _comment_text(text: str) -> str:
    """A spec name inside a `#` comment: one line, printable (names are validated already)."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)
