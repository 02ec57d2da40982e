"""`eventgen rules`: every diagnostic code and every compatibility rule, with purposes."""

from __future__ import annotations

import json

from eventgen.rules import catalog  # noqa: F401  (registers every code)
from eventgen.rules.registry import CODES


def _compat_rules() -> list[tuple[str, str, str]]:
    try:
        from eventgen.compat import RULES  # type: ignore[attr-defined,unused-ignore]
    except ImportError:  # pragma: no cover
        return []
    return [(r.id, ", ".join(r.formats), r.purpose) for r in RULES]


def list_rules(fmt: str) -> str:
    codes = [CODES[c] for c in sorted(CODES)]
    compat = sorted(_compat_rules())
    if fmt == "json":
        payload = {
            "diagnostics": [
                {
                    "code": r.code,
                    "severity": r.severity.value,
                    "phase": r.phase,
                    "purpose": r.purpose,
                }
                for r in codes
            ],
            "compatibility": [{"id": i, "formats": f, "purpose": p} for i, f, p in compat],
        }
        return json.dumps(payload, indent=2) + "\n"
    lines = ["Spec diagnostics:"]
    lines += [f"  {r.code}  {r.severity.value:<7}  {r.phase:<9}  {r.purpose}" for r in codes]
    if compat:
        lines += ["", "Schema compatibility rules:"]
        width = max(len(i) for i, _, _ in compat)
        lines += [f"  {i:<{width}}  [{f}]  {p}" for i, f, p in compat]
    return "\n".join(lines) + "\n"
