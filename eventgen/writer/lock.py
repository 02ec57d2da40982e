"""One writer per output directory: an advisory lock on the directory itself.

The lock is `flock` on an open descriptor of the output directory, not on a lock file: a lock
file would either stay in the committed output or, if removed after use, let a third build
lock a fresh file while a second still waits on the unlinked one. The kernel releases the
lock when the process ends however it ends (`kill -9` included), so a lock is never stale.

A second build waits (polling, so it can say once that it waits) up to a bound, by default
60 s or `EVENTGEN_LOCK_TIMEOUT` seconds, then fails with LockTimeout (exit 2 in `build`).
`build --check` takes the same lock, so it never reads a half-committed tree and can finish
an interrupted build (journal.recover) before it compares. On Windows there is no lock.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from eventgen.writer.journal import WriteError

if sys.platform != "win32":
    import fcntl

DEFAULT_TIMEOUT = 60.0
POLL = 0.05


class LockTimeout(WriteError):
    """Another eventgen process kept the output directory locked for the whole bound."""


def lock_timeout() -> float:
    raw = os.environ.get("EVENTGEN_LOCK_TIMEOUT")
    if raw is None:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        raise WriteError(f"EVENTGEN_LOCK_TIMEOUT={raw!r} is not a number of seconds") from None
    return max(value, 0.0)


@contextmanager
def locked(
    out: Path, *, create: bool, on_wait: Callable[[], None] = lambda: None
) -> Iterator[bool]:
    """Hold the lock of `out` (made first when `create`); yields whether `out` exists.

    Without `create`, a missing directory is not made and nothing is locked (there is nothing
    to read or to recover). OSError (the parent is a file, no permission) propagates.
    """
    if create:
        out.mkdir(parents=True, exist_ok=True)
    elif not out.is_dir():
        yield False
        return
    if sys.platform == "win32":
        yield True
        return
    fd = os.open(out, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        _acquire(fd, out, on_wait)
        yield True
    finally:
        os.close(fd)  # releases the lock


def _acquire(fd: int, out: Path, on_wait: Callable[[], None]) -> None:
    if sys.platform == "win32":
        return
    bound = lock_timeout()
    deadline = time.monotonic() + bound
    waited = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        if time.monotonic() >= deadline:
            raise LockTimeout(
                f"{out} is locked by another eventgen build; gave up after {bound:g} s "
                "(EVENTGEN_LOCK_TIMEOUT sets the bound)"
            )
        if not waited:
            on_wait()
            waited = True
        time.sleep(POLL)
