"""The guard compiler (eventgen.emit.services.guards) on every scalar kind: the compiled
expression, run with the imports it asked for, says what the guard says. Quoted literals that
hold " and " / " or " stay one clause (eventgen.ir.guards, shared with the rules), and a quote
left open is E0803 at the command."""

from __future__ import annotations

import ast
import io
import sys
from contextlib import redirect_stderr, redirect_stdout
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

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
from eventgen.ir.guards import GuardClause, GuardSyntaxError, clauses, split_guard
from eventgen.ir.model import Field, Project, Scalar
from eventgen.pipeline import load_project
from eventgen.runtime.errors import CommandRejected
from eventgen.runtime.es.spec import CommandMeta
from tests.emit_services.helpers import EXAMPLE, build, import_fresh, write_specs

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


# Guards whose quoted literals hold " and " / " or ": one clause each, as the rules split them.
QUOTED: list[tuple[str, dict[str, Any], bool]] = [
    ('name == "x and name == y"', {"name": "x and name == y"}, True),
    ('name == "x and name == y"', {"name": "x"}, False),
    ("name == 'a or n == 3'", {"name": "zzz"}, False),  # n == 3 holds: not a clause here
    ("name == 'a or n == 3'", {"name": "a or n == 3"}, True),
    ('name == "it\'s and or"', {"name": "it's and or"}, True),  # the other quote kind inside
    ("name == 'say \"and\" or not'", {"name": 'say "and" or not'}, True),
    ('name == "a\\ and b\\\\" and n == 3', {"name": "a\\ and b\\\\"}, True),  # no escapes
    ('name == "a\\ and b\\\\" and n == 3', {"name": "a\\ and b\\\\", "n": 4}, False),
    ('name == "x\\" and n == 3', {"name": "x\\"}, True),  # the quote after the backslash closes
    ('name == "x or y" or n == 4', {"name": "x"}, False),
    ('name == "x or y" or n == 4', {"name": "x", "n": 4}, True),
    ("name == it's and n == 3", {"name": "it's"}, True),  # a bare apostrophe opens nothing
    ('maybe == "and" or maybe == null', {}, True),
    ('maybe == "and" or maybe == null', {"maybe": "and"}, True),
    ('maybe == "and" or maybe == null', {"maybe": "or"}, False),
]


@pytest.mark.parametrize(("text", "changes", "expected"), QUOTED)
def test_quoted_connectives_stay_in_the_literal(
    project: Project, text: str, changes: dict[str, Any], expected: bool
) -> None:
    value, rejected, source = _evaluate(project, text, **changes)
    assert value is expected, source
    assert rejected is (not expected), source


def test_the_compiled_clause_compares_the_whole_string(project: Project) -> None:
    source = _evaluate(project, 'name == "x and n == 3"')[2]
    assert source == 'state.name == "x and n == 3"'
    source = _evaluate(project, "name != 'a\\ or \"b\"' or n == 1")[2]
    compared, rest = source.removeprefix("state.name != ").rsplit(" or ", 1)
    assert ast.literal_eval(compared) == 'a\\ or "b"', source
    assert rest == "state.n == 1", source


def test_split_keeps_quoted_text_whole() -> None:
    found = split_guard(" n == 1 and name == \"p and q\" or  flag == true and name != 'r or s' ")
    assert [[c.text for c in group] for group in found] == [
        ["n == 1", 'name == "p and q"'],
        ["flag == true", "name != 'r or s'"],
    ]
    assert [(c.field, c.op, c.literal) for c in clauses('name=="a and b"')] == [
        ("name", "==", '"a and b"')
    ]
    assert clauses("name == andor")[0].literal == "andor"  # a connective only as a word
    assert clauses("name == x and y")[1] == GuardClause("y", None, None, None)
    # A backslash does not escape: the quote closes after `a \`, and what follows is no clause
    # (E0803), never a literal holding `"b"`.
    parts = clauses('name == "a \\"b\\" and n == 3')
    assert [c.field for c in parts] == [None, "n"]
    with pytest.raises(GuardError, match="does not parse"):
        parse_guard('name == "a \\"b\\" and n == 3', STATE)
    for text in ('name == "a\\"b"', "name == 'a'b", 'name == "a"" and n == 3'):
        assert clauses(text)[0].field is None, text  # not a bare literal starting with a quote
        with pytest.raises(GuardError, match="does not parse"):
            parse_guard(text, STATE)


