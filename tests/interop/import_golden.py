"""Golden cases of `eventgen import asyncapi`: tests/interop/import_cases/<case>/.

A case holds `input.yaml` (or `input.json`) and whatever files its `$ref`s reach, optionally
`args.txt` (extra command-line arguments, one a line) and `pre-existing/` (a specs tree put
into the output directory first, e.g. for "target exists"). `expected.txt` is the transcript
of the real console script: the exit code line, then stdout and stderr as rendered, with the
output directory shown as `<out>`, and on success every spec file written (`--- name`). `python -m tests.interop.import_golden [names]` rewrites
the expected files (all cases, or the named ones); review the diff before committing.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CASES = Path(__file__).resolve().parent / "import_cases"
EVENTGEN = Path(sys.executable).parent / "eventgen"


def case_input(case: Path) -> str:
    found = [n for n in ("input.yaml", "input.json") if (case / n).is_file()]
    assert len(found) == 1, f"{case}: one input.yaml or input.json"
    return found[0]


def run_case(case: Path, scratch: Path) -> str:
    """Import the case into `scratch`/specs with the console script; return the transcript."""
    out = scratch / "specs"
    shutil.rmtree(out, ignore_errors=True)
    if (case / "pre-existing").is_dir():
        shutil.copytree(case / "pre-existing", out)
    args_file = case / "args.txt"
    extra = args_file.read_text("utf-8").split() if args_file.is_file() else []
    done = subprocess.run(
        [str(EVENTGEN), "import", "asyncapi", case_input(case), "-o", str(out), *extra],
        capture_output=True,
        text=True,
        cwd=case,  # findings name the input relative to the case: `input.yaml:3:5`
        check=False,
    )
    text = f"exit {done.returncode}\n{done.stdout}{done.stderr}"
    if done.returncode == 0:  # the spec files written are part of what the case expects
        for path in sorted(out.rglob("*.yaml")):
            text += f"--- {path.relative_to(out).as_posix()}\n{path.read_text('utf-8')}"
    return text.replace(str(out), "<out>")


def main(names: list[str]) -> int:
    cases = (
        [CASES / n for n in names] if names else sorted(p.parent for p in CASES.glob("*/input.*"))
    )
    with tempfile.TemporaryDirectory() as scratch:
        for case in cases:
            text = run_case(case, Path(scratch))
            (case / "expected.txt").write_text(text, encoding="utf-8")
            print(f"{case.name}: {text.splitlines()[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
