"""`docs/sagas/<Saga>.md` and `docs/choreographies/<Choreography>.md`: Mermaid diagrams.

A saga's page draws its state machine as a `stateDiagram-v2` from the very rows the saga
module writes as its TRANSITIONS (`saga_table.saga_transitions`: one authority), one edge per
row, plus the fixed moves of compensation (COMPENSATE starts at the latest compensable step,
NEXT_COMPENSATION goes to the one before it, or COMPENSATED). A choreography's page draws a
`sequenceDiagram`: participants are the services, an arrow per event a reaction reacts to and
per command it does, notes for the outcomes.

Every label goes through `label()`: characters other than letters, digits and a few plain
punctuation marks become Mermaid entity codes (`#35;` for `#`), so free text (docs) and odd
names never break the diagram's syntax. The tests parse each block with the real Mermaid
parser (scripts/mermaid-check).
"""

from __future__ import annotations

import re

from eventgen.emit import layout
from eventgen.emit.files import Files, GeneratedFile
from eventgen.emit.services import saga_table
from eventgen.emit.services.saga_table import TransitionRow, saga_transitions
from eventgen.ir import naming
from eventgen.ir.model import Choreography, Context, Project, Saga

KIND = "docs"

_PLAIN = re.compile(r"[A-Za-z0-9 _.,/()']")


def label(text: str) -> str:
    """`text` on one line, safe inside any Mermaid label: whitespace runs become one space,
    every other character than `[A-Za-z0-9 _.,/()']` its entity code `#<decimal>;`."""
    flat = " ".join(text.split())
    return "".join(ch if _PLAIN.fullmatch(ch) else f"#{ord(ch)};" for ch in flat)


def cell(text: str) -> str:
    """A Markdown table cell: one line, `|` escaped."""
    return " ".join(text.split()).replace("|", "\\|") or " "


def prose(text: str) -> str:
    """A spec doc as Markdown text that cannot end the page's structure: no line opens a
    code fence (a doc's own ```mermaid would start a block of its own) and no `<` opens HTML
    (an unclosed `<!--` would hide the rest of the page)."""
    out = []
    for line in text.strip().splitlines():
        stripped = line.lstrip()
        if stripped.startswith(("```", "~~~")):
            line = line[: len(line) - len(stripped)] + "\\" + stripped
        out.append(line.replace("<", "&lt;"))
    return "\n".join(out)


def _short(qualified: str) -> str:
    return naming.split_qualified(qualified)[1] if "." in qualified else qualified


def _ms(ms: int | None) -> str:
    if ms is None:
        return "none"
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def _sources(project: Project) -> tuple[str, ...]:
    """A page names messages of other contexts: it derives from every spec file."""
    return tuple(sorted(project.spec_files))


def emit(project: Project) -> Files:
    files: Files = {}
    for ctx in project.contexts:
        for saga in ctx.sagas:
            path = layout.saga_doc_path(saga.name)
            text = saga_page(project, ctx, saga)
            files[path] = GeneratedFile(path, text.encode(), KIND, _sources(project))
        for ch in ctx.choreographies:
            path = layout.choreography_doc_path(ch.name)
            text = choreography_page(project, ch)
            files[path] = GeneratedFile(path, text.encode(), KIND, _sources(project))
    return files


# ---------------------------------------------------------------------- sagas

_FINAL = {
    saga_table.COMPLETED: ("Completed", "COMPLETED"),
    saga_table.STUCK: ("Stuck", "STUCK (parked for an operator)"),
    saga_table.FAILED: ("Failed", "FAILED (compensation gave up)"),
}


