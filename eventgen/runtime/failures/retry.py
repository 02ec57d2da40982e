"""Retry policy arithmetic: backoff delays, which exceptions are retried, per-record state.

The consumer loop keeps one `RetryState` per failing record (topic, partition, offset) and
pauses that partition until the state is due: the loop keeps polling (so a long backoff never
exceeds `max.poll.interval.ms`) and the other partitions go on. Nothing here sleeps, polls or
touches Kafka; time is passed in, so the arithmetic is testable without waiting.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from eventgen.runtime.spec import RetryPolicy

RecordId = tuple[str, int, int]  # (topic, partition, offset)


def backoff_ms(policy: RetryPolicy, attempt: int, rng: random.Random) -> int:
    """The delay in milliseconds before attempt `attempt + 1`, after `attempt` (1-based) failed.

    Exponential: `initial_ms * multiplier ** (attempt - 1)`, capped at `max_interval_ms`, then
    jittered: `none` keeps it, `full` draws uniformly from 0..d, `equal` from d/2..d (integers,
    both ends included, so the bounds hold exactly).
    """
    if attempt < 1:
        raise ValueError(f"attempt {attempt}: attempts count from 1")
    cap = max(0, policy.max_interval_ms)
    try:
        raw = max(0.0, policy.initial_ms * policy.multiplier ** (attempt - 1))
    except OverflowError:  # a large attempt under a large multiplier: past any cap
        raw = float(cap)
    delay = int(min(raw, float(cap)))
    if policy.jitter == "none":
        return delay
    if policy.jitter == "full":
        return rng.randint(0, delay)
    if policy.jitter == "equal":
        low = delay // 2
        return low + rng.randint(0, delay - low)
    raise ValueError(f"jitter {policy.jitter!r}: expected 'none', 'full' or 'equal'")


def class_names(cls: type) -> tuple[str, ...]:
    """The names `retry_on` may use for `cls`: simple, qualified and module-qualified."""
    names = [cls.__name__, cls.__qualname__, f"{cls.__module__}.{cls.__qualname__}"]
    return tuple(dict.fromkeys(names))


def retryable(policy: RetryPolicy, exc: BaseException) -> bool:
    """Whether `exc` may be retried under `policy` (ignoring how many attempts are left).

    With an empty `retry_on` every `Exception` is; otherwise only those whose class or one of
    its bases is named there, by simple (`TimeoutError`) or qualified
    (`mypkg.errors.Transient`, `builtins.TimeoutError`) name. A `BaseException` that is not an
    `Exception` (KeyboardInterrupt, SystemExit) is never retried: it stops the app.
    """
    if not isinstance(exc, Exception):
        return False
    if not policy.retry_on:
        return True
    wanted = set(policy.retry_on)
    return any(wanted.intersection(class_names(cls)) for cls in type(exc).__mro__)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class RetryState:
    """The failures of one record so far, and when it may be tried again.

    `attempts` counts the failed tries; the next try is attempt `attempts + 1` (the handler's
    `ctx.attempt`). `next_due` is on the `time.monotonic()` clock.
    """

    topic: str
    partition: int
    offset: int
    attempts: int = 0
    first_failure_at: datetime | None = None
    last_failure_at: datetime | None = None
    last_error: BaseException | None = None
    next_due: float = 0.0
    exhausted: bool = False

    @property
    def record_id(self) -> RecordId:
        return (self.topic, self.partition, self.offset)

    @property
    def next_attempt(self) -> int:
        return self.attempts + 1

    def failed(
        self,
        policy: RetryPolicy,
        exc: BaseException,
        rng: random.Random,
        *,
        now: datetime | None = None,
        monotonic: float | None = None,
    ) -> bool:
        """Record a failed attempt; True if the record is to be tried again (after `next_due`).

        False when the attempts are used up or `exc` is not retryable: the caller dead-letters
        the record (or, without a DLQ, stops) with this state's attempts and failure times.
        """
        now = now or utc_now()
        clock = time.monotonic() if monotonic is None else monotonic
        self.attempts += 1
        self.first_failure_at = self.first_failure_at or now
        self.last_failure_at = now
        self.last_error = exc
        if self.attempts >= policy.max_attempts or not retryable(policy, exc):
            self.exhausted = True
            self.next_due = clock
            return False
        self.next_due = clock + backoff_ms(policy, self.attempts, rng) / 1000.0
        return True

    def due(self, monotonic: float | None = None) -> bool:
        clock = time.monotonic() if monotonic is None else monotonic
        return clock >= self.next_due

    def remaining_s(self, monotonic: float | None = None) -> float:
        """Seconds until due (0 when due), for the loop's poll timeout."""
        clock = time.monotonic() if monotonic is None else monotonic
        return max(0.0, self.next_due - clock)


@dataclass
class RetryStates:
    """The `RetryState`s of one consumer, by record; dropped on success, revoke or DLQ write."""

    states: dict[RecordId, RetryState] = field(default_factory=dict)

    def get(self, topic: str, partition: int, offset: int) -> RetryState:
        """The state of a record, created empty on first use."""
        key = (topic, partition, offset)
        state = self.states.get(key)
        if state is None:
            state = self.states[key] = RetryState(topic, partition, offset)
        return state

    def peek(self, topic: str, partition: int, offset: int) -> RetryState | None:
        return self.states.get((topic, partition, offset))

    def done(self, topic: str, partition: int, offset: int) -> None:
        """Forget a record (it succeeded or was dead-lettered)."""
        self.states.pop((topic, partition, offset), None)

    def drop_partition(self, topic: str, partition: int) -> None:
        """Forget a revoked partition's records: its new owner starts their attempts over."""
        for key in [k for k in self.states if k[0] == topic and k[1] == partition]:
            del self.states[key]

    def waiting(self) -> Iterator[RetryState]:
        """States still to be retried (not exhausted), soonest due first."""
        pending = (s for s in self.states.values() if not s.exhausted)
        return iter(sorted(pending, key=lambda s: s.next_due))

    def __len__(self) -> int:
        return len(self.states)
