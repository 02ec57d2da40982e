"""Paired throughput slices, shared by the codec benchmarks: ours and a baseline alternate
in short slices (who goes first alternates too), so drift on a shared machine hits both."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def rate(func: Callable[[], object], seconds: float) -> float:
    """Calls per second of `func`, over at least `seconds`."""
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(200):
            func()
        count += 200
    return count / elapsed


def paired(
    ours: Callable[[], object], bare: Callable[[], object], seconds: float, rounds: int
) -> tuple[float, float, float]:
    """(best msg/s of ours, best msg/s of bare, median over rounds of bare rate / our rate)."""
    ratios: list[float] = []
    best = [0.0, 0.0]
    for i in range(rounds):
        pair = (ours, bare) if i % 2 == 0 else (bare, ours)  # alternate who goes first
        got = {id(f): rate(f, seconds / rounds / 2) for f in pair}
        a, b = got[id(ours)], got[id(bare)]
        best = [max(best[0], a), max(best[1], b)]
        ratios.append(b / a)
    return best[0], best[1], statistics.median(ratios)