def saga_diagram(saga: Saga) -> str:
    """The `stateDiagram-v2` source of `saga` (without the fence)."""
    rows = saga_transitions(saga)
    index = {step.name: i for i, step in enumerate(saga.steps)}
    lines = ["stateDiagram-v2", "  direction TB"]
    used: set[str] = set()

    def node(status: str, step: str) -> str:
        return f"{'run' if status == 'RUNNING' else 'undo'}{index[step]}"

    states: dict[str, str] = {}
    for i, step in enumerate(saga.steps):
        what = _short(step.command)
        pivot = " (pivot)" if step.pivot else ""
        states[f"run{i}"] = f"{step.name}{pivot}: {step.kind} {what}"
        if step.compensate is not None:
            states[f"undo{i}"] = f"compensate {step.name}: {_short(step.compensate.command)}"
    states["Compensate"] = "COMPENSATING: undo the succeeded steps, latest first"
    states["NextCompensation"] = "next compensation"
    states["Compensated"] = "COMPENSATED"
    for name, text in _FINAL.values():
        states[name] = text
    edges: list[str] = []
    if saga.steps:
        edges.append(f"  [*] --> run0: {label(_short(saga.started_by))}")
    for row in rows:
        source = node(row.status, row.step)
        edges.extend(_row_edges(row, source, index))
    compensable = [i for i, s in enumerate(saga.steps) if s.compensate is not None]
    for i in reversed(compensable):
        edges.append(f"  Compensate --> undo{i}: {label(saga.steps[i].name + ' succeeded')}")
        edges.append(f"  NextCompensation --> undo{i}: {label('an earlier one to undo')}")
    edges.append(f"  Compensate --> Compensated: {label('nothing to undo')}")
    edges.append(f"  NextCompensation --> Compensated: {label('none left')}")
    edges.append("  Completed --> [*]")
    edges.append("  Compensated --> [*]")
    edges.append("  Failed --> [*]")
    for edge in edges:
        for part in re.findall(r"\b(run\d+|undo\d+|[A-Z][A-Za-z]+)\b", edge.split(":")[0]):
            used.add(part)
    for name, text in states.items():
        if name in used:
            lines.append(f'  state "{label(text)}" as {name}')
    lines += edges
    return "\n".join(lines)


def _row_edges(row: TransitionRow, source: str, index: dict[str, int]) -> list[str]:
    on = {
        saga_table.TIMEOUT: "timeout",
        saga_table.DONE: "done",
        saga_table.REJECTED: "rejected",
    }.get(row.on, _short(row.on))
    if row.saves:
        on += " (save " + ", ".join(t for t, _ in row.saves) + ")"

    def where(target: str) -> str:
        if target in index:
            return f"run{index[target]}"
        if target == saga_table.COMPENSATE:
            return "Compensate"
        if target == saga_table.NEXT_COMPENSATION:
            return "NextCompensation"
        return _FINAL.get(target, (target.strip("@").title(), ""))[0]

    if row.target == saga_table.RETRY:
        out = [f"  {source} --> {source}: {label(on + ': retry')}"]
        if row.exhausted is not None:
            out.append(
                f"  {source} --> {where(row.exhausted)}: {label(on + ', attempts exhausted')}"
            )
        return out
    return [f"  {source} --> {where(row.target)}: {label(on)}"]


