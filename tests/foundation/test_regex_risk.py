"""E0515: patterns whose nested repeats make Python's re backtrack exponentially."""

from __future__ import annotations

import pytest

from eventgen.ir.regex_risk import exponential_backtracking

RISKY = [
    r"^(a+)+$",
    r"(a*)*",
    r"^(\w+\s?)*$",
    r"(\d+\.?)+",
    r"([a-z]+[0-9]*)*",
    r"(\s*\w+)*",
    r"((a+))+",
    r"(?:a+)+",
    r"(a+){2,}",
    r"(a{1,3})+",
    r"x|(b+)*",
]
SAFE = [
    r"^[a-z]+(-[a-z]+)*$",
    r"^[A-Z]{3}$",
    r"^\d{4}-\d{2}$",
    r"^[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}$",
    r"(ab)+",
    r"(\d{2})+",
    r"^(?:[A-Z][a-z]+ )*[A-Z][a-z]+$",
    r"(a++)+",  # possessive: never gives back
    r"[(a+)+]",  # a character class, not a group
    "(" * 50 + "a" + ")" * 50,
]


@pytest.mark.parametrize("pattern", RISKY)
def test_risky_patterns_are_found(pattern: str) -> None:
    assert exponential_backtracking(pattern) is True


@pytest.mark.parametrize("pattern", SAFE)
def test_safe_patterns_pass(pattern: str) -> None:
    assert exponential_backtracking(pattern) is False


def test_invalid_patterns_are_left_to_e0508() -> None:
    assert exponential_backtracking("(a+") is False
