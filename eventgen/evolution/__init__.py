"""Schema evolution: registry subjects, the committed schema history, `eventgen diff`, registry."""

from eventgen.evolution.findings import DIFF_RULES

__all__ = ["DIFF_RULES"]
