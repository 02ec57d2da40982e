"""The Mermaid diagrams of sagas and choreographies, parsed by the real Mermaid parser.

scripts/mermaid-check runs Mermaid (with jsdom) under Node on every ```mermaid block; the
setup installs both into .cache/node. Blocks of the example build, of a build whose
choreography doc is hostile text, and of diagrams drawn from hand-made IR with hostile names
must all parse; a broken block must fail the check (so the check can fail at all). Skipped
only where Node is missing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from eventgen.emit import diagrams
from eventgen.emit.services.saga_table import saga_transitions
from eventgen.ir.model import (
    Choreography,
    ChoreographyReaction,
    Compensation,
    Project,
    Reaction,
    Saga,
    SagaStep,
)
from eventgen.pipeline import load_project
from tests.emit_services.helpers import EXAMPLE, build

ROOT = Path(__file__).resolve().parents[2]
CHECK = ROOT / "scripts" / "mermaid-check"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

HOSTILE = 'a "quoted" #hash; semi: colon {brace} <angle> %% pct | pipe `tick` --> arrow & amp\\'


def mermaid_check(*files: Path) -> tuple[int, list[str]]:
    assert NODE is not None
    done = subprocess.run(
        [NODE, str(CHECK), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "no Mermaid at" not in done.stderr, "run scripts/setup: " + done.stderr
    return done.returncode, done.stdout.splitlines()


def blocks(path: Path) -> int:
    return len(re.findall(r"^```mermaid$", path.read_text(encoding="utf-8"), re.MULTILINE))


def pages(out: Path) -> list[Path]:
    return sorted((out / "docs").rglob("*.md"))


def test_example_blocks_parse(example_build: Path) -> None:
    found = pages(example_build)
    names = {p.relative_to(example_build / "docs").as_posix() for p in found}
    assert {"sagas/PlaceOrderSaga.md", "choreographies/OrderFulfilment.md"} <= names
    code, lines = mermaid_check(*found)
    assert code == 0, "\n".join(lines)
    oks = [line for line in lines if line.endswith(": ok")]
    assert len(oks) == sum(blocks(p) for p in found) >= 2


def example_project() -> Project:
    project, found = load_project(EXAMPLE)
    assert project is not None, found
    return project


def test_saga_page_draws_every_transition_row(example_build: Path) -> None:
    project = example_project()
    saga = project.all_sagas()[0]
    text = (example_build / "docs" / "sagas" / f"{saga.name}.md").read_text(encoding="utf-8")
    table = text.split("## Transitions", 1)[1]
    rows = saga_transitions(saga)
    assert len([line for line in table.splitlines() if line.startswith("| RUNNING")]) + len(
        [line for line in table.splitlines() if line.startswith("| COMPENSATING")]
    ) == len(rows)
    diagram = diagrams.saga_diagram(saga)
    # one edge per row (two for a RETRY row with an exhausted target), plus the fixed moves
    per_row = sum(2 if r.target == "@retry" and r.exhausted else 1 for r in rows)
    edges = [line for line in diagram.splitlines() if " --> " in line]
    compensable = sum(1 for s in saga.steps if s.compensate is not None)
    assert len(edges) == per_row + 1 + 2 * compensable + 2 + 3


def test_hostile_doc_build_parses(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    shutil.copytree(EXAMPLE, specs)
    shipping = specs / "shipping.yaml"
    text = shipping.read_text(encoding="utf-8")
    old = "      After confirmation nobody orchestrates: shipping ships, inventory commits the stock.\n"
    assert old in text
    doc = HOSTILE.replace("\\", "\\\\").replace('"', '\\"')
    shipping.write_text(text.replace(old, f'      "{doc}"\n      ```mermaid\n'), encoding="utf-8")
    out = tmp_path / "out"
    build(specs, out)
    found = pages(out)
    assert found
    code, lines = mermaid_check(*found)
    assert code == 0, "\n".join(lines)


def _hostile_saga() -> Saga:
    def step(name: str, pivot: bool = False, undo: bool = True) -> SagaStep:
        return SagaStep(
            name=name,
            kind="send",
            command=f"ctx.Do{name}",
            success=(Reaction("ctx.Ok"),),
            failure=(Reaction("ctx.Bad"),),
            timeout_ms=1000,
            compensate=Compensation("ctx.Undo", (), ("ctx.Undone",)) if undo else None,
            pivot=pivot,
        )

    return Saga(
        qualified="ctx.Weird",
        context="ctx",
        name="Weird",
        started_by=f"ctx.{HOSTILE}",
        correlation="id",
        data=(),
        init=(),
        deadline_ms=None,
        steps=(step(HOSTILE), step("end --> [*]; x", pivot=True, undo=False), step("a-b")),
        compensation_retry=None,
        compensation_then="fail",
    )


def _hostile_choreography() -> Choreography:
    return Choreography(
        qualified="ctx.Weird",
        context="ctx",
        name="Weird",
        correlation="id",
        started_by=f"ctx.{HOSTILE}",
        reactions=(
            ChoreographyReaction(HOSTILE, f"ctx.{HOSTILE}", "x.Do;it", "x.Done:ok", "x.{Failed}"),
            ChoreographyReaction("y", "x.Done:ok", "y.<Go>", "y.End#", None),
        ),
        outcomes_success=("y.End#",),
        outcomes_failure=("x.{Failed}",),
        doc=HOSTILE,
    )


def test_hostile_names_parse(tmp_path: Path) -> None:
    project = example_project()
    page = tmp_path / "hostile.md"
    page.write_text(
        "```mermaid\n"
        + diagrams.saga_diagram(_hostile_saga())
        + "\n```\n\n```mermaid\n"
        + diagrams.choreography_diagram(project, _hostile_choreography())
        + "\n```\n",
        encoding="utf-8",
    )
    code, lines = mermaid_check(page)
    assert code == 0, "\n".join(lines) + "\n" + page.read_text(encoding="utf-8")
    assert len([line for line in lines if line.endswith(": ok")]) == 2


def test_label_leaves_no_special_character() -> None:
    escaped = diagrams.label(HOSTILE + "\n second line")
    assert not set('"#;:{}<>%|`&\\\n') & set(re.sub(r"#\d+;", "", escaped))
    assert "second line" in escaped


def test_a_broken_block_fails(tmp_path: Path) -> None:
    page = tmp_path / "broken.md"
    good = diagrams.saga_diagram(_hostile_saga())
    page.write_text(
        f"```mermaid\n{good}\n```\n\n```mermaid\nstateDiagram-v2\n  a --> : {{\n```\n",
        encoding="utf-8",
    )
    code, lines = mermaid_check(page)
    assert code == 1
    assert lines[0].endswith(": ok")
    assert ": error: " in lines[1]
