"""The aggregates emitter on specs written for it: every guard literal kind, hostile strings in
guard literals and docs, `handler` apply ops, literals typed by their target, nested nullable
paths, a failure reply with defaults, and E0830 when a failure reply cannot be filled."""

from __future__ import annotations

import ast
import io
import json
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any
from uuid import UUID, uuid4

import pytest

from eventgen.emit.format import LINE_LENGTH, ruff_bin
from eventgen.runtime.errors import CommandRejected
from eventgen.runtime.es.spec import CommandMeta
from tests.emit_services.helpers import build, import_fresh, run_mypy, write_specs

RULES = "--select=E,F,W,I,B,UP,SIM,C4,RUF"  # as the other emitter tests
PACKAGE = "ledger_events"
HOSTILE = 'it\'s \\ """ \u00e9\u2713 \u2028 end'  # quotes, backslash, triple quotes, Unicode
HOSTILE_GUARD = '\'""" \\ \u00e9\u2713\\\''  # a single-quoted literal: backslashes, `"""`
HOOKS = """
from ledger_events.ledger_aggregates import AccountState
from ledger_events.ledger import Noted


def on_noted(state: AccountState, event: Noted) -> AccountState:
    return state.model_copy(update={"notes": (*state.notes, event.text.upper())})
"""
ID = UUID("6f1c1c38-2d5e-4d47-9d0a-0c6f8f1b2a11")
AT = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def _context(failure_fields: dict[str, Any] | None = None) -> dict[str, Any]:
    refused = failure_fields or {
        "account_id": "uuid",
        "reason": {"type": "string", "max_length": 40},
        "refused_at": "timestamp",
        "attempts": {"type": "int", "default": 0},
        "hint": "string?",
    }
    return {
        "eventgen": 1,
        "context": "ledger",
        "doc": f"Ledger {HOSTILE}",
        "types": {
            "Status": {"enum": ["NEW", "OPEN", "CLOSED"], "default": "NEW"},
            "Money": {
                "fields": {
                    "amount": {"type": "decimal", "precision": 12, "scale": 2},
                    "currency": "string",
                }
            },
        },
        "events": {
            "Opened": {
                "fields": {
                    "account_id": "uuid",
                    "label": "string",
                    "money": "Money?",
                    "type": {"type": "string", "default": "plain"},
                },
            },
            "Deposited": {
                "fields": {
                    "account_id": "uuid",
                    "amount": "decimal(12,2)",
                    "note": "string",
                    "kind": "Status",
                    "at": "timestamp",
                }
            },
            "Noted": {"fields": {"account_id": "uuid", "text": "string"}},
            "Closed": {
                "fields": {
                    "account_id": "uuid",
                    "closed_by": "string?",
                    "money_amount": "decimal(12,2)?",
                }
            },
            "Refused": {"fields": refused},
        },
        "commands": {
            "Open": {
                "fields": {
                    "account_id": "uuid",
                    "label": "string",
                    "money": "Money?",
                    "type": {"type": "string", "default": "plain"},  # escaped: `type_`
                },
                "replies": {"success": ["Opened"], "failure": ["Refused"]},
            },
            "Deposit": {"fields": {"account_id": "uuid", "amount": "decimal(12,2)"}},
            "Note": {"fields": {"account_id": "uuid", "text": "string"}},
            "Close": {"fields": {"account_id": "uuid", "money": "Money?"}},
            "Touch": {"fields": {"account_id": "uuid"}},
        },
        "aggregates": {
            "Account": {
                "id": "account_id",
                "state": {
                    "status": {"type": "Status", "default": "NEW", "doc": HOSTILE},
                    "label": {"type": "string", "default": HOSTILE},
                    "balance": {"type": "decimal", "precision": 12, "scale": 2, "default": "0"},
                    "deposits": {"type": "int", "default": 0},
                    "limit": "int?",
                    "frozen": {"type": "boolean", "default": False},
                    "opened_label": "string?",
                    "type": {"type": "string", "default": "plain"},
                    "notes": {"type": "list[string]", "default": []},
                },
                "snapshot": {"every": 3},
                "events": {
                    "Opened": {
                        "set": {
                            "status": "OPEN",
                            "opened_label": "$.label",
                            "label": "$.label",
                            "type": "$.type",
                        }
                    },
                    "Deposited": {"inc": {"balance": "$.amount", "deposits": 1}},
                    "Noted": {"handler": "ledger_hooks:on_noted"},
                    "Closed": {"set": {"status": "CLOSED"}},
                },
                "commands": {
                    "Open": {
                        "requires": f"status == NEW and label != {HOSTILE_GUARD}",
                        "emit": {
                            "Opened": {
                                "account_id": "$.account_id",
                                "label": "$.label",
                                "money": "$.money",
                                "type": "$.type",
                            }
                        },
                    },
                    "Deposit": {
                        "requires": "status == OPEN and balance < 1000.50 and frozen == false"
                        " or deposits >= 2 and limit == null",
                        "emit": {
                            "Deposited": {
                                "account_id": "$.account_id",
                                "amount": "$.amount",
                                "note": HOSTILE,
                                "kind": "CLOSED",
                                "at": "$meta.occurred_at",
                            }
                        },
                    },
                    "Touch": {
                        "emit": {"Noted": {"account_id": "$.account_id", "text": "$meta.type"}}
                    },
                    "Note": {
                        "requires": "status != CLOSED and limit != null or limit > 5",
                        "emit": {"Noted": {"account_id": "$.account_id", "text": "$.text"}},
                    },
                    "Close": {
                        "requires": "status == OPEN and type != closed",
                        "emit": {
                            "Closed": {
                                "account_id": "$.account_id",
                                "closed_by": "$state.opened_label",
                                "money_amount": "$.money.amount",
                            }
                        },
                    },
                },
            }
        },
    }


