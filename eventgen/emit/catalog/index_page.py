"""`docs/index.md`: the platform at a glance, with links to every catalog page."""

from __future__ import annotations

from eventgen.emit import layout
from eventgen.emit.catalog import flows
from eventgen.emit.catalog import markdown as md
from eventgen.ir.model import Project

CONTEXT_HEADER = (
    "context",
    "doc",
    "events",
    "commands",
    "queries",
    "types",
    "topics",
    "consumers",
)


def _first_line(doc: str | None) -> str:
    """The first sentence-line of a doc: the index has one line per context."""
    if not doc:
        return "-"
    return md.doc(doc.strip().split("\n\n", 1)[0]) or "-"


def index_page(project: Project) -> str:
    rows = []
    for ctx in project.contexts:
        page = layout.catalog_context_path(ctx.name).removeprefix("docs/")
        count = {
            k: sum(1 for m in ctx.messages if m.kind == k) for k in ("event", "command", "query")
        }
        rows.append(
            [
                md.link(ctx.name, page),
                _first_line(ctx.doc),
                str(count["event"]),
                str(count["command"]),
                str(count["query"]),
                str(len(ctx.types)),
                str(len(ctx.topics)),
                str(len(ctx.consumers)),
            ]
        )
    out = [
        f"# Event catalog: {md.text(project.name)}",
        "",
        f"<!-- {layout.header(project.spec_files)} -->",
        "",
        (
            f"{len(project.contexts)} contexts, {len(project.all_messages())} messages, "
            f"{len(project.all_topics())} topics; serialization "
            f"{md.text(project.defaults.serialization)}, default compatibility "
            f"{md.text(project.defaults.compatibility)}."
        ),
        "",
        "## Contexts",
        "",
        *md.table(CONTEXT_HEADER, rows),
        "",
        "## Flows",
        "",
        (
            "Producers (contexts, and senders outside the spec) -> topics -> consumers "
            f"(context: name, group); an edge names its messages when there are at most "
            f"{flows.MAX_LABELLED}. Dashed edges go to dead-letter topics."
        ),
        "",
        "```mermaid",
        flows.flowchart(project),
        "```",
        "",
    ]
    sagas = [(s.name, layout.saga_doc_path(s.name)) for s in project.all_sagas()]
    chors = [(c.name, layout.choreography_doc_path(c.name)) for c in project.all_choreographies()]
    out += ["## Sagas and choreographies", ""]
    items = [f"- saga {md.link(n, p.removeprefix('docs/'))}" for n, p in sagas]
    items += [f"- choreography {md.link(n, p.removeprefix('docs/'))}" for n, p in chors]
    out += (items or ["None."]) + [""]
    out += [
        "## Schema history",
        "",
        "Every registered version of every subject: "
        + md.link("schema history", layout.CATALOG_HISTORY.removeprefix("docs/"))
        + ".",
    ]
    return "\n".join(out) + "\n"
