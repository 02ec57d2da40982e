"""`eventgen registry check|push` client logic against an in-test HTTP STUB (not a registry)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from eventgen.evolution.registry_cli import registry
from tests.evolution.helpers import variant
from tests.evolution.registry_stub import stub_registry

SUBJECTS = {
    "shop.audit-key", "shop.audit-value", "shop.cart-archive-key",
    "shop.cart-events-key", "shop.cart-events-value",
}  # fmt: skip


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(registry, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_push_sets_modes_and_registers_then_check_passes(tmp_path: Path) -> None:
    specs = variant(tmp_path, "specs")
    with stub_registry() as (url, state):
        code, out = invoke("check", str(specs), "--url", url, "--format", "json")
        assert code == 0
        assert {s["status"] for s in json.loads(out)["subjects"]} == {"new"}
        code, out = invoke("push", str(specs), "--url", url)
        assert code == 0, out
        assert set(state.subjects) == SUBJECTS
        assert state.config["shop.audit-value"] == "BACKWARD_TRANSITIVE"
        assert state.config["shop.cart-events-value"] == "BACKWARD"
        union = json.loads(state.subjects["shop.cart-events-value"][0])
        assert [b["name"] for b in union] == ["CartClosed", "CartOpened"]
        # A second push registers nothing new.
        assert invoke("push", str(specs), "--url", url)[0] == 0
        assert all(len(v) == 1 for v in state.subjects.values())
        code, out = invoke("check", str(specs), "--url", url)
        assert code == 0
        assert "shop.audit-value: ok: compatible under the registry's BACKWARD_TRANSITIVE" in out


def test_rejections_exit_1(tmp_path: Path) -> None:
    specs = variant(tmp_path, "specs")
    changed = variant(
        tmp_path,
        "changed",
        {"shop.yaml": [("      note: string?\n", "      note: string?\n      extra: string\n")]},
    )
    with stub_registry(lambda subject, versions, schema: "extra" not in schema) as (url, state):
        assert invoke("push", str(specs), "--url", url)[0] == 0
        code, out = invoke("check", str(changed), "--url", url)
        assert code == 1
        assert "shop.audit-value: incompatible: rejected under BACKWARD_TRANSITIVE" in out
        code, out = invoke("push", str(changed), "--url", url)
        assert code == 1
        assert "shop.audit-value: incompatible" in out
        assert len(state.subjects["shop.audit-value"]) == 1


def test_unreachable_registry_is_exit_2(tmp_path: Path) -> None:
    specs = variant(tmp_path, "specs")
    with stub_registry() as (url, _):
        pass  # the port is closed again
    code, out = invoke("check", str(specs), "--url", url)
    assert code == 2
    assert "unavailable" in out
