"""Counters of one saga worker run (`SagaApp.run` returns them, the runner prints `.line()`).

Every counter but `conflicts` counts committed work only: a handler's or timer's effects are
staged in a `Tally` and added here after its database transaction committed (a rolled-back
transaction counts nothing, its record or timer comes again). `transactions` counts the
committed saga transactions themselves, where the commit happens: consumer transactions that
ran at least one saga handler, timer transactions and operator transactions. The issue's
"DB transactions per step" is `transactions` divided by the steps the sagas took.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field, fields

from eventgen.runtime.app.stats import RunStats

# The outcome counters a new instance status adds to.
FINAL_COUNTERS = {
    "COMPLETED": "completed",
    "COMPENSATED": "compensated",
    "STUCK": "stuck",
    "FAILED": "failed",
}


@dataclass
class Tally:
    """What one transaction did, added to the run's SagaStats when (and if) it commits."""

    started: int = 0
    duplicate_starts: int = 0
    replies: int = 0
    timers_fired: int = 0
    operator: int = 0
    completed: int = 0
    compensated: int = 0
    stuck: int = 0
    failed: int = 0
    ignored: Counter[str] = field(default_factory=Counter)

    def status(self, before: str | None, after: str) -> None:
        """An instance moved from `before` to `after`: count an outcome it newly reached."""
        name = FINAL_COUNTERS.get(after)
        if name is not None and before != after:
            setattr(self, name, getattr(self, name) + 1)

    def merge(self, other: Tally) -> None:
        for item in fields(self):
            if item.name == "ignored":
                self.ignored.update(other.ignored)
            else:
                setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))


@dataclass
class SagaStats:
    """What a saga worker run did.

    started: instances created by a start event; duplicate_starts: start events of an
    instance that exists (ignored); replies: replies that changed an instance; ignored: inputs
    that changed nothing, by reason ("stale reply", "duplicate reply", "unknown reply",
    "stale timer", ...); timers_fired: timers that fired (changed an instance or not);
    transactions: committed saga transactions (handlers, timers, operator commands);
    conflicts: ConcurrencyErrors (the record or timer was tried again); timer_errors: timer
    transactions that failed otherwise and were rolled back (the instance is skipped for the
    rest of that poll, and until the worker restarts when its data does not load or it failed
    at three polls in a row); skipped: instances the timer side skips until the restart;
    completed,
    compensated, stuck, failed: instances that reached that status. `consumer` holds the
    consumer loop's own counters (consumed, duplicates, dead_lettered, ...) after the run.
    """

    started: int = 0
    duplicate_starts: int = 0
    replies: int = 0
    timers_fired: int = 0
    operator: int = 0
    transactions: int = 0
    conflicts: int = 0
    timer_errors: int = 0
    skipped: int = 0
    completed: int = 0
    compensated: int = 0
    stuck: int = 0
    failed: int = 0
    ignored: Counter[str] = field(default_factory=Counter)
    consumer: RunStats | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def committed(self, tally: Tally | None, *, transactions: int = 1) -> None:
        """A saga transaction committed: add its tally (thread-safe)."""
        with self._lock:
            self.transactions += transactions
            if tally is None:
                return
            for item in fields(Tally):
                if item.name == "ignored":
                    self.ignored.update(tally.ignored)
                else:
                    setattr(self, item.name, getattr(self, item.name) + getattr(tally, item.name))

    def conflict(self) -> None:
        with self._lock:
            self.conflicts += 1

    def timer_error(self, *, skipped: bool) -> None:
        """A timer transaction failed (rolled back); `skipped`: its instance is now skipped."""
        with self._lock:
            self.timer_errors += 1
            self.skipped += int(skipped)

    def line(self) -> str:
        with self._lock:
            parts = [
                f"{item.name}={getattr(self, item.name)}"
                for item in fields(self)
                if item.name not in ("ignored", "consumer", "_lock")
            ]
            ignored = ",".join(
                f"{why.replace(' ', '_')}:{n}" for why, n in sorted(self.ignored.items())
            )
            parts.append(
                f"ignored={sum(self.ignored.values())}" + (f"({ignored})" if ignored else "")
            )
            if self.consumer is not None:
                parts.append(f"consumed={self.consumer.consumed}")
                parts.append(f"dead_lettered={self.consumer.dead_lettered}")
        return " ".join(parts)
