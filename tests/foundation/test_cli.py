"""The CLI contract: exit codes, output formats, listing commands, bad input as diagnostics."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from eventgen import __version__
from eventgen.cli import main
from eventgen.render import display_path

REPO = Path(__file__).resolve().parents[2]
CASES = REPO / "tests" / "cases"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eventgen", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_version_and_help() -> None:
    result = run("--version")
    assert result.returncode == 0 and __version__ in result.stdout
    assert run("--help").returncode == 0


def test_usage_error_exits_2(tmp_path: Path) -> None:
    assert run("validate", str(tmp_path / "missing")).returncode == 2
    assert run("frobnicate").returncode == 2


def test_validate_example_ok() -> None:
    assert main(["validate", str(REPO / "specs")]) == 0


def test_findings_exit_1_in_every_format(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(CASES / "dangling_refs" / "specs")  # files relative to the cwd
    specs = str(CASES / "dangling_refs" / "specs")
    assert main(["validate", specs, "--format", "json"]) == 1
    payload = json.loads(capsys.readouterr().out)
    assert {"E0301", "E0302", "E0303"} <= {d["code"] for d in payload}
    assert all(d["line"] > 0 and d["col"] > 0 and d["file"] == "orders.yaml" for d in payload)
    assert main(["validate", specs, "--format", "github"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(line.startswith("::error file=orders.yaml,line=") for line in lines)
    assert (
        "title=E0302::unknown topic `order-event` (hint: did you mean `order-events`?)" in lines[0]
    )


def test_diagnostics_are_sorted_and_complete() -> None:
    result = run("validate", str(CASES / "flows" / "specs"))
    assert result.returncode == 1
    shown = display_path(CASES / "flows" / "specs" / "orders.yaml")  # as the cwd sees it
    positions = [
        tuple(map(int, line.split(":")[1:3]))
        for line in result.stderr.splitlines()
        if line.startswith(f"{shown}:")
    ]
    assert positions == sorted(positions) and len(positions) > 15


def test_schema_command_prints_valid_2020_12_schema() -> None:
    from jsonschema import Draft202012Validator

    result = run("schema")
    schema = json.loads(result.stdout)
    Draft202012Validator.check_schema(schema)
    published = json.loads((REPO / "docs" / "eventgen-spec.schema.json").read_text())
    assert published == schema, "regenerate docs/eventgen-spec.schema.json with `eventgen schema`"


def test_schema_accepts_every_example_file() -> None:
    from jsonschema import Draft202012Validator

    from eventgen.spec.yamlload import load_yaml

    # Editors read YAML 1.2 (as we do): PyYAML's 1.1 loader would turn the key `on` into True.
    validator = Draft202012Validator(json.loads(run("schema").stdout))
    for path in sorted((REPO / "specs").glob("*.yaml")):
        root, _ = load_yaml(path.read_bytes(), path.name)
        errors = list(validator.iter_errors(root))
        assert not errors, f"{path.name}: {errors[0].message}"


def test_rules_lists_every_code_used_in_cases() -> None:
    from eventgen.rules.listing import list_rules

    listed = {r["code"] for r in json.loads(list_rules("json"))["diagnostics"]}
    used = set()
    for expected in CASES.glob("*/expected.txt"):
        for line in expected.read_text().splitlines():
            parts = line.split(": ")
            if len(parts) > 2 and parts[1].split(" ")[-1][:1] in "EW":
                used.add(parts[1].split(" ")[-1])
    assert used and used <= listed, used - listed
    assert run("rules").returncode == 0


HOSTILE = "import os; os.system('rm -rf /')"


def _code_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node that would run: imports and calls (string constants are data)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom | ast.Call):
            yield node


def test_spec_strings_never_reach_code_raw(tmp_path: Path) -> None:
    """A doc that tries to close a docstring and run `os.system` stays a string in every module."""
    out = tmp_path / "out"
    assert main(["build", str(CASES / "hostile_docs" / "specs"), "-o", str(out)]) == 0
    modules = sorted(out.rglob("*.py"))
    carriers = []
    for py in modules:
        tree = ast.parse(py.read_text(encoding="utf-8"), str(py))
        imported = {
            alias.name.split(".")[0]
            for node in _code_nodes(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        }
        assert "os" not in imported, py
        calls = [ast.unparse(n.func) for n in _code_nodes(tree) if isinstance(n, ast.Call)]
        assert not [c for c in calls if c.endswith("system")], (py, calls)
        strings = [
            n.value
            for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str)
        ]
        if any(HOSTILE in value for value in strings):
            carriers.append(py.relative_to(out).as_posix())
    # The payload did reach the output, intact, as data: the docstring and the Avro schema.
    assert carriers == ["demo_events/_avro/orders.py", "demo_events/orders.py"], carriers


def test_large_spec_finishes(tmp_path: Path) -> None:
    """A 5 MB spec is read and validated in bounded time (pytest-timeout bounds the test)."""
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "eventgen.yaml").write_text("eventgen: 1\nproject: big\npackage: big_events\n")
    body = ["eventgen: 1", "context: big", "topics:", "  t: {}", "events:"]
    i = 0
    while sum(len(line) + 1 for line in body) < 5 * 1024 * 1024:
        body.append(
            f'  Thing{i}Happened:\n    topic: t\n    key: id\n    doc: "event number {i}"\n'
            f"    fields: {{id: uuid, name: string, amount: {{type: decimal, precision: 12, scale: 2}}}}"
        )
        i += 1
    (specs / "big.yaml").write_text("\n".join(body) + "\n")
    result = run("validate", str(specs))
    assert result.returncode == 0, result.stderr[-2000:]


def test_diagnostics_doc_is_generated_from_the_registry() -> None:
    from eventgen.rules.listing import list_rules

    doc = (REPO / "docs" / "diagnostics.md").read_text(encoding="utf-8")
    assert doc == list_rules("markdown"), (
        "regenerate: eventgen rules --format markdown > docs/diagnostics.md"
    )
