"""The guard compiler (eventgen.emit.services.guards) on every scalar kind: the compiled
expression, run with the imports it asked for, says what the guard says."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import pytest

from eventgen.emit.layout import TypeIndex
from eventgen.emit.pymodels.imports import Imports
from eventgen.emit.pymodels.types import TypeWriter
from eventgen.emit.services.guards import (
    GuardError,
    compile_guard,
    compile_rejection,
    parse_guard,
)
from eventgen.ir.model import Field, Project, Scalar
from eventgen.pipeline import load_project
from tests.emit_services.helpers import EXAMPLE

STATE = (
    Field("n", Scalar("int")),
    Field("big", Scalar("long")),
    Field("ratio", Scalar("double")),
    Field("amount", Scalar("decimal", precision=12, scale=2)),
    Field("name", Scalar("string")),
    Field("maybe", Scalar("string", nullable=True)),
    Field("limit", Scalar("int", nullable=True)),
    Field("flag", Scalar("boolean")),
    Field("when", Scalar("timestamp")),
    Field("day", Scalar("date")),
    Field("at", Scalar("time")),
    Field("ref", Scalar("uuid")),
)
ID = UUID("6f1c1c38-2d5e-4d47-9d0a-0c6f8f1b2a11")
BASE: dict[str, Any] = {
    "n": 3, "big": 2**40, "ratio": 0.5, "amount": Decimal("10.50"), "name": "ada",
    "maybe": None, "limit": None, "flag": False,
    "when": datetime(2024, 5, 1, 10, 0, tzinfo=UTC), "day": date(2024, 5, 1),
    "at": time(10, 0), "ref": ID,
}  # fmt: skip


@pytest.fixture(scope="module")
def project() -> Project:
    found, problems = load_project(EXAMPLE)
    assert found is not None, problems
    return found


def _evaluate(project: Project, guard_text: str, **changes: Any) -> tuple[bool, bool, str]:
    """(the guard, the rejection condition, the guard's source) on BASE with `changes`."""
    imports = Imports("x_events", ())
    writer = TypeWriter(project, TypeIndex(project), "\0", imports)
    guard = parse_guard(guard_text, STATE)
    source, rejection = compile_guard(guard, writer), compile_rejection(guard, writer)
    namespace: dict[str, Any] = {}
    exec("\n".join(imports.lines()), namespace)  # noqa: S102 - the literals' stdlib imports
    namespace["state"] = SimpleNamespace(**{**BASE, **changes})
    return eval(source, namespace), eval(rejection, namespace), source


CASES: list[tuple[str, dict[str, Any], bool]] = [
    ("n == 3", {}, True),
    ("n != 3", {}, False),
    ("n < 4 and n >= 3", {}, True),
    ("big > 1099511627775", {}, True),
    ("ratio <= 0.5", {}, True),
    ("ratio > 0.25", {"ratio": 0.2}, False),
    ("amount < 10.51", {}, True),
    ("amount == 10.5", {}, True),
    ("name == ada", {}, True),
    ('name == "ada"', {}, True),
    ("name != 'a d a'", {}, True),
    ("name > adb", {}, False),
    ("name > abc", {}, True),
    ("maybe == null", {}, True),
    ("maybe != null", {"maybe": "x"}, True),
    ("maybe == x", {"maybe": "x"}, True),
    ("limit > 5", {}, False),  # None never orders
    ("limit > 5", {"limit": 6}, True),
    ("limit <= 5", {}, False),
    ("flag == false", {}, True),
    ("flag != false", {}, False),
    ("flag == true", {"flag": True}, True),
    ("when >= 2024-05-01T10:00:00Z", {}, True),
    ("when < 2024-05-01T09:00:00Z", {}, False),
    ("day == 2024-05-01", {}, True),
    ("at < 11:00:00", {}, True),
    (f"ref == {ID}", {}, True),
    ("n == 1 or n == 3 and flag == false", {}, True),  # and binds tighter
    ("n == 3 and flag == true or n == 1", {}, False),
    ("n == 1 or name == bob or limit == null", {}, True),
]


@pytest.mark.parametrize(("text", "changes", "expected"), CASES)
def test_compiled_guard_means_the_guard(
    project: Project, text: str, changes: dict[str, Any], expected: bool
) -> None:
    value, rejected, source = _evaluate(project, text, **changes)
    assert value is expected, source
    assert rejected is (not expected), source


def test_compiled_literals_are_typed(project: Project) -> None:
    assert _evaluate(project, "amount < 10.51")[2] == 'state.amount < Decimal("10.51")'
    assert _evaluate(project, "flag == false")[2] == "state.flag is False"
    assert _evaluate(project, "limit > 5")[2] == "(state.limit is not None and state.limit > 5)"
    assert _evaluate(project, "maybe == null")[2] == "state.maybe is None"
    stamp = _evaluate(project, "when == 2024-05-01T10:00:00Z")[2]
    assert stamp == "state.when == datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)"


def test_hostile_text_literal_is_escaped(project: Project) -> None:
    text = 'name == \'""" \\ \u2028x\''
    value, _, source = _evaluate(project, text, name='""" \\ \u2028x')
    assert value is True
    assert "\u2028" not in source  # escaped, not pasted


def test_what_the_rules_refuse_is_an_error(project: Project) -> None:
    with pytest.raises(GuardError):
        parse_guard("nope == 1", STATE)
    with pytest.raises(GuardError):
        parse_guard("n === 1", STATE)
    with pytest.raises(GuardError):
        _evaluate(project, "limit < null")