def _write(folder: Path, context: dict[str, Any]) -> Path:
    project = {"eventgen": 1, "project": "ledger", "package": PACKAGE}
    # JSON is YAML: every hostile string reaches the loader exactly as written here.
    return write_specs(
        folder, {"eventgen.yaml": json.dumps(project), "ledger.yaml": json.dumps(context)}
    )


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ledger")
    target = root / "out"
    build(_write(root / "specs", _context()), target)
    (target / "ledger_hooks.py").write_text(HOOKS, encoding="utf-8")
    return target


@pytest.fixture(scope="module")
def agg(out: Path) -> ModuleType:
    return import_fresh(out, PACKAGE, "ledger_aggregates")


@pytest.fixture(scope="module")
def models(agg: ModuleType) -> ModuleType:
    return sys.modules[f"{PACKAGE}.ledger"]


def _meta() -> CommandMeta:
    return CommandMeta(uuid4(), AT)


def test_generated_module_is_safe_and_typed(out: Path, tmp_path: Path) -> None:
    path = f"{PACKAGE}/ledger_aggregates.py"
    source = (out / path).read_text(encoding="utf-8")
    compile(source, path, "exec")
    assert "eval(" not in source and "exec(" not in source
    result = run_mypy(out, "--cache-dir", str(tmp_path / "mypy"), path, "ledger_hooks.py")
    assert result.returncode == 0, result.stdout + result.stderr
    for argv in (["check", RULES], ["format", "--check"]):
        lint = subprocess.run(
            [ruff_bin(), argv[0], "--isolated", "--no-cache", f"--line-length={LINE_LENGTH}", *argv[1:], path],
            cwd=out, capture_output=True, text=True, check=False, timeout=120,
        )  # fmt: skip
        assert lint.returncode == 0, lint.stdout + lint.stderr


