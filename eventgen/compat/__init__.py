"""Offline schema-compatibility checker with Confluent Schema Registry semantics."""

from eventgen.compat.modes import FORMATS, MODES, POLICIES, Versions, check
from eventgen.compat.result import CompatResult, Finding, SchemaParseError
from eventgen.compat.rules import RULES, Rule

__all__ = [
    "FORMATS",
    "MODES",
    "POLICIES",
    "RULES",
    "CompatResult",
    "Finding",
    "Rule",
    "SchemaParseError",
    "Versions",
    "check",
]
