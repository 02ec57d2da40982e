"""resolved-spec.json leaves defaults out, and the diff reader reads old and new trees alike."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from eventgen.cli import main
from eventgen.emit import resolved
from eventgen.evolution.generated import from_generated
from eventgen.ir.model import Expr, Project, TypeRef, thaw
from eventgen.pipeline import load_project

SPECS = Path(__file__).resolve().parents[2] / "specs"
LITERAL_KEYS = {"default", "args", "payload", "literal"}


def _full(value: Any) -> Any:
    """The file as eventgen wrote it before defaults were omitted (every key, nulls included)."""
    if isinstance(value, tuple):
        return [_full(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, TypeRef):
        return str(value)
    if isinstance(value, Expr):
        return str(value) if value.root else {"literal": thaw(value.literal)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # Positions never reach the file: `loc`, `*_loc` and every `*_locs` table.
        return {
            f.name: _full(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not f.name.endswith(("loc", "_locs"))
        }
    return thaw(value)


def _project() -> Project:
    project, found = load_project(SPECS)
    assert project is not None, found
    return project


def _defaults_in(data: Any, path: str = "") -> list[str]:
    """Paths of map values that are defaults, outside spec literals."""
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if key in LITERAL_KEYS:
                continue
            if resolved.is_default(value):
                found.append(f"{path}.{key}")
            found.extend(_defaults_in(value, f"{path}.{key}"))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found.extend(_defaults_in(value, f"{path}[{i}]"))
    return found


def test_is_default_keeps_numbers() -> None:
    empty: tuple[object, ...] = (None, False, "", [], {})
    assert [resolved.is_default(v) for v in empty] == [True] * 5
    assert [resolved.is_default(v) for v in (0, 0.0, True, "x", [None], {"a": None})] == [False] * 6


def test_defaults_are_left_out_and_nothing_else() -> None:
    project = _project()
    data = json.loads(resolved.emit(project)[resolved.PATH])
    assert data["omitted"] == resolved.OMITTED
    assert _defaults_in(data["project"]) == []
    full = _full(project)
    # Everything that is not a default survives: the full dump minus defaults, key for key.
    assert _strip(full) == data["project"]
    assert len(_defaults_in(full)) > 1000  # the example really had defaults to leave out


def _strip(data: Any, key: str = "") -> Any:
    """The full dump with the documented rule applied by hand."""
    if key in LITERAL_KEYS:
        return data
    if isinstance(data, dict):
        kept = {k: _strip(v, k) for k, v in data.items()}
        has_default = data.get("has_default") is True
        return {
            k: v
            for k, v in kept.items()
            if not resolved.is_default(v)
            or k in ("args", "payload", "literal")
            or (k == "default" and has_default)
        }
    if isinstance(data, list):
        return [_strip(v) for v in data]
    return data


def test_diff_reads_old_trees_with_nulls_and_new_trees_alike(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["build", str(SPECS), "-o", str(out), "--no-cache"]) == 0
    new = from_generated(out, "base")
    path = out / resolved.PATH
    old_doc = {"generated_by": "eventgen; do not edit", "project": _full(_project())}
    path.write_text(json.dumps(old_doc, indent=2, sort_keys=True), encoding="utf-8")
    old = from_generated(out, "base")
    assert len(new.messages) > 10 and len(new.topics) > 5 and len(new.consumers) > 5
    assert new.messages == old.messages
    assert new.topics == old.topics
    assert new.consumers == old.consumers
    assert any(m.topic is None for m in new.messages.values())  # an omitted key was read back
    assert any(t.retention_bytes is None for t in new.topics.values())
