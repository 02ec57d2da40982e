"""Nesting depth: the deepest supported project builds; anything deeper is E0514/E0310 at
validate time, never a RecursionError in build (validate said ok at 250 levels, and crashed
itself at 1,000)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from eventgen.ir.types import MAX_NESTING

EVENTGEN = Path(sys.executable).parent / "eventgen"
PROJECT = "eventgen: 1\nproject: demo\npackage: demo_events\noutput: ../out\n"


def _write(root: Path, chain: int, lists: int) -> Path:
    lines = ["eventgen: 1", "context: orders"] + (["types:"] if chain else [])
    for i in range(chain):
        inner = f"next: Level{i + 1}" if i < chain - 1 else "leaf: string"
        lines += [f"  Level{i}:", "    fields:", f"      {inner}"]
    lines += ["events:", "  OrderPlaced:", "    fields:", "      order_id: uuid"]
    if chain:
        lines.append("      chain: Level0")
    if lists:
        lines.append("      deep: " + "list[" * lists + "string" + "]" * lists)
    specs = root / "specs"
    specs.mkdir()
    (specs / "eventgen.yaml").write_text(PROJECT)
    (specs / "orders.yaml").write_text("\n".join(lines) + "\n")
    return specs


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(EVENTGEN), *args], capture_output=True, text=True, timeout=300, check=False
    )


def _codes(result: subprocess.CompletedProcess[str]) -> list[str]:
    return sorted(d["code"] for d in json.loads(result.stdout))


def test_the_deepest_supported_project_builds(tmp_path: Path) -> None:
    # The message counts as a level: 1 + 63 records, and 1 + 63 list levels.
    specs = _write(tmp_path, chain=MAX_NESTING - 1, lists=MAX_NESTING - 1)
    assert _run("validate", str(specs)).returncode == 0
    built = _run("build", str(specs), "--no-cache")
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "out" / "demo_events" / "orders.py").is_file()


@pytest.mark.parametrize(
    ("chain", "lists", "codes"),
    [
        (MAX_NESTING, 0, ["E0514"]),  # the message is one level too deep
        (MAX_NESTING + 1, 0, ["E0514", "E0514"]),  # the chain's top type and the message
        (1000, 0, ["E0514", "E0514"]),
        (0, MAX_NESTING + 1, ["E0310"]),
        (0, 1500, ["E0310"]),
    ],
)
def test_too_deep_is_refused_by_validate_and_build(
    tmp_path: Path, chain: int, lists: int, codes: list[str]
) -> None:
    specs = _write(tmp_path, chain=chain, lists=lists)
    validated = _run("validate", str(specs), "--format", "json")
    built = _run("build", str(specs), "--no-cache", "--format", "json")
    assert (validated.returncode, built.returncode) == (1, 1), built.stderr
    assert "Traceback" not in validated.stderr + built.stderr
    assert _codes(validated) == _codes(built) == codes
    assert not (tmp_path / "out").exists()
