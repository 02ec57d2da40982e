"""Cold `eventgen build` (all outputs) vs datamodel-codegen (pydantic models only), side by side.

    python benchmarks/bench_models.py [--events 200] [--repeat 5]

Both run as fresh processes on the same synthetic platform; datamodel-codegen reads the JSON
Schemas eventgen emitted. Also reports eventgen's own model emitters timed in-process.
Target: eventgen build <= half of datamodel-codegen's wall time.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def in_process(specs: Path) -> dict[str, float]:
    sys.path.insert(0, str(ROOT))
    from eventgen.emit import avro, jsonschema, python_models
    from eventgen.pipeline import load_project

    project, _ = load_project(specs)
    assert project is not None
    out = {}
    for name, emit in (
        ("avro", avro.emit),
        ("jsonschema", jsonschema.emit),
        ("python", python_models.emit),
    ):
        start = time.perf_counter()
        emit(project)
        out[name] = time.perf_counter() - start
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="bench-models-") as tmp:
        work = Path(tmp)
        specs = work / "specs"
        subprocess.run([py, "benchmarks/synth.py", str(specs), "--events", str(args.events)],
                       cwd=ROOT, check=True, capture_output=True)  # fmt: skip
        ours, theirs = [], []
        for i in range(args.repeat):
            out = work / f"out{i}"
            ours.append(
                timed(
                    [py, "-m", "eventgen", "build", str(specs), "--output", str(out), "--no-cache"]
                )
            )
            dmc_out = work / f"dmc{i}"
            theirs.append(timed([
                py, "-m", "datamodel_code_generator", "--input", str(out / "jsonschema"),
                "--input-file-type", "jsonschema", "--output-model-type", "pydantic_v2.BaseModel",
                "--formatters", "ruff-format", "--disable-timestamp", "--output", str(dmc_out),
            ]))  # fmt: skip
            shutil.rmtree(dmc_out, ignore_errors=True)
        files = sum(1 for _ in (work / "out0" / "jsonschema").rglob("*.json"))
        emitters = in_process(specs)
    a, b = statistics.median(ours), statistics.median(theirs)
    print(
        f"platform: {args.events} events, {files} JSON Schemas; median of {args.repeat} cold runs"
    )
    print(f"eventgen build (all outputs)      {a:6.2f} s")
    print(f"datamodel-codegen (models only)   {b:6.2f} s")
    print(f"ratio eventgen / datamodel-codegen {a / b:5.2f}  (target <= 0.50)")
    print(
        "eventgen model emitters in-process: "
        + ", ".join(f"{k} {v:.3f} s" for k, v in emitters.items())
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
