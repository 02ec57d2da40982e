"""Splitting an aggregate guard into its clauses: the one tokenizer the build checks
(eventgen.rules.checks_flows, checks_types) and the guard compiler (eventgen.emit.services.guards)
share, so what the build accepts and what the emitter compiles never disagree.

    guard  := clause (("and" | "or") clause)*      `and` binds tighter than `or`
    clause := field op literal                      op: == != < <= > >=

`and` / `or` join clauses only outside quotes: `name == "x and y == 3"` is one clause whose
literal is the whole quoted text. A quote opens a literal where a token starts (at the start,
after whitespace or after an operator), so a bare `it's` stays a bare literal as before. There
are no escapes: a backslash is an ordinary character and a literal cannot hold its own quote
kind (quote it with the other kind). So `"a\\"b"` closes after `a\\` and the clause does not
parse (E0803), rather than being read as a literal holding a quote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A bare literal does not start with a quote: a token that does is a quoted literal, whole.
CLAUSE = re.compile(
    r"\s*([a-z][a-z0-9_]*)\s*(==|!=|<=|>=|<|>)\s*(\"[^\"]*\"|'[^']*'|[^\s\"'][^\s]*)\s*"
)
_CONNECTIVE = re.compile(r"\s+(and|or)\s+")
_QUOTES = "\"'"
_OPENS_AFTER = "=!<>"


class GuardSyntaxError(ValueError):
    """A guard whose clauses cannot be told apart (an unterminated quote)."""


@dataclass(frozen=True)
class GuardClause:
    """One `field op literal` as written; `field`, `op`, `literal` None when it does not parse."""

    text: str
    field: str | None
    op: str | None
    literal: str | None


def split_guard(text: str) -> tuple[tuple[GuardClause, ...], ...]:
    """The guard as `or` groups of `and`-joined clauses, in order.

    Raises GuardSyntaxError on an unterminated quote (nothing can say where its clause ends)."""
    groups: list[list[GuardClause]] = [[]]
    for part, connective in _parts(text.strip()):
        groups[-1].append(_clause(part))
        if connective == "or":
            groups.append([])
    return tuple(tuple(group) for group in groups)


def clauses(text: str) -> tuple[GuardClause, ...]:
    """Every clause of the guard, in order (GuardSyntaxError as split_guard)."""
    return tuple(clause for group in split_guard(text) for clause in group)


def _clause(part: str) -> GuardClause:
    match = CLAUSE.fullmatch(part)
    if match is None:
        return GuardClause(part, None, None, None)
    field, op, literal = match.groups()
    return GuardClause(part, field, op, literal)


def _parts(text: str) -> list[tuple[str, str | None]]:
    """(clause text, the connective after it or None for the last)."""
    found: list[tuple[str, str | None]] = []
    start = i = 0
    while i < len(text):
        ch = text[i]
        if ch in _QUOTES and (i == 0 or text[i - 1].isspace() or text[i - 1] in _OPENS_AFTER):
            end = text.find(ch, i + 1)
            if end < 0:
                raise GuardSyntaxError(
                    f"the {ch} quote at column {i + 1} of `{text}` is never closed"
                )
            i = end + 1
            continue
        if ch.isspace() and (match := _CONNECTIVE.match(text, i)):
            found.append((text[start:i], match.group(1)))
            start = i = match.end()
            continue
        i += 1
    found.append((text[start:], None))
    return found
