"""`<package>/<context>_app.py`: the publisher, consumer apps and outbox of one context.

The module holds frozen `eventgen.runtime.spec` records written as literals and the runtime
objects built from them; importing it connects to nothing (the objects read their
configuration when they start or first publish). Each consumer gets a `ConsumerApp` subclass
whose `on` (stream) or `on_batch` (batch) is overloaded per handled message class, so
`mypy --strict` rejects a handler for a message the consumer does not handle or one with the
wrong parameter types; `<Name>Context` is the `ctx` annotation of its handlers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from eventgen.emit import layout
from eventgen.emit.pymodels.imports import Imports, _isort_key
from eventgen.emit.pymodels.literals import py_comment, py_docstring, py_literal, py_str
from eventgen.emit.services import saga_table
from eventgen.ir import naming
from eventgen.ir.model import Consumer, Context, Project, Retry, Topic

RUNTIME = "eventgen.runtime"


@dataclass
class RouteView:
    constant: str
    call: str  # `Route(topic=..., ...)`


@dataclass
class AppView:
    attr: str
    cls: str
    context_alias: str
    context_type: str  # `Context[A | B]`
    docstring: str
    batch: bool
    overloads: list[tuple[str, str]]  # (message class, its handler's context) per handled class
    union: str  # the handled classes as one union (batch handlers)
    spec: str  # `ConsumerSpec(...)` source
    messages: str  # `(A, B)`
    context_doc: str
    attr_doc: str
    batch_alias: str
    batch_doc: str


@dataclass
class AppModuleView:
    header: str
    docstring: str
    imports: list[str]
    exports: list[str]
    routes: list[RouteView]
    publisher_spec: str
    publisher_doc: str
    apps: list[AppView]
    outbox_spec: str | None
    outbox_doc: str | None
    relay_doc: str | None  # None: no polling relay (relay: debezium)
    names: dict[str, str] = field(default_factory=dict)  # fixed local names the template uses
    publisher_spec_name: str = layout.PUBLISHER_SPEC
    outbox_spec_name: str = layout.OUTBOX_SPEC
    sources: tuple[str, ...] = ()


def app_module_view(project: Project, ctx: Context) -> AppModuleView:
    consumers = sorted(ctx.consumers, key=lambda c: c.name)
    # Routes: every topic a message of the context travels on, and every subscribed topic.
    topics: dict[str, Topic] = {}
    for m in ctx.messages:
        if m.topic:
            topics[m.topic] = project.topic(m.topic)
    for c in consumers:
        for t in c.subscribe:
            topics[t] = project.topic(t)
    # The sagas' workers read their replies and send commands through this module's outbox.
    for saga_topic in saga_table.context_saga_topics(project, ctx):
        topics[saga_topic.qualified] = saga_topic
    defined = {
        layout.PUBLISHER_ATTR, layout.OUTBOX_ATTR, layout.RELAY_ATTR,
        layout.PUBLISHER_SPEC, layout.OUTBOX_SPEC, "_M", "_C", "_Handler", "_Register",
    }  # fmt: skip
    defined |= {layout.route_constant(t) for t in topics.values()}
    for c in consumers:
        defined |= {
            naming.py_app_attr(c.name),
            layout.app_class(c.name),
            layout.app_context_alias(c.name),
        }
    imports = Imports(project.package, defined)
    rt = _Runtime(imports)
    routes = {
        q: RouteView(layout.route_constant(t), _route(project, t, imports, rt))
        for q, t in sorted(topics.items())
    }

    sent = [*ctx.messages, *saga_table.context_saga_commands(project, ctx)]
    pairs = sorted(
        {(naming.message_type(m.qualified), routes[m.topic].constant) for m in sent if m.topic}
    )
    publisher_spec = (
        f"{rt('spec', 'PublisherSpec')}(\n    context={py_str(ctx.name)},\n    routes=("
        + "".join(f"\n        ({py_str(t)}, {c})," for t, c in pairs)
        + "\n    ),\n)"
    )
    # An aggregate's command consumer: its handlers are generated in the aggregates module.
    generated = layout.aggregate_command_consumers(project, ctx)
    handlers = layout.aggregates_module(project, ctx.name)
    apps = [
        _app(project, c, routes, imports, rt, handlers if c.name in generated else None)
        for c in consumers
    ]

    outbox_spec = outbox_doc = relay_doc = None
    if ctx.outbox is not None:
        o = ctx.outbox
        outbox_spec = (
            f"{rt('spec', 'OutboxSpec')}(\n"
            f"    context={py_str(ctx.name)},\n"
            f"    table={py_str(o.table)},\n"
            f"    relay={py_str(o.relay)},\n"
            f"    store={py_str(o.store)},\n"
            f"    batch={o.batch},\n"
            f"    poll_interval_ms={o.poll_interval_ms},\n"
            f"    retention_ms={o.retention_ms},\n"
            f"    publisher={layout.PUBLISHER_SPEC},\n"
            ")"
        )
        outbox_doc = py_docstring(
            f"Adds messages to the {o.table} table ({o.store}) inside the caller's transaction: "
            "`outbox.add(conn, message)`."
        )
        if o.relay == "polling":
            relay_doc = py_docstring(
                f"Moves {o.table} rows to Kafka: "
                f"`python -m eventgen.runtime run {layout.app_module(project, ctx.name)}:relay`."
            )
    names = {
        "Publisher": rt("publisher", "Publisher"),
        "OutboxWriter": rt("outbox", "OutboxWriter") if outbox_spec else "",
        "PollingRelay": rt("relay", "PollingRelay") if relay_doc else "",
    }
    if apps:
        names |= {
            "Any": imports.use("typing", "Any"),
            "TypeAlias": imports.use("typing", "TypeAlias"),
            "TypeVar": imports.use("typing", "TypeVar"),
            "Callable": imports.use("collections.abc", "Callable"),
            "ConsumerApp": rt("app", "ConsumerApp"),
            "Message": rt("model", "Message"),
        }
        if any(len(a.overloads) > 1 and not a.batch for a in apps):
            names["overload"] = imports.use("typing", "overload")
    exports = [layout.PUBLISHER_SPEC, layout.PUBLISHER_ATTR]
    for a in apps:
        exports += [a.attr, a.cls, a.context_alias]
        if a.batch:
            exports.append(a.batch_alias)
    if outbox_spec:
        exports += [layout.OUTBOX_SPEC, layout.OUTBOX_ATTR]
    if relay_doc:
        exports.append(layout.RELAY_ATTR)
    doc = (
        f"Services of the {ctx.name} context: its publisher"
        + (", consumer apps" if apps else "")
        + (" and outbox" if outbox_spec else "")
        + ". Run an app or the relay with `python -m eventgen.runtime run MODULE:ATTR`."
    )
    sources = _sources(project, ctx)
    return AppModuleView(
        sources=tuple(sources),
        header=py_comment(layout.header(sources)),
        docstring=py_docstring(doc),
        imports=imports.lines(),
        exports=[py_str(e) for e in sorted(exports, key=lambda e: _isort_key((e, e)))],
        routes=list(routes.values()),
        publisher_spec=publisher_spec,
        publisher_doc=py_docstring(
            f"Publishes the {ctx.name} context's messages: `publisher.publish(message)`."
        ),
        apps=apps,
        outbox_spec=outbox_spec,
        outbox_doc=outbox_doc,
        relay_doc=relay_doc,
        names=names,
    )


def _sources(project: Project, ctx: Context) -> list[str]:
    """The context's files, the project file and the files of every subscribed topic's context."""
    from eventgen.emit.files import context_sources

    found = set(context_sources(project, ctx))
    for c in ctx.consumers:
        for t in c.subscribe:
            found |= set(project.context(project.topic(t).context).files)
        for m in c.handles:
            found |= set(project.context(project.message(m).context).files)
    for topic in saga_table.context_saga_topics(project, ctx):
        found |= set(project.context(topic.context).files)
    for command in saga_table.context_saga_commands(project, ctx):
        found |= set(project.context(command.context).files)
    return sorted(found)


class _Runtime:
    """Names imported from eventgen.runtime's modules."""

    def __init__(self, imports: Imports) -> None:
        self.imports = imports

    def __call__(self, module: str, name: str) -> str:
        return self.imports.use(f"{RUNTIME}.{module}", name)


