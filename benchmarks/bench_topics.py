"""Benchmark topic plan/apply: 500 topics against a real broker ($KAFKA_BOOTSTRAP_SERVERS).

    .venv/bin/python benchmarks/bench_topics.py [--topics 500] [--bootstrap-servers HOST:PORT]

Measures: apply from empty (plan + validate + create + wait until visible), a no-change plan
(snapshot + compare; target < 3 s for 500 topics), and the plan after changing every topic's
retention. Creates topics under a unique prefix and deletes them at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eventgen.kafka.admin import Admin
from eventgen.kafka.apply import apply_plan
from eventgen.kafka.desired import DesiredTopic
from eventgen.kafka.plan import Plan, compute_plan
from tests.kafka.cluster import delete_prefixed


def make_topics(prefix: str, count: int, retention_ms: int) -> list[DesiredTopic]:
    """`count` topics with a realistic handful of configs each."""
    configs = (
        ("cleanup.policy", "delete"),
        ("compression.type", "zstd"),
        ("retention.ms", str(retention_ms)),
        ("segment.bytes", "536870912"),
    )
    return [DesiredTopic(f"{prefix}.t{i:04d}", 3, 1, configs) for i in range(count)]


def timed_plan(admin: Admin, desired: list[DesiredTopic]) -> tuple[Plan, float]:
    start = time.perf_counter()
    actual, names = admin.snapshot(t.name for t in desired)
    plan = compute_plan(desired, actual, cluster_topics=names)
    return plan, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topics", type=int, default=500)
    parser.add_argument("--bootstrap-servers", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS"))
    parser.add_argument("--repeat", type=int, default=3, help="no-change plans to time")
    args = parser.parse_args()
    if not args.bootstrap_servers:
        parser.error("set KAFKA_BOOTSTRAP_SERVERS or --bootstrap-servers")
    admin = Admin(args.bootstrap_servers, timeout_s=60)
    prefix = f"egbench-{uuid.uuid4().hex[:8]}"
    desired = make_topics(prefix, args.topics, 604800000)
    try:
        start = time.perf_counter()
        plan, plan_s = timed_plan(admin, desired)
        report = apply_plan(admin, plan)
        apply_s = time.perf_counter() - start
        assert report.ok and len(plan.creates) == args.topics, report.stage
        print(f"apply from empty, {args.topics} topics: {apply_s:.2f} s (plan {plan_s:.2f} s)")
        times = []
        for _ in range(args.repeat):
            plan, seconds = timed_plan(admin, desired)
            assert not plan.has_changes, plan.updates[:3]
            times.append(seconds)
        print(f"plan, no changes, {args.topics} topics: best {min(times):.2f} s, "
              f"worst {max(times):.2f} s over {args.repeat} runs")  # fmt: skip
        changed = make_topics(prefix, args.topics, 1209600000)
        plan, seconds = timed_plan(admin, changed)
        start = time.perf_counter()
        assert apply_plan(admin, plan).ok and len(plan.updates) == args.topics
        print(f"plan {args.topics} retention changes: {seconds:.2f} s; "
              f"apply them: {time.perf_counter() - start:.2f} s")  # fmt: skip
    finally:
        delete_prefixed(args.bootstrap_servers, prefix, timeout=120)
    return 0


if __name__ == "__main__":
    sys.exit(main())