def test_hostile_strings_survive_as_values(out: Path, agg: ModuleType, models: ModuleType) -> None:
    assert agg.AccountState().label == HOSTILE
    tree = ast.parse((out / PACKAGE / "ledger_aggregates.py").read_text(encoding="utf-8"))
    state_class = next(
        n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "AccountState"
    )
    docs = [
        n.value.value
        for n in state_class.body
        if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)
    ]
    assert HOSTILE.strip() in docs  # the field's docstring, exactly
    guard = f"status == NEW and label != {HOSTILE_GUARD}"
    literal = HOSTILE_GUARD[1:-1]
    opened = agg.decide_account_open(
        agg.AccountState(), models.Open(account_id=ID, label="plain"), _meta()
    )
    assert [type(e) for e in opened] == [models.Opened]
    with pytest.raises(CommandRejected) as info:
        agg.decide_account_open(
            agg.AccountState(label=literal), models.Open(account_id=ID, label="x"), _meta()
        )
    assert info.value.guard == guard
    assert info.value.state == {"status": models.Status.NEW, "label": literal}
    [deposit] = agg.decide_account_deposit(
        _open(agg, models), models.Deposit(account_id=ID, amount=Decimal("5.00")), _meta()
    )
    assert deposit.note == HOSTILE  # a literal typed by its target field
    assert deposit.kind is models.Status.CLOSED  # an enum literal
    assert deposit.at == AT


def _open(agg: ModuleType, models: ModuleType) -> Any:
    [event] = agg.decide_account_open(
        agg.AccountState(), models.Open(account_id=ID, label="acc"), _meta()
    )
    return agg.apply_account(agg.AccountState(), event)


def test_guard_literals_and_precedence(agg: ModuleType, models: ModuleType) -> None:
    state = _open(agg, models)
    assert state.status is models.Status.OPEN and state.opened_label == "acc"
    deposit = models.Deposit(account_id=ID, amount=Decimal("600.25"))
    for _ in range(2):
        [event] = agg.decide_account_deposit(state, deposit, _meta())
        state = agg.apply_account(state, event)
    assert state.balance == Decimal("1200.50") and state.deposits == 2
    # balance < 1000.50 is false now, but `deposits >= 2 and limit == null` (and binds tighter)
    [event] = agg.decide_account_deposit(state, deposit, _meta())
    limited = state.model_copy(update={"limit": 1})
    with pytest.raises(CommandRejected) as info:
        agg.decide_account_deposit(limited, deposit, _meta())
    assert info.value.guard == (  # split into several literals in the source, one value
        "status == OPEN and balance < 1000.50 and frozen == false or deposits >= 2 and limit == null"
    )
    assert info.value.state == {
        "status": models.Status.OPEN, "balance": Decimal("1200.50"), "frozen": False,
        "deposits": 2, "limit": 1,
    }  # fmt: skip
    frozen = agg.AccountState(status=models.Status.OPEN, frozen=True)
    with pytest.raises(CommandRejected):
        agg.decide_account_deposit(frozen, deposit, _meta())
    # `limit > 5` on a nullable field is false when it is None, and never a TypeError.
    closed = agg.AccountState(status=models.Status.CLOSED)
    with pytest.raises(CommandRejected):
        agg.decide_account_note(closed, models.Note(account_id=ID, text="t"), _meta())
    assert agg.decide_account_note(
        closed.model_copy(update={"limit": 6}), models.Note(account_id=ID, text="t"), _meta()
    )


def test_handler_op_and_nested_nullable_paths(agg: ModuleType, models: ModuleType) -> None:
    state = _open(agg, models).model_copy(update={"limit": 10})
    [noted] = agg.decide_account_note(state, models.Note(account_id=ID, text="hi"), _meta())
    state = agg.apply_account(state, noted)
    assert state.notes == ("HI",)  # the user's hook, imported on first use
    [closed] = agg.decide_account_close(state, models.Close(account_id=ID, money=None), _meta())
    assert closed.money_amount is None and closed.closed_by == "acc"  # $state.opened_label
    money = models.Money(amount=Decimal("3.10"), currency="EUR")
    [closed] = agg.decide_account_close(state, models.Close(account_id=ID, money=money), _meta())
    assert closed.money_amount == Decimal("3.10")
    assert agg.apply_account(state, closed).status is models.Status.CLOSED


