"""A small typed wrapper over confluent-kafka's AdminClient: batched reads, batched writes."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

# Import from where these classes are declared: confluent_kafka.admin re-exports them
# without `__all__`, which mypy --strict treats as private.
from confluent_kafka.admin._config import (
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
)
from confluent_kafka.admin._resource import ResourceType
from confluent_kafka.cimpl import NewPartitions, NewTopic

from eventgen.kafka.configdefs import normalize
from eventgen.kafka.desired import DesiredTopic
from eventgen.kafka.plan import ActualTopic, TopicUpdate

# topic name -> None on success, else the broker's (or client's) message
Outcome = dict[str, str | None]


class AdminError(Exception):
    """A cluster-level failure (unreachable, timed out) with a message meant for the user."""


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, KafkaException) and exc.args:
        err = exc.args[0]
        if hasattr(err, "name") and hasattr(err, "str"):
            return f"{err.name()}: {err.str()}"
    if isinstance(exc, FutureTimeout):
        return "timed out waiting for the cluster"
    return f"{type(exc).__name__}: {exc}"


class Admin:
    """One AdminClient bound to a bootstrap list, with a deadline for every call."""

    def __init__(self, bootstrap_servers: str, timeout_s: float = 10.0) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.timeout_s = timeout_s
        # log_level 0: librdkafka would print connection failures to stderr; we report them.
        self._client = AdminClient(
            {
                "bootstrap.servers": bootstrap_servers,
                "log_level": 0,
                "socket.connection.setup.timeout.ms": int(min(timeout_s, 30) * 1000),
            }
        )

    def _opts(self) -> dict[str, Any]:
        return {"request_timeout": self.timeout_s}

    def _wait(self, futures: Mapping[Any, Future[Any]]) -> Outcome:
        deadline = time.monotonic() + self.timeout_s + 1
        out: Outcome = {}
        for item, fut in futures.items():
            name = item if isinstance(item, str) else item.name
            try:
                fut.result(timeout=max(0.1, deadline - time.monotonic()))
                out[name] = None
            except Exception as exc:  # noqa: BLE001 -- every failure becomes a per-topic report
                out[name] = _describe_error(exc)
        return out

    def topic_partitions(self) -> dict[str, tuple[int, int]]:
        """Every topic on the cluster -> (partitions, replication factor), one metadata call."""
        try:
            metadata = self._client.list_topics(timeout=self.timeout_s)
        except KafkaException as exc:
            raise AdminError(
                f"cannot reach Kafka at {self.bootstrap_servers} within {self.timeout_s:g} s "
                f"({_describe_error(exc)})"
            ) from None
        out = {}
        for name, topic in metadata.topics.items():
            if topic.error is not None:
                continue  # e.g. being deleted; it is neither ours nor listable
            parts = topic.partitions.values()
            rf = max((len(p.replicas) for p in parts), default=0)
            out[name] = (len(topic.partitions), rf)
        return out

    def snapshot(self, names: Iterable[str]) -> tuple[dict[str, ActualTopic], list[str]]:
        """Actual state of `names` that exist, plus every topic name on the cluster.

        Two round trips whatever the topic count: one metadata request (partitions and
        replicas of all topics), one DescribeConfigs for all wanted topics.
        """
        layout = self.topic_partitions()
        wanted = sorted(n for n in set(names) if n in layout)
        resources = [ConfigResource(ResourceType.TOPIC, n) for n in wanted]
        described: dict[str, dict[str, ConfigEntry]] = {}
        if resources:
            futures = self._client.describe_configs(resources, **self._opts())
            deadline = time.monotonic() + self.timeout_s + 1
            for res, fut in futures.items():
                try:
                    described[res.name] = fut.result(timeout=max(0.1, deadline - time.monotonic()))
                except Exception as exc:  # noqa: BLE001 -- a topic we cannot read stops the plan
                    raise AdminError(f"cannot describe topic {res.name}: {_describe_error(exc)}")
        actual = {}
        for name in wanted:
            entries = described[name]
            actual[name] = ActualTopic(
                name=name,
                partitions=layout[name][0],
                replication_factor=layout[name][1],
                configs={
                    k: normalize(k, e.value) for k, e in entries.items() if e.value is not None
                },
                overrides=frozenset(
                    k for k, e in entries.items() if _source(e) == ConfigSource.DYNAMIC_TOPIC_CONFIG
                ),
            )
        return actual, sorted(layout)

    def create(self, topics: Iterable[DesiredTopic], *, validate_only: bool) -> Outcome:
        new = [
            NewTopic(t.name, t.partitions, t.replication_factor, config=dict(t.configs))
            for t in topics
        ]
        if not new:
            return {}
        return self._wait(
            self._client.create_topics(new, validate_only=validate_only, **self._opts())
        )

    def alter(self, updates: Iterable[TopicUpdate], *, validate_only: bool) -> Outcome:
        resources = []
        for update in updates:
            entries = [
                ConfigEntry(c.key, c.new, incremental_operation=AlterConfigOpType.SET)
                if c.new is not None
                else ConfigEntry(c.key, None, incremental_operation=AlterConfigOpType.DELETE)
                for c in update.configs
            ]
            if entries:
                resources.append(
                    ConfigResource(ResourceType.TOPIC, update.name, incremental_configs=entries)
                )
        if not resources:
            return {}
        futures = self._client.incremental_alter_configs(
            resources, validate_only=validate_only, **self._opts()
        )
        return self._wait(futures)

    def add_partitions(self, updates: Iterable[TopicUpdate], *, validate_only: bool) -> Outcome:
        new = [NewPartitions(u.name, u.partitions[1]) for u in updates if u.partitions]
        if not new:
            return {}
        futures = self._client.create_partitions(new, validate_only=validate_only, **self._opts())
        return self._wait(futures)


def _source(entry: ConfigEntry) -> ConfigSource:
    raw: Any = entry.source
    return raw if isinstance(raw, ConfigSource) else ConfigSource(int(raw))
