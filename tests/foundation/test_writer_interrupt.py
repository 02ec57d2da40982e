"""A 4,000-event build interrupted in its write phase leaves the old tree or the new one.

Real `eventgen build` processes (the console script) over a synthetic platform
(benchmarks/synth.py) are sent SIGINT, SIGTERM or SIGKILL at points spread over the write
phase: after the staging directory appears (the old tree must survive) and after the
journal appears (the commit point: the new tree must win). Each interrupted directory is
compared byte for byte with two reference builds, and then `build --check` must finish or
undo what a SIGKILL left, leave no staging directory and find the directory up to date.

Count and time are bounded: 6 interrupted builds and one reference, three at a time (each
spends most of its time emitting, before the write phase), each with a deadline; copies of the
old tree are hard links. About 40 s on an idle 2-CPU machine.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from eventgen.writer import STAGING
from eventgen.writer.journal import JOURNAL

REPO = Path(__file__).resolve().parents[2]
EVENTGEN = Path(sys.executable).parent / "eventgen"
EVENTS = 4000
TIMEOUT = 180.0  # per process: generous for a loaded CI machine; a hang fails, never blocks

Tree = dict[str, bytes]


def _tree(root: Path) -> Tree:
    found: Tree = {}
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            path = Path(dirpath) / name
            found[path.relative_to(root).as_posix()] = path.read_bytes()
    return found


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(EVENTGEN), *args], check=False, capture_output=True, text=True, timeout=TIMEOUT
    )


def _link_copy(src: Path, dst: Path) -> None:
    """A hard-linked copy: cheap, and exact here because the writer never writes a file in
    place (it renames new files over old ones), so the copy keeps the state it was taken in."""
    shutil.copytree(src, dst, symlinks=True, copy_function=os.link)


@dataclass(frozen=True)
class Platform:
    old_specs: Path
    new_specs: Path
    old: Path  # reference: the old build
    old_tree: Tree


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Platform:
    root = tmp_path_factory.mktemp("interrupt")
    specs = {}
    for name, seed in (("old", 1), ("new", 2)):
        specs[name] = root / f"specs-{name}"
        subprocess.run(
            [
                sys.executable,
                str(REPO / "benchmarks" / "synth.py"),
                str(specs[name]),
                *("--events", str(EVENTS), "--fields", "3", "--seed", str(seed)),
            ],
            check=True,
            capture_output=True,
            timeout=TIMEOUT,
        )
    old = root / "ref-old"
    done = _run("build", str(specs["old"]), "-o", str(old), "--no-cache")
    assert done.returncode == 0, done.stderr
    return Platform(specs["old"], specs["new"], old, _tree(old))


@dataclass(frozen=True)
class Sample:
    sig: signal.Signals
    trigger: str  # "staging" or "journal": what must exist before the delay starts
    delay: float


# Delays spread over the staging phase (about a second here) and the commit phase.
SAMPLES = [
    Sample(signal.SIGINT, "staging", 0.0),
    Sample(signal.SIGTERM, "staging", 0.3),
    Sample(signal.SIGKILL, "staging", 0.1),
    Sample(signal.SIGINT, "journal", 0.02),
    Sample(signal.SIGTERM, "journal", 0.0),
    Sample(signal.SIGKILL, "journal", 0.05),
]


@dataclass
class Outcome:
    sample: Sample
    hit: bool  # the trigger was seen while the process ran
    code: int
    stderr: str
    journal_left: bool
    claims_new: bool  # what the process's exit says it left (for SIGKILL: the journal)
    check_code: int
    check_stderr: str


def _interrupt(p: Platform, sample: Sample, work: Path) -> Outcome:
    """Interrupt one build of the new specs over the old tree; snapshot what it left in
    work/left; then `build --check` (which recovers) with the specs the directory should hold."""
    out = work / "out"
    _link_copy(p.old, out)
    proc = subprocess.Popen(
        [str(EVENTGEN), "build", str(p.new_specs), "-o", str(out), "--no-cache"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    marker = out / STAGING if sample.trigger == "staging" else out / STAGING / JOURNAL
    deadline = time.monotonic() + TIMEOUT
    hit = False
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if marker.exists():
                hit = True
                if sample.delay:
                    time.sleep(sample.delay)
                proc.send_signal(sample.sig)
                break
            time.sleep(0.001)
        _, stderr = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    journal_left = (out / STAGING / JOURNAL).exists()
    _link_copy(out, work / "left")
    if sample.sig is signal.SIGKILL:
        claims_new = journal_left
    else:
        claims_new = proc.returncode == 0 or "has the new build" in stderr
    specs = p.new_specs if claims_new else p.old_specs
    done = _run("build", str(specs), "-o", str(out), "--check")
    return Outcome(
        sample, hit, proc.returncode, stderr, journal_left, claims_new, done.returncode, done.stderr
    )


def test_interrupted_builds_leave_the_old_or_the_new_tree(
    platform: Platform, tmp_path: Path
) -> None:
    def reference() -> None:
        _link_copy(platform.old, tmp_path / "ref-new")
        done = _run("build", str(platform.new_specs), "-o", str(tmp_path / "ref-new"), "--no-cache")
        assert done.returncode == 0, done.stderr

    def one(i: int) -> Outcome:
        work = tmp_path / f"sample-{i}"
        work.mkdir()
        return _interrupt(platform, SAMPLES[i], work)

    with ThreadPoolExecutor(max_workers=3) as pool:
        ref = pool.submit(reference)
        outcomes = list(pool.map(one, range(len(SAMPLES))))
        ref.result()
    old_tree, new_tree = platform.old_tree, _tree(tmp_path / "ref-new")
    changed = sum(1 for path in new_tree if old_tree.get(path) != new_tree[path])
    assert changed > 5000, changed  # a big write phase: most files change

    report = [
        (o.sample, o.hit, o.code, o.journal_left, o.claims_new, o.check_code) for o in outcomes
    ]
    states = []
    for i, o in enumerate(outcomes):
        s = o.sample
        left = _tree(tmp_path / f"sample-{i}" / "left")
        state = "old" if left == old_tree else "new" if left == new_tree else "partial"
        states.append(state)
        assert o.hit, report  # every signal landed inside the write phase
        assert "Traceback" not in o.stderr + o.check_stderr, (o.stderr, o.check_stderr)
        # The next run (`build --check`) repaired whatever was left: no staging directory,
        # exactly the tree the interrupted build said it left, and up to date.
        out = tmp_path / f"sample-{i}" / "out"
        assert o.check_code == 0, (report, o.check_stderr[-2000:])
        assert not os.path.lexists(out / STAGING), report
        assert _tree(out) == (new_tree if o.claims_new else old_tree), report
        if s.sig is signal.SIGKILL:
            assert o.code == -signal.SIGKILL, report
            assert state == "partial", (report, state)  # a staging directory at least
            if s.trigger == "journal":
                assert o.claims_new, report  # past the commit point: rolled forward
            continue
        # SIGINT/SIGTERM: whole before any next run, with no staging directory left.
        assert state == ("new" if o.claims_new else "old"), (report, state)
        if o.code != 0:
            assert o.code == 128 + s.sig, (report, o.stderr)
            assert f"interrupted by {s.sig.name}; " in o.stderr, o.stderr
        if s.trigger == "journal":
            assert state == "new", (report, state)  # past the commit point: finished
    # Both halves of the design were exercised: a signal while staging undid the build, a
    # signal while committing was deferred until the new tree was complete.
    signalled = [(o.sample.trigger, o.code, st) for o, st in zip(outcomes, states, strict=True)]
    assert any(t == "staging" and c in (130, 143) and st == "old" for t, c, st in signalled), report
    assert any(t == "journal" and c in (130, 143) and st == "new" for t, c, st in signalled), report
