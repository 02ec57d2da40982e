"""`eventgen diff --against REF` on temporary git repositories, and other kinds of REF."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.evolution.helpers import BASE, findings, run_diff, variant

GIT = ["git", "-c", "user.email=test@example.com", "-c", "user.name=test"]


def git(repo: Path, *args: str) -> str:
    done = subprocess.run([*GIT, *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository whose first commit holds the base specs under specs/."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    shutil.copytree(BASE, root / "specs")
    git(root, "add", "specs")
    git(root, "commit", "-qm", "base")
    monkeypatch.chdir(root)
    return root


def test_unchanged_against_head_is_compatible(repo: Path) -> None:
    assert findings("specs", "--against", "HEAD") == (0, [])


def test_change_against_head_reports_at_new_position(repo: Path) -> None:
    spec = repo / "specs" / "shop.yaml"
    spec.write_text(spec.read_text().replace("    partitions: 6\n", "    partitions: 12\n"))
    code, found = findings("specs", "--against", "HEAD")
    assert (code, found) == (1, [("D0301", "specs/shop.yaml:5:17")])
    _, text = run_diff("specs", "--against", "HEAD")
    assert "was at: HEAD:specs/shop.yaml:5:17" in text


def test_renamed_file_pairs_by_qualified_name(repo: Path) -> None:
    git(repo, "mv", "specs/shop.yaml", "specs/cart.yaml")
    assert findings("specs", "--against", "HEAD") == (0, [])
    git(repo, "commit", "-qm", "rename")
    assert findings("specs", "--against", "HEAD~1") == (0, [])


def test_nonexistent_ref_is_exit_2(repo: Path) -> None:
    code, out = run_diff("specs", "--against", "no-such-branch")
    assert code == 2
    assert "no such git ref or commit" in out
    assert "compatible" not in out.replace("incompatible", "")


def test_shallow_clone_says_how_to_fetch(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = repo / "specs" / "shop.yaml"
    spec.write_text(spec.read_text().replace("retention: 30d", "retention: 40d"))
    git(repo, "commit", "-qam", "second")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo}", str(clone))
    monkeypatch.chdir(clone)
    code, out = run_diff("specs", "--against", "HEAD~1")
    assert code == 2
    assert "shallow clone" in out
    assert "git fetch --unshallow" in out and "fetch-depth: 0" in out


def test_unparseable_old_specs_are_exit_2(repo: Path) -> None:
    spec = repo / "specs" / "shop.yaml"
    good = spec.read_text()
    spec.write_text(good.replace("context: shop\n", "context: shop\n  broken: [\n"))
    git(repo, "commit", "-qam", "broken")
    spec.write_text(good)
    code, out = run_diff("specs", "--against", "HEAD")
    assert code == 2
    assert "the specs at HEAD do not load" in out
    assert "HEAD:specs/shop.yaml:" in out


def test_specs_missing_at_ref_is_exit_2(repo: Path) -> None:
    (repo / "README").write_text("x\n")
    git(repo, "add", "README")
    git(repo, "commit", "-qm", "readme")
    git(repo, "mv", "specs", "specs2")
    git(repo, "commit", "-qm", "move")
    code, out = run_diff("specs2", "--against", "HEAD~1")
    assert code == 2
    assert "holds no spec files at that commit" in out


def test_version_decrease_against_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    bumped = (
        "      customer: string\n",
        (
            "      customer: string\n      channel: {type: string, default: web}\n    version: 2\n"
            "    upcast:\n      - from: 1\n        ops:\n          - add: {channel: web}\n"
        ),
    )
    variant(tmp_path, "old", {"shop.yaml": [bumped]})
    variant(tmp_path, "new")
    code, found = findings("new", "--against", "old")
    assert code == 1
    assert ("D0406", "new/shop.yaml:16:3") in found


def test_against_generated_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from eventgen.build import run_build

    monkeypatch.chdir(tmp_path)
    old = variant(tmp_path, "old")
    assert run_build(old, tmp_path / "gen", check=False, env=None, fmt="text") == 0
    variant(tmp_path, "new", {"shop.yaml": [("    partitions: 6\n", "    partitions: 12\n")]})
    assert findings("new", "--against", "gen") == (1, [("D0301", "new/shop.yaml:5:17")])
    (tmp_path / "gen" / "schemas-history" / "shop.audit-value" / "1.avsc").write_text("{")
    code, out = run_diff("new", "--against", "gen")
    assert code == 2 and "not valid JSON" in out
