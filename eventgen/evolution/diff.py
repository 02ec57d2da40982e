"""`eventgen diff`: load both sides as snapshots and run every diff rule over the pairs."""

from __future__ import annotations

import posixpath
import tempfile
from pathlib import Path, PurePath, PurePosixPath

from eventgen.diagnostics import Diagnostic, has_errors
from eventgen.evolution import gitref, history
from eventgen.evolution.diff_model import diff_messages, diff_topics
from eventgen.evolution.diff_schemas import diff_subjects
from eventgen.evolution.errors import InputError, LoadError
from eventgen.evolution.findings import Finding, normalize
from eventgen.evolution.generated import from_generated, is_generated_tree
from eventgen.evolution.protobuf_subjects import LOCK_FILE, lock_from_bytes
from eventgen.evolution.snapshot import Snapshot, from_project
from eventgen.evolution.subjects import Strategy
from eventgen.ir.model import Project
from eventgen.pipeline import load_project
from eventgen.render import display_path, moved


def run(old: Snapshot, new: Snapshot) -> list[Finding]:
    """Every finding, sorted: breaking first, then by position."""
    return normalize(diff_subjects(old, new) + diff_messages(old, new) + diff_topics(old, new))


def display_prefix(path: PurePath | str) -> str:
    """How a directory is shown in front of spec-relative file names."""
    text = PurePath(path).as_posix()
    return "" if text in ("", ".") else text.rstrip("/") + "/"


def disk_prefix(path: Path | str) -> str:
    """The prefix of a directory on disk: relative to the working directory (absolute outside
    it), so a GitHub annotation attaches to the PR line whichever way the path was typed."""
    return display_prefix(display_path(path))


def require_project(specs: Path, env: str | None) -> Project:
    """The loaded specs, or an InputError listing what is wrong with them."""
    project, found = load_project(specs, env)
    if project is None:
        raise _load_error(
            f"the specs in {specs}",
            found,
            disk_prefix(specs),
            f"fix them first (`eventgen validate {specs}`)",
        )
    return project


def load_new(specs: Path, env: str | None, strategy: Strategy) -> Snapshot:
    """The new side: the specs directory as it is on disk."""
    project = require_project(specs, env)
    lock = disk_lock(project, specs / project.output)
    return from_project(project, disk_prefix(specs), "working tree", strategy, lock)


def disk_lock(project: Project, out: Path) -> object:
    """The protobuf field-number lock under `out` (None when not protobuf or not built)."""
    if project.defaults.serialization != "protobuf":
        return None
    path = out / LOCK_FILE
    data = path.read_bytes() if path.is_file() else None
    return lock_from_bytes(data, str(path))


def load_old(specs: Path, ref: str, env: str | None, strategy: Strategy) -> Snapshot:
    """The old side: a directory of specs, a generated/ tree, or the specs at a git ref."""
    as_dir = Path(ref)
    if as_dir.is_dir():
        if is_generated_tree(as_dir):
            if strategy != "topic":
                raise InputError(
                    f"--against {ref}: a generated tree's history uses TopicNameStrategy",
                    "diff against the old specs (a git ref or directory) for RecordNameStrategy",
                )
            return from_generated(as_dir, disk_prefix(as_dir).rstrip("/") or ".")
        return _from_directory(as_dir, ref, env, strategy)
    ref_info = gitref.resolve(specs, ref)
    with tempfile.TemporaryDirectory(prefix="eventgen-diff-") as tmp:
        old_specs = gitref.export_specs(ref_info, Path(tmp))
        prefix = f"{ref}:{display_prefix(ref_info.specs_rel)}"
        project, found = load_project(old_specs, env)
        if project is None or has_errors(found):
            raise _load_error(
                f"the specs at {ref}",
                found,
                prefix,
                "a ref whose specs do not load cannot be compared; pick another ref",
            )
    out = PurePosixPath(posixpath.normpath(str(ref_info.specs_rel / project.output)))
    lock = None
    if project.defaults.serialization == "protobuf" and not str(out).startswith(".."):
        found_lock = gitref.read_tree(ref_info, out / PurePosixPath(LOCK_FILE).parent)
        data = found_lock.get(PurePosixPath(LOCK_FILE).name)
        lock = lock_from_bytes(data, f"{ref}:{out}/{LOCK_FILE}")
    snap = from_project(project, prefix, ref, strategy, lock)
    if not str(out).startswith(".."):
        label = f"{ref}:{out}/{history.ROOT}"

        def load_history() -> history.History:
            files = gitref.read_tree(ref_info, out / history.ROOT)
            return history.parse({f"{history.ROOT}/{p}": c for p, c in files.items()}, source=label)

        snap.history_loader = load_history
    return snap


def _from_directory(path: Path, ref: str, env: str | None, strategy: Strategy) -> Snapshot:
    project, found = load_project(path, env)
    prefix = disk_prefix(path)
    if project is None or has_errors(found):
        raise _load_error(
            f"the specs in {ref}",
            found,
            prefix,
            "a directory whose specs do not load cannot be compared",
        )
    out = path / project.output
    snap = from_project(project, prefix, ref, strategy, disk_lock(project, out))
    snap.history_loader = lambda: history.parse(history.read(out), source=f"{out}/{history.ROOT}")
    return snap


def _load_error(what: str, found: list[Diagnostic], prefix: str, hint: str) -> LoadError:
    errors = [
        d if d.loc.file.startswith("<") else moved(d, prefix + d.loc.file)
        for d in found
        if d.severity.value == "error"
    ]
    lines = [f"{what} do not load ({len(errors)} error(s)):"]
    for d in errors[:10]:
        lines.append(f"  {d.loc}: {d.code}: {d.message}")
    if len(errors) > 10:
        lines.append(f"  ... and {len(errors) - 10} more")
    return LoadError("\n".join(lines), hint, errors)
