"""Shared helpers of the catalog tests: Markdown structure and the Mermaid parser."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest

from eventgen.emit.catalog import markdown as md

ROOT = Path(__file__).resolve().parents[2]
CHECK = ROOT / "scripts" / "mermaid-check"
MODULES = Path(
    os.environ.get("EVENTGEN_MERMAID_MODULES") or ROOT / ".cache" / "node" / "node_modules"
)
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(`{3,})")


def require_mermaid() -> str:
    """The node binary, when Node and Mermaid are there; in CI their absence is a failure,
    elsewhere a skip (a developer without scripts/setup)."""
    node = shutil.which("node")
    entry = MODULES / "mermaid" / "dist" / "mermaid.core.mjs"
    if node is None or not entry.is_file():
        why = f"node={node}, Mermaid at {entry}: {entry.is_file()} (run scripts/setup)"
        if os.environ.get("CI") == "true":
            pytest.fail("the Mermaid parser is missing in CI: " + why)
        pytest.skip(why)
    return node


def mermaid_check(*files: Path) -> tuple[int, list[str]]:
    node = require_mermaid()
    done = subprocess.run(
        [node, str(CHECK), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return done.returncode, done.stdout.splitlines() + done.stderr.splitlines()


def mermaid_blocks(text: str) -> int:
    return len(re.findall(r"^```mermaid$", text, re.MULTILINE))


def outside_fences(text: str) -> list[str]:
    """The lines of a page that are not inside a fenced code block."""
    out, fence = [], ""
    for line in text.splitlines():
        match = FENCE.match(line)
        if fence:
            closing = line.strip()
            if closing and set(closing) == {"`"} and len(closing) >= len(fence):
                fence = ""
            continue
        if match:
            fence = match.group(1)
            continue
        out.append(line)
    return out


def split_row(line: str) -> list[str]:
    """The cells of a GFM table row: `\\x` is one escaped character, a bare `|` splits."""
    cells, current, i = [], "", 0
    body = line.strip()
    assert body.startswith("|") and body.endswith("|") and not body.endswith("\\|"), line
    body = body[1:-1]
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            current += body[i : i + 2]
            i += 2
            continue
        if ch == "|":
            cells.append(current)
            current = ""
        else:
            current += ch
        i += 1
    cells.append(current)
    return cells


def tables(text: str) -> list[list[list[str]]]:
    """Every table of a page (outside fences) as rows of cells, header first."""
    found: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in outside_fences(text) + [""]:
        if line.startswith("|"):
            current.append(split_row(line))
        elif current:
            found.append(current)
            current = []
    return found


def headings(text: str) -> list[str]:
    """Anchors of every heading, as GitHub makes them from the rendered text."""
    out = []
    for line in outside_fences(text):
        match = re.match(r"^#{1,6} (.*)$", line)
        if match:
            rendered = re.sub(r"\\(.)", r"\1", match.group(1))
            rendered = rendered.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
            out.append(md.anchor(rendered.replace("`", "")))
    return out


def links(page: Path) -> list[str]:
    return [
        m.group(1) for line in outside_fences(page.read_text("utf-8")) for m in LINK.finditer(line)
    ]


def broken_links(docs: Path) -> list[str]:
    """Every link of every page under `docs` whose file or heading does not exist."""
    broken = []
    for page in sorted(docs.rglob("*.md")):
        for target in links(page):
            assert "://" not in target, f"{page}: absolute link {target}"
            path, _, frag = unquote(target).partition("#")
            dest = (page.parent / path).resolve() if path else page
            if not dest.is_file():
                broken.append(f"{page}: {target} (no file)")
            elif frag and frag not in headings(dest.read_text("utf-8")):
                broken.append(f"{page}: {target} (no heading)")
    return broken
