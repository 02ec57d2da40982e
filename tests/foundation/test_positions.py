"""A finding points at the key the author wrote wrong (or changed), not at the item holding it.

So a GitHub annotation lands on the line to fix: a partition `key:`, `min_insync_replicas:`
(where it is written, topic or project defaults), an enum `default:`, a topic `name:`, and in
`eventgen diff` a changed `partitions:`, `cleanup:`, `retention:` or `key:` line. Each test
writes a spec, finds the expected line and column by searching its text, and compares exactly.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from eventgen.cli import main
from eventgen.pipeline import load_project

PROJECT = """\
eventgen: 1
project: demo
package: demo_events
output: ../out
defaults:
  topic: {partitions: 3, replication_factor: 2, min_insync_replicas: 3}
"""
ORDERS = """\
eventgen: 1
context: orders
events:
  OrderPlaced:
    topic: order-events
    key: total
    fields: {order_id: uuid, total: double}
  OrderLost:
    topic: order-events
    key: total.nope
    fields: {order_id: uuid, total: double}
  OrderNoted:
    topic: typed-events
    key: seq
    fields: {seq: long}
types:
  Status:
    enum: [PLACED, PAID]
    default: LOST
topics:
  order-events:
    partitions: 6
  typed-events:
    key: uuid
    min_insync_replicas: 2
  renamed:
    name: "bad name!"
"""


def _write(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


def _at(text: str, needle: str, *, value: bool = True) -> tuple[int, int]:
    """(line, col) of `needle` in `text`; with value, of what follows its `: `."""
    lines = text.splitlines()
    exact = [i for i, line in enumerate(lines) if line.strip() == needle]
    (index,) = exact or [i for i, line in enumerate(lines) if needle in line]
    line = lines[index]
    col = line.index(needle) + (len(needle.split(": ")[0]) + 2 if value else 0)
    return index + 1, col + 1


def _found(specs: Path) -> dict[str, list[tuple[str, int, int]]]:
    _, found = load_project(specs)
    by_code: dict[str, list[tuple[str, int, int]]] = {}
    for d in found:
        by_code.setdefault(d.code, []).append((d.loc.file, d.loc.line, d.loc.col))
    return by_code


@pytest.fixture
def found(tmp_path: Path) -> dict[str, list[tuple[str, int, int]]]:
    return _found(_write(tmp_path / "specs", {"eventgen.yaml": PROJECT, "orders.yaml": ORDERS}))


def test_partition_key_findings_at_the_key_line(
    found: dict[str, list[tuple[str, int, int]]],
) -> None:
    assert found["E0602"] == [("orders.yaml", *_at(ORDERS, "key: total"))]
    assert found["E0601"] == [("orders.yaml", *_at(ORDERS, "key: total.nope"))]
    assert found["E0609"] == [("orders.yaml", *_at(ORDERS, "key: seq"))]


def test_min_insync_replicas_where_it_is_written(
    found: dict[str, list[tuple[str, int, int]]],
) -> None:
    # order-events and renamed inherit 3 from the project defaults: one line to fix, one
    # finding (the same message at the same place); typed-events sets 2 (= rf) itself.
    assert found["E0607"] == [("eventgen.yaml", *_at(PROJECT, "min_insync_replicas: 3"))]
    assert found["W0608"] == [("orders.yaml", *_at(ORDERS, "min_insync_replicas: 2"))]


def test_enum_default_and_topic_name_at_their_values(
    found: dict[str, list[tuple[str, int, int]]],
) -> None:
    assert found["E0506"] == [("orders.yaml", *_at(ORDERS, "default: LOST"))]
    assert found["E0604"] == [("orders.yaml", *_at(ORDERS, 'name: "bad name!"'))]


def test_enum_symbol_findings_at_the_symbol(tmp_path: Path) -> None:
    orders = ORDERS.replace("enum: [PLACED, PAID]", "enum: [PLACED, PAID, PAID, name, name_]")
    found = _found(_write(tmp_path / "specs", {"eventgen.yaml": PROJECT, "orders.yaml": orders}))
    line, _ = _at(orders, "enum: [PLACED")
    text = orders.splitlines()[line - 1]
    # The second PAID (the repeat) and name_ (the one that collides), not the enum's line.
    assert found["E0505"] == [("orders.yaml", line, text.rindex("PAID") + 1)]
    assert found["E0512"] == [("orders.yaml", line, text.index("name_") + 1)]


def test_message_without_key_stays_at_the_message(tmp_path: Path) -> None:
    orders = ORDERS.replace("    key: seq\n", "")
    found = _found(_write(tmp_path / "specs", {"eventgen.yaml": PROJECT, "orders.yaml": orders}))
    assert found["E0603"] == [("orders.yaml", *_at(orders, "OrderNoted:", value=False))]


# --- eventgen diff: the changed line ---------------------------------------------------------

DIFF_PROJECT = PROJECT.replace(", min_insync_replicas: 3", "").replace("factor: 2", "factor: 1")
DIFF_ORDERS = """\
eventgen: 1
context: orders
events:
  OrderPlaced:
    topic: order-events
    key: order_id
    fields: {order_id: uuid, ref: uuid}
topics:
  order-events:
    key: uuid
    partitions: 6
    cleanup: delete
    retention: 7d
  other-events: {key: uuid}
