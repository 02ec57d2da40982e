"""The writer: stale files it made are removed, foreign files are never touched, failures are
atomic, one build at a time per directory. Interruption: test_writer_interrupt.py; symlinks:
test_writer_symlinks.py."""

from __future__ import annotations

import fcntl
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from eventgen.cli import main
from eventgen.writer import MANIFEST, STAGING

REPO = Path(__file__).resolve().parents[2]
CASE = REPO / "tests" / "cases" / "minimal_ok" / "specs"
EVENTGEN = Path(sys.executable).parent / "eventgen"
TIMEOUT_ENV = {"EVENTGEN_LOCK_TIMEOUT": "0.5"}


def _tree(out: Path) -> dict[str, bytes]:
    return {
        p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()
    }


def test_check_reports_drift_and_build_repairs_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["build", str(CASE), "-o", str(out)]) == 0
    assert main(["build", str(CASE), "-o", str(out), "--check"]) == 0
    (out / "resolved-spec.json").write_text("{}")
    (out / "eventgen-manifest.json").read_text()
    capsys.readouterr()
    assert main(["build", str(CASE), "-o", str(out), "--check"]) == 1
    assert "resolved-spec.json: changed" in capsys.readouterr().out
    assert main(["build", str(CASE), "-o", str(out)]) == 0
    assert main(["build", str(CASE), "-o", str(out), "--check"]) == 0


def test_stale_files_removed_foreign_files_kept(tmp_path: Path) -> None:
    out = tmp_path / "out"
    specs = tmp_path / "specs"
    specs.mkdir()
    for src in CASE.iterdir():
        (specs / src.name).write_bytes(src.read_bytes())
    assert main(["build", str(specs), "-o", str(out)]) == 0
    (out / "notes.txt").write_text("mine")
    before = _tree(out)
    text = (specs / "orders.yaml").read_text()
    (specs / "orders.yaml").write_text(
        text.replace("  order-commands: {partitions: 6, retention: 1d}\n", "").replace(
            "    topic: order-commands\n", "    topic: order-events\n"
        )
    )
    assert main(["build", str(specs), "-o", str(out)]) == 0
    after = _tree(out)
    assert after["notes.txt"] == b"mine"
    assert after != before


def test_refuses_to_overwrite_foreign_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "resolved-spec.json").write_text("hand written")
    assert main(["build", str(CASE), "-o", str(out)]) == 1
    assert _tree(out) == {"resolved-spec.json": b"hand written"}


def _run(
    *args: str, env: dict[str, str] | None = None, **kw: Any
) -> subprocess.CompletedProcess[str]:
    """The real console script (so exit codes and stderr are what a user sees)."""
    return subprocess.run(
        [str(EVENTGEN), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        **kw,
    )


def _limit_file_size() -> None:
    # Python ignores SIGXFSZ, so a write past the limit fails with EFBIG: a real I/O error
    # in the middle of staging, like a full disk.
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))


def test_failed_write_leaves_output_as_it_was(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["build", str(CASE), "-o", str(out), "--no-cache"]) == 0
    (out / "resolved-spec.json").write_text("{}")  # small: staged first... and big again
    (out / "topics" / "default.json").write_text("{}")
    before = _tree(out)
    assert any(len(data) > 4096 for data in _built(tmp_path).values())
    done = _run("build", str(CASE), "-o", str(out), "--no-cache", preexec_fn=_limit_file_size)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and "nothing was changed" in done.stderr
    assert _tree(out) == before
    assert not (out / STAGING).exists()


def _built(tmp_path: Path) -> dict[str, bytes]:
    ref = tmp_path / "reference"
    if not ref.exists():
        assert main(["build", str(CASE), "-o", str(ref), "--no-cache"]) == 0
    return _tree(ref)


