"""Protobuf checks (issue 12): the field-number lock and `.proto` names. Codes E0901-E0929.

Stub: being written.
"""

from __future__ import annotations

from eventgen.rules.registry import Rule

RULES: tuple[Rule, ...] = ()
