"""Plan computation as a pure function of desired and actual snapshots."""

from __future__ import annotations

from eventgen.kafka.desired import DesiredTopic
from eventgen.kafka.plan import ActualTopic, ConfigChange, compute_plan

DEFAULTS = {
    "cleanup.policy": "delete",
    "retention.ms": "604800000",
    "retention.bytes": "-1",
    "segment.ms": "604800000",
    "compression.type": "producer",
    "min.insync.replicas": "1",
}


def want(name: str = "t", partitions: int = 3, rf: int = 1, **configs: str) -> DesiredTopic:
    items = tuple(sorted((k.replace("_", "."), v) for k, v in configs.items()))
    return DesiredTopic(name, partitions, rf, items)


def have(
    name: str = "t", partitions: int = 3, rf: int = 1, set_: dict[str, str] | None = None
) -> ActualTopic:
    """What describe returns: broker defaults plus what was set on the topic."""
    set_ = {k.replace("_", "."): v for k, v in (set_ or {}).items()}
    return ActualTopic(name, partitions, rf, {**DEFAULTS, **set_}, frozenset(set_))


def test_missing_topic_is_created() -> None:
    plan = compute_plan([want(retention_ms="1000")], {})
    assert [t.name for t in plan.creates] == ["t"] and not plan.updates and plan.has_changes


def test_freshly_applied_topic_plans_no_changes() -> None:
    plan = compute_plan(
        [want(retention_ms="1000", cleanup_policy="delete")],
        {"t": have(set_={"retention_ms": "1000", "cleanup_policy": "delete"})},
    )
    assert not plan.has_changes and plan.unchanged == ("t",)


def test_broker_defaults_are_not_drift() -> None:
    # desired equals the broker default and the topic has no override: nothing to do
    plan = compute_plan([want(cleanup_policy="delete", min_insync_replicas="1")], {"t": have()})
    assert not plan.has_changes


def test_value_normalization() -> None:
    plan = compute_plan(
        [want(cleanup_policy="compact,delete")],
        {"t": have(set_={"cleanup_policy": "delete,compact"})},
    )
    assert not plan.has_changes


def test_changed_retention_and_more_partitions() -> None:
    plan = compute_plan(
        [want(partitions=6, retention_ms="2000")], {"t": have(set_={"retention_ms": "1000"})}
    )
    (update,) = plan.updates
    assert update.configs == (ConfigChange("retention.ms", "1000", "2000"),)
    assert update.partitions == (3, 6)
    assert [t for t, _ in plan.warnings] == ["t"] and "remaps keys" in plan.warnings[0][1]
    assert not plan.refusals


def test_override_not_in_spec_is_reset() -> None:
    plan = compute_plan([want()], {"t": have(set_={"segment_ms": "1000"})})
    assert plan.updates[0].configs == (ConfigChange("segment.ms", "1000", None),)


def test_partition_decrease_and_rf_change_are_refused() -> None:
    plan = compute_plan([want(partitions=2, rf=3)], {"t": have(partitions=3, rf=1)})
    reasons = [r.reason for r in plan.refusals]
    assert len(reasons) == 2
    assert "cannot remove partitions" in reasons[0]
    assert "replication factor 1 -> 3" in reasons[1]


def test_cleanup_policy_changes_that_lose_data_need_the_flag() -> None:
    for old, new in [("delete", "compact"), ("compact", "delete"), ("compact", "compact,delete")]:
        plan = compute_plan([want(cleanup_policy=new)], {"t": have(set_={"cleanup_policy": old})})
        assert len(plan.refusals) == 1 and "--allow-destructive" in plan.refusals[0].reason, old
        allowed = compute_plan(
            [want(cleanup_policy=new)],
            {"t": have(set_={"cleanup_policy": old})},
            allow_destructive=True,
        )
        assert not allowed.refusals and allowed.updates[0].destructive
    safe = compute_plan(
        [want(cleanup_policy="compact")], {"t": have(set_={"cleanup_policy": "compact,delete"})}
    )
    assert not safe.refusals and safe.has_changes


def test_shrinking_retention_is_destructive_growing_is_not() -> None:
    shrink = compute_plan([want(retention_ms="1000")], {"t": have(set_={"retention_ms": "-1"})})
    assert len(shrink.refusals) == 1
    grow = compute_plan([want(retention_ms="-1")], {"t": have(set_={"retention_ms": "1000"})})
    assert not grow.refusals and grow.has_changes
    # resetting an infinite retention to the 7-day default also deletes records
    reset = compute_plan([want()], {"t": have(set_={"retention_ms": "-1"})})
    assert len(reset.refusals) == 1
    # on a compact-only topic retention deletes nothing
    compact = compute_plan(
        [want(cleanup_policy="compact", retention_ms="1000")],
        {"t": have(set_={"cleanup_policy": "compact", "retention_ms": "-1"})},
    )
    assert not compact.refusals


def test_unmanaged_topics_are_listed_never_internal_ones() -> None:
    plan = compute_plan(
        [want("a")],
        {"a": have("a")},
        cluster_topics=["a", "b", "__consumer_offsets", "_schemas"],
    )
    assert plan.unmanaged == ("_schemas", "b")


def test_internal_names_are_never_touched() -> None:
    plan = compute_plan([want("__consumer_offsets")], {})
    assert not plan.creates and plan.refusals[0].name == "__consumer_offsets"