def _route(project: Project, topic: Topic, imports: Imports, rt: _Runtime) -> str:
    binding = imports.use(f"{project.package}.{naming.TOPICS_MODULE}", _binding(topic))
    args = [
        f"topic={binding}",
        f"serialization={py_str(project.defaults.serialization)}",
        f"compression={py_literal(topic.compression)}",
        f"dlq={py_literal(topic.dlq.topic if topic.dlq else None)}",
    ]
    return f"{rt('spec', 'Route')}({', '.join(args)})"


def _binding(topic: Topic) -> str:
    """The topic's TopicBinding constant in `<package>/topics.py` (pymodels/topics.py)."""
    return topic.qualified.replace(".", "_").replace("-", "_").upper()


def _app(
    project: Project,
    c: Consumer,
    routes: dict[str, RouteView],
    imports: Imports,
    rt: _Runtime,
    handlers_module: str | None = None,
) -> AppView:
    classes = []
    for qualified in sorted(c.handles):
        message = project.message(qualified)
        module = f"{project.package}.{naming.py_module(message.context)}"
        prefer = naming.pascal(message.context) + naming.py_class(message.name)
        classes.append(imports.use(module, naming.py_class(message.name), prefer))
    alias = layout.app_context_alias(c.name)
    union = " | ".join(classes)
    spec_args = [
        ("name", py_str(c.name)),
        ("context", py_str(c.context)),
        ("group", py_str(c.group)),
        ("topics", _tuple(routes[t].constant for t in c.subscribe)),
        ("handles", _tuple(py_str(naming.message_type(h)) for h in sorted(c.handles))),
        ("delivery", py_str(c.delivery)),
        ("processing", py_str(c.processing)),
    ]
    if c.batch_max_records is not None:
        spec_args.append(("batch_max_records", str(c.batch_max_records)))
    if c.batch_max_wait_ms is not None:
        spec_args.append(("batch_max_wait_ms", str(c.batch_max_wait_ms)))
    spec_args += [
        ("retry", _retry(c.retry, rt)),
        ("dlq", repr(c.dlq)),
        ("on_failure", py_str(c.on_failure)),
        ("idempotency", py_str(c.idempotency_store)),
        ("idempotency_retention_ms", py_literal(c.idempotency_retention_ms)),
        ("timeout_ms", str(c.timeout_ms)),
        ("publisher", layout.PUBLISHER_SPEC),
    ]
    if handlers_module is not None:
        spec_args.append(("handlers_module", py_str(handlers_module)))
    spec = (
        f"{rt('spec', 'ConsumerSpec')}(\n" + "".join(f"    {k}={v},\n" for k, v in spec_args) + ")"
    )
    doc = c_doc(c)
    if handlers_module is not None:
        doc += (
            f" Its handlers are generated: importing {handlers_module} registers the "
            "aggregate's command handlers (the app does it at start)."
        )
    attr = naming.py_app_attr(c.name)
    module = layout.app_module(project, c.context)
    return AppView(
        attr=attr,
        cls=layout.app_class(c.name),
        context_alias=alias,
        context_type=f"{rt('app', 'Context')}[{union}]",
        docstring=py_docstring(doc, indent=4),
        batch=c.processing == "batch",
        overloads=[(cls, alias) for cls in classes],
        union=union,
        spec=spec,
        messages=_tuple(classes),
        context_doc=py_docstring(f"The `ctx` of the {c.name} consumer's handlers."),
        batch_alias=layout.app_batch_alias(c.name),
        batch_doc=py_docstring(
            f"What the {c.name} batch handler gets: (message, ctx) pairs in offset order."
        ),
        attr_doc=py_docstring(
            f"The {c.name} app: register its handlers, then "
            f"`python -m eventgen.runtime run {module}:{attr}` (or `.run()`)."
        ),
    )


