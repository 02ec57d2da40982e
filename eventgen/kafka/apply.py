"""Execute a plan: refuse or validate everything first, then change the cluster in batches."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from eventgen.kafka.plan import Plan

if TYPE_CHECKING:  # the admin client (confluent-kafka) is passed in, never imported here
    from eventgen.kafka.admin import Admin, Outcome

VISIBLE_POLL_S = 0.2
# Each metadata request may go to another broker, and brokers learn of changes at slightly
# different moments: one good answer is not enough, so require a few in a row.
SETTLED_IN_A_ROW = 3
# Brokers reflect a batch of config changes seconds later (measured: ~5-10 s for 500 topics
# on one broker), so the wait is longer than one request's timeout.
SETTLE_MIN_S = 30.0


@dataclass
class ApplyReport:
    """Per-topic results: (topic, action, error or None); `stage` says how far apply got."""

    stage: str = "applied"  # refused | validation | applied
    settled: bool = True  # False: accepted, but not yet reported back by every broker
    results: list[tuple[str, str, str | None]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.stage == "applied" and all(err is None for _, _, err in self.results)


def _record(report: ApplyReport, action: str, outcome: Outcome) -> None:
    report.results.extend((name, action, err) for name, err in sorted(outcome.items()))


def _validate(admin: Admin, plan: Plan) -> ApplyReport:
    """Ask the brokers to validate every request; nothing changes on the cluster."""
    report = ApplyReport(stage="validation")
    _record(report, "create", admin.create(plan.creates, validate_only=True))
    _record(report, "alter-configs", admin.alter(plan.updates, validate_only=True))
    _record(report, "add-partitions", admin.add_partitions(plan.updates, validate_only=True))
    return report


def _settled(admin: Admin, plan: Plan) -> bool:
    """True when metadata and configs show every change apply made."""
    want = {t.name: t.partitions for t in plan.creates}
    want.update({u.name: u.partitions[1] for u in plan.updates if u.partitions})
    layout = admin.topic_partitions() if want else {}
    if not all(layout.get(n, (0, 0))[0] >= p for n, p in want.items()):
        return False
    altered = [u for u in plan.updates if u.configs]
    if not altered:
        return True
    actual, _ = admin.snapshot(u.name for u in altered)
    for update in altered:
        have = actual.get(update.name)
        for change in update.configs:
            if have is None:
                return False
            if change.new is None and change.key in have.overrides:
                return False
            if change.new is not None and have.configs.get(change.key) != change.new:
                return False
    return True


def _wait_visible(admin: Admin, plan: Plan) -> bool:
    """Wait (bounded) until the cluster reports what apply did.

    Creates and config changes go through the controller and reach the brokers' metadata a
    moment later; without this wait, a plan run right after apply could report phantom changes.
    """
    deadline = time.monotonic() + max(SETTLE_MIN_S, 3 * admin.timeout_s)
    in_a_row = 0
    while True:
        in_a_row = in_a_row + 1 if _settled(admin, plan) else 0
        if in_a_row >= SETTLED_IN_A_ROW:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(VISIBLE_POLL_S)


def apply_plan(admin: Admin, plan: Plan) -> ApplyReport:
    """Apply `plan`; with refusals or any failed validation, change nothing at all."""
    if plan.refusals:
        report = ApplyReport(stage="refused")
        report.results.extend((r.name, "refused", r.reason) for r in plan.refusals)
        return report
    if not plan.has_changes:
        return ApplyReport()
    checked = _validate(admin, plan)
    if any(err for _, _, err in checked.results):
        return checked
    report = ApplyReport()
    # Order: topics first, then configs, then partitions. A partition increase last means a
    # failed config change never leaves keys remapped on a topic we could not finish.
    _record(report, "create", admin.create(plan.creates, validate_only=False))
    _record(report, "alter-configs", admin.alter(plan.updates, validate_only=False))
    _record(report, "add-partitions", admin.add_partitions(plan.updates, validate_only=False))
    if report.ok:
        report.settled = _wait_visible(admin, plan)
    return report
