"""No global interpreter state left changed: recursion limit and the cyclic collector."""

from __future__ import annotations

import gc
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from eventgen.compat import SchemaParseError, check
from eventgen.evolution.cli import diff
from eventgen.spec.yamlload import load_yaml

REPO = Path(__file__).resolve().parents[2]


def _nested(levels: int, leaf: dict[str, Any]) -> dict[str, Any]:
    schema = leaf
    for _ in range(levels):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


def _refuse_limit_change(limit: int) -> None:
    raise AssertionError(f"sys.setrecursionlimit({limit}) called")


def test_deep_json_schema_compares_without_raising_the_recursion_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """190 levels: past what a recursive diff could reach at the default limit of 1,000."""
    monkeypatch.setattr(sys, "setrecursionlimit", _refuse_limit_change)
    before = sys.getrecursionlimit()
    old, new = _nested(190, {"type": "string"}), _nested(190, {"type": "integer"})
    result = check("json", [old], new, "BACKWARD")
    assert [f.rule for f in result.findings] == ["json.type_changed"]
    assert result.findings[0].path == "#/" + "/".join(["properties", "a"] * 190)
    assert sys.getrecursionlimit() == before


def test_too_deep_to_parse_is_a_schema_error_not_a_crash() -> None:
    old, new = _nested(400, {"type": "string"}), _nested(400, {"type": "integer"})
    with pytest.raises(SchemaParseError, match="too deep"):
        check("json", [old], new, "BACKWARD")


@pytest.mark.parametrize("ok", [True, False], ids=["clean", "input-error"])
def test_eventgen_diff_restores_the_cyclic_collector(ok: bool, tmp_path: Path) -> None:
    against = str(REPO / "specs") if ok else str(tmp_path / "missing")
    assert gc.isenabled()
    try:
        result = CliRunner().invoke(diff, [str(REPO / "specs"), "--against", against])
        assert result.exit_code == (0 if ok else 2), result.output
    finally:
        enabled = gc.isenabled()
        gc.enable()
    assert enabled


def test_load_yaml_restores_the_cyclic_collector_even_on_bad_input() -> None:
    for data in (b"a: 1\n", b"a: [\n", b"\xff\xfe"):
        load_yaml(data, "f.yaml")
        assert gc.isenabled()
    gc.disable()
    try:
        load_yaml(b"a: 1\n", "f.yaml")
        assert not gc.isenabled()  # a caller's own choice is kept too
    finally:
        gc.enable()