"""

DIFF_CASES = {
    "D0301": ("partitions: 6", "partitions: 12"),
    "D0302": ("cleanup: delete", "cleanup: compact"),
    "D0303": ("retention: 7d", "retention: 1d"),
    "D0201": ("key: order_id", "key: ref"),
    "D0401": ("topic: order-events", "topic: other-events"),
}


@pytest.mark.parametrize("code", sorted(DIFF_CASES))
def test_diff_finding_at_the_changed_line(
    tmp_path: Path, code: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    before, after = DIFF_CASES[code]
    new_orders = DIFF_ORDERS.replace(before, after)
    _write(tmp_path / "old", {"eventgen.yaml": DIFF_PROJECT, "orders.yaml": DIFF_ORDERS})
    _write(tmp_path / "new", {"eventgen.yaml": DIFF_PROJECT, "orders.yaml": new_orders})
    monkeypatch.chdir(tmp_path)
    assert main(["diff", "new", "--against", "old", "--format", "github"]) == 1
    lines = [line for line in capsys.readouterr().out.splitlines() if f"title={code}" in line]
    line, col = _at(new_orders, after)
    old_line, old_col = _at(DIFF_ORDERS, before)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"::error file=new/orders.yaml,line={line},col={col},")
    assert f"(was at old/orders.yaml:{old_line}:{old_col})" in lines[0]


# --- paths relative to the working directory, in every command ------------------------------

BAD_ORDERS = """\
eventgen: 1
context: orders
events:
  OrderPlaced:
    topic: order-events
    key: order_id
    fields: {order_id: uuid, total: doubel}
topics:
  order-events: {key: uuid}
"""
BAD_LINE, BAD_COL = _at(BAD_ORDERS, "fields: {order_id: uuid, total: doubel}")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """`repo/specs/` holding one error, and `elsewhere/`, a directory outside the repo."""
    _write(tmp_path / "repo" / "specs", {"eventgen.yaml": PROJECT_OK, "orders.yaml": BAD_ORDERS})
    (tmp_path / "repo" / "sub").mkdir()
    (tmp_path / "elsewhere").mkdir()
    return tmp_path / "repo"


PROJECT_OK = PROJECT.replace(", min_insync_replicas: 3", "").replace("factor: 2", "factor: 1")

# (cwd below the fixture's tmp_path, SPECS argument as typed, the file the finding must name)
WHERES = {
    "repo root, relative": ("repo", "specs", "specs/orders.yaml"),
    "repo root, absolute": ("repo", "{abs}", "specs/orders.yaml"),
    "inside the specs": ("repo/specs", ".", "orders.yaml"),
    "a sibling folder": ("repo/sub", "../specs", "../specs/orders.yaml"),
    "outside the repo": ("elsewhere", "{abs}", "{abs}/orders.yaml"),
}


def _where(repo: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    cwd, specs, shown = WHERES[name]
    absolute = str(repo / "specs")
    monkeypatch.chdir(repo.parent / cwd)
    shown = shown.format(abs=absolute)
    if shown.startswith(".."):  # outside the cwd: absolute, never `../`
        shown = f"{absolute}/orders.yaml"
    return specs.format(abs=absolute), shown


def _github(file: str) -> str:
    return f"::error file={file},line={BAD_LINE},col={BAD_COL + len('{order_id: uuid, total: ')},"


@pytest.mark.parametrize("where", sorted(WHERES))
@pytest.mark.parametrize("command", ["validate", "build"])
def test_validate_and_build_show_cwd_relative_files(
    repo: Path,
    where: str,
    command: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    specs, shown = _where(repo, where, monkeypatch)
    extra = ["-o", str(repo / "out"), "--no-cache"] if command == "build" else []
    assert main([command, specs, *extra, "--format", "github"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith(_github(shown)), out


@pytest.mark.parametrize("where", sorted(WHERES))
def test_diff_shows_cwd_relative_files(
    repo: Path, where: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A breaking change (the key) on a new side that loads; the old side is a copy.
    good = BAD_ORDERS.replace("total: doubel", "total: uuid")
    _write(repo / "specs", {"orders.yaml": good.replace("key: order_id", "key: total")})
    _write(repo.parent / "old", {"eventgen.yaml": PROJECT_OK, "orders.yaml": good})
    specs, shown = _where(repo, where, monkeypatch)
    old = str(repo.parent / "old")
    assert main(["diff", specs, "--against", old, "--format", "github"]) == 1
    (line,) = [x for x in capsys.readouterr().out.splitlines() if "title=D0201" in x]
    key_line, key_col = _at(good, "key: order_id")
    assert line.startswith(f"::error file={shown},line={key_line},col={key_col},"), line


@pytest.mark.parametrize("where", sorted(WHERES))
def test_topics_plan_shows_cwd_relative_files(
    repo: Path, where: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The specs fail before any broker is asked: no cluster is needed (or reachable).
    specs, shown = _where(repo, where, monkeypatch)
    assert main(["topics", "plan", specs, "--bootstrap-servers", "127.0.0.1:1"]) == 1
    err = capsys.readouterr().err.splitlines()
    col = BAD_COL + len("{order_id: uuid, total: ")
    assert err[0].startswith(f"{shown}:{BAD_LINE}:{col}: error E0"), err
