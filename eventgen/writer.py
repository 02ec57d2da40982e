"""Compare generated files with disk, write them atomically, remove stale files we made.

The writer only trusts its own manifest for ownership: a file is ours when the previous
manifest lists it. It never deletes or overwrites anything else.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

MANIFEST = "eventgen-manifest.json"


@dataclass
class Plan:
    """What a build would change on disk."""

    create: list[str] = field(default_factory=list)
    update: list[str] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    unchanged: int = 0
    foreign: list[str] = field(default_factory=list)  # files we would overwrite but did not make

    @property
    def drift(self) -> list[str]:
        return sorted(self.create + self.update + self.delete)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def previous_files(out: Path) -> set[str]:
    """Paths our last manifest claims (empty when none or unreadable)."""
    try:
        manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
        return {f["path"] for f in manifest.get("files", []) if isinstance(f.get("path"), str)} | {
            MANIFEST
        }
    except (OSError, ValueError, AttributeError, TypeError):
        return set()


def _inside(out: Path, rel: str) -> Path:
    """`out / rel`, refusing paths that could leave the output directory.

    Emitters produce relative POSIX paths; a lexical check (no absolute paths, no `..`)
    is exact for them and avoids a resolve() system call per file.
    """
    parts = PurePosixPath(rel).parts
    if not parts or PurePosixPath(rel).is_absolute() or ".." in parts or "\\" in rel:
        raise RuntimeError(f"refusing to touch {rel}: outside the output directory")
    return out.joinpath(*parts)


def plan(out: Path, files: dict[str, bytes]) -> Plan:
    result = Plan()
    ours = previous_files(out)
    for rel in sorted(files):
        target = _inside(out, rel)
        try:
            current = target.read_bytes()
        except FileNotFoundError:
            result.create.append(rel)
            continue
        if current == files[rel]:
            result.unchanged += 1
        elif rel in ours:
            result.update.append(rel)
        else:
            result.foreign.append(rel)
    for rel in sorted(ours - set(files)):
        if _inside(out, rel).exists():
            result.delete.append(rel)
    return result


def write(out: Path, files: dict[str, bytes], changes: Plan) -> None:
    """Stage every new content beside its target, then rename into place, then delete stale.

    All content exists in memory before this runs, so only I/O can fail; a failure while
    staging removes the staged files and leaves the output directory exactly as it was.
    Files are not fsync'ed one by one (that doubled the time of a full build): the guarantee
    is against a failed or interrupted build, not against power loss, like other generators
    and formatters that rewrite source trees.
    """
    staged: list[tuple[Path, Path]] = []
    try:
        for rel in changes.create + changes.update:
            target = _inside(out, rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            temp = target.with_name(f".{target.name}.eventgen-tmp")
            staged.append((temp, target))
            temp.write_bytes(files[rel])
    except BaseException:
        for temp, _ in staged:
            temp.unlink(missing_ok=True)
        raise
    for temp, target in staged:
        os.replace(temp, target)
    for rel in changes.delete:
        target = _inside(out, rel)
        target.unlink(missing_ok=True)
        _prune_empty(target.parent, out)


def _prune_empty(directory: Path, out: Path) -> None:
    while (
        directory.resolve() != out.resolve() and directory.is_dir() and not any(directory.iterdir())
    ):
        directory.rmdir()
        directory = directory.parent