def saga_page(project: Project, ctx: Context, saga: Saga) -> str:
    out = [
        f"# Saga {saga.name}",
        "",
        f"<!-- {layout.header(_sources(project))} -->",
        "",
        (
            f"Context `{ctx.name}`, started by `{saga.started_by}`, correlation `{saga.correlation}`, "
            f"deadline {_ms(saga.deadline_ms)}. Runs as "
            f"`{layout.sagas_module(project, ctx.name)}:{layout.saga_attr(saga.name)}`."
        ),
        "",
        *([prose(saga.doc), ""] if saga.doc else []),
        "```mermaid",
        saga_diagram(saga),
        "```",
        "",
        "## Steps",
        "",
        "| # | step | kind | command | success | failure | timeout | compensation |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i, step in enumerate(saga.steps):
        comp = "none"
        if step.compensate is not None:
            expect = ", ".join(step.compensate.expect_success) or "none"
            comp = f"{step.compensate.command} (until {expect})"
        name = step.name + (" (pivot)" if step.pivot else "")
        out.append(
            "| "
            + " | ".join(
                cell(v)
                for v in (
                    str(i + 1),
                    name,
                    step.kind,
                    step.command,
                    ", ".join(r.message for r in step.success) or "-",
                    ", ".join(r.message for r in step.failure) or "-",
                    _ms(step.timeout_ms),
                    comp,
                )
            )
            + " |"
        )
    out += [
        "",
        "## Transitions",
        "",
        "The rows of the generated TRANSITIONS table, in its order.",
        "",
        "| status | step | on | outcome | target | exhausted |",
        "|---|---|---|---|---|---|",
    ]
    for row in saga_transitions(saga):
        out.append(
            "| "
            + " | ".join(
                cell(v)
                for v in (
                    row.status,
                    row.step,
                    row.on,
                    row.outcome,
                    row.target,
                    row.exhausted or "-",
                )
            )
            + " |"
        )
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------- choreographies


def choreography_diagram(project: Project, ch: Choreography) -> str:
    """The `sequenceDiagram` source of `ch` (without the fence)."""
    services: list[str] = []

    def participant(context: str) -> str:
        if context not in services:
            services.append(context)
        return f"p{services.index(context)}"

    def owner(message: str) -> str:
        found = project.messages_by_name.get(message)
        return found.context if found is not None else naming.split_qualified(message)[0]

    body: list[str] = []
    start = participant(owner(ch.started_by))
    body.append(f"  Note over {start}: {label('starts with ' + _short(ch.started_by))}")
    success = set(ch.outcomes_success)
    failure = set(ch.outcomes_failure)
    for r in ch.reactions:
        source = participant(owner(r.on))
        target = participant(r.service)
        body.append(f"  {source}-){target}: {label(_short(r.on))}")
        body.append(f"  {target}->>{target}: {label('do ' + _short(r.do))}")
        for kind, emitted in (("success", r.emits_success), ("failure", r.emits_failure)):
            if emitted is None:
                continue
            if emitted in success or emitted in failure:
                what = "success" if emitted in success else "failure"
                text = f"{what} outcome: {_short(emitted)}"
                body.append(f"  Note over {target}: {label(text)}")
            else:
                text = f"emits {_short(emitted)} ({kind})"
                body.append(f"  Note right of {target}: {label(text)}")
    head = ["sequenceDiagram"]
    for i, service in enumerate(services):
        head.append(f"  participant p{i} as {label(service)}")
    return "\n".join(head + body)


def choreography_page(project: Project, ch: Choreography) -> str:
    ctx = project.context(ch.context)
    module = layout.reactions_module(project, ch.context)
    tracker = f"{naming.snake(ch.name)}_tracker"
    out = [f"# Choreography {ch.name}", ""]
    out += [f"<!-- {layout.header(_sources(project))} -->", ""]
    if ch.doc:
        out += [prose(ch.doc), ""]
    out += [
        (
            f"Context `{ch.context}`, started by `{ch.started_by}`, correlation "
            f"`{ch.correlation}`, deadline {_ms(ch.deadline_ms)} (then a flow still running is "
            f"flagged OVERDUE). Tracker: `{module}:{tracker}`, table `{layout.flows_table(ctx)}`."
        ),
        "",
        "```mermaid",
        choreography_diagram(project, ch),
        "```",
        "",
        "## Reactions",
        "",
        "| service | on | does | emits on success | emits on failure |",
        "|---|---|---|---|---|",
    ]
    for r in ch.reactions:
        out.append(
            "| "
            + " | ".join(
                cell(v)
                for v in (r.service, r.on, r.do, r.emits_success or "-", r.emits_failure or "-")
            )
            + " |"
        )
    out += [
        "",
        "## Outcomes",
        "",
        f"- success: {', '.join(f'`{m}`' for m in ch.outcomes_success) or 'none'}",
        f"- failure: {', '.join(f'`{m}`' for m in ch.outcomes_failure) or 'none'}",
    ]
    return "\n".join(out) + "\n"
