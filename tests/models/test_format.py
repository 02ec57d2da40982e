"""Formatting generated Python: bounded ruff inputs, deep unions, clear failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from eventgen.cli import main
from eventgen.emit import format as fmt

SPECS = Path(__file__).resolve().parents[2] / "specs"


def _modules(n: int) -> dict[str, str]:
    return {f"pkg/m{i}.py": f"x   =  {i}\ndef f( a ):\n  return a+{i}\n" for i in range(n)}


def test_batches_keep_order_and_bound_each_run() -> None:
    sources = {"a.py": "x" * 40, "b.py": "y" * 40, "c.py": "z" * 200, "d.py": "w" * 10}
    groups = list(fmt.batches(sources, 100))
    assert [list(g) for g in groups] == [["a.py", "b.py"], ["c.py"], ["d.py"]]
    assert [p for g in groups for p in g] == list(sources)


def test_batched_runs_give_the_bytes_of_one_run(monkeypatch: pytest.MonkeyPatch) -> None:
    sources = _modules(7)
    whole = fmt.format_sources(sources)
    monkeypatch.setattr(fmt, "BATCH_BYTES", 60)  # one or two modules per ruff run
    assert fmt.format_sources(sources) == whole
    assert list(whole) == list(sources)
    assert whole["pkg/m3.py"] == "x = 3\n\n\ndef f(a):\n    return a + 3\n"


def test_a_union_of_40000_messages_formats() -> None:
    """ruff's worker threads overflowed their stack on a 31,000-message topic union."""
    names = [f"Thing{i}Happened" for i in range(40_000)]
    deep = "from typing import TypeAlias\n\nT: TypeAlias = " + " | ".join(names) + "\n"
    out = fmt.format_sources({"pkg/topics.py": deep, **_modules(3)})
    lines = out["pkg/topics.py"].splitlines()
    assert lines[2:4] == ["T: TypeAlias = (", "    Thing0Happened"]
    assert lines.count("    | Thing39999Happened") == 1
    assert len(lines) == 40_004


def test_ruff_failure_is_one_clear_line() -> None:
    with pytest.raises(fmt.FormatError) as caught:
        fmt.format_sources({"pkg/bad.py": "def (:\n", **_modules(1)})
    message = caught.value.message.splitlines()
    assert message[0].startswith("ruff format failed on pkg/bad.py, pkg/m0.py (")
    assert message[1].startswith("  hint: ")
    assert len(message) == 2


def test_missing_ruff_is_exit_2_without_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(fmt, "ruff_bin", lambda: str(tmp_path / "no-such-ruff"))
    assert main(["build", str(SPECS), "-o", str(tmp_path / "out"), "--no-cache"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"cannot run ruff ({tmp_path / 'no-such-ruff'})" in err
    assert not (tmp_path / "out").exists()