def test_commit_failure_is_completed_by_the_next_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An I/O error after the commit point: the journal stays, the next run rolls forward."""
    from eventgen.writer import journal

    out = tmp_path / "out"
    assert main(["build", str(CASE), "-o", str(out), "--no-cache"]) == 0
    for path in ("resolved-spec.json", "topics/default.json", MANIFEST):
        (out / path).write_bytes((out / path).read_bytes() + b" ")
    real_replace = os.replace
    calls: list[str] = []

    def flaky(src: Any, dst: Any) -> None:
        calls.append(str(dst))
        if len(calls) == 3:  # journal.json, then one file, then fail
            raise OSError(5, "Input/output error")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", flaky)
    assert main(["build", str(CASE), "-o", str(out), "--no-cache"]) == 2
    assert calls[0].endswith(journal.JOURNAL)
    assert (out / STAGING / journal.JOURNAL).is_file()
    monkeypatch.setattr(os, "replace", real_replace)
    assert main(["build", str(CASE), "-o", str(out)]) == 0  # recovers, then finds it current
    assert not (out / STAGING).exists()
    assert _tree(out) == _built(tmp_path)
    assert main(["build", str(CASE), "-o", str(out), "--check", "--no-cache"]) == 0


def test_staging_without_journal_is_rolled_back(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["build", str(CASE), "-o", str(out), "--no-cache"]) == 0
    before = _tree(out)
    (out / STAGING).mkdir()
    (out / STAGING / "0").write_bytes(b"half a build")
    (out / STAGING / "journal.json.tmp").write_bytes(b'{"steps": [')
    assert main(["build", str(CASE), "-o", str(out), "--check"]) == 0
    assert not (out / STAGING).exists()
    assert _tree(out) == before


def test_output_under_a_file_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("a file")
    done = _run("build", str(CASE), "-o", str(tmp_path / "plain" / "out"), "--no-cache")
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("eventgen: cannot write "), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    # `-o` naming a file is a usage error that click reports (exit 2, no traceback)
    done = _run("build", str(CASE), "-o", str(tmp_path / "plain"), "--no-cache")
    assert done.returncode == 2 and "is a file" in done.stderr and "Traceback" not in done.stderr
    assert (tmp_path / "plain").read_text() == "a file"


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_unwritable_output_is_a_one_line_error(tmp_path: Path) -> None:
    locked_dir = tmp_path / "ro"
    locked_dir.mkdir(mode=0o500)
    done = _run("build", str(CASE), "-o", str(locked_dir / "out"), "--no-cache")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_a_held_lock_makes_a_build_fail_clearly(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["build", str(CASE), "-o", str(out), "--no-cache"]) == 0
    before_edit = (out / "resolved-spec.json").read_bytes()
    (out / "resolved-spec.json").write_text("{}")
    before = _tree(out)
    fd = os.open(out, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        # With nothing pending (no staging directory), the no-change check does not need
        # the lock, so a held lock does not stop it.
        (out / "resolved-spec.json").write_bytes(before_edit)
        fast = _run("build", str(CASE), "-o", str(out), "--check", env=TIMEOUT_ENV)
        assert fast.returncode == 0 and "inputs unchanged" in fast.stderr, fast.stderr
        (out / "resolved-spec.json").write_text("{}")
        done = _run("build", str(CASE), "-o", str(out), "--no-cache", env=TIMEOUT_ENV)
    finally:
        os.close(fd)
    assert done.returncode == 2, done.stderr
    assert "waiting for another eventgen build" in done.stderr
    assert "is locked by another eventgen build; gave up after 0.5 s" in done.stderr
    assert "Traceback" not in done.stderr
    assert _tree(out) == before


def test_a_waiting_build_proceeds_when_the_lock_is_released(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    fd = os.open(out, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        proc = subprocess.Popen(
            [str(EVENTGEN), "build", str(CASE), "-o", str(out), "--no-cache"],
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stderr is not None
        line = proc.stderr.readline()  # it says so once it has to wait
        assert "waiting for another eventgen build" in line
        assert _tree(out) == {}
    finally:
        os.close(fd)
    assert proc.wait(timeout=120) == 0
    assert _tree(out) == _built(tmp_path)


def test_two_concurrent_builds_into_one_directory(tmp_path: Path) -> None:
    """Two real processes with different inputs: both succeed, one after the other, and the
    directory ends as exactly one of the two builds."""
    other = tmp_path / "specs"
    shutil.copytree(CASE, other)
    (other / "orders.yaml").write_text(
        (other / "orders.yaml").read_text().replace("partitions: 6", "partitions: 7")
    )
    refs = {}
    for name, specs in (("a", CASE), ("b", other)):
        assert main(["build", str(specs), "-o", str(tmp_path / f"ref-{name}"), "--no-cache"]) == 0
        refs[name] = _tree(tmp_path / f"ref-{name}")
    assert refs["a"] != refs["b"]
    out = tmp_path / "out"
    for _ in range(3):
        procs = [
            subprocess.Popen(
                [str(EVENTGEN), "build", str(specs), "-o", str(out), "--no-cache"],
                stderr=subprocess.PIPE,
                text=True,
            )
            for specs in (CASE, other)
        ]
        results = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
        for code, err in results:
            assert code == 0, err
            assert "Traceback" not in err
        assert _tree(out) in (refs["a"], refs["b"])
        assert not (out / STAGING).exists()


def test_paths_outside_the_output_are_refused(tmp_path: Path) -> None:
    from eventgen.writer import plan

    for bad in ("../escape.txt", "/etc/passwd", "a/../../b"):
        with pytest.raises(RuntimeError):
            plan(tmp_path, {bad: b""})


def test_failed_validation_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["build", str(REPO / "tests" / "cases" / "values" / "specs"), "-o", str(out)]) == 1
    assert not out.exists()


def test_no_change_fast_path_with_the_declared_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    for src in CASE.iterdir():
        (specs / src.name).write_bytes(src.read_bytes())
    assert main(["build", str(specs)]) == 0  # `output: ../out` in the project file
    out = tmp_path / "out"
    capsys.readouterr()
    assert main(["build", str(specs), "--check"]) == 0
    assert "inputs unchanged" in capsys.readouterr().err
    (out / "resolved-spec.json").write_text("{}")
    assert main(["build", str(specs), "--check"]) == 1  # a tampered file defeats the fast path
    assert "resolved-spec.json: changed" in capsys.readouterr().out
    (specs / "orders.yaml").write_text((specs / "orders.yaml").read_text() + "\n# edited\n")
    assert main(["build", str(specs)]) == 0
    assert main(["build", str(specs), "--check"]) == 0
