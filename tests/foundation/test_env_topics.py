"""An overlay of topics only re-resolves the topics: same Projects and findings as in full."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from eventgen import pipeline
from eventgen.ir.model import Project

REPO = Path(__file__).resolve().parents[2]

PROJECT = """\
eventgen: 1
project: demo
package: demo_events
defaults:
  topic: {partitions: 3, replication_factor: 3, min_insync_replicas: 2}
environments:
  local:
    defaults:
      topic: {replication_factor: 1, min_insync_replicas: 1}
    contexts:
      orders:
        topics:
          order-events: {partitions: 1, name: local.order-events, retention: 1d}
          extra: {partitions: 2}
  prod: {}
  json:
    defaults: {serialization: json}
"""
ORDERS = """\
eventgen: 1
context: orders
types:
  OrderRef:
    fields:
      id: uuid
topics:
  order-events: {key: uuid}
  order-audit: {key: string}
events:
  OrderPlaced:
    topic: order-events
    key: order_id
    fields:
      order_id: uuid
      total: long
  OrderAudited:
    topic: order-audit
    key: note
    fields:
      ref: OrderRef
      note: string
consumers:
  auditor:
    group: orders.auditor
    subscribe: [order-events]
    handles: [OrderPlaced]
    dlq: true
"""


def _full(monkeypatch: pytest.MonkeyPatch, specs: Path) -> tuple[object, ...]:
    with monkeypatch.context() as m:
        m.setattr(pipeline, "_topics_only", lambda base, name: False)
        return pipeline.load_project_envs(specs)


def _specs(tmp_path: Path, project: str = PROJECT) -> Path:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "eventgen.yaml").write_text(project)
    (specs / "orders.yaml").write_text(ORDERS)
    return specs


@pytest.mark.parametrize("where", ["repo", "synth", "made"])
def test_topic_overlays_give_the_full_resolution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    specs = REPO / "specs"
    if where == "made":
        specs = _specs(tmp_path)
    elif where == "synth":
        sys.path.insert(0, str(REPO / "benchmarks"))
        import synth  # type: ignore[import-not-found]

        specs = tmp_path / "specs"
        synth.write(synth.generate(60, 4, 8, 3, True), specs)
    calls: list[str] = []
    real = pipeline._resolve_topics

    def spy(*args: object) -> object:
        calls.append(str(args[2]))
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "_resolve_topics", spy)
    fast = pipeline.load_project_envs(specs)
    assert calls == ["local"]  # prod is empty, json changes the format: not topics only
    assert fast == _full(monkeypatch, specs)
    project, by_env, _ = fast
    assert isinstance(project, Project) and by_env["local"] != project


def test_an_environment_gets_its_own_topics(tmp_path: Path) -> None:
    project, by_env, found = pipeline.load_project_envs(_specs(tmp_path))
    assert project is not None, found
    local = {t.qualified: t for t in by_env["local"].all_topics()}
    base = {t.qualified: t for t in project.all_topics()}
    assert (base["orders.order-events"].partitions, local["orders.order-events"].partitions) == (
        3,
        1,
    )
    assert local["orders.order-events"].kafka_name == "local.order-events"
    # The consumer's DLQ follows the environment's topic name, as the resolver makes it.
    dlq = local["orders.order-events"].dlq
    assert dlq is not None and dlq.topic.startswith("local.order-events")
    assert "orders.extra" in local and "orders.extra" not in base
    assert local["orders.order-audit"].replication_factor == 1
    assert by_env["local"].contexts[0].messages is project.contexts[0].messages


def test_an_overlay_error_is_reported_as_in_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = PROJECT.replace("{partitions: 2}", "{partitions: 2, min_insync_replicas: 9}")
    specs = _specs(tmp_path, broken)
    fast = pipeline.load_project_envs(specs)
    assert fast[0] is None and any(d.severity.value == "error" for d in fast[2])
    assert fast == _full(monkeypatch, specs)
