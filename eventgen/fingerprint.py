"""A fingerprint of everything a build's output depends on, for the no-change fast path.

For a released eventgen, output is a pure function of: the spec files (paths and bytes), the
environment, the eventgen version, the formatter version (ruff shapes generated Python) and
the Python version (keyword lists shape escaped names). When the manifest records the same
fingerprint and every file it lists still has its recorded sha256, a rebuild would give the
same bytes. Working on eventgen itself changes code without changing its version: there,
`--no-cache` (or EVENTGEN_NO_CACHE=1) always rebuilds.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import sys
from pathlib import Path

import eventgen
from eventgen.spec.project import discover


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def inputs_fingerprint(specs_dir: Path, env: str | None) -> str:
    digest = hashlib.sha256()
    for part in (
        eventgen.__version__,
        _version("ruff"),
        f"{sys.version_info[0]}.{sys.version_info[1]}",
        env or "",
    ):
        digest.update(part.encode() + b"\0")
    for path in discover(specs_dir):
        digest.update(path.relative_to(specs_dir).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()
