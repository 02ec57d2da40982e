"""Replication factor 3 with min.insync.replicas=2 on a real three-node KRaft cluster."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from eventgen.kafka.admin import Admin
from eventgen.kafka.desired import desired_topics
from tests.kafka.cluster import delete_prefixed, plan_and_apply, plan_for, unique_prefix
from tests.kafka.factory import project, topic
from tests.services import started_services

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def three_nodes() -> Iterator[str]:
    """$EVENTGEN_KAFKA3_BOOTSTRAP_SERVERS, or a private three-node cluster for this module."""
    if servers := os.environ.get("EVENTGEN_KAFKA3_BOOTSTRAP_SERVERS"):
        yield servers
        return
    with started_services("topics-kafka3", "--kafka-nodes", "3", "--no-postgres") as exports:
        yield exports["KAFKA_BOOTSTRAP_SERVERS"]


def test_rf3_min_isr2_applies_and_reads_back(three_nodes: str) -> None:
    admin = Admin(three_nodes, timeout_s=30)
    assert len(three_nodes.split(",")) == 3
    prefix = unique_prefix("rf3")
    try:
        spec = project(
            topic("events", kafka_name=f"{prefix}.events", partitions=6, replication_factor=3,
                  min_insync_replicas=2, dlq=True),
            topic("state", kafka_name=f"{prefix}.state", partitions=3, replication_factor=3,
                  min_insync_replicas=2, cleanup=("compact",)),
        )  # fmt: skip
        desired = desired_topics(spec)
        plan, report = plan_and_apply(admin, desired)
        assert len(plan.creates) == 3 and report.ok, report
        actual, _ = admin.snapshot(t.name for t in desired)
        for want in desired:
            have = actual[want.name]
            assert (have.partitions, have.replication_factor) == (want.partitions, 3)
            assert have.configs["min.insync.replicas"] == "2"
            assert "min.insync.replicas" in have.overrides  # set on the topic, not inherited
        assert not plan_for(admin, desired).has_changes
        # RF 3 -> 1 would need a reassignment: refused, never attempted
        lowered = desired_topics(
            project(topic("events", kafka_name=f"{prefix}.events", partitions=6,
                          replication_factor=1, min_insync_replicas=1))
        )  # fmt: skip
        refused = plan_for(admin, lowered)
        assert [r.name for r in refused.refusals] == [f"{prefix}.events"]
    finally:
        delete_prefixed(three_nodes, prefix)
