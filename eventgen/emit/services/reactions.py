"""`<package>/<context>_reactions.py`: a context's choreography reactions and flow trackers.

- One `Reaction` per reaction whose service is this context (from every choreography of the
  project): `<do>_on_<on> = Reaction(app=<the consumer app>, on=<Event>, do=<Command>, ...)`,
  bound to the service's consumer that handles the `on` message (E0836 refuses a build
  without one; `reaction_consumer` is the lookup both use). Users register a typed handler with
  `@<reaction>.handler`: mypy checks `event` in, `do` command (or None) out.
- Per choreography owned by this context: its `FlowSpec` (`<NAME>_FLOW`), the tracker's
  `ConsumerSpec` (`<NAME>_TRACKER_CONSUMER`: group `layout.flow_tracker_group`, every topic of
  the choreography's messages, its inbox in the context's outbox store, else SQLite) and the
  ready `FlowTracker` (`<name>_tracker`) for `python -m eventgen.runtime run` (only the
  choreography's `started_by` opens a flow: eventgen.runtime.saga.flows).

`choreography_entries(project)` is the manifest's `choreographies` section.
"""

from __future__ import annotations

from typing import Any

from eventgen.emit import layout
from eventgen.emit.pymodels.imports import Imports, _isort_key
from eventgen.emit.pymodels.literals import py_comment, py_docstring, py_str
from eventgen.emit.services.apps import _retry, _route, _Runtime
from eventgen.ir import naming
from eventgen.ir.model import Choreography, ChoreographyReaction, Context, Project, Topic
from eventgen.rules.checks_choreography import reaction_attr, reaction_consumer


def tracker_attr(choreography: Choreography) -> str:
    return f"{naming.snake(choreography.name)}_tracker"


def flow_constant(choreography: Choreography) -> str:
    return f"{naming.snake(choreography.name).upper()}_FLOW"


def tracker_consumer_constant(choreography: Choreography) -> str:
    return f"{naming.snake(choreography.name).upper()}_TRACKER_CONSUMER"


def tracker_consumer_name(choreography: Choreography) -> str:
    return f"{naming.snake(choreography.name).replace('_', '-')}-tracker"


def choreography_messages(choreography: Choreography) -> list[str]:
    """Every message of the choreography (qualified, sorted): its start, every reaction's `on`
    and emitted events, its outcomes. Not the `do` commands: they are the participants'."""
    names = {choreography.started_by}
    for r in choreography.reactions:
        names.add(r.on)
        names |= {e for e in (r.emits_success, r.emits_failure) if e}
    names |= set(choreography.outcomes_success) | set(choreography.outcomes_failure)
    return sorted(n for n in names if n != "?")


def service_reactions(project: Project, ctx: Context) -> list[tuple[Choreography, Any]]:
    """(choreography, reaction) pairs whose service is `ctx`, in spec order."""
    return [
        (ch, r)
        for ch in project.all_choreographies()
        for r in ch.reactions
        if r.service == ctx.name
    ]


def tracker_store(ctx: Context) -> str:
    return ctx.outbox.store if ctx.outbox is not None else "sqlite"


def choreography_entries(project: Project) -> list[dict[str, Any]]:
    """The manifest's `choreographies` section: one entry per choreography."""
    entries: list[dict[str, Any]] = []
    for ctx in project.contexts:
        for ch in ctx.choreographies:
            reactions = []
            for r in ch.reactions:
                consumer = reaction_consumer(project, r)
                module = layout.reactions_module(project, r.service)
                reactions.append(
                    {
                        "service": r.service,
                        "on": r.on,
                        "do": r.do,
                        "emits": {"success": r.emits_success, "failure": r.emits_failure},
                        "python": f"{module}:{reaction_attr(r)}",
                        "consumer": None if consumer is None else consumer.name,
                    }
                )
            entries.append(
                {
                    "name": ch.name,
                    "context": ctx.name,
                    "correlation": ch.correlation,
                    "started_by": ch.started_by,
                    "tracker": f"{layout.reactions_module(project, ctx.name)}:{tracker_attr(ch)}",
                    "group": layout.flow_tracker_group(ctx, ch.name),
                    "table": layout.flows_table(ctx),
                    "store": tracker_store(ctx),
                    "deadline_ms": ch.deadline_ms,
                    "reactions": reactions,
                    "outcomes": {
                        "success": list(ch.outcomes_success),
                        "failure": list(ch.outcomes_failure),
                    },
                    "diagram": layout.choreography_doc_path(ch.name),
                }
            )
    return entries