@pytest.mark.parametrize(
    "text",
    [
        'name == "x and n == 3',
        "name == 'x or n == 3",
        "n == 3 and name == 'a",
    ],
)
def test_unterminated_quote_is_refused(text: str) -> None:
    with pytest.raises(GuardSyntaxError, match="never closed"):
        split_guard(text)
    with pytest.raises(GuardError, match="never closed"):
        parse_guard(text, STATE)


def test_unterminated_quote_is_e0803_at_the_command(tmp_path: Path) -> None:
    from eventgen.cli import main

    specs = write_specs(tmp_path / "specs", {"eventgen.yaml": PROJECT, "ledger.yaml": LEDGER})
    stdout, stderr = io.StringIO(), io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        code = main(["build", str(specs), "-o", str(tmp_path / "out"), "--no-cache"])
    text = stdout.getvalue() + stderr.getvalue()
    assert code == 1, text
    line = LEDGER.splitlines().index("      Rename:") + 1
    found = [row for row in text.splitlines() if " error " in row]
    assert len(found) == 1, text
    assert found[0].startswith(f"{specs / 'ledger.yaml'}:{line}:7: error E0803: "), text
    assert "never closed" in found[0], text
    assert not (tmp_path / "out").exists()


def test_generated_decider_compares_the_whole_quoted_string(tmp_path: Path) -> None:
    """The built aggregate module (no Rename: its guard is the refused one) decides Open on the
    one clause `label != "a and open == true"`, whatever `open` says."""
    ledger = LEDGER.replace(LEDGER[LEDGER.index("      Rename:") : LEDGER.index("topics:")], "")
    specs = write_specs(tmp_path / "specs", {"eventgen.yaml": PROJECT, "ledger.yaml": ledger})
    build(specs, tmp_path / "out")
    agg = import_fresh(tmp_path / "out", "ledger_events", "ledger_aggregates")
    models = sys.modules["ledger_events.ledger"]
    meta = CommandMeta(uuid4(), datetime(2024, 5, 1, tzinfo=UTC))
    command = models.Open(account_id=uuid4(), label="new")
    assert agg.decide_account_open(agg.AccountState(label="a"), command, meta)
    assert agg.decide_account_open(agg.AccountState(label="a and"), command, meta)
    with pytest.raises(CommandRejected) as info:
        agg.decide_account_open(agg.AccountState(label="a and open == true"), command, meta)
    assert info.value.guard == 'open == false and label != "a and open == true"'
    assert info.value.state == {"open": False, "label": "a and open == true"}
    with pytest.raises(CommandRejected):
        agg.decide_account_open(agg.AccountState(open=True, label="a"), command, meta)


PROJECT = "eventgen: 1\nproject: ledger\npackage: ledger_events\n"
LEDGER = """\
eventgen: 1
context: ledger
events:
  Opened: {fields: {account_id: uuid, label: string}}
  Renamed: {fields: {account_id: uuid, label: string}}
commands:
  Open: {topic: account-commands, key: account_id, fields: {account_id: uuid, label: string}}
  Rename: {topic: account-commands, key: account_id, fields: {account_id: uuid, label: string}}
aggregates:
  Account:
    id: account_id
    state:
      open: {type: boolean, default: false}
      label: {type: string, default: ""}
    events:
      Opened: {set: {open: true, label: $.label}}
      Renamed: {set: {label: $.label}}
    commands:
      Open:
        requires: 'open == false and label != "a and open == true"'
        emit: {Opened: {account_id: $.account_id, label: $.label}}
      Rename:
        requires: 'open == true and label != "x\\ and open == true'
        emit: {Renamed: {account_id: $.account_id, label: $.label}}
topics:
  account-commands: {partitions: 3, replication_factor: 1}
"""
