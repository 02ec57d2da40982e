"""Render plans and apply reports as text (for people) or JSON (for tools)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from eventgen.kafka.plan import Plan

if TYPE_CHECKING:  # apply imports the admin client; a plan renders without it
    from eventgen.kafka.apply import ApplyReport


def plan_dict(plan: Plan) -> dict[str, Any]:
    return {
        "create": [
            {
                "topic": t.name,
                "kind": t.kind,
                "partitions": t.partitions,
                "replication_factor": t.replication_factor,
                "configs": dict(t.configs),
            }
            for t in plan.creates
        ],
        "update": [
            {
                "topic": u.name,
                "configs": [
                    {"key": c.key, "old": c.old, "new": c.new, "destructive": c.destructive}
                    for c in u.configs
                ],
                "partitions": list(u.partitions) if u.partitions else None,
            }
            for u in plan.updates
        ],
        "refused": [{"topic": r.name, "reason": r.reason} for r in plan.refusals],
        "warnings": [{"topic": t, "message": m} for t, m in plan.warnings],
        "unchanged": list(plan.unchanged),
        "unmanaged": list(plan.unmanaged),
    }


def plan_text(plan: Plan, *, show_unmanaged: bool = False) -> str:
    lines: list[str] = []
    for t in plan.creates:
        lines.append(f"+ create {t.name} ({t.partitions} partitions, RF {t.replication_factor})")
        lines.extend(f"      {k} = {v}" for k, v in t.configs)
    for u in plan.updates:
        lines.append(f"~ update {u.name}")
        for c in u.configs:
            new = c.new if c.new is not None else "(reset to broker default)"
            mark = "  [destructive]" if c.destructive else ""
            lines.append(f"      {c.key}: {c.old} -> {new}{mark}")
        if u.partitions:
            lines.append(f"      partitions: {u.partitions[0]} -> {u.partitions[1]}")
    lines.extend(f"! refuse {r.name}: {r.reason}" for r in plan.refusals)
    lines.extend(f"warning: {t}: {m}" for t, m in plan.warnings)
    if plan.unmanaged:
        count = len(plan.unmanaged)
        lines.append(f"{count} unmanaged topic(s) on the cluster (not in the specs; never deleted)")
        if show_unmanaged:
            lines.extend(f"  ? {name}" for name in plan.unmanaged)
    if not plan.has_changes and not plan.refusals:
        lines.append(f"No changes: {len(plan.unchanged)} topic(s) match the specs.")
    else:
        lines.append(
            f"Plan: {len(plan.creates)} to create, {len(plan.updates)} to update, "
            f"{len(plan.refusals)} refused, {len(plan.unchanged)} unchanged."
        )
    return "\n".join(lines) + "\n"


def apply_text(report: ApplyReport) -> str:
    if report.stage == "refused":
        head = "Nothing applied: the plan has refused changes (see above)."
    elif report.stage == "validation":
        head = "Nothing applied: the brokers rejected the plan in validation:"
    elif not report.results:
        head = "Nothing to apply."
    else:
        head = "Applied:" if report.ok else "Applied with errors:"
    lines = [head]
    for name, action, err in report.results:
        if report.stage == "validation" and err is None:
            continue
        lines.append(f"  {action} {name}: {'ok' if err is None else 'FAILED: ' + err}")
    if not report.settled:
        lines.append(
            "warning: the brokers accepted every change but have not reported all of them back "
            "yet; run `eventgen topics plan` again in a moment to confirm"
        )
    return "\n".join(lines) + "\n"


def apply_dict(report: ApplyReport) -> dict[str, Any]:
    return {
        "stage": report.stage,
        "ok": report.ok,
        "settled": report.settled,
        "results": [{"topic": n, "action": a, "error": e} for n, a, e in report.results],
    }


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, sort_keys=True) + "\n"