def test_escaped_attribute_names(agg: ModuleType, models: ModuleType) -> None:
    command = models.Open.model_validate({"account_id": ID, "label": "l", "type": "gold"})
    [event] = agg.decide_account_open(agg.AccountState(), command, _meta())
    assert event.type_ == "gold"  # built with model_validate: the wire name is the alias
    state = agg.apply_account(agg.AccountState(), event)
    assert state.type_ == "gold" and agg.AccountState().type_ == "plain"
    closed = state.model_copy(update={"type_": "closed"})
    with pytest.raises(CommandRejected) as info:
        agg.decide_account_close(closed, models.Close(account_id=ID), _meta())
    assert info.value.state == {"status": models.Status.OPEN, "type": "closed"}  # spec names


def test_command_without_guard(agg: ModuleType, models: ModuleType) -> None:
    for state in (agg.AccountState(), agg.AccountState(status=models.Status.CLOSED)):
        [event] = agg.decide_account_touch(state, models.Touch(account_id=ID), _meta())
        assert event.text == "ledger.Touch"  # $meta.type: the command's envelope type
    assert agg.ACCOUNT.failure_reply(models.Touch) is None


def test_state_round_trips_as_a_snapshot(agg: ModuleType, models: ModuleType) -> None:
    state = _open(agg, models).model_copy(update={"limit": 10})
    [noted] = agg.decide_account_note(state, models.Note(account_id=ID, text="x"), _meta())
    state = agg.apply_account(state, noted)
    deposit = models.Deposit(account_id=ID, amount=Decimal("2.50"))
    [event] = agg.decide_account_deposit(state, deposit, _meta())
    state = agg.apply_account(state, event)
    assert agg.AccountState.model_validate_json(state.model_dump_json()) == state


def test_failure_reply_rules(agg: ModuleType, models: ModuleType) -> None:
    state = _open(agg, models)
    command, meta = models.Open(account_id=ID, label="x"), _meta()
    with pytest.raises(CommandRejected) as info:
        agg.decide_account_open(state, command, meta)
    reply = agg.reject_account_open(command, info.value, meta)
    assert reply.account_id == ID and reply.refused_at == AT
    assert reply.reason == str(info.value)[:40] and len(reply.reason) == 40
    assert reply.attempts == 0 and reply.hint is None  # defaults left alone
    assert agg.ACCOUNT.failure_reply(models.Open) is agg.reject_account_open
    assert agg.ACCOUNT.snapshot_every == 3
    assert agg.account.outbox is None  # no `outbox:` in the context


def _build_failing(folder: Path, context: dict[str, Any]) -> tuple[int, str]:
    from eventgen.cli import main

    specs = _write(folder / "specs", context)
    stdout, stderr = io.StringIO(), io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        code = main(["build", str(specs), "-o", str(folder / "out"), "--no-cache"])
    return code, stdout.getvalue() + stderr.getvalue()


def test_unfillable_failure_reply_is_e0830(tmp_path: Path) -> None:
    fields = {"account_id": "uuid", "why": "string", "count": "int", "at": "timestamp"}
    code, text = _build_failing(tmp_path, _context(fields))
    assert code != 0
    assert "E0830" in text and "`why`" in text and "`count`" in text
    assert "`at`" not in text and "`account_id`" not in text  # those are filled


def test_two_builds_are_byte_identical(tmp_path: Path, out: Path) -> None:
    build(_write(tmp_path / "specs", _context()), tmp_path / "out")
    path = f"{PACKAGE}/ledger_aggregates.py"
    assert (tmp_path / "out" / path).read_bytes() == (out / path).read_bytes()
