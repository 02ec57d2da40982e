"""Export -> import -> build of a small spec with what the example platform lacks: a
projection with several rules on one event (`inc` and `append`), `delete`, a literal and a
path; a query returning a type; a polling outbox with every setting off its default; a
consumer's `suppress:`; example strings a YAML 1.2 reader would take for numbers or booleans.
The rebuilt resolved spec equals the original for every context key, and so do the schemas.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
EVENTGEN = Path(sys.executable).parent / "eventgen"

PROJECT = """eventgen: 1
project: shop
package: shop_x
output: ./out
defaults:
  serialization: avro
"""
ACCOUNTS = """eventgen: 1
context: accounts
types:
  Tier: {enum: [BASIC, GOLD], default: BASIC}
  AccountView:
    doc: What GetAccountView returns.
    fields:
      account_id: uuid
      tier: Tier
      note: {type: string, max_length: 40}
topics:
  account-events: {key: uuid}
events:
  AccountOpened:
    topic: account-events
    key: account_id
    fields: {account_id: uuid, owner: string, code: string}
    examples:
      - payload: {account_id: "3f2a9c1e-5b7d-4e8f-a1b2-c3d4e5f60718", owner: "yes", code: "0123"}
  DepositMade:
    topic: account-events
    key: account_id
    fields: {account_id: uuid, amount: long, ref: string}
  AccountClosed:
    topic: account-events
    key: account_id
    fields: {account_id: uuid}
queries:
  GetBalance:
    params: {account_id: uuid}
    returns: Balance
  GetAccountView:
    params: {account_id: uuid}
    returns: AccountView
projections:
  Balance:
    key: account_id
    fields:
      account_id: uuid
      owner: {type: string, max_length: 80}
      total: {type: long, default: 0}
      deposits: {type: int, default: 0}
      refs: {type: "list[string]", default: []}
    on:
      AccountOpened: {upsert: {owner: $.owner, total: 0}}
      DepositMade: {inc: {total: $.amount, deposits: 1}, append: {refs: $.ref}}
      AccountClosed: {delete: true}
consumers:
  ledger:
    subscribe: [account-events]
    handles: [DepositMade]
    idempotency: {store: sqlite, retention: 1d}
    suppress: [W0822]
outbox:
  table: account_outbox
  relay: polling
  batch: 50
  poll_interval: 2s
  retention: 1h
"""


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(EVENTGEN), *args], capture_output=True, text=True, cwd=ROOT, check=False
    )


def _build(specs: Path, out: Path) -> dict[str, Any]:
    built = _run("build", str(specs), "-o", str(out), "--no-cache", "--format", "json")
    assert built.returncode == 0, built.stdout + built.stderr
    assert json.loads(built.stdout) == []  # no error, no warning
    resolved = json.loads((out / "resolved-spec.json").read_text("utf-8"))
    contexts: list[dict[str, Any]] = resolved["project"]["contexts"]
    assert [c["name"] for c in contexts] == ["accounts"]
    return contexts[0]


def _schemas(out: Path) -> dict[str, bytes]:
    found = [*out.glob("avro/**/*.avsc"), *out.glob("jsonschema/**/*.json")]
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in found}


def test_projection_query_type_outbox_and_suppress_come_back(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "eventgen.yaml").write_text(PROJECT, "utf-8")
    (specs / "accounts.yaml").write_text(ACCOUNTS, "utf-8")
    first = _build(specs, tmp_path / "out1")
    imported = _run(
        "import", "asyncapi", str(tmp_path / "out1" / "asyncapi.yaml"), "-o", str(tmp_path / "s2")
    )
    assert imported.returncode == 0, imported.stdout + imported.stderr
    second = _build(tmp_path / "s2", tmp_path / "out2")
    for key in ("consumers", "messages", "outbox", "projections", "topics", "types"):
        assert first.get(key), key  # the spec has it, so the comparison means something
        assert second.get(key) == first[key], key
    (balance,) = second["projections"]
    assert [(r["message"], r["op"]) for r in balance["on"]] == [
        ("accounts.AccountOpened", "upsert"),
        ("accounts.DepositMade", "inc"),
        ("accounts.DepositMade", "append"),
        ("accounts.AccountClosed", "delete"),
    ]
    assert second["outbox"]["poll_interval_ms"] == 2000
    assert second["outbox"]["retention_ms"] == 3_600_000
    opened = next(m for m in second["messages"] if m["name"] == "AccountOpened")
    assert opened["examples"][0]["payload"]["code"] == "0123"
    assert opened["examples"][0]["payload"]["owner"] == "yes"
    one, two = _schemas(tmp_path / "out1"), _schemas(tmp_path / "out2")
    assert "avro/accounts/AccountView.avsc" in one
    assert "avro/accounts/Tier.avsc" in one
    assert two == one
