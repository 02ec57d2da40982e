"""Read a specs directory (and its schema history) as it was at a git ref, without a checkout.

Files are listed with `git ls-tree` and read in one `git cat-file --batch` process (the same
bytes `git show REF:path` prints, without one process per file), then written into a temp
directory that `load_project` reads like any specs directory.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from eventgen.evolution.errors import InputError

GIT_TIMEOUT_S = 60
SPEC_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class GitRef:
    """A resolved commit and where the specs directory sits inside its repository."""

    ref: str
    commit: str
    toplevel: Path
    specs_rel: PurePosixPath  # specs dir relative to the repository root


def _git(cwd: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["git", *args],
            cwd=cwd,
            input=stdin,
            capture_output=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except FileNotFoundError as exc:
        raise InputError("git is not installed; cannot read a git ref") from exc
    except subprocess.TimeoutExpired as exc:
        raise InputError(f"git {' '.join(args[:2])} did not finish in {GIT_TIMEOUT_S}s") from exc


def resolve(specs: Path, ref: str) -> GitRef:
    """The commit `ref` names in the repository holding `specs`; clear errors otherwise."""
    specs = specs.resolve()
    top = _git(specs, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        raise InputError(
            f"--against {ref}: not a directory, and {specs} is not inside a git repository",
            "pass a git ref, a specs directory or a generated/ tree",
        )
    toplevel = Path(top.stdout.decode().strip()).resolve()
    if ref.startswith("-"):
        raise InputError(f"--against {ref}: a git ref cannot start with '-'")
    found = _git(
        toplevel, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"
    )
    if found.returncode != 0:
        shallow = _git(toplevel, "rev-parse", "--is-shallow-repository").stdout.strip() == b"true"
        if shallow:
            raise InputError(
                f"--against {ref}: no such commit in this shallow clone",
                "fetch the history: `git fetch --unshallow` (GitHub Actions: "
                "actions/checkout with `fetch-depth: 0`)",
            )
        raise InputError(
            f"--against {ref}: no such git ref or commit",
            "check the name (`git branch -a`, `git tag`); in CI fetch it first, "
            "e.g. `git fetch origin main`",
        )
    commit = found.stdout.decode().strip()
    try:
        rel = PurePosixPath(specs.relative_to(toplevel).as_posix())
    except ValueError as exc:  # pragma: no cover - rev-parse ran inside specs
        raise InputError(f"{specs} is outside the repository {toplevel}") from exc
    return GitRef(ref, commit, toplevel, rel)


def list_files(ref: GitRef, directory: PurePosixPath) -> dict[str, str]:
    """Repo-relative path -> blob id of every regular file under `directory` at the ref."""
    spec = "." if str(directory) in ("", ".") else str(directory)
    out = _git(ref.toplevel, "ls-tree", "-r", "-z", "--full-tree", ref.commit, "--", spec)
    if out.returncode != 0:
        raise InputError(f"git ls-tree {ref.ref}: {out.stderr.decode().strip()}")
    files: dict[str, str] = {}
    for entry in out.stdout.split(b"\0"):
        if not entry:
            continue
        meta, _, path = entry.partition(b"\t")
        mode, kind, blob = meta.decode().split()
        if kind == "blob" and mode in ("100644", "100755"):
            files[path.decode()] = blob
    return files


def read_blobs(ref: GitRef, blobs: dict[str, str]) -> dict[str, bytes]:
    """The contents of the given blobs, read in one `git cat-file --batch` process."""
    if not blobs:
        return {}
    order = sorted(blobs)
    stdin = "".join(blobs[p] + "\n" for p in order).encode()
    out = _git(ref.toplevel, "cat-file", "--batch", stdin=stdin)
    if out.returncode != 0:
        raise InputError(f"git cat-file {ref.ref}: {out.stderr.decode().strip()}")
    data, pos, files = out.stdout, 0, {}
    for path in order:
        end = data.index(b"\n", pos)
        header = data[pos:end].split()
        if len(header) != 3 or header[1] != b"blob":
            raise InputError(f"git cat-file {ref.ref}: cannot read {path}")
        size = int(header[2])
        files[path] = data[end + 1 : end + 1 + size]
        pos = end + 1 + size + 1  # content is followed by a newline
    return files


def export_specs(ref: GitRef, dest: Path) -> Path:
    """Write the spec files at the ref into `dest/<specs_rel>`; returns that directory."""
    listed = list_files(ref, ref.specs_rel)
    specs = {p: b for p, b in listed.items() if p.endswith(SPEC_SUFFIXES)}
    if not specs:
        raise InputError(
            f"--against {ref.ref}: {ref.specs_rel}/ holds no spec files at that commit",
            "was the specs directory moved? diff against a directory of the old specs instead",
        )
    for path, content in read_blobs(ref, specs).items():
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return dest / ref.specs_rel


def read_tree(ref: GitRef, directory: PurePosixPath) -> dict[str, bytes]:
    """Files under `directory` at the ref, keyed relative to `directory`."""
    listed = list_files(ref, directory)
    prefix = f"{directory}/" if str(directory) not in ("", ".") else ""
    return {p.removeprefix(prefix): c for p, c in read_blobs(ref, listed).items()}
