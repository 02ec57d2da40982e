"""What the loader leaves in memory: its peak stays mapped for the whole build.

pymalloc keeps an arena mapped while any object in it lives, and the IR's objects are
scattered through the arenas the spec trees used, so the build's resident memory never drops
below what loading reached (docs/performance.md, "Peak memory"). These tests pin the three
things that cut it by a third: no per-node `__dict__`, one `Loc` per position, one int per
line number.
"""

from __future__ import annotations

import sys
import tracemalloc
from pathlib import Path

import pytest

from eventgen.diagnostics import Loc
from eventgen.spec.nodes import PList, PMap
from eventgen.spec.project import read_specs
from eventgen.spec.yamlload import load_yaml

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.mark.parametrize("cls", [PMap, PList])
def test_nodes_have_no_instance_dict(cls: type) -> None:
    node = cls(Loc("a.yaml", 1, 1))
    assert not hasattr(node, "__dict__")
    with pytest.raises(AttributeError):
        node.extra = 1


def test_loc_has_no_instance_dict() -> None:
    assert not hasattr(Loc("a.yaml", 1, 1), "__dict__")


def test_a_collection_and_its_value_position_share_one_loc() -> None:
    text = "a:\n  b: [1, 2]\n  c:\n    - {d: 1}\n"
    root, found = load_yaml(text.encode(), "x.yaml")
    assert found == [] and root is not None
    inner = root["a"]
    assert isinstance(inner, PMap)
    assert root.value_loc("a") is inner.loc
    assert inner.value_loc("b") is inner["b"].loc
    item = inner["c"][0]
    assert inner["c"].item_loc(0) is item.loc
    # Still the right positions (a block mapping starts at its first key: one Loc for both).
    assert (inner.loc.line, inner.loc.col) == (2, 3)
    assert (item.loc.line, item.loc.col) == (4, 7)
    assert inner.key_loc("b") is inner.loc
    assert inner.key_loc("c") == Loc("x.yaml", 3, 3)


def test_line_numbers_are_shared() -> None:
    text = "".join(f"k{i}: v\n" for i in range(300)) + "k300: {x: 1}\n"
    root, found = load_yaml(text.encode(), "x.yaml")
    assert found == [] and root is not None
    nested = root["k300"]
    # Line 301 (beyond the small-int cache): the key, the mapping and its key share one int.
    assert root.key_loc("k300").line == 301
    assert root.key_loc("k300").line is nested.loc.line is nested.key_loc("x").line


def test_loaded_spec_size_per_event(tmp_path: Path) -> None:
    # These 400 synthetic events held 24.5 KB each before the changes above, 14.9 KB after
    # (Python 3.11); the bound fails on any return of a per-node dict or per-position Loc.
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import synth  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(BENCHMARKS))
    events = 400
    synth.write(synth.generate(events, 4, 12, 1, False), tmp_path)
    tracemalloc.start()
    try:
        base, found = read_specs(tmp_path)
        live, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert not [d for d in found if d.severity.value == "error"]
    assert base is not None
    per_event = live / events
    assert per_event < 18_000, f"{per_event:.0f} bytes per event"
