"""Every diagnostic code in the registry is produced by at least one golden case.

A focused unit test shows a check works on hand-built input; a golden case shows the code is
reachable from specs a user can write, through the real `eventgen build`, with its rendered
position and hint. A code no spec can produce is dead (remove it) or environment-only (listed
below with the reason and a test that produces it).
"""

from __future__ import annotations

import io
import json
import re
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from eventgen.cli import main
from eventgen.rules.listing import list_rules
from eventgen.spec.yamlload import MAX_FILE_BYTES
from tests.golden import CASES
from tests.interop.import_golden import CASES as IMPORT_CASES

# A finding as rendered: `file:line:col: error E0123: ...` (a code quoted in a hint is no proof).
_RENDERED = re.compile(r"\b(?:error|warning) ([EW][0-9]{4}):")

# Codes no golden case can hold, each with why and the test below that produces it.
NOT_IN_GOLDEN_CASES = {
    # A golden case would have to commit a 32 MiB spec file.
    "E0109": "test_spec_file_too_large_is_e0109",
}


def _registry() -> list[str]:
    listed = json.loads(list_rules("json"))["diagnostics"]
    return [str(d["code"]) for d in listed]


def _produced_by_golden_cases() -> dict[str, list[str]]:
    """code -> the golden cases whose expected transcript reports it (build cases, and the
    `eventgen import asyncapi` cases of tests/interop/import_cases)."""
    found: dict[str, list[str]] = {}
    transcripts = [*CASES.glob("*/expected.txt"), *IMPORT_CASES.glob("*/expected.txt")]
    for expected in sorted(transcripts):
        for code in sorted(set(_RENDERED.findall(expected.read_text(encoding="utf-8")))):
            found.setdefault(code, []).append(expected.parent.name)
    return found


def test_every_registered_code_is_produced_by_a_golden_case() -> None:
    produced = _produced_by_golden_cases()
    missing = [c for c in _registry() if c not in produced and c not in NOT_IN_GOLDEN_CASES]
    assert missing == [], (
        f"no tests/cases/*/expected.txt reports {', '.join(missing)}: add a golden case "
        "(`python -m tests.golden <case>`), or remove a code no spec can produce"
    )


def test_golden_cases_report_only_registered_codes() -> None:
    registered = set(_registry())
    unknown = sorted(c for c in _produced_by_golden_cases() if c not in registered)
    assert unknown == []


def test_exemptions_are_registered_and_still_needed() -> None:
    registered, produced = set(_registry()), _produced_by_golden_cases()
    assert sorted(c for c in NOT_IN_GOLDEN_CASES if c not in registered) == []
    # Once a golden case produces an exempt code, the exemption must go.
    assert sorted(c for c in NOT_IN_GOLDEN_CASES if c in produced) == []
    assert all(name in globals() for name in NOT_IN_GOLDEN_CASES.values())


def _build(specs: Path, out: Path) -> tuple[int, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        code = main(["build", str(specs), "-o", str(out), "--no-cache"])
    return code, stderr.getvalue()


def test_spec_file_too_large_is_e0109(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # findings are shown relative to the working directory
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "eventgen.yaml").write_text(
        "eventgen: 1\nproject: demo\npackage: demo_events\n", encoding="utf-8"
    )
    head = b"eventgen: 1\ncontext: orders\ndoc: "
    (specs / "orders.yaml").write_bytes(head + b"x" * (MAX_FILE_BYTES + 1 - len(head)))
    code, text = _build(specs, tmp_path / "out")
    assert code == 1
    assert (
        text.splitlines()[0]
        == f"specs/orders.yaml: error E0109: file larger than {MAX_FILE_BYTES} bytes"
    )
    assert not (tmp_path / "out").exists()
