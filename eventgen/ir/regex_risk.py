"""Spot `pattern:` values that make Python's backtracking `re` take exponential time.

The generator checks defaults and examples against patterns, and generated models check every
message, with Python's `re`, which has no time limit: `^(a+)+$` against 36 `a`s and a `!`
hangs both. A full ReDoS analysis is out of reach; this finds the classic shape, an unbounded
repeat whose body is itself an unbounded repeat plus only optional parts (`(a+)+`,
`(\\w+\\s?)*`, `(\\d+\\.?)+`, `(a{1,3})+`), and lets separated repeats through (`[a-z]+(-[a-z]+)*`).
Overlapping alternatives under a repeat (`(a|aa)*`) are not detected.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

# The parser behind `re` (private, without stubs): the one that decides how `re` will match.
sre_constants: Any = importlib.import_module("re._constants")
sre_parser: Any = importlib.import_module("re._parser")

_REPEATS = (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT)
_UNBOUNDED = sre_constants.MAXREPEAT


def _children(op: Any, av: Any) -> list[Any]:
    """The sub-patterns directly inside one parsed item."""
    if op in _REPEATS or op is sre_constants.POSSESSIVE_REPEAT:
        return [av[2]]
    if op is sre_constants.SUBPATTERN:
        return [av[3]]
    if op is sre_constants.BRANCH:
        return list(av[1])
    if op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
        return [av[1]]
    if op is sre_constants.ATOMIC_GROUP:
        return [av]
    if op is sre_constants.GROUPREF_EXISTS:
        return [p for p in av[1:] if p is not None]
    return []


def _can_be_empty(op: Any, av: Any) -> bool:
    if op in _REPEATS:
        return bool(av[0] == 0)
    if op is sre_constants.SUBPATTERN:
        return all(_can_be_empty(o, a) for o, a in av[3])
    return op in (sre_constants.AT, sre_constants.ASSERT, sre_constants.ASSERT_NOT)


def _unbounded_repeat_inside(items: Any) -> bool:
    """True when `items` is a variable-length repeat (possibly in groups) plus optional parts.

    Variable length (`+`, `*`, `{1,3}`) is what lets one input split many ways between the
    outer and the inner repeat; a fixed count (`{2}`) does not.
    """
    found = False
    for op, av in items:
        if (
            op in _REPEATS
            and av[1] > av[0]
            or op is sre_constants.SUBPATTERN
            and _unbounded_repeat_inside(av[3])
        ):
            found = True
        elif not _can_be_empty(op, av):
            return False
    return found


def exponential_backtracking(pattern: str) -> bool:
    """True when `pattern` has an unbounded repeat over an unbounded repeat (see above).

    Iterative over the parse tree, so a deeply nested pattern cannot overflow the stack.
    """
    try:
        parsed = sre_parser.parse(pattern)
    except (re.error, RecursionError):
        return False  # an invalid pattern is E0508 on its own
    stack: list[Any] = [parsed]
    while stack:
        items = stack.pop()
        for op, av in items:
            if op in _REPEATS and av[1] == _UNBOUNDED and _unbounded_repeat_inside(av[2]):
                return True
            stack.extend(_children(op, av))
    return False
