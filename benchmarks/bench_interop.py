"""What the interop outputs (issue 12) add to a build: AsyncAPI, Protobuf and the catalog.

    python benchmarks/bench_interop.py [--events 200] [--contexts 10] [--repeat 5]
                                       [--base-ref 8015938] [--json [PATH]]

Writes the synthetic platform (synth.py) into a temporary directory and times, interleaved,
cold `python -m eventgen build SPECS -o OUT --no-cache` processes (OUT removed before every
run) of two trees side by side:

    base   the eventgen source at --base-ref (default: the last commit before issue 12), run
           from a `git worktree` with PYTHONPATH pointing at it: the build as it was
    now    this checkout: the same build plus the AsyncAPI documents, the .proto files and
           their lock, and the catalog pages

and reports min / median / max wall time of each, the added time (now - base) over base of
the medians, and the files each writes under asyncapi/, protobuf/ and docs/. Target: the
added time stays under 25% of the base build. Both runs use this venv, so only eventgen's
own code differs. The worktree is removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synth

ROOT = Path(__file__).resolve().parent.parent
BASE_REF = "8015938"  # main before issue 12: the build without the interop emitters
INTEROP_FOLDERS = ("asyncapi", "protobuf", "docs")


def run_build(source: Path, specs: Path, out: Path) -> float:
    """One cold build with eventgen imported from `source`; seconds, or SystemExit on failure."""
    shutil.rmtree(out, ignore_errors=True)
    env = dict(os.environ, PYTHONPATH=str(source), PYTHONDONTWRITEBYTECODE="1")
    argv = [sys.executable, "-m", "eventgen", "build", str(specs), "-o", str(out), "--no-cache"]
    start = time.perf_counter()
    # cwd outside both trees: `-m` puts the cwd first on sys.path, before PYTHONPATH.
    proc = subprocess.run(
        argv, env=env, cwd=out.parent, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"build from {source} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return elapsed


def interop_files(out: Path) -> dict[str, int]:
    """Files and bytes the interop outputs hold (0 for the base tree)."""
    found: dict[str, int] = {"files": 0, "bytes": 0}
    for folder in INTEROP_FOLDERS:
        for path in (out / folder).rglob("*") if (out / folder).is_dir() else ():
            if path.is_file():
                found["files"] += 1
                found["bytes"] += path.stat().st_size
    platform_doc = out / "asyncapi.yaml"
    if platform_doc.is_file():
        found["files"] += 1
        found["bytes"] += platform_doc.stat().st_size
    return found


def summary(seconds: list[float]) -> dict[str, float]:
    return {
        "min": min(seconds),
        "median": statistics.median(seconds),
        "max": max(seconds),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=200)
    ap.add_argument("--contexts", type=int, default=10)
    ap.add_argument("--fields", type=int, default=12)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--base-ref", default=BASE_REF)
    ap.add_argument("--json", nargs="?", const="-", default=None)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="eventgen-bench-interop-") as tmp_name:
        tmp = Path(tmp_name)
        specs = tmp / "specs"
        synth.write(synth.generate(args.events, args.contexts, args.fields), specs)
        base = tmp / "base"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(base), args.base_ref],
            check=True,
        )
        try:
            trees = {"base": base, "now": ROOT}
            times: dict[str, list[float]] = {name: [] for name in trees}
            run_build(ROOT, specs, tmp / "warm")  # the first run pays for cold file caches
            for _ in range(args.repeat):
                for name, source in trees.items():  # interleaved: drift hits both alike
                    times[name].append(run_build(source, specs, tmp / f"out-{name}"))
            files = {name: interop_files(tmp / f"out-{name}") for name in trees}
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], check=False
            )
    stats = {name: summary(values) for name, values in times.items()}
    added = (stats["now"]["median"] - stats["base"]["median"]) / stats["base"]["median"]
    result: dict[str, Any] = {
        "events": args.events,
        "contexts": args.contexts,
        "repeat": args.repeat,
        "base_ref": args.base_ref,
        "seconds": stats,
        "interop_output": files["now"],
        "base_interop_output": files["base"],  # 0 files: proves the base ran the old code
        "added_fraction": added,
        "target_added_fraction": 0.25,
    }
    print(f"{args.events} events, {args.contexts} contexts, {args.repeat} cold builds each")
    for name in trees:
        s = stats[name]
        print(f"  {name:<5} min {s['min']:.2f}s  median {s['median']:.2f}s  max {s['max']:.2f}s")
    out = files["now"]
    print(f"  interop output: {out['files']} files, {out['bytes'] / 1e6:.1f} MB")
    print(f"  added build time: {added * 100:.1f}% of the base build (target < 25%)")
    if args.json == "-":
        print(json.dumps(result, indent=2))
    elif args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
