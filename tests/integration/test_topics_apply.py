"""Topic plan/apply against the real broker: create, read back, change, refuse, no drift."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from eventgen.kafka.admin import Admin
from eventgen.kafka.apply import apply_plan
from eventgen.kafka.desired import DesiredTopic, desired_topics
from tests.kafka.cluster import (
    delete_prefixed,
    delete_topics,
    plan_and_apply,
    plan_for,
    unique_prefix,
)
from tests.kafka.factory import project, topic

pytestmark = pytest.mark.kafka
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def prefix(kafka_bootstrap_servers: str, request: pytest.FixtureRequest) -> Iterator[str]:
    name = unique_prefix(request.node.name[5:25].replace("_", "-"))
    yield name
    delete_prefixed(kafka_bootstrap_servers, name)


@pytest.fixture
def admin(kafka_bootstrap_servers: str) -> Admin:
    return Admin(kafka_bootstrap_servers, timeout_s=15)


def platform(prefix: str) -> tuple[DesiredTopic, ...]:
    """A small hand-built platform: delete, compact and compact+delete topics, with DLQs."""
    topics = (
        topic("events", kafka_name=f"{prefix}.events", partitions=6, retention_ms=-1,
              compression="zstd", dlq=2592000000,
              config={"segment.bytes": "536870912", "max.message.bytes": "2097152"}),
        topic("state", kafka_name=f"{prefix}.state", partitions=3, cleanup=("compact",),
              config={"min.compaction.lag.ms": "60000", "min.cleanable.dirty.ratio": "0.1"}),
        topic("tracking", kafka_name=f"{prefix}.tracking", cleanup=("compact", "delete"),
              retention_ms=86400000, retention_bytes=1073741824, min_insync_replicas=1),
    )  # fmt: skip
    return desired_topics(project(*topics))


def test_apply_reads_back_equal_and_replans_empty(admin: Admin, prefix: str) -> None:
    desired = platform(prefix)
    plan, report = plan_and_apply(admin, desired)
    assert len(plan.creates) == 4 and report.ok, report
    actual, _ = admin.snapshot(t.name for t in desired)
    for want in desired:
        have = actual[want.name]
        assert (have.partitions, have.replication_factor) == (
            want.partitions,
            want.replication_factor,
        )
        assert {k: have.configs[k] for k, _ in want.configs} == dict(want.configs), want.name
    again = plan_for(admin, desired)
    assert not again.has_changes and not again.refusals
    assert set(again.unchanged) == {t.name for t in desired}
    assert apply_plan(admin, again).results == []  # idempotent: nothing to do


def _replace(
    desired: tuple[DesiredTopic, ...], name: str, **changes: object
) -> tuple[DesiredTopic, ...]:
    return tuple(dataclasses.replace(t, **changes) if t.name == name else t for t in desired)  # type: ignore[arg-type]


def test_retention_change_and_partition_increase(admin: Admin, prefix: str) -> None:
    desired = platform(prefix)
    assert plan_and_apply(admin, desired)[1].ok
    tracking = f"{prefix}.tracking"
    configs = dict(next(t for t in desired if t.name == tracking).configs)
    configs["retention.ms"] = "604800000"  # 1 d -> 7 d: keeps more, not destructive
    desired2 = _replace(desired, tracking, partitions=6, configs=tuple(sorted(configs.items())))
    plan = plan_for(admin, desired2)
    assert not plan.creates and not plan.refusals
    (update,) = plan.updates
    assert update.name == tracking and update.partitions == (3, 6)
    assert [(c.key, c.old, c.new) for c in update.configs] == [
        ("retention.ms", "86400000", "604800000")
    ]
    report = apply_plan(admin, plan)
    assert report.ok and [(n, a) for n, a, _ in report.results] == [
        (tracking, "alter-configs"),
        (tracking, "add-partitions"),
    ]
    assert not plan_for(admin, desired2).has_changes


def test_destructive_change_needs_the_flag(admin: Admin, prefix: str) -> None:
    desired = platform(prefix)
    assert plan_and_apply(admin, desired)[1].ok
    state = f"{prefix}.state"
    configs = {**dict(next(t for t in desired if t.name == state).configs)}
    configs["cleanup.policy"] = "compact,delete"  # adds time-based deletion to a compacted topic
    desired2 = _replace(desired, state, configs=tuple(sorted(configs.items())))
    refused = plan_for(admin, desired2)
    assert [r.name for r in refused.refusals] == [state]
    assert apply_plan(admin, refused).stage == "refused"
    allowed = plan_for(admin, desired2, allow_destructive=True)
    assert apply_plan(admin, allowed).ok
    assert plan_for(admin, desired2).updates == ()


def test_broker_rejection_stops_everything(admin: Admin, prefix: str) -> None:
    """A config only the broker rejects (here: RF above the broker count) creates nothing."""
    desired = platform(prefix)
    bad = DesiredTopic(f"{prefix}.zzz-bad", 1, 99, (("cleanup.policy", "delete"),))
    report = apply_plan(admin, plan_for(admin, (*desired, bad)))
    assert report.stage == "validation" and not report.ok
    (failure,) = [(n, e) for n, _, e in report.results if e]
    assert failure[0] == bad.name and "INVALID_REPLICATION_FACTOR" in (failure[1] or "")
    actual, _ = admin.snapshot(t.name for t in desired)
    assert actual == {}


def test_partition_decrease_is_refused(admin: Admin, prefix: str) -> None:
    desired = platform(prefix)
    assert plan_and_apply(admin, desired)[1].ok
    fewer = tuple(dataclasses.replace(t, partitions=1) if t.kind == "topic" else t for t in desired)
    plan = plan_for(admin, fewer)
    assert len(plan.refusals) == 3 and all("cannot remove" in r.reason for r in plan.refusals)
    report = apply_plan(admin, plan)
    assert report.stage == "refused" and not report.ok
    actual, _ = admin.snapshot(t.name for t in desired)
    assert {n: a.partitions for n, a in actual.items()} == {t.name: t.partitions for t in desired}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eventgen.kafka.cli", *args],
        capture_output=True, text=True, timeout=120, cwd=REPO, check=False,
    )  # fmt: skip


def test_invalid_configs_never_reach_the_broker(
    kafka_bootstrap_servers: str, prefix: str, tmp_path: Path
) -> None:
    (tmp_path / "eventgen.yaml").write_text(
        "eventgen: 1\nproject: mini\npackage: mini_events\noutput: ../generated\n"
        "defaults:\n  topic: {partitions: 2, replication_factor: 1}\n"
    )
    (tmp_path / "ctx.yaml").write_text(
        f"eventgen: 1\ncontext: ctx\ntopics:\n  good: {{name: {prefix}.good}}\n"
        f"  bad:\n    name: {prefix}.bad\n    config: {{segment.bytes: 1000}}\n"
    )
    result = _cli("apply", str(tmp_path), "--bootstrap-servers", kafka_bootstrap_servers)
    assert result.returncode == 1, result  # spec findings, as in `eventgen validate`
    assert "ctx.yaml:7:14: error E0623" in result.stderr
    assert "Traceback" not in result.stderr
    admin = Admin(kafka_bootstrap_servers, 15)
    assert not [n for n in admin.topic_partitions() if n.startswith(prefix)]


def test_example_specs_local_apply_then_plan_is_empty(kafka_bootstrap_servers: str) -> None:
    """The example platform with --env local: apply, read back, re-plan to no changes."""
    base = ["--env", "local", "--bootstrap-servers", kafka_bootstrap_servers, "--format", "json"]
    created: list[str] = []
    try:
        applied = _cli("apply", "specs", *base)
        out = json.loads(applied.stdout)
        # delete only what this test made: a shared broker may hold these topics already
        created = [c["topic"] for c in out["plan"]["create"]]
        assert applied.returncode == 0, applied.stderr + applied.stdout
        assert out["apply"]["ok"] and not out["plan"]["refused"]
        again = _cli("plan", "specs", *base, "--detailed-exitcode")
        assert again.returncode == 0, again.stdout
        replanned = json.loads(again.stdout)
        assert replanned["create"] == [] and replanned["update"] == []
        names = set(replanned["unchanged"])
        assert "orders.order-events" in names and "orders.order-events.dlq" in names
    finally:
        delete_topics(kafka_bootstrap_servers, created)
