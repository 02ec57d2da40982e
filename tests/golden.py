"""Golden cases: `tests/cases/<name>/specs` plus the expected result.

A case expects either diagnostics (`expected.txt`: exit code line + rendered text) or, when
the build succeeds, the whole output tree (`expected/`) as well. `python -m tests.golden`
regenerates every case (`python -m tests.golden NAME...` only those); review the diff before
committing.

A case may also hold `pre-existing/`: a tree copied into the output directory before the
build (symbolic links kept as links), for what only an existing output can provoke: a foreign
file the writer must not overwrite (E0120), a committed symlink it must not write through
(E0121). A failed build must leave that tree exactly as it was.

In transcripts the output directory reads `<out>` and the specs directory `<specs>`, so they
do not depend on where the repository is checked out.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
from contextlib import chdir, redirect_stderr, redirect_stdout
from pathlib import Path

CASES = Path(__file__).resolve().parent / "cases"


def snapshot(root: Path) -> dict[str, bytes]:
    """Every entry under `root` without following links: file bytes, or `symlink -> target`."""
    found: dict[str, bytes] = {}
    for folder, dirs, names in os.walk(root, followlinks=False):
        for name in dirs + names:
            path = Path(folder, name)
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                found[rel] = f"symlink -> {os.readlink(path)}".encode()
            elif path.is_file():
                found[rel] = path.read_bytes()
    return dict(sorted(found.items()))


def run_case(case: Path, out: Path) -> tuple[str, dict[str, bytes]]:
    """Build one case into `out`; return the transcript and the output tree afterwards."""
    from eventgen.cli import main

    if (case / "pre-existing").is_dir():
        shutil.copytree(case / "pre-existing", out, symlinks=True)
    stdout, stderr = io.StringIO(), io.StringIO()
    # From inside the specs: findings are shown relative to the working directory, and the
    # transcripts keep their spec-relative `orders.yaml:3:5`, wherever the repository is.
    with redirect_stdout(stdout), redirect_stderr(stderr), chdir(case / "specs"):
        code = main(["build", str(case / "specs"), "-o", str(out), "--no-cache"])
    text = stderr.getvalue().replace(str(out), "<out>").replace(str(case / "specs"), "<specs>")
    return f"exit {code}\n{text}", snapshot(out)


def regenerate(case: Path, scratch: Path) -> None:
    out = scratch / case.name
    shutil.rmtree(out, ignore_errors=True)
    transcript, files = run_case(case, out)
    (case / "expected.txt").write_text(transcript, encoding="utf-8")
    expected = case / "expected"
    shutil.rmtree(expected, ignore_errors=True)
    if files == snapshot(case / "pre-existing"):
        return  # nothing written (a failed build): the test checks exactly that
    for rel, data in files.items():
        target = expected / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def main() -> int:
    import tempfile

    names = set(sys.argv[1:])
    unknown = names - {p.name for p in CASES.iterdir()}
    if unknown:
        print(f"no such golden case: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        for case in sorted(p for p in CASES.iterdir() if (p / "specs").is_dir()):
            if not names or case.name in names:
                regenerate(case, Path(tmp))
                print(f"regenerated {case.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
