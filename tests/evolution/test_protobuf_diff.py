"""`eventgen diff` on a `serialization: protobuf` project: buf's rules judge value subjects."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.evolution.helpers import run_diff, variant

PROTO = {"eventgen.yaml": [("serialization: avro", "serialization: protobuf")]}


def _edits(shop: list[tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
    return {**PROTO, "shop.yaml": shop}


def _diff(tmp_path: Path, shop: list[tuple[str, str]]) -> tuple[int, dict[str, Any]]:
    variant(tmp_path, "old", PROTO)
    variant(tmp_path, "new", _edits(shop))
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        code, out = run_diff("new", "--against", "old", "--format", "json")
    finally:
        os.chdir(cwd)
    return code, json.loads(out)


def _protobuf_rules(payload: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    for f in payload["findings"]:
        for detail in f.get("details", []):
            if str(detail).startswith("protobuf."):
                found.append((f["rule"], str(detail).split(" ")[0]))
    return sorted(found)


def test_wire_incompatible_type_change_is_breaking(tmp_path: Path) -> None:
    code, payload = _diff(tmp_path, [("      total: long", "      total: string")])
    assert code == 1
    # Both topics' value subjects are the context's one .proto file: each reports it.
    assert _protobuf_rules(payload) == [("D0101", "protobuf.field_wire_json_compatible_type")] * 2


def test_removed_field_is_reserved_by_the_numbering(tmp_path: Path) -> None:
    # Without a committed lock the numbering is fresh on each side: `source` (2) removed
    # shifts `note` to 2, which buf's rules see as a rename and a cardinality change.
    code, payload = _diff(tmp_path, [("      source: string\n", "")])
    assert code == 1
    rules = [r for _, r in _protobuf_rules(payload)]
    assert "protobuf.field_same_name" in rules


def test_added_field_is_compatible(tmp_path: Path) -> None:
    code, payload = _diff(
        tmp_path, [("      note: string?\n", "      note: string?\n      extra: string?\n")]
    )
    assert _protobuf_rules(payload) == []
    assert code == 0
    assert any(f["rule"] == "D0102" for f in payload["findings"])


@pytest.mark.parametrize("subject_part", ["key"])
def test_keys_stay_avro(tmp_path: Path, subject_part: str) -> None:
    from eventgen.evolution.subjects import subjects
    from eventgen.pipeline import load_project

    specs = variant(tmp_path, "p", PROTO)
    project, _ = load_project(specs, None)
    assert project is not None
    found = subjects(project)
    keys = [s for s in found.values() if s.part == subject_part]
    values = [s for s in found.values() if s.part == "value"]
    assert keys and all(s.format == "avro" for s in keys)
    assert values and all(s.format == "protobuf" and s.main in s.schema for s in values)
