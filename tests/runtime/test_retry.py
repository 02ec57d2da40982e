"""Backoff bounds and jitter distributions, retry_on matching, per-record retry state."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime

import pytest

from eventgen.runtime.failures.retry import RetryStates, backoff_ms, retryable
from eventgen.runtime.spec import RetryPolicy


def policy(**kw: object) -> RetryPolicy:
    base: dict[str, object] = {
        "max_attempts": 5,
        "initial_ms": 100,
        "multiplier": 2.0,
        "max_interval_ms": 1000,
        "jitter": "none",
    }
    base.update(kw)
    return RetryPolicy(**base)  # type: ignore[arg-type]


def test_exponential_without_jitter_is_capped() -> None:
    rng = random.Random(1)
    delays = [backoff_ms(policy(), attempt, rng) for attempt in range(1, 8)]
    assert delays == [100, 200, 400, 800, 1000, 1000, 1000]


def test_fractional_multiplier_and_huge_attempt() -> None:
    rng = random.Random(1)
    p = policy(initial_ms=100, multiplier=1.5, max_interval_ms=10_000)
    assert [backoff_ms(p, a, rng) for a in (1, 2, 3)] == [100, 150, 225]
    # 2.0 ** 5000 overflows a float: the cap holds, no OverflowError.
    assert backoff_ms(policy(), 5000, rng) == 1000


def test_attempt_zero_is_refused() -> None:
    with pytest.raises(ValueError, match="attempts count from 1"):
        backoff_ms(policy(), 0, random.Random(1))


def test_full_jitter_uniform_over_zero_to_delay() -> None:
    rng = random.Random(42)
    p = policy(initial_ms=9, max_interval_ms=9, jitter="full")
    draws = Counter(backoff_ms(p, 1, rng) for _ in range(10_000))
    assert set(draws) == set(range(10))  # both ends reachable, nothing outside
    # Uniform: each of the ten values about 1000 times (5 sigma is about 150).
    assert all(850 < n < 1150 for n in draws.values()), draws


def test_equal_jitter_uniform_over_upper_half() -> None:
    rng = random.Random(7)
    p = policy(initial_ms=100, max_interval_ms=1000, jitter="equal")
    draws = [backoff_ms(p, 3, rng) for _ in range(10_000)]  # d = 400
    assert min(draws) >= 200 and max(draws) <= 400
    below_mid = sum(1 for d in draws if d < 300)  # 200..299 is 100 of 201 values
    assert 4700 < below_mid < 5250, below_mid


def test_full_jitter_respects_the_cap() -> None:
    rng = random.Random(3)
    p = policy(jitter="full")
    assert max(backoff_ms(p, 10, rng) for _ in range(2000)) <= 1000
    assert min(backoff_ms(p, 10, rng) for _ in range(2000)) < 100  # draws the low end too


def test_same_seed_same_delays() -> None:
    p = policy(jitter="full")
    a = [backoff_ms(p, n, random.Random(5)) for n in range(1, 6)]
    b = [backoff_ms(p, n, random.Random(5)) for n in range(1, 6)]
    assert a == b


class Transient(Exception):
    pass


class VeryTransient(Transient):
    pass


def test_empty_retry_on_retries_every_exception_but_not_base_exceptions() -> None:
    p = policy()
    assert retryable(p, ValueError("x"))
    assert retryable(p, Transient())
    assert not retryable(p, KeyboardInterrupt())
    assert not retryable(p, SystemExit(1))


def test_retry_on_matches_class_and_bases_by_simple_or_qualified_name() -> None:
    assert retryable(policy(retry_on=("TimeoutError",)), TimeoutError())
    assert not retryable(policy(retry_on=("TimeoutError",)), ValueError())
    # ConnectionRefusedError -> ConnectionError -> OSError: matched through the MRO.
    assert retryable(policy(retry_on=("OSError",)), ConnectionRefusedError())
    assert retryable(policy(retry_on=("builtins.OSError",)), ConnectionRefusedError())
    qualified = f"{__name__}.Transient"
    assert retryable(policy(retry_on=(qualified,)), VeryTransient())
    assert retryable(policy(retry_on=("Transient",)), VeryTransient())
    assert not retryable(policy(retry_on=("VeryTransient",)), Transient())
    assert not retryable(policy(retry_on=("other.module.Transient",)), Transient())


def test_retry_state_counts_attempts_and_schedules() -> None:
    states = RetryStates()
    p = policy(max_attempts=3)
    rng = random.Random(1)
    t1 = datetime(2026, 1, 1, tzinfo=UTC)
    t2 = datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC)
    state = states.get("t", 0, 5)
    assert state.next_attempt == 1
    assert state.failed(p, ValueError("a"), rng, now=t1, monotonic=10.0)
    assert state.next_due == pytest.approx(10.1)
    assert not state.due(10.05) and state.due(10.1)
    assert state.remaining_s(10.0) == pytest.approx(0.1)
    assert states.get("t", 0, 5) is state
    assert state.failed(p, ValueError("b"), rng, now=t2, monotonic=11.0)
    assert state.next_due == pytest.approx(11.2)
    assert not state.failed(p, ValueError("c"), rng, now=t2, monotonic=12.0)  # third = last
    assert state.exhausted and state.attempts == 3
    assert state.first_failure_at == t1 and state.last_failure_at == t2
    assert str(state.last_error) == "c"
    assert list(states.waiting()) == []


def test_non_retryable_error_exhausts_at_once() -> None:
    state = RetryStates().get("t", 0, 1)
    p = policy(max_attempts=5, retry_on=("TimeoutError",))
    assert not state.failed(p, ValueError(), random.Random(1), monotonic=1.0)
    assert state.exhausted and state.attempts == 1


def test_retry_states_forget_done_and_revoked() -> None:
    states = RetryStates()
    rng = random.Random(1)
    p = policy(max_attempts=5)
    for partition, offset, clock in ((0, 1, 5.0), (0, 2, 1.0), (1, 1, 3.0)):
        states.get("t", partition, offset).failed(p, ValueError(), rng, monotonic=clock)
    assert [s.record_id for s in states.waiting()] == [("t", 0, 2), ("t", 1, 1), ("t", 0, 1)]
    states.done("t", 0, 2)
    assert states.peek("t", 0, 2) is None and len(states) == 2
    states.drop_partition("t", 0)
    assert [s.record_id for s in states.waiting()] == [("t", 1, 1)]
