"""Run one eventgen command with per-stage wall times (a benchmark aid, not part of the CLI).

    python benchmarks/stages.py JSON_OUT build SPECS -o OUT --no-cache

Wraps the pipeline's stage functions by name (each looked up where its caller finds it, so
the wrapper is what runs), runs `eventgen.cli.main(argv)` and writes JSON to JSON_OUT:
`{"exit": code, "total": s, "stages": {name: s}, "gc": {"collections": n, "seconds": s},
"memory": [{"stage": name, "rss_mb": MB, "peak_mb": MB}]}` (RSS and peak when each call ended).
A stage name that no longer exists is skipped (the code base moves; the profile should not
break because a function was renamed). Stages can nest (`emit.python` contains `ruff`); the
rest of `total` is start-up, imports and glue. Cyclic GC time is measured with `gc.callbacks`
and is part of whichever stage triggered it.
"""

from __future__ import annotations

import dataclasses
import gc
import importlib
import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

STAGES: dict[str, float] = {}
# (stage name, RSS MB when it ended, peak RSS MB so far), in the order stages ended: where the
# memory is held (RSS after) and which stage raised the peak (peak after > peak before).
MEMORY: list[tuple[str, float, float]] = []

# (stage name, module whose attribute is the function its caller uses, attribute)
WRAPPED = (
    ("fingerprint", "eventgen.build", "inputs_fingerprint"),
    ("load (read + parse YAML)", "eventgen.pipeline", "read_specs"),
    ("structure check", "eventgen.pipeline", "check_specs"),
    ("environment overlay", "eventgen.pipeline", "with_environment"),
    ("IR build", "eventgen.pipeline", "build_project"),
    ("rules", "eventgen.pipeline", "run_checks"),
    ("  ruff format (in emit.python)", "eventgen.emit.pymodels.render", "format_sources"),
    ("history", "eventgen.build", "history_stage"),
    ("manifest", "eventgen.build", "manifest"),
    ("writer plan", "eventgen.build", "plan"),
    ("writer write", "eventgen.build", "write"),
)


def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            STAGES[name] = STAGES.get(name, 0.0) + time.perf_counter() - start
            MEMORY.append((name, rss_mb(), peak_mb()))

    return wrapper


def rss_mb() -> float:
    """Resident set size now (Linux /proc; 0 elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * resource.getpagesize() / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def install() -> None:
    for name, module_name, attr in WRAPPED:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        if hasattr(module, attr):
            setattr(module, attr, timed(name, getattr(module, attr)))
    try:
        registry = importlib.import_module("eventgen.emit.registry")
    except ImportError:
        return
    emitters = getattr(registry, "EMITTERS", ())
    registry.EMITTERS = tuple(  # type: ignore[attr-defined]
        dataclasses.replace(e, emit=timed(f"emit.{e.name}", e.emit)) for e in emitters
    )


class GcClock:
    def __init__(self) -> None:
        self.collections = 0
        self.seconds = 0.0
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.collections += 1
            self.seconds += time.perf_counter() - self._start


def main(argv: list[str]) -> int:
    out, command = Path(argv[0]), argv[1:]
    start = time.perf_counter()
    clock = GcClock()
    gc.callbacks.append(clock)
    install()
    from eventgen.cli import main as cli_main

    code = cli_main(command)
    total = time.perf_counter() - start
    gc.callbacks.remove(clock)
    result = {
        "exit": code,
        "total": total,
        "stages": dict(sorted(STAGES.items(), key=lambda kv: -kv[1])),
        "gc": {"collections": clock.collections, "seconds": clock.seconds},
        "memory": [{"stage": n, "rss_mb": r, "peak_mb": p} for n, r, p in MEMORY],
    }
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
