"""Time eventgen's CLI as whole cold processes on a synthetic platform.

    python benchmarks/bench_build.py [--events 200] [--contexts 10] [--fields 12] [--seed 1]
                                     [--repeat 5] [--versions] [--keep DIR]
                                     [--jsonschema-dir DIR] [--no-baseline] [--json [PATH]]
                                     [--profile-stages]

Generates the platform with synth.py into a temporary directory, then runs, each --repeat
times as a fresh `python -m eventgen` process (so imports and startup are included):

    validate      eventgen validate SPECS
    build         eventgen build SPECS -o OUT        (OUT removed before every run)
    build --check eventgen build SPECS -o OUT --check (OUT up to date: must exit 0)

and reports min / median / max wall time. As a baseline it times `datamodel-codegen` over
the JSON Schemas eventgen emitted (OUT/jsonschema, or --jsonschema-dir) when they exist, and
prints eventgen build's median over datamodel-codegen's. Exit codes of eventgen: 0 ok,
1 findings, 2 error; a run that exits 2 (or a --check that does not exit 0) is reported
as failed and makes this script exit 1.
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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synth


@dataclass
class Timing:
    """Wall times of one command over several cold runs."""

    name: str
    argv: list[str]
    seconds: list[float] = field(default_factory=list)
    exit_codes: list[int] = field(default_factory=list)
    ok: bool = True
    note: str = ""

    @property
    def min(self) -> float:
        return min(self.seconds) if self.seconds else float("nan")

    @property
    def median(self) -> float:
        return statistics.median(self.seconds) if self.seconds else float("nan")

    @property
    def max(self) -> float:
        return max(self.seconds) if self.seconds else float("nan")

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(min=self.min, median=self.median, max=self.max)
        return d


REPO = Path(__file__).resolve().parent.parent


def child_env() -> dict[str, str]:
    """The environment of timed runs: the repo on PYTHONPATH so an uninstalled checkout works."""
    path = os.environ.get("PYTHONPATH", "")
    return dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), path) if p),
        PYTHONHASHSEED="0",
        NO_COLOR="1",
        RUFF_NO_CACHE="true",  # cold runs: no formatter cache carried between repetitions
    )


def run_once(argv: list[str], cwd: Path) -> tuple[float, int, str]:
    """Run argv once; return (seconds, exit code, last lines of stderr/stdout)."""
    env = child_env()
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
    return elapsed, proc.returncode, tail


def bench(
    name: str,
    argv: list[str],
    repeat: int,
    cwd: Path,
    ok_codes: tuple[int, ...] = (0, 1),
    before: Any = None,
) -> Timing:
    """Time argv `repeat` times; `before()` runs untimed before each repetition."""
    t = Timing(name, argv)
    for _ in range(repeat):
        if before is not None:
            before()
        secs, code, tail = run_once(argv, cwd)
        t.seconds.append(secs)
        t.exit_codes.append(code)
        if code not in ok_codes:
            t.ok = False
            t.note = f"exit {code}: {tail}"
            break
        if code != 0 and not t.note:
            t.note = f"exit {code} (findings): {tail}"
    return t


def find_datamodel_codegen() -> str | None:
    """The datamodel-codegen next to this interpreter, else on PATH."""
    local = Path(sys.executable).with_name("datamodel-codegen")
    if local.exists():
        return str(local)
    return shutil.which("datamodel-codegen")


def bench_datamodel_codegen(jsonschema_dir: Path, outdir: Path, repeat: int, cwd: Path) -> Timing:
    """Baseline: datamodel-codegen turning the same JSON Schemas into pydantic v2 models."""
    exe = find_datamodel_codegen()
    argv = [
        exe or "datamodel-codegen",
        "--input",
        str(jsonschema_dir),
        "--input-file-type",
        "jsonschema",
        "--output-model-type",
        "pydantic_v2.BaseModel",
        "--formatters",
        "ruff-format",
        "--disable-timestamp",
        "--output",
        str(outdir),
    ]
    if exe is None:
        return Timing("datamodel-codegen", argv, ok=False, note="datamodel-codegen not found")

    def clean() -> None:
        shutil.rmtree(outdir, ignore_errors=True)

    return bench("datamodel-codegen", argv, repeat, cwd, ok_codes=(0,), before=clean)


def count_files(root: Path) -> tuple[int, int]:
    """Number of files and total bytes under root."""
    files = [p for p in root.rglob("*") if p.is_file()] if root.exists() else []
    return len(files), sum(p.stat().st_size for p in files)


def fmt_table(timings: list[Timing]) -> str:
    rows = [("command", "runs", "min s", "median s", "max s", "exit", "status")]
    for t in timings:
        codes = ",".join(str(c) for c in sorted(set(t.exit_codes))) or "-"
        rows.append(
            (
                t.name,
                str(len(t.seconds)),
                f"{t.min:.3f}",
                f"{t.median:.3f}",
                f"{t.max:.3f}",
                codes,
                "ok" if t.ok else "FAILED",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    out = "\n".join(lines)
    for t in timings:
        if t.note:
            out += f"\n{t.name}: {t.note}"
    return out


def profile_stages(specs: Path, out: Path, cwd: Path) -> dict[str, Any]:
    """One full build through stages.py (OUT rebuilt from scratch); its stage report."""
    shutil.rmtree(out, ignore_errors=True)
    report = cwd / "stages.json"
    script = str(Path(__file__).resolve().parent / "stages.py")
    argv = [sys.executable, script, str(report), "build", str(specs), "-o", str(out), "--no-cache"]
    run_once(argv, cwd)
    data: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    return data


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=200)
    ap.add_argument("--contexts", type=int, default=10)
    ap.add_argument("--fields", type=int, default=12)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--versions", action="store_true", help="give some events version 2")
    ap.add_argument("--repeat", type=int, default=5, help="runs per command (default 5)")
    ap.add_argument("--keep", type=Path, help="work in this directory and keep it")
    ap.add_argument("--jsonschema-dir", type=Path, help="JSON Schemas for the baseline")
    ap.add_argument("--no-baseline", action="store_true", help="skip datamodel-codegen")
    ap.add_argument(
        "--profile-stages",
        action="store_true",
        help="one more build through benchmarks/stages.py: time per pipeline stage and GC",
    )
    ap.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="PATH",
        help="write results as JSON to PATH (or stdout with no PATH) instead of a table",
    )
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error("--repeat must be >= 1")

    tmp = None
    if args.keep:
        work = args.keep.resolve()
        work.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="eventgen-bench-")
        work = Path(tmp.name)
    try:
        specs, out = work / "specs", work / "out"
        shutil.rmtree(specs, ignore_errors=True)
        platform = synth.generate(args.events, args.contexts, args.fields, args.seed, args.versions)
        synth.write(platform, specs)
        py = [sys.executable, "-m", "eventgen"]
        _, code, tail = run_once([*py, "--help"], work)
        if code != 0:
            print(f"`python -m eventgen --help` failed (exit {code}):\n{tail}", file=sys.stderr)
            return 2

        def clean_out() -> None:
            shutil.rmtree(out, ignore_errors=True)

        timings = [
            bench("python startup", [sys.executable, "-c", "pass"], args.repeat, work, (0,)),
            bench("validate", [*py, "validate", str(specs)], args.repeat, work),
            bench(
                "build",
                [*py, "build", str(specs), "-o", str(out)],
                args.repeat,
                work,
                before=clean_out,
            ),
        ]
        if timings[-1].ok:
            timings.append(
                bench(
                    "build --check",
                    [*py, "build", str(specs), "-o", str(out), "--check"],
                    args.repeat,
                    work,
                    ok_codes=(0,),
                )
            )
        n_files, n_bytes = count_files(out)
        stages = profile_stages(specs, out, work) if args.profile_stages else None
        ratio = None
        if not args.no_baseline:
            schemas = args.jsonschema_dir or out / "jsonschema"
            if schemas.is_dir() and any(schemas.rglob("*.json")):
                base = bench_datamodel_codegen(schemas, work / "dmcg", args.repeat, work)
                timings.append(base)
                build = next(t for t in timings if t.name == "build")
                if base.ok and build.ok and base.median > 0:
                    ratio = build.median / base.median
        result = {
            "platform": {
                "events": args.events,
                "contexts": args.contexts,
                "fields": args.fields,
                "seed": args.seed,
                "versions": args.versions,
                "spec_files": len(platform),
            },
            "generated": {"files": n_files, "bytes": n_bytes},
            "python": sys.version.split()[0],
            "repeat": args.repeat,
            "timings": [t.as_dict() for t in timings],
            "build_over_datamodel_codegen": ratio,
            "stages": stages,
        }
        if args.json:
            text = json.dumps(result, indent=2, sort_keys=True) + "\n"
            if args.json == "-":
                sys.stdout.write(text)
            else:
                Path(args.json).write_text(text, encoding="utf-8")
        if not args.json or args.json != "-":
            p = result["platform"]
            print(
                f"platform: {p['events']} events, {p['contexts']} contexts, "
                f"{p['fields']} fields/event, seed {p['seed']}; {len(platform)} spec files; "
                f"generated {n_files} files, {n_bytes} bytes; {args.repeat} runs each"
            )
            print(fmt_table(timings))
            if ratio is not None:
                print(f"eventgen build / datamodel-codegen (median): {ratio:.2f}x")
            if stages is not None:
                print(
                    f"stages of one build: total {stages['total']:.2f} s, cyclic GC "
                    f"{stages['gc']['seconds']:.2f} s in {stages['gc']['collections']} passes"
                )
                for name, secs in stages["stages"].items():
                    print(f"  {name:<34} {secs:7.3f} s")
        return 0 if all(t.ok for t in timings) else 1
    finally:
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    raise SystemExit(main())