def c_doc(c: Consumer) -> str:
    """The app class's docstring: the consumer's doc, then what the runtime does for it."""
    doc = getattr(c, "doc", None)
    what = (
        f"Consumer `{c.qualified}`: group {c.group}, {c.delivery}, {c.processing} processing, "
        f"idempotency store {c.idempotency_store}. "
        + (
            "Register one handler for the whole batch with `@app.on_batch`."
            if c.processing == "batch"
            else "Register one handler per message with `@app.on(Message)`."
        )
    )
    return f"{doc.strip()}\n\n{what}" if isinstance(doc, str) and doc.strip() else what


def _retry(r: Retry, rt: _Runtime) -> str:
    args = [
        f"max_attempts={r.max_attempts}",
        f"initial_ms={r.initial_ms}",
        f"multiplier={r.multiplier!r}",
        f"max_interval_ms={r.max_interval_ms}",
        f"jitter={py_str(r.jitter)}",
        f"retry_on={_tuple(py_str(x) for x in r.retry_on)}",
    ]
    return f"{rt('spec', 'RetryPolicy')}({', '.join(args)})"


def _tuple(items: Iterable[str]) -> str:
    """A tuple display of source snippets: `()`, `(a,)`, `(a, b)` (no trailing comma, which
    ruff format would take as a request for one item per line)."""
    parts = list(items)
    return f"({parts[0]},)" if len(parts) == 1 else f"({', '.join(parts)})"
