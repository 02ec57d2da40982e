"""One build's changes to the output directory as a transaction that survives interruption.

Design (a redo journal, the smallest one that makes every instant recoverable):

1. *Stage.* Every new content is written into `OUT/.eventgen-staging/<n>` (one flat, hidden
   directory inside the output directory, so every later rename stays on one file system and
   is atomic). The tree itself is not touched yet.
2. *Commit point.* The list of steps (`put <n> -> path`, `delete path`, the manifest last) is
   written to `journal.json.tmp` and renamed to `journal.json`. That rename is the commit:
   before it the old tree is intact and the staging directory is garbage; after it the build
   is decided and only has to be carried out.
3. *Apply.* Each step is replayed in order; each is idempotent (a `put` whose staged file is
   gone was already renamed into place, a `delete` of a missing file is done). The manifest is
   renamed last, so a reader that sees the new manifest sees every new file. Then the journal
   and the staging directory are removed.

Recovery (`recover`, run under the lock by every `build` and `build --check` before they look
at the directory): a staging directory without `journal.json` is rolled back (removed); one
with it is rolled forward (the steps are replayed). So after `kill -9` or a crash at any
instant, the next run leaves the directory exactly as the old or the new build, by itself.

Signals: while staging, SIGINT and SIGTERM raise `Interrupted` here, the staging directory
is removed and the directory is the old tree. From the commit point to the end of apply they
are deferred: the build finishes (a few hundred milliseconds of renames even for 10,000 files)
and then exits with 128 + the signal number, leaving the new tree. So a Ctrl-C'd or terminated
build leaves no half state even before the next run; only an uncatchable kill needs recovery.

Content is not fsync'ed: the guarantee is against a failed, interrupted or killed process (the
kernel keeps written pages), not against power loss, which would cost an fsync per file
(measured: it doubled the time of a full build).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from types import FrameType
from typing import Any

STAGING = ".eventgen-staging"
JOURNAL = "journal.json"


class WriteError(Exception):
    """An I/O failure while writing; the message says in which state the directory is."""


class Interrupted(BaseException):  # like KeyboardInterrupt, which it replaces while writing
    """SIGINT or SIGTERM during a write; `completed` says whether the new build is in place."""

    def __init__(self, signum: int, completed: bool) -> None:
        super().__init__(signum, completed)
        self.signum = signum
        self.completed = completed


def inside(out: Path, rel: str) -> Path:
    """`out / rel`, refusing paths that could leave the output directory or hit our own names.

    Emitters produce relative POSIX paths; a lexical check (no absolute paths, no `..`)
    is exact for them and avoids a resolve() system call per file. Symlinks are checked
    by the planner (SafeReader), once per directory.
    """
    parts = PurePosixPath(rel).parts
    if (
        not parts
        or PurePosixPath(rel).is_absolute()
        or ".." in parts
        or "\\" in rel
        or parts[0] == STAGING
    ):
        raise RuntimeError(f"refusing to touch {rel}: outside the output directory")
    return out.joinpath(*parts)


class _Signals:
    """SIGINT/SIGTERM handling for one write: raise while staging, defer while committing."""

    def __init__(self) -> None:
        self.deferring = False
        self.raised = False
        self.pending: int | None = None

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.deferring or self.raised:
            self.pending = self.pending or signum
            return
        self.raised = True
        raise Interrupted(signum, completed=False)


@contextmanager
def _guarded() -> Iterator[_Signals]:
    state = _Signals()
    previous: list[tuple[signal.Signals, Any]] = []
    try:
        for signum in (signal.SIGINT, signal.SIGTERM):
            # A signal the caller ignores (nohup, `&` in a script) stays ignored.
            if signal.getsignal(signum) is not signal.SIG_IGN:
                previous.append((signum, signal.signal(signum, state.handle)))
    except ValueError:  # not the main thread: signals cannot reach us here anyway
        pass
    try:
        yield state
    finally:
        for restored, handler in previous:
            signal.signal(restored, handler)
    if state.pending is not None:
        raise Interrupted(state.pending, completed=True)


def apply(out: Path, steps: Sequence[tuple[str, bytes | None]]) -> None:
    """Stage, commit and apply `steps` (path, new bytes or None to delete), in order."""
    stage = out / STAGING
    journal: list[list[str]] = []
    with _guarded() as signals:
        try:
            stage.mkdir()  # recover() ran first under the lock, so it does not exist
            for n, (rel, data) in enumerate(steps):
                if data is None:
                    journal.append(["delete", rel])
                else:
                    (stage / str(n)).write_bytes(data)
                    journal.append(["put", str(n), rel])
            temp = stage / f"{JOURNAL}.tmp"
            temp.write_bytes(json.dumps({"steps": journal}).encode())
            signals.deferring = True
            os.replace(temp, stage / JOURNAL)  # the commit point
        except BaseException as exc:
            signals.raised = True  # a signal during the cleanup must not cut it short
            _discard(stage)
            if isinstance(exc, OSError):
                raise WriteError(f"cannot write {out}: {exc}; nothing was changed") from exc
            raise
        try:
            _roll_forward(out, stage)
        except OSError as exc:
            raise WriteError(
                f"cannot finish writing {out}: {exc}; the build is recorded in "
                f"{stage / JOURNAL} and the next `eventgen build` completes it"
            ) from exc


def recover(out: Path) -> str | None:
    """Finish or undo an interrupted write: "rolled forward", "rolled back" or None.

    Must run under the output lock (a staging directory of a build that is still running
    looks exactly like an abandoned one). Raises WriteError when the journal cannot be used.
    """
    stage = out / STAGING
    try:
        mode = os.lstat(stage).st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise WriteError(f"cannot inspect {stage}: {exc}") from exc
    if not stat.S_ISDIR(mode):
        # Our reserved name, but not something we made (a file, or a symlink that would
        # redirect staging out of the directory): remove the entry, never its target.
        os.unlink(stage)
        return "rolled back"
    if not (stage / JOURNAL).is_file():
        _discard(stage)
        return "rolled back"
    try:
        _roll_forward(out, stage)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise WriteError(
            f"cannot complete the interrupted build recorded in {stage / JOURNAL}: {exc}; "
            f"remove {stage} and build again"
        ) from exc
    return "rolled forward"


def _roll_forward(out: Path, stage: Path) -> None:
    steps = json.loads((stage / JOURNAL).read_bytes())["steps"]
    made: set[Path] = set()
    for step in steps:
        if step[0] == "put":
            name, rel = str(step[1]), str(step[2])
            if not name.isdigit():
                raise ValueError(f"bad journal entry {step!r}")
            target, staged = inside(out, rel), stage / name
            if target.parent not in made:
                target.parent.mkdir(parents=True, exist_ok=True)
                made.add(target.parent)
            try:
                os.replace(staged, target)
            except FileNotFoundError:
                if staged.exists():
                    raise
                # already renamed by the run that was interrupted
        elif step[0] == "delete":
            target = inside(out, str(step[1]))
            target.unlink(missing_ok=True)
            _prune_empty(target.parent, out)
        else:
            raise ValueError(f"bad journal entry {step!r}")
    (stage / JOURNAL).unlink()
    _discard(stage)


def _discard(stage: Path) -> None:
    # rmtree unlinks symlinks instead of following them; a missing tree is fine.
    shutil.rmtree(stage, ignore_errors=True)


def _prune_empty(directory: Path, out: Path) -> None:
    """Remove directories a deletion left empty, up to (not including) `out`; lexical."""
    while directory != out and out in directory.parents:
        try:
            directory.rmdir()
        except FileNotFoundError:  # removed by the interrupted run this one replays
            pass
        except OSError:  # not empty: stop
            return
        directory = directory.parent
