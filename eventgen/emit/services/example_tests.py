"""Golden tests from the spec's `examples:` entries: `<output>/tests/test_<context>_examples.py`.

Every example of a message becomes one parametrized case; the checks themselves are
`eventgen.runtime.testing.examples` (one implementation for every generated module). An
example is read as the runtime reads a stored or consumed record of that version: `upcast_for`
(the generated upcaster chain, user `handler` ops included) and `lift` (strict JSON-mode
validation as the current model). Then:

- an example with `expect:` (the payload at the current version) must give exactly it: both
  sides as the validated model's `model_dump_json()` bytes (so `"19.0"` and `"19.00"`, or a
  timestamp written with `+00:00`, compare by the model's canonical form, not by spelling);
- every example, with or without `expect`, round-trips through the Avro and JSON codecs
  (`encode_avro`/`decode_avro`, `encode_json`/`decode_json`) to the same bytes.

`<output>/tests/conftest.py` puts the output directory on `sys.path`, so
`pytest <output>/tests` runs from anywhere. The modules import only the generated package,
`eventgen.runtime` and pytest; they pass `ruff check` and `mypy --strict`.
"""

from __future__ import annotations

from eventgen.emit import layout
from eventgen.emit.files import Files, GeneratedFile, context_sources, project_sources
from eventgen.emit.format import format_sources
from eventgen.emit.pymodels.literals import py_comment, py_docstring, py_literal, py_str
from eventgen.ir import naming
from eventgen.ir.model import Context, Project, thaw

KIND = "python"

CONFTEST_DOC = (
    "Makes the generated package importable for the example tests: the output directory "
    "(this folder's parent) goes first on sys.path, wherever pytest is started."
)

CONFTEST_BODY = """
from __future__ import annotations

import sys
from pathlib import Path

OUTPUT = str(Path(__file__).resolve().parent.parent)
if OUTPUT not in sys.path:
    sys.path.insert(0, OUTPUT)
"""

# The tests, the same for every context (the checks are eventgen.runtime.testing.examples);
# the EXAMPLES table above them varies.
# Only in modules where some example has `expect:` (an empty parameter set is a skip).
EXPECT_TEST = """

@pytest.mark.parametrize(
    ("cls", "version", "payload", "expect"),
    [pytest.param(*case[1:], id=case[0]) for case in EXAMPLES if case[4] is not None],
)
def test_upcast_gives_expect(
    cls: type[Message], version: int, payload: dict[str, Any], expect: dict[str, Any] | None
) -> None:
    assert expect is not None
    check_upcast(cls, version, payload, expect)
"""

ROUND_TRIP_TEST = """

@pytest.mark.parametrize(
    ("cls", "version", "payload"),
    [pytest.param(*case[1:4], id=case[0]) for case in EXAMPLES],
)
def test_example_round_trips(cls: type[Message], version: int, payload: dict[str, Any]) -> None:
    check_round_trip(cls, version, payload)
"""


def has_example_tests(project: Project) -> bool:
    return any(layout.has_example_tests(ctx) for ctx in project.contexts)


def emit(project: Project) -> Files:
    sources: dict[str, str] = {}
    origin: dict[str, tuple[str, ...]] = {}
    for ctx in project.contexts:
        if layout.has_example_tests(ctx):
            path = layout.example_tests_path(ctx.name)
            sources[path] = example_tests_source(project, ctx)
            origin[path] = context_sources(project, ctx)
    if sources:
        path = layout.example_tests_conftest_path()
        sources[path] = (
            py_comment(layout.header(project.spec_files))
            + "\n"
            + py_docstring(CONFTEST_DOC)
            + "\n"
            + CONFTEST_BODY
        )
        origin[path] = project_sources(project)
    formatted = format_sources(sources)
    return {
        path: GeneratedFile(path, text.encode(), KIND, origin[path])
        for path, text in formatted.items()
    }


def example_tests_source(project: Project, ctx: Context) -> str:
    """The test module of one context: the examples as a table, then the two tests."""
    module = naming.py_module(ctx.name)
    rows: list[str] = []
    for m in sorted(ctx.messages, key=lambda m: m.name):
        for index, ex in enumerate(m.examples):
            case_id = f"{m.name}-v{ex.version}-{index}"
            expect = "None" if ex.expect is None else py_literal(thaw(ex.expect))
            rows.append(
                f"    ({py_str(case_id)}, {module}.{naming.py_class(m.name)}, {ex.version},\n"
                f"     {py_literal(thaw(ex.payload))},\n"
                f"     {expect}),"
            )
    doc = (
        f"Golden tests of the `examples:` of context `{ctx.name}`: each example is upcast from "
        "its version as the runtime reads it, validated as the current model, compared with "
        "its `expect:` payload byte for byte (model_dump_json), and round-tripped through the "
        "Avro and JSON codecs."
    )
    expects = any(ex.expect is not None for m in ctx.messages for ex in m.examples)
    checks = "check_round_trip, check_upcast" if expects else "check_round_trip"
    head = "\n".join(
        [
            py_comment(layout.header(context_sources(project, ctx))),
            py_docstring(doc),
            "",
            "from __future__ import annotations",
            "",
            "from typing import Any",
            "",
            "import pytest",
            "from eventgen.runtime.model import Message",
            "from eventgen.runtime.testing.examples import " + checks,
            "",
            f"from {project.package} import {module}",
            "",
            "# (test id, model class, version the payload is written in, payload, expected",
            "# payload at the current version or None)",
            "EXAMPLES: tuple[",
            "    tuple[str, type[Message], int, dict[str, Any], dict[str, Any] | None], ...",
            "] = (",
            *rows,
            ")",
        ]
    )
    return head + "\n" + (EXPECT_TEST if expects else "") + ROUND_TRIP_TEST
