"""The scaling curve of `eventgen build`: wall time and peak RSS per platform size.

    python benchmarks/bench_scale.py [--sizes 200,1000,5000] [--repeat 3] [--contexts 10]
                                     [--source DIR] [--profile-stages] [--big-spec]
                                     [--work DIR] [--json PATH]

For each size, synth.py writes a platform once; then the rounds run *interleaved* (size 1,
size 2, ..., size 1, size 2, ...) so a machine that slows down mid-run hurts every size alike.
Every run is a cold `python -m eventgen build SPECS -o OUT --no-cache` with OUT deleted first;
its peak RSS is the child's own `ru_maxrss` (os.wait4, so no other process is counted). The
table shows the median wall time, seconds per 1,000 events and the median peak RSS.

--source DIR      time another checkout (e.g. `git archive HEAD | tar -x -C DIR`): DIR goes
                  first on PYTHONPATH. Repeat it (`--source before --source after`) to time
                  checkouts interleaved with each other, so before/after share the same load.
--profile-stages  after the timed rounds, one extra run per size through benchmarks/stages.py
                  prints where the time goes (load, IR, rules, each emitter, ruff, writer, GC).
--big-spec        also build the "5 MB spec" of tests/foundation/test_cli.py (about 31,000
                  events on one topic, three fields each), once.
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import synth
from bench_build import child_env


def big_spec(specs: Path) -> int:
    """The 5 MB single-topic spec of tests/foundation/test_cli.py; returns its event count."""
    specs.mkdir(parents=True, exist_ok=True)
    (specs / "eventgen.yaml").write_text("eventgen: 1\nproject: big\npackage: big_events\n")
    body = ["eventgen: 1", "context: big", "topics:", "  t: {}", "events:"]
    i, size = 0, sum(len(line) + 1 for line in body)
    while size < 5 * 1024 * 1024:
        item = (
            f'  Thing{i}Happened:\n    topic: t\n    key: id\n    doc: "event number {i}"\n'
            f"    fields: {{id: uuid, name: string, amount: {{type: decimal, precision: 12, scale: 2}}}}"
        )
        body.append(item)
        size += len(item) + 1
        i += 1
    (specs / "big.yaml").write_text("\n".join(body) + "\n")
    return i


def run(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, int, float, str, float]:
    """(seconds, exit code, peak RSS in MB of this child alone, stderr tail, CPU seconds).

    CPU seconds (user + system of the child and the ruff processes it waited for) say more
    than wall time on a shared machine, where other processes stretch the wall clock.
    """
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        tail = "\n".join(err.read().decode(errors="replace").strip().splitlines()[-3:])
    cpu = usage.ru_utime + usage.ru_stime
    return elapsed, proc.returncode, usage.ru_maxrss / 1024, tail, cpu


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="200,1000,5000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--contexts", type=int, default=10)
    ap.add_argument("--source", type=Path, action="append", help="checkout(s) to time")
    ap.add_argument("--profile-stages", action="store_true")
    ap.add_argument("--big-spec", action="store_true")
    ap.add_argument("--work", type=Path, help="keep platforms here (reused when present)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    base_env = child_env()
    envs: dict[str, dict[str, str]] = {}
    for source in args.source or [HERE.parent]:
        path = os.pathsep.join([str(source.resolve()), base_env["PYTHONPATH"]])
        envs[source.name] = {**base_env, "PYTHONPATH": path}
    env = next(iter(envs.values()))
    tmp = None if args.work else tempfile.TemporaryDirectory(prefix="eventgen-scale-")
    work = args.work.resolve() if args.work else Path(tmp.name)  # type: ignore[union-attr]
    work.mkdir(parents=True, exist_ok=True)
    py = [sys.executable, "-m", "eventgen"]
    results: dict[str, Any] = {"sources": list(envs), "sizes": {}}
    try:
        specs_of: dict[str, Path] = {}
        for n in sizes:
            specs = work / f"specs-{n}"
            if not (specs / "eventgen.yaml").is_file():
                synth.write(synth.generate(n, args.contexts, 12, 1, False), specs)
            specs_of[str(n)] = specs
        runs: dict[tuple[str, str], list[tuple[float, int, float, float]]] = {}
        for _ in range(args.repeat):
            for key, specs in specs_of.items():
                for label, source_env in envs.items():
                    out = work / f"out-{key}"
                    shutil.rmtree(out, ignore_errors=True)
                    secs, code, rss, tail, cpu = run(
                        [*py, "build", str(specs), "-o", str(out), "--no-cache"], source_env, work
                    )
                    runs.setdefault((label, key), []).append((secs, code, rss, cpu))
                    print(f"  {label:>10} {key:>6} events: {secs:7.2f} s  cpu {cpu:7.2f} s  "
                          f"{rss:6.0f} MB  exit {code}", flush=True)  # fmt: skip
                    if code != 0:
                        print(f"         {tail}", flush=True)
        print(f"{'source':>10} {'events':>7} {'median s':>9} {'cpu s':>8} {'cpu/1k ev':>9} "
              f"{'peak MB':>8}  exits")  # fmt: skip
        for (label, key), rows in runs.items():
            med = statistics.median(r[0] for r in rows)
            cpu = statistics.median(r[3] for r in rows)
            rss = statistics.median(r[2] for r in rows)
            exits = sorted({r[1] for r in rows})
            per_k = cpu / int(key) * 1000
            print(f"{label:>10} {key:>7} {med:9.2f} {cpu:8.2f} {per_k:9.2f} {rss:8.0f}  {exits}")
            results["sizes"][f"{label}:{key}"] = {
                "seconds": [r[0] for r in rows], "median": med, "cpu": [r[3] for r in rows],
                "cpu_median": cpu, "peak_mb": [r[2] for r in rows], "exits": exits,
            }  # fmt: skip
        if args.big_spec:
            specs = work / "specs-big"
            events = big_spec(specs) if not (specs / "big.yaml").is_file() else None
            out = work / "out-big"
            shutil.rmtree(out, ignore_errors=True)
            secs, code, rss, tail, cpu = run(
                [*py, "build", str(specs), "-o", str(out), "--no-cache"], env, work
            )
            print(
                f"5 MB spec ({events or 'cached'} events): {secs:.1f} s (cpu {cpu:.1f} s), {rss:.0f} MB, exit {code}"
            )
            if code != 0:
                print(f"  {tail}")
            results["big"] = {
                "seconds": secs,
                "cpu": cpu,
                "peak_mb": rss,
                "exit": code,
                "tail": tail,
            }
        if args.profile_stages:
            extra = [*([("big", work / "specs-big")] if args.big_spec else [])]
            for key, specs in [*specs_of.items(), *extra]:
                out = work / f"out-{key}"
                shutil.rmtree(out, ignore_errors=True)
                report = work / f"stages-{key}.json"
                argv2 = [sys.executable, str(HERE / "stages.py"), str(report)]
                run([*argv2, "build", str(specs), "-o", str(out), "--no-cache"], env, work)
                data = json.loads(report.read_text())
                results.setdefault("stages", {})[key] = data
                print(f"stages, {key} events: total {data['total']:.2f} s, exit {data['exit']}, "
                      f"GC {data['gc']['seconds']:.2f} s in {data['gc']['collections']} runs")  # fmt: skip
                for name, secs in data["stages"].items():
                    print(f"  {name:<34} {secs:7.2f} s")
        if args.json:
            args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        return 0
    finally:
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    raise SystemExit(main())
