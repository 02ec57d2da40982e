"""Counters of one app run and the progress lines that report them."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass

log = logging.getLogger("eventgen.runtime.app")


@dataclass
class RunStats:
    """What a run did; `run()` returns it, progress lines print it.

    consumed: records taken from Kafka (handled, skipped, duplicate or dead-lettered);
    handled: successful handler calls (a batch counts each record); skipped: records of a type
    the consumer does not handle; duplicates: records the inbox had seen; retried: handler
    failures that were retried; dead_lettered: records written to a DLQ; lag: records behind
    the high watermarks of the assigned partitions when last measured.
    """

    consumed: int = 0
    handled: int = 0
    skipped: int = 0
    duplicates: int = 0
    retried: int = 0
    dead_lettered: int = 0
    lag: int = 0

    def line(self) -> str:
        return " ".join(f"{name}={value}" for name, value in asdict(self).items())


class Progress:
    """Logs `stats` every `interval_s` seconds (checked by the loop, never by a thread)."""

    def __init__(self, name: str, stats: RunStats, interval_s: float) -> None:
        self.name = name
        self.stats = stats
        self.interval_s = interval_s
        self._next = time.monotonic() + interval_s

    def due(self) -> bool:
        return time.monotonic() >= self._next

    def report(self, final: bool = False) -> None:
        self._next = time.monotonic() + self.interval_s
        log.info("%s %s: %s", self.name, "stopped" if final else "progress", self.stats.line())
