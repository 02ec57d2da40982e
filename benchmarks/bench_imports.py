"""Import costs a user pays: the generated package, and `eventgen --help`.

    python benchmarks/bench_imports.py [--repeat 7] [--json]

1. Builds the example specs (specs/) into a temporary directory and times, in fresh processes,
   `import <package>.topics` after pydantic, fastavro and eventgen.runtime are already imported
   (so the figure is the generated code's own cost). Target: under 0.1 s (was a timed test in
   tests/models/test_quality.py; a loaded machine made it fail, so it is measured here).
2. Times `eventgen --help` as a whole cold process (the console script next to this
   interpreter), and lists which eventgen modules `python -X importtime` shows it importing:
   `--help` must not import the command modules (topics, diff, registry) or their clients.

Prints min / median / max seconds; `--json` prints the same as JSON. Exit 1 if a step fails
(not if a target is missed: targets are reported, as timings belong here and not in tests).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EVENTGEN = Path(sys.executable).parent / "eventgen"
TOPICS_TARGET_S = 0.1


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{cwd}", **env}
    return subprocess.run(args, cwd=cwd, env=full, capture_output=True, text=True, check=True)


def time_topics_import(out: Path, package: str, repeat: int) -> list[float]:
    code = (
        "import time, pydantic, fastavro, eventgen.runtime\n"
        f"t = time.perf_counter(); import {package}.topics\n"
        "print(time.perf_counter() - t)"
    )
    return [float(_run([sys.executable, "-c", code], out).stdout) for _ in range(repeat)]


def time_help(repeat: int) -> list[float]:
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        _run([str(EVENTGEN), "--help"], ROOT)
        seconds.append(time.perf_counter() - start)
    return seconds


def help_imports() -> list[str]:
    """eventgen modules imported by `eventgen --help`, from -X importtime."""
    code = "from eventgen.cli import main; main(['--help'])"
    done = _run([sys.executable, "-X", "importtime", "-c", code], ROOT)
    names = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()]
    return sorted(n for n in names if n == "eventgen" or n.startswith("eventgen."))


def summary(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from eventgen.pipeline import load_project

    project, found = load_project(ROOT / "specs")
    if project is None:
        print(f"the example specs do not load: {found}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="bench-imports-") as tmp:
        out = Path(tmp)
        try:
            _run([str(EVENTGEN), "build", str(ROOT / "specs"), "-o", str(out)], ROOT)
            topics = summary(time_topics_import(out, project.package, args.repeat))
            help_s = summary(time_help(args.repeat))
            modules = help_imports()
        except subprocess.CalledProcessError as exc:
            print(f"failed: {exc.cmd}: {exc.stderr[-2000:]}", file=sys.stderr)
            return 1
    figures = {
        "topics_import_s": topics,
        "topics_target_s": TOPICS_TARGET_S,
        "help_s": help_s,
        "help_imports": modules,
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    for label, row in (("import <package>.topics", topics), ("eventgen --help", help_s)):
        print(
            f"{label:<24} min {row['min']:.4f}  median {row['median']:.4f}  max {row['max']:.4f} s"
        )
    met = "met" if topics["median"] < TOPICS_TARGET_S else "MISSED"
    print(f"topics import target {TOPICS_TARGET_S} s: {met}")
    print(f"eventgen modules imported by --help: {', '.join(modules)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
