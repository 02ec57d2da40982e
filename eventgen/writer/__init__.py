"""Compare generated files with disk, write them as one transaction, remove stale files we made.

The writer only trusts its own manifest for ownership: a file is ours when the previous
manifest lists it. It never deletes or overwrites anything else, and it never reads, writes
or deletes through a symbolic link below the output directory (a symlink committed in a pull
request must not redirect a CI build's writes): such paths are reported (`E0121`).

The output root itself may be a symlink when the user passed it with `-o` (resolved once by
the kernel when the lock opens it); `build.py` refuses a symlinked root that only the project
file declares. How a build survives Ctrl-C, SIGTERM and `kill -9` is in `journal.py`; how two
builds share one directory is in `lock.py`. See docs/writer.md.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from eventgen.writer.journal import STAGING, Interrupted, WriteError, apply, inside, recover
from eventgen.writer.lock import LockTimeout, locked

__all__ = [
    "MANIFEST",
    "STAGING",
    "Interrupted",
    "LockTimeout",
    "Plan",
    "SafeReader",
    "WriteError",
    "locked",
    "plan",
    "previous_files",
    "recover",
    "sha256",
    "write",
]

MANIFEST = "eventgen-manifest.json"


@dataclass
class Plan:
    """What a build would change on disk."""

    create: list[str] = field(default_factory=list)
    update: list[str] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    unchanged: int = 0
    foreign: list[str] = field(default_factory=list)  # files we would overwrite but did not make
    symlinks: list[str] = field(default_factory=list)  # paths that are or go through a symlink

    @property
    def drift(self) -> list[str]:
        return sorted(self.create + self.update + self.delete)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class SymlinkFound(OSError):
    """A path below the output directory is, or passes through, a symbolic link."""

    def __init__(self, rel: str) -> None:
        super().__init__(errno.ELOOP, "is a symbolic link", rel)
        self.rel = rel


class SafeReader:
    """Reads files below `out` without following a symlink in any component below `out`.

    Each directory is checked once (lstat, cached), and each file is opened with
    O_NOFOLLOW, so the cost over a plain read is one system call per directory.
    """

    def __init__(self, out: Path) -> None:
        self.out = out
        self._dirs: dict[str, str] = {}  # "a/b" -> "dir" | "missing" | "link"

    def parents(self, rel: str) -> str:
        """State of `rel`'s directories: "dir" (all exist) or "missing"; raises on a link."""
        parts = PurePosixPath(rel).parts[:-1]
        state = "dir"
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            known = self._dirs.get(prefix)
            if known is None:
                known = self._lstat_dir(prefix) if state == "dir" else "missing"
                self._dirs[prefix] = known
            if known == "link":
                raise SymlinkFound(prefix)
            state = known
        return state

    def _lstat_dir(self, prefix: str) -> str:
        path = self.out.joinpath(*prefix.split("/"))
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            return "missing"
        if stat.S_ISLNK(mode):
            return "link"
        if not stat.S_ISDIR(mode):
            raise NotADirectoryError(errno.ENOTDIR, "exists and is not a directory", str(path))
        return "dir"

    def read(self, rel: str) -> bytes | None:
        """The file's bytes, None when absent; SymlinkFound when it or a parent is a link."""
        if self.parents(rel) == "missing":
            return None
        target = inside(self.out, rel)
        try:
            fd = os.open(target, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise SymlinkFound(rel) from None
            raise
        with os.fdopen(fd, "rb") as handle:
            return handle.read()

    def kind(self, rel: str) -> str:
        """ "missing", "link" or "file" for the last component (parents checked first)."""
        if self.parents(rel) == "missing":
            return "missing"
        try:
            mode = os.lstat(inside(self.out, rel)).st_mode
        except FileNotFoundError:
            return "missing"
        return "link" if stat.S_ISLNK(mode) else "file"


def previous_files(out: Path) -> set[str]:
    """Paths our last manifest claims (empty when none, unreadable or a symlink)."""
    try:
        data = SafeReader(out).read(MANIFEST)
        if data is None:
            return set()
        manifest = json.loads(data)
        return {f["path"] for f in manifest.get("files", []) if isinstance(f.get("path"), str)} | {
            MANIFEST
        }
    except (OSError, ValueError, AttributeError, TypeError):
        return set()


def plan(out: Path, files: dict[str, bytes]) -> Plan:
    """Compare `files` with the disk. OSError for a path that cannot be read (a directory
    where a file goes, a file where a directory goes); symlinks are collected, not raised."""
    result = Plan()
    ours = previous_files(out)
    reader = SafeReader(out)
    for rel in sorted(files):
        inside(out, rel)
        try:
            current = reader.read(rel)
        except SymlinkFound as link:
            result.symlinks.append(link.rel)
            continue
        if current is None:
            result.create.append(rel)
        elif current == files[rel]:
            result.unchanged += 1
        elif rel in ours:
            result.update.append(rel)
        else:
            result.foreign.append(rel)
    for rel in sorted(ours - set(files)):
        try:
            inside(out, rel)
            kind = reader.kind(rel)
        except SymlinkFound as link:
            result.symlinks.append(link.rel)
            continue
        except (RuntimeError, NotADirectoryError):
            continue  # a manifest entry we would never have written: not ours to delete
        if kind == "link":
            result.symlinks.append(rel)
        elif kind == "file":
            result.delete.append(rel)
    result.symlinks = sorted(set(result.symlinks))
    return result


def write(out: Path, files: dict[str, bytes], changes: Plan) -> None:
    """Apply `changes` as one transaction (journal.apply); the manifest is switched last.

    Call it under `locked(out)` after `recover(out)` and `plan`, with no symlinks or foreign
    files in the plan. Raises WriteError (nothing changed, or the next run completes it) or
    Interrupted (SIGINT/SIGTERM; the directory is the old or the new tree, as it says).
    """
    if changes.symlinks or changes.foreign:
        raise RuntimeError("write() called with a plan that has symlinks or foreign files")
    puts = [rel for rel in changes.create + changes.update if rel != MANIFEST]
    for rel in puts + changes.delete:
        inside(out, rel)
    steps: list[tuple[str, bytes | None]] = [(rel, files[rel]) for rel in sorted(puts)]
    steps += [(rel, None) for rel in changes.delete]
    if MANIFEST in changes.create or MANIFEST in changes.update:
        steps.append((MANIFEST, files[MANIFEST]))
    if steps:
        apply(out, steps)
