"""The catalog of the example platform: pages, links, field tables against the IR, history."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from eventgen.emit import layout
from eventgen.emit.catalog import markdown as md
from eventgen.emit.catalog.messages import FIELD_HEADER, heading
from eventgen.ir.model import Project
from eventgen.pipeline import load_project
from tests.catalog.helpers import ROOT, broken_links, headings, tables
from tests.emit_services.helpers import EXAMPLE, build


def example_project() -> Project:
    project, found = load_project(EXAMPLE)
    assert project is not None, found
    return project


def test_every_catalog_page_exists(example_build: Path) -> None:
    project = example_project()
    claimed = [c.path for c in layout.claims(project) if c.emitter == "catalog"]
    claimed.append(layout.CATALOG_HISTORY)
    assert len(claimed) == len(project.contexts) + 2
    for path in claimed:
        text = (example_build / path).read_text("utf-8")
        assert text.startswith("# ") and text.endswith("\n"), path


def test_links_resolve(example_build: Path) -> None:
    docs = example_build / "docs"
    assert broken_links(docs) == []
    index = (docs / "index.md").read_text("utf-8")
    for ctx in example_project().contexts:
        assert f"](contexts/{ctx.name}.md)" in index


def _section(text: str, title: str) -> str:
    start = text.index(f"\n### {title}\n")
    end = text.find("\n### ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_field_tables_match_the_ir(example_build: Path) -> None:
    project = example_project()
    checked = 0
    for ctx in project.contexts:
        text = (example_build / layout.catalog_context_path(ctx.name)).read_text("utf-8")
        for item in [*ctx.messages, *ctx.types]:
            kind = getattr(item, "kind", None) or type(item).__name__.removesuffix("Type")
            title = md.text(heading(kind, item.name))
            assert md.anchor(heading(kind, item.name)) in headings(text)
            fields = getattr(item, "fields", None)
            if fields is None:
                continue  # an enum: symbols, no table
            section = _section(text, title)
            found = tables(section)
            if not fields:
                assert "No fields." in section
                continue
            rows = found[0]
            assert [c.strip() for c in rows[0]] == list(FIELD_HEADER)
            body = rows[2:]
            assert len(body) == len(fields), (item.qualified, len(body), len(fields))
            assert [r[0].strip() for r in body] == [f"`{f.name}`" for f in fields]
            deprecated = [r for r in body if r[-2].strip() == "**yes**"]
            assert len(deprecated) == sum(1 for f in fields if f.deprecated)
            checked += 1
    assert checked == sum(
        1 for c in project.contexts for i in [*c.messages, *c.types] if getattr(i, "fields", ())
    )
    assert checked > 40


def test_every_table_has_a_constant_cell_count(example_build: Path) -> None:
    for page in sorted((example_build / "docs").rglob("*.md")):
        for table in tables(page.read_text("utf-8")):
            assert len({len(row) for row in table}) == 1, (page, table[0])


def test_versions_and_upcasts_are_listed(example_build: Path) -> None:
    project = example_project()
    placed = project.message("orders.OrderPlaced")
    text = (example_build / "docs/contexts/orders.md").read_text("utf-8")
    section = _section(text, "Event OrderPlaced")
    assert len(placed.versions) == 2
    assert section.count("\n- v") == len(placed.versions)
    assert section.count("- upcast v") == len(placed.upcasts) == 1
    assert section.count("\n  - `") == sum(len(u.ops) for u in placed.upcasts)
    assert section.count("```json") == len(placed.examples) + sum(
        1 for e in placed.examples if e.expect is not None
    )


def test_output_is_deterministic(tmp_path: Path, example_build: Path) -> None:
    """A second build under another hash seed and working directory gives the same pages."""
    out = tmp_path / "again"
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "eventgen", "build", str(EXAMPLE), "-o", str(out), "--no-cache"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    first = sorted((example_build / "docs").rglob("*.md"))
    second = sorted((out / "docs").rglob("*.md"))
    assert [p.relative_to(example_build) for p in first] == [p.relative_to(out) for p in second]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a


def test_history_page_shows_what_changed(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    shutil.copytree(EXAMPLE, specs)
    out = tmp_path / "out"
    build(specs, out)
    orders = specs / "orders.yaml"
    text = orders.read_text("utf-8")
    old = "      reason: {type: string, min_length: 1, max_length: 500}\n      rejected_at: timestamp\n"
    assert text.count(old) == 1
    new = old.replace("      reason: {type: string, min_length: 1, max_length: 500}\n", "")
    new += "      rejected_by: {type: string?, doc: who}\n"
    orders.write_text(text.replace(old, new), encoding="utf-8")
    build(specs, out)
    page = (out / "docs/schema-history.md").read_text("utf-8")
    assert (out / "schemas-history/orders.order-events-value/2.avsc").is_file()
    section = page.split("## orders.order-events-value\n", 1)[1].split("\n## ", 1)[0]
    assert "Compatibility: BACKWARD." in section
    rows = tables(section)[0][2:]
    assert [r[0].strip() for r in rows] == ["1", "2"]
    assert "first version" in rows[0][2]
    change = rows[1][2]
    assert "added field `rejected_by` of `shop.orders.OrderRejected`" in change
    assert "removed field `reason` of `shop.orders.OrderRejected`" in change
    assert change.count("; ") == 1  # exactly those two changes
    assert broken_links(out / "docs") == []
