"""The writer never follows a symlink out of the output directory (E0121, exit 1).

A symlink committed in a pull request (a generated file or folder replaced by a link to
somewhere else) must not redirect a CI build's writes, reads or deletions. The root given
with `-o` is the user's own choice and is followed; a root that only the project file
declares is refused when it is a symlink.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from eventgen.writer import STAGING

REPO = Path(__file__).resolve().parents[2]
CASE = REPO / "tests" / "cases" / "minimal_ok" / "specs"
EVENTGEN = Path(sys.executable).parent / "eventgen"


def _tree(root: Path) -> dict[str, bytes | str]:
    """Files by content and links by target, without following links."""
    found: dict[str, bytes | str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                found[rel] = "-> " + os.readlink(path)
            elif path.is_file():
                found[rel] = path.read_bytes()
    return found


def _build(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(EVENTGEN), "build", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _built(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    done = _build(str(CASE), "-o", str(out), "--no-cache")
    assert done.returncode == 0, done.stderr
    return out


def _assert_refused(done: subprocess.CompletedProcess[str], link: Path) -> None:
    assert done.returncode == 1, done.stderr
    assert f"{link}: error E0121: is a symbolic link" in done.stderr
    assert "Traceback" not in done.stderr


def test_file_symlink_is_not_written_through(tmp_path: Path) -> None:
    out = _built(tmp_path)
    victim = tmp_path / "outside.json"
    victim.write_text("precious")
    link = out / "resolved-spec.json"
    link.unlink()
    link.symlink_to(victim)
    before = _tree(out)
    for extra in ([], ["--check"], ["--no-cache"], ["--check", "--no-cache"]):
        done = _build(str(CASE), "-o", str(out), *extra)
        _assert_refused(done, link)
        assert victim.read_text() == "precious"
        assert _tree(out) == before


def test_a_symlink_with_the_right_bytes_does_not_pass_the_fast_path(tmp_path: Path) -> None:
    out = _built(tmp_path)
    victim = tmp_path / "outside.json"
    link = out / "resolved-spec.json"
    victim.write_bytes(link.read_bytes())
    link.unlink()
    link.symlink_to(victim)
    _assert_refused(_build(str(CASE), "-o", str(out), "--check"), link)


def test_directory_symlink_is_not_written_or_deleted_through(tmp_path: Path) -> None:
    out = _built(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    shutil.move(str(out / "topics"), str(elsewhere))
    for path in elsewhere.iterdir():
        path.write_text("changed outside")  # a build through the link would rewrite these
    (out / "topics").symlink_to(elsewhere, target_is_directory=True)
    outside = _tree(elsewhere)
    before = _tree(out)
    done = _build(str(CASE), "-o", str(out), "--no-cache")
    _assert_refused(done, out / "topics")
    assert done.stderr.count("E0121") == 1  # one finding for the link, not one per file
    assert _tree(elsewhere) == outside
    assert _tree(out) == before


def test_stale_file_behind_a_directory_symlink_is_not_deleted(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    shutil.copytree(CASE, specs)
    out = tmp_path / "out"
    assert _build(str(specs), "-o", str(out), "--no-cache").returncode == 0
    # a Python package folder the manifest lists; the next build no longer makes it
    package = next(p for p in out.iterdir() if p.is_dir() and (p / "__init__.py").exists())
    elsewhere = tmp_path / "elsewhere"
    shutil.move(str(package), str(elsewhere))
    package.symlink_to(elsewhere, target_is_directory=True)
    project = specs / "eventgen.yaml"
    project.write_text(project.read_text().replace(f"package: {package.name}", "package: other"))
    assert "package: other" in project.read_text()
    outside = _tree(elsewhere)
    done = _build(str(specs), "-o", str(out), "--no-cache")
    _assert_refused(done, package)
    assert _tree(elsewhere) == outside


def test_symlinked_root_given_with_o_is_followed(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    done = _build(str(CASE), "-o", str(link), "--no-cache")
    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and (real / "eventgen-manifest.json").is_file()
    assert _build(str(CASE), "-o", str(link), "--check").returncode == 0


def test_symlinked_root_declared_by_the_project_is_refused(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    shutil.copytree(CASE, specs)
    assert "output: ../out" in (specs / "eventgen.yaml").read_text()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "out").symlink_to(elsewhere, target_is_directory=True)
    for extra in ([], ["--check"], ["--no-cache"]):
        done = _build(str(specs), *extra)
        assert done.returncode == 1, done.stderr
        assert "out: error E0121: is a symbolic link" in done.stderr
        assert list(elsewhere.iterdir()) == []


def test_a_symlink_on_the_staging_name_is_removed_not_followed(tmp_path: Path) -> None:
    out = _built(tmp_path)
    (out / "resolved-spec.json").write_text("{}")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "journal.json").write_text('{"steps": [["delete", "eventgen-manifest.json"]]}')
    (out / STAGING).symlink_to(elsewhere, target_is_directory=True)
    outside = _tree(elsewhere)
    done = _build(str(CASE), "-o", str(out), "--no-cache")
    assert done.returncode == 0, done.stderr
    assert not os.path.lexists(out / STAGING)
    assert _tree(elsewhere) == outside
    assert _build(str(CASE), "-o", str(out), "--check").returncode == 0
