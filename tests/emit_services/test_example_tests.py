"""Generated example tests (`<output>/tests/test_<context>_examples.py`): they pass on the example
platform and on the v1 -> v2 -> v3 golden case (rename, add, remove, convert and a `handler`
hook), fail when an `expect:` is wrong, and are clean under ruff and mypy --strict."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from eventgen.emit.format import LINE_LENGTH, ruff_bin
from eventgen.ir.model import thaw
from eventgen.pipeline import load_project
from tests.emit_services.helpers import EXAMPLE, ROOT, build, run_mypy, write_specs
from tests.golden import CASES

CASE = CASES / "upcast_expect"

# The case's `handler` op names this hook; a user writes it beside the generated package.
HOOKS = """\
from typing import Any


def tidy_holder(payload: dict[str, Any]) -> dict[str, Any]:
    return {**payload, "holder": " ".join(str(payload["holder"]).split()).title()}
"""


def run_pytest(out: Path) -> subprocess.CompletedProcess[str]:
    """pytest on the generated tests of `out`, in a fresh interpreter, bounded in time."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", str(out / "tests")],
        cwd=out,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def outcomes(done: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """`test_name[id]` -> PASSED / FAILED / ... from pytest -v output."""
    found = re.findall(r"::(\S+) (PASSED|FAILED|ERROR|SKIPPED)", done.stdout)
    return dict(found)


def build_case(specs: Path, out: Path) -> Path:
    build(specs, out)
    (out / "account_hooks.py").write_text(HOOKS, encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def example_copy(example_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the shared example build: pytest, mypy and ruff leave caches where they run,
    and the shared build must stay as built (test_build compares it byte for byte)."""
    copy = tmp_path_factory.mktemp("example-copy") / "out"
    shutil.copytree(example_build, copy, symlinks=True)
    return copy


@pytest.fixture(scope="module")
def case_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_case(CASE / "specs", tmp_path_factory.mktemp("case") / "out")


def test_example_platform_tests_pass(example_copy: Path) -> None:
    project, found = load_project(EXAMPLE)
    assert project is not None, found
    examples = [(m, ex) for m in project.all_messages() for ex in m.examples]
    expects = [(m.name, ex.version) for m, ex in examples if ex.expect is not None]
    assert ("OrderPlaced", 1) in expects  # the v1 -> v2 golden example
    done = run_pytest(example_copy)
    assert done.returncode == 0, done.stdout + done.stderr
    results = outcomes(done)
    assert results["test_upcast_gives_expect[OrderPlaced-v1-0]"] == "PASSED"
    assert sum(1 for k in results if k.startswith("test_upcast_gives_expect[")) == len(expects)
    assert sum(1 for k in results if k.startswith("test_example_round_trips[")) == len(examples)
    assert set(results.values()) == {"PASSED"}


def test_every_context_with_examples_gets_a_module(example_build: Path) -> None:
    project, _ = load_project(EXAMPLE)
    assert project is not None
    with_examples = {c.name for c in project.contexts if any(m.examples for m in c.messages)}
    modules = {p.name for p in (example_build / "tests").glob("test_*_examples.py")}
    assert modules == {f"test_{name}_examples.py" for name in with_examples}
    assert (example_build / "tests" / "conftest.py").is_file()


def test_v1_v2_v3_case_passes(case_out: Path) -> None:
    done = run_pytest(case_out)
    assert done.returncode == 0, done.stdout + done.stderr
    assert outcomes(done) == {
        "test_upcast_gives_expect[AccountOpened-v1-0]": "PASSED",
        "test_upcast_gives_expect[AccountOpened-v2-1]": "PASSED",
        "test_example_round_trips[AccountOpened-v1-0]": "PASSED",
        "test_example_round_trips[AccountOpened-v2-1]": "PASSED",
        "test_example_round_trips[AccountOpened-v1-2]": "PASSED",
        "test_example_round_trips[AccountOpened-v3-3]": "PASSED",
    }


def test_the_case_output_is_the_golden_tree(case_out: Path) -> None:
    # The golden test compares every file; this pins the generated test module to the case.
    generated = (case_out / "tests" / "test_accounts_examples.py").read_bytes()
    assert generated == (CASE / "expected" / "tests" / "test_accounts_examples.py").read_bytes()


def test_the_case_expectations_go_through_every_op() -> None:
    project, found = load_project(CASE / "specs")
    assert project is not None, found
    message = project.message("accounts.AccountOpened")
    assert message.version == 3
    ops = {op.op for step in message.upcasts for op in step.ops}
    assert {"rename", "add", "remove", "convert", "handler"} <= ops
    expected = {ex.version for ex in message.examples if ex.expect is not None}
    assert expected == {1, 2}


@pytest.mark.parametrize(
    ("field", "wrong"),
    [
        ("holder", "Ada King Lovelace"),  # the handler's result
        ("currency", "GBP"),  # the added literal
        ("tier", "SILVER"),  # the map convert
        ("branch", "8"),  # the typed convert
        ("opened_at", '"2023-11-02T09:30:01Z"'),  # the copied field, a second off
    ],
)
def test_a_wrong_expect_fails(tmp_path: Path, field: str, wrong: str) -> None:
    """Mutate one value of v1's `expect:` (still a valid v3 payload): exactly that test fails."""
    specs = tmp_path / "specs"
    shutil.copytree(CASE / "specs", specs)
    text = (specs / "accounts.yaml").read_text(encoding="utf-8")
    project, _ = load_project(CASE / "specs")
    assert project is not None
    v1 = next(ex for ex in project.message("accounts.AccountOpened").examples if ex.version == 1)
    right = str(thaw(v1.expect)[field])
    # The first `expect:` block is v1's; change one of its lines.
    head, tail = text.split("        expect:\n", 1)
    line = f"          {field}: "
    start = tail.index(line)
    end = tail.index("\n", start)
    assert right in tail[start:end] and right != wrong.strip('"')
    tail = tail[:start] + line + wrong + tail[end:]
    (specs / "accounts.yaml").write_text(head + "        expect:\n" + tail, encoding="utf-8")
    out = build_case(specs, tmp_path / "out")
    done = run_pytest(out)
    assert done.returncode == 1, done.stdout + done.stderr
    results = outcomes(done)
    assert results.pop("test_upcast_gives_expect[AccountOpened-v1-0]") == "FAILED"
    assert set(results.values()) == {"PASSED"}  # the other example and the round trips
    assert wrong.strip('"') in done.stdout  # the assertion shows the expected bytes


def test_the_comparison_is_of_the_validated_model(tmp_path: Path) -> None:
    """`"12.5"` for a decimal(12,2) is the same model as `"12.50"`: compared as the validated
    model's JSON bytes, a spelling the model normalises is not a difference."""
    specs = tmp_path / "specs"
    shutil.copytree(CASE / "specs", specs)
    path = specs / "accounts.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count('balance: "12.50"') == 2  # payload and expect of the v1 example
    head, tail = text.split("        expect:\n", 1)
    path.write_text(
        head + "        expect:\n" + tail.replace('balance: "12.50"', 'balance: "12.5"', 1),
        encoding="utf-8",
    )
    done = run_pytest(build_case(specs, tmp_path / "out"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_broken_hook_fails_the_round_trip_too(tmp_path: Path) -> None:
    out = build_case(CASE / "specs", tmp_path / "out")
    hook = HOOKS.replace(".title()}", '.title(), "tier": "NONE"}')
    (out / "account_hooks.py").write_text(hook, encoding="utf-8")
    done = run_pytest(out)
    assert done.returncode == 1
    failed = {k for k, v in outcomes(done).items() if v == "FAILED"}
    assert "test_example_round_trips[AccountOpened-v1-2]" in failed
    assert "test_upcast_gives_expect[AccountOpened-v1-0]" in failed
    assert "test_example_round_trips[AccountOpened-v3-3]" not in failed  # no upcast there


def test_no_examples_no_tests_folder(tmp_path: Path) -> None:
    specs = write_specs(
        tmp_path / "specs",
        {
            "eventgen.yaml": "eventgen: 1\nproject: bare\npackage: bare_events\noutput: ../out\n",
            "things.yaml": "eventgen: 1\ncontext: things\nevents:\n"
            "  ThingMade:\n    fields: {thing_id: uuid}\n",
        },
    )
    build(specs, tmp_path / "out")
    assert not (tmp_path / "out" / "tests").exists()


def test_generated_tests_pass_ruff(case_out: Path, example_copy: Path) -> None:
    for out in (case_out, example_copy):
        argv = [
            ruff_bin(),
            "check",
            "--isolated",
            "--no-cache",
            f"--line-length={LINE_LENGTH}",
            "tests",
        ]
        done = subprocess.run(
            argv, check=False, cwd=out, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr
        argv = [
            ruff_bin(),
            "format",
            "--isolated",
            "--no-cache",
            f"--line-length={LINE_LENGTH}",
            "--check",
        ]
        done = subprocess.run(
            [*argv, "tests"], check=False, cwd=out, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("which", ["case", "example"])
def test_generated_tests_pass_mypy_strict(
    which: str, case_out: Path, example_copy: Path, tmp_path: Path
) -> None:
    out = case_out if which == "case" else example_copy
    done = run_mypy(out, "--cache-dir", str(tmp_path / "mypy"), "tests")
    assert done.returncode == 0, done.stdout + done.stderr


SMALL_PROJECT = "eventgen: 1\nproject: small\npackage: small_events\noutput: ../out\n"
SMALL_CONTEXT = """\
eventgen: 1
context: things
events:
  ThingMade:
    version: 2
    fields:
      thing_id: uuid
      size: {type: int, default: 1}
      label: string
    upcast:
      - from: 1
        ops:
          - rename: {name: label}
    examples:
      - version: 1
        payload: {thing_id: "5b0f3a7e-0f0c-4d2b-9a53-4b7d3c2e1a90", name: cup}
        expect: {thing_id: "5b0f3a7e-0f0c-4d2b-9a53-4b7d3c2e1a90", label: %s}
      - version: 2                 # at the current version `expect` is the payload, validated
        payload: {thing_id: "5b0f3a7e-0f0c-4d2b-9a53-4b7d3c2e1a90", label: cup, size: 1}
        expect: {thing_id: "5b0f3a7e-0f0c-4d2b-9a53-4b7d3c2e1a90", label: cup}
"""


@pytest.mark.parametrize(("label", "passes"), [("cup", True), ("mug", False)])
def test_defaults_left_out_of_expect(tmp_path: Path, label: str, passes: bool) -> None:
    # `expect` may leave out fields with defaults: both sides are the validated model.
    specs = write_specs(
        tmp_path / "specs",
        {"eventgen.yaml": SMALL_PROJECT, "things.yaml": SMALL_CONTEXT % label},
    )
    out = tmp_path / "out"
    build(specs, out)
    results = outcomes(done := run_pytest(out))
    assert results["test_upcast_gives_expect[ThingMade-v2-1]"] == "PASSED", done.stdout
    v1 = results["test_upcast_gives_expect[ThingMade-v1-0]"]
    assert v1 == ("PASSED" if passes else "FAILED"), done.stdout
    assert done.returncode == (0 if passes else 1)


def test_an_expect_that_does_not_validate_stops_the_build(tmp_path: Path) -> None:
    specs = write_specs(
        tmp_path / "specs",
        {"eventgen.yaml": SMALL_PROJECT, "things.yaml": SMALL_CONTEXT % "{nested: 1}"},
    )
    _, found = load_project(specs)
    assert [(d.code, d.loc.line) for d in found if d.code.startswith("E")] == [("E0709", 17)]
