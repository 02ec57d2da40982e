"""Every ```mermaid block of every generated docs page parses with the real Mermaid parser.

The example build's pages (catalog index and context pages, and the saga and choreography
pages of eventgen.emit.diagrams) go through scripts/mermaid-check; in CI a missing parser is
a failure, not a skip (helpers.require_mermaid).
"""

from __future__ import annotations

from pathlib import Path

from eventgen.emit.catalog import flows
from eventgen.pipeline import load_project
from tests.catalog.helpers import mermaid_blocks, mermaid_check
from tests.emit_services.helpers import EXAMPLE


def test_every_block_of_every_page_parses(example_build: Path) -> None:
    pages = sorted((example_build / "docs").rglob("*.md"))
    names = [p.relative_to(example_build / "docs").as_posix() for p in pages]
    assert "index.md" in names and "sagas/PlaceOrderSaga.md" in names
    assert sum(1 for n in names if n.startswith("contexts/")) == 4
    code, lines = mermaid_check(*pages)
    assert code == 0, "\n".join(lines)
    blocks = sum(mermaid_blocks(p.read_text("utf-8")) for p in pages)
    assert sum(1 for line in lines if line.endswith(": ok")) == blocks >= 7


def test_platform_flowchart_draws_every_flow() -> None:
    """One edge per (producer, topic) and (topic, consumer) pair, one per dead-letter route."""
    project, found = load_project(EXAMPLE)
    assert project is not None, found
    chart = flows.flowchart(project)
    edges = [line for line in chart.splitlines() if "-->" in line or "-.->" in line]
    produced = flows.produces(project)
    consumed = flows.consumes(project)
    dead = [c for c in consumed if c.consumer.dlq and project.topic(c.topic).dlq is not None]
    assert len(edges) == len(produced) + len(consumed) + len(dead)
    assert len([e for e in edges if "-.->" in e]) == len(dead) > 0
    topics = [
        line for line in chart.splitlines() if line.lstrip().startswith("t") and '(["' in line
    ]
    assert len(topics) == len(project.all_topics())
