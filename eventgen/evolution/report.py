"""The `eventgen diff` report: text, json, markdown (a PR comment) and github (annotations).

The formats are written once, in eventgen/render.py, for every kind of finding.
"""

from __future__ import annotations

from eventgen.evolution.findings import Finding
from eventgen.render import FORMATS, diff_summary, render_diff


def render(findings: list[Finding], fmt: str, *, against: str) -> str:
    """The report in one of FORMATS; `against` names the old side."""
    return render_diff(findings, fmt, against=against)


def summary(findings: list[Finding]) -> str:
    return diff_summary(findings)


__all__ = ["FORMATS", "render", "summary"]
