"""Diagnostic codes of `eventgen import asyncapi` (E0951-E0989), listed by `eventgen rules`.

Stub: being written.
"""

from __future__ import annotations

from eventgen.rules.registry import Rule

RULES: tuple[Rule, ...] = ()
