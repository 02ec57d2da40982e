"""A changed topic union is judged by its changed branches; verdicts equal the whole check.

cart-events (tests/evolution/base) carries CartOpened and CartClosed, so its value subject
is an Avro union of both records.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from eventgen.evolution import diff_schemas
from eventgen.evolution.diff import load_new, load_old
from eventgen.evolution.diff_schemas import diff_subjects
from tests.evolution.helpers import variant

WITH_DEFAULT = (
    "      customer: string\n",
    "      customer: string\n      channel: {type: string, default: web}\n",
)
WITHOUT_DEFAULT = ("      total: long\n", "      total: long\n      currency: string\n")
SECOND_WITH_DEFAULT = (
    "      total: long\n",
    "      total: long\n      extra: {type: int, default: 1}\n",
)
UNION = "shop.cart-events-value"


def _findings(tmp_path: Path, edits: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    variant(tmp_path, "old")
    variant(tmp_path, "new", {"shop.yaml": edits})
    new = load_new(Path("new"), None, "topic")
    old = load_old(Path("new"), "old", None, "topic")
    found = diff_subjects(old, new)
    return sorted((f.code, f.message, f"{f.loc} {f.old_loc} {f.details}") for f in found)


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Record the new schema of every compatibility check."""
    seen: list[Any] = []
    real = diff_schemas.compat_check

    def check(fmt: str, previous: list[Any], new: Any, mode: str) -> Any:
        seen.append(new)
        return real(fmt, previous, new, mode)

    monkeypatch.setattr(diff_schemas, "compat_check", check)
    return seen


def test_compatible_branch_change_skips_the_whole_union(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    seen = _spy(monkeypatch)
    got = _findings(tmp_path, [WITH_DEFAULT])
    assert [(rule, msg.split(" ")[0]) for rule, msg, _ in got] == [("D0102", UNION)]
    assert "changed compatibly under BACKWARD" in got[0][1]
    assert len(seen) == 1  # CartOpened's own record, never the union
    assert isinstance(seen[0], dict) and seen[0]["name"] == "CartOpened"


@pytest.mark.parametrize(
    "edits",
    [
        [WITH_DEFAULT],
        [WITHOUT_DEFAULT],
        [WITH_DEFAULT, WITHOUT_DEFAULT],
        [WITH_DEFAULT, SECOND_WITH_DEFAULT],
    ],
)
def test_branch_verdicts_equal_the_whole_union_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edits: list[tuple[str, str]]
) -> None:
    (tmp_path / "a").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    branch_wise = _findings(tmp_path / "a", edits)
    monkeypatch.setattr(diff_schemas, "_branches_compatible", lambda *args: False)
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "b")
    whole = _findings(tmp_path / "b", edits)
    assert branch_wise == whole
    assert any(msg.startswith(UNION) for _, msg, _ in whole)


def test_an_incompatible_branch_takes_the_whole_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    seen = _spy(monkeypatch)
    got = _findings(tmp_path, [WITHOUT_DEFAULT])
    assert [rule for rule, _, _ in got] == ["D0101"]
    assert "CartClosed" in got[0][1]
    assert any(isinstance(schema, list) for schema in seen)  # the union itself was checked
