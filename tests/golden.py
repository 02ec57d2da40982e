"""Golden cases: `tests/cases/<name>/specs` plus the expected result.

A case expects either diagnostics (`expected.txt`: exit code line + rendered text) or, when
the build succeeds, the whole output tree (`expected/`) as well. `python -m tests.golden`
regenerates every case; review the diff before committing.
"""

from __future__ import annotations

import io
import shutil
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

CASES = Path(__file__).resolve().parent / "cases"


def run_case(case: Path, out: Path) -> tuple[str, dict[str, bytes]]:
    """Build one case into `out`; return the transcript and the produced files."""
    from eventgen.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        code = main(["build", str(case / "specs"), "-o", str(out), "--no-cache"])
    text = stderr.getvalue().replace(str(out), "<out>")
    transcript = f"exit {code}\n{text}"
    files = (
        {
            p.relative_to(out).as_posix(): p.read_bytes()
            for p in sorted(out.rglob("*"))
            if p.is_file()
        }
        if out.exists()
        else {}
    )
    return transcript, files


def regenerate(case: Path, scratch: Path) -> None:
    out = scratch / case.name
    shutil.rmtree(out, ignore_errors=True)
    transcript, files = run_case(case, out)
    (case / "expected.txt").write_text(transcript, encoding="utf-8")
    expected = case / "expected"
    shutil.rmtree(expected, ignore_errors=True)
    for rel, data in files.items():
        target = expected / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def main() -> int:
    import tempfile

    names = set(sys.argv[1:])
    with tempfile.TemporaryDirectory() as tmp:
        for case in sorted(p for p in CASES.iterdir() if (p / "specs").is_dir()):
            if not names or case.name in names:
                regenerate(case, Path(tmp))
                print(f"regenerated {case.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
