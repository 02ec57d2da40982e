"""`eventgen diff --against REF` for protobuf, with the field-number lock committed in git."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from eventgen.emit.protobuf.plan import next_lock
from eventgen.evolution.protobuf_subjects import LOCK_FILE, lock_from_bytes
from eventgen.pipeline import load_project
from tests.evolution.helpers import BASE, run_diff

GIT = ["git", "-c", "user.email=test@example.com", "-c", "user.name=test"]


def git(repo: Path, *args: str) -> None:
    subprocess.run([*GIT, *args], cwd=repo, capture_output=True, text=True, check=True)


def _write_lock(repo: Path, previous: bytes | None) -> bytes:
    """What a build writes: the next lock of the working specs after `previous`."""
    project, _ = load_project(repo / "specs", None)
    assert project is not None
    lock = next_lock(project, lock_from_bytes(previous, "test"))
    data: bytes = lock.dumps()
    path = repo / "generated" / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    shutil.copytree(BASE, root / "specs")
    config = root / "specs" / "eventgen.yaml"
    config.write_text(config.read_text().replace("serialization: avro", "serialization: protobuf"))
    _write_lock(root, None)
    git(root, "add", "specs", "generated")
    git(root, "commit", "-qm", "base")
    monkeypatch.chdir(root)
    return root


def _diff() -> tuple[int, list[str]]:
    code, out = run_diff("specs", "--against", "HEAD", "--format", "json")
    payload: dict[str, Any] = json.loads(out)
    rules = [
        str(d).split(" ")[0]
        for f in payload["findings"]
        for d in f.get("details", [])
        if str(d).startswith("protobuf.")
    ]
    return code, sorted(rules)


def _remove_source(repo: Path) -> None:
    spec = repo / "specs" / "shop.yaml"
    spec.write_text(spec.read_text().replace("      source: string\n", ""))


def test_removed_field_reserved_by_the_lock_is_compatible(repo: Path) -> None:
    _remove_source(repo)
    committed = (repo / "generated" / LOCK_FILE).read_bytes()
    _write_lock(repo, committed)  # the build turns `source` into a reserved number and name
    assert _diff() == (0, [])


def test_removed_field_dropped_from_a_hand_edited_lock_is_breaking(repo: Path) -> None:
    _remove_source(repo)
    path = repo / "generated" / LOCK_FILE
    lock = json.loads(path.read_text())
    for pkg in lock["packages"].values():
        for entry in pkg["messages"].values():
            entry["fields"].pop("source", None)
    path.write_text(json.dumps(lock))
    code, rules = _diff()
    assert code == 1
    # Both topics' value subjects are the context's file: each reports the deletion once.
    assert rules == [
        "protobuf.field_no_delete_unless_name_reserved",
        "protobuf.field_no_delete_unless_name_reserved",
        "protobuf.field_no_delete_unless_number_reserved",
        "protobuf.field_no_delete_unless_number_reserved",
    ]


def test_wire_incompatible_change_against_a_git_ref(repo: Path) -> None:
    spec = repo / "specs" / "shop.yaml"
    spec.write_text(spec.read_text().replace("      total: long", "      total: double"))
    code, rules = _diff()
    assert code == 1
    assert rules == ["protobuf.field_wire_json_compatible_type"] * 2
