"""Time `eventgen diff SPECS --against HEAD` as a whole cold process on a synthetic platform.

    python benchmarks/bench_diff.py [--events 200] [--contexts 10] [--fields 12] [--seed 1]
                                    [--mutate 20] [--repeat 5] [--versions] [--keep DIR] [--json]

Generates the platform with synth.py into a temporary git repository (specs/), commits it,
rewrites the specs with `--mutate` events changed (synth.mutate), then runs, `--repeat` times
as a fresh `python -m eventgen` process, `eventgen diff specs --against HEAD --format json`
(so imports, both loads, `git ls-tree`/`git cat-file` and the compatibility checks are all
included). Reports min / median / max seconds and the findings by severity and rule.
A run that exits 2 is a failure and makes this script exit 1; exit 1 (breaking) is expected.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synth

GIT = ["git", "-c", "user.email=bench@example.com", "-c", "user.name=bench"]


def prepare(repo: Path, args: argparse.Namespace) -> list[dict[str, str]]:
    """Commit the platform, then leave the mutated variant in the working tree."""
    platform = synth.generate(args.events, args.contexts, args.fields, args.seed, args.versions)
    specs = repo / "specs"
    synth.write(platform, specs)
    subprocess.run([*GIT, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*GIT, "add", "specs"], cwd=repo, check=True)
    subprocess.run([*GIT, "commit", "-qm", "base"], cwd=repo, check=True)
    mutated, changes = synth.mutate(platform, args.mutate, args.seed)
    synth.write(mutated, specs)
    return changes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--contexts", type=int, default=10)
    parser.add_argument("--fields", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mutate", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--versions", action="store_true")
    parser.add_argument("--keep", type=Path, default=None, help="Build the repo here and keep it.")
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON.")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-diff-") as tmp:
        repo = args.keep or Path(tmp)
        repo.mkdir(parents=True, exist_ok=True)
        changes = prepare(repo, args)
        argv = [sys.executable, "-m", "eventgen", "diff", "specs", "--against", "HEAD"]
        seconds, codes, report = [], [], {}
        for _ in range(args.repeat):
            start = time.perf_counter()
            done = subprocess.run(
                [*argv, "--format", "json"], cwd=repo, capture_output=True, text=True, check=False
            )
            seconds.append(time.perf_counter() - start)
            codes.append(done.returncode)
            if done.returncode == 2:
                print(done.stderr, file=sys.stderr)
            else:
                report = json.loads(done.stdout)
    found = report.get("findings", [])
    figures = {
        "events": args.events,
        "contexts": args.contexts,
        "mutated_events": len(changes),
        "changes": dict(Counter(c["change"] for c in changes)),
        "runs": args.repeat,
        "seconds": {
            "min": round(min(seconds), 3),
            "median": round(statistics.median(seconds), 3),
            "max": round(max(seconds), 3),
        },
        "exit_codes": sorted(set(codes)),
        "findings": len(found),
        "by_severity": dict(Counter(f["severity"] for f in found)),
        "by_rule": dict(sorted(Counter(f["rule"] for f in found).items())),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        s = figures["seconds"]
        print(f"eventgen diff --against HEAD: {args.events} events, {len(changes)} mutated")
        print(
            f"  cold process, {args.repeat} runs: min {s['min']}s  median {s['median']}s  max {s['max']}s"
        )
        print(
            f"  exit codes {figures['exit_codes']}; {len(found)} findings {figures['by_severity']}"
        )
        print(f"  by rule: {figures['by_rule']}")
    return 1 if 2 in codes else 0


if __name__ == "__main__":
    sys.exit(main())