def reactions_source(project: Project, ctx: Context) -> str:
    return _Module(project, ctx).source()


class _Module:
    def __init__(self, project: Project, ctx: Context) -> None:
        self.project = project
        self.ctx = ctx
        self.reactions = service_reactions(project, ctx)
        defined = {reaction_attr(r) for _, r in self.reactions}
        for ch in ctx.choreographies:
            defined |= {tracker_attr(ch), flow_constant(ch), tracker_consumer_constant(ch)}
        self.defined = defined
        self.imports = Imports(project.package, defined)
        self.rt = _Runtime(self.imports)
        self.exports: list[str] = []
        self.sources: set[str] = set()

    def message(self, qualified: str) -> str:
        m = self.project.message(qualified)
        self.sources |= set(self.project.context(m.context).files)
        module = f"{self.project.package}.{naming.py_module(m.context)}"
        return self.imports.use(module, naming.py_class(m.name), naming.pascal(m.context) + m.name)

    def source(self) -> str:
        from eventgen.emit.files import context_sources

        self.sources |= set(context_sources(self.project, self.ctx))
        body = [self._reaction(ch, r) for ch, r in self.reactions]
        for ch in self.ctx.choreographies:
            body.extend(self._tracker(ch))
        exports = ", ".join(
            py_str(n) for n in sorted(self.exports, key=lambda e: _isort_key((e, e)))
        )
        module = layout.reactions_module(self.project, self.ctx.name)
        parts = []
        if self.reactions:
            parts.append(
                "the reactions of this service (register one handler each with "
                "`@<reaction>.handler`; they run with their consumer app)"
            )
        if self.ctx.choreographies:
            parts.append(
                "the flow trackers of its choreographies (run one with `python -m "
                f"eventgen.runtime run {module}:ATTR`)"
            )
        doc = (
            f"Choreographies of the {self.ctx.name} context (generated): " + "; ".join(parts) + "."
        )
        return (
            py_comment(layout.header(sorted(self.sources)))
            + "\n"
            + py_docstring(doc)
            + "\n\nfrom __future__ import annotations\n\n"
            + "\n".join(self.imports.lines())
            + f"\n\n__all__ = [{exports}]\n\n\n"
            + "\n\n".join(body)
        )

    def _reaction(self, ch: Choreography, r: ChoreographyReaction) -> str:
        attr = reaction_attr(r)
        consumer = reaction_consumer(self.project, r)
        if consumer is None:  # E0836 refuses the build before emitters run
            raise ValueError(f"reaction {attr} of {ch.name}: no consumer of {r.service}")
        app = self.imports.use(
            layout.app_module(self.project, r.service), naming.py_app_attr(consumer.name)
        )
        on = self.message(r.on)
        do = self.message(r.do)
        reaction = self.rt("saga.reaction", "Reaction")
        self.exports.append(attr)
        emits = [e for e in (r.emits_success, r.emits_failure) if e]
        doc = (
            f"{ch.name}: on {r.on}, {r.service} does {r.do}"
            + (f" (then emits {' or '.join(emits)})" if emits else "")
            + f". Runs in consumer `{consumer.name}`; register the handler with "
            f"`@{attr}.handler` (`(event: {on}, ctx) -> {do} | None`); the returned command is "
            f"published with correlation id `str(event.{ch.correlation})`."
        )
        return (
            f"{attr}: {reaction}[{on}, {do}] = {reaction}(\n"
            f"    app={app},\n"
            f"    on={on},\n"
            f"    do={do},\n"
            f"    choreography={py_str(ch.qualified)},\n"
            f"    correlation={py_str(ch.correlation)},\n"
            ")\n" + py_docstring(doc) + "\n"
        )

    def _topics(self, ch: Choreography) -> list[Topic]:
        found: dict[str, Topic] = {}
        for name in choreography_messages(ch):
            m = self.project.messages_by_name.get(name)
            if m is not None and m.topic:
                found[m.topic] = self.project.topic(m.topic)
        return [found[q] for q in sorted(found)]

    def _tracker(self, ch: Choreography) -> list[str]:
        messages = choreography_messages(ch)
        types = [py_str(naming.message_type(m)) for m in messages]
        flow_spec = self.rt("saga.flows", "FlowSpec")
        flow = (
            f"{flow_constant(ch)} = {flow_spec}(\n"
            f"    choreography={py_str(ch.qualified)},\n"
            f"    correlation={py_str(ch.correlation)},\n"
            f"    started_by={py_str(naming.message_type(ch.started_by))},\n"
            f"    messages={_tuple(types)},\n"
            f"    success={_tuple([py_str(naming.message_type(m)) for m in ch.outcomes_success])},\n"
            f"    failure={_tuple([py_str(naming.message_type(m)) for m in ch.outcomes_failure])},\n"
            f"    deadline_ms={ch.deadline_ms},\n"
            f"    table={py_str(layout.flows_table(self.ctx))},\n"
            ")\n" + py_docstring(f"The {ch.name} choreography as its flow tracker sees it.") + "\n"
        )
        topics = self._topics(ch)
        dlq = bool(topics) and all(t.dlq is not None for t in topics)
        routes = [_route(self.project, t, self.imports, self.rt) for t in topics]
        store = tracker_store(self.ctx)
        group = layout.flow_tracker_group(self.ctx, ch.name)
        args = [
            ("name", py_str(tracker_consumer_name(ch))),
            ("context", py_str(self.ctx.name)),
            ("group", py_str(group)),
            ("topics", _tuple(routes)),
            ("handles", _tuple(sorted(types))),
            ("delivery", py_str("at-least-once")),
            ("processing", py_str("stream")),
            ("retry", _retry(self.project.defaults.retry, self.rt)),
            ("dlq", repr(dlq)),
            ("idempotency", py_str(store)),
        ]
        consumer = (
            f"{tracker_consumer_constant(ch)} = {self.rt('spec', 'ConsumerSpec')}(\n"
            + "".join(f"    {k}={v},\n" for k, v in args)
            + ")\n"
            + py_docstring(
                f"The {ch.name} tracker's consumer: group {group}, at-least-once, its inbox in "
                f"the {store} store with the flows table (one transaction per record)."
            )
            + "\n"
        )
        classes = [self.message(m) for m in messages]
        attr = tracker_attr(ch)
        self.exports += [flow_constant(ch), tracker_consumer_constant(ch), attr]
        tracker = (
            f"{attr} = {self.rt('saga.flows', 'FlowTracker')}(\n"
            f"    {flow_constant(ch)},\n"
            f"    {tracker_consumer_constant(ch)},\n"
            f"    messages={_tuple(classes)},\n"
            ")\n"
            + py_docstring(
                f"The {ch.name} flow tracker: `python -m eventgen.runtime run "
                f"{layout.reactions_module(self.project, self.ctx.name)}:{attr}`; a flow starts "
                f"with its {naming.message_type(ch.started_by)} (messages of the choreography "
                "seen before it are kept in a PENDING row, not listed, never an outcome); one "
                f"still RUNNING {ch.deadline_ms} ms after its start is flagged OVERDUE. List flows "
                f"with `python -m eventgen.runtime flows list "
                f"{layout.reactions_module(self.project, self.ctx.name)}:{attr}`."
            )
            + "\n"
        )
        return [flow, consumer, tracker]


def _tuple(items: list[str]) -> str:
    if not items:
        return "()"
    if len(items) == 1:
        return f"({items[0]},)"
    return "(\n" + "".join(f"        {i},\n" for i in items) + "    )"
