"""Helpers for topic tests against a real broker: unique names, plan/apply, cleanup."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from confluent_kafka.admin import AdminClient

from eventgen.kafka.admin import Admin
from eventgen.kafka.apply import ApplyReport, apply_plan
from eventgen.kafka.desired import DesiredTopic
from eventgen.kafka.plan import Plan, compute_plan


def unique_prefix(label: str) -> str:
    """A topic-name prefix no other test (or run) uses."""
    return f"egt-{label}-{uuid.uuid4().hex[:8]}"


def plan_for(admin: Admin, desired: Iterable[DesiredTopic], **kw: bool) -> Plan:
    desired = list(desired)
    actual, names = admin.snapshot(t.name for t in desired)
    return compute_plan(desired, actual, cluster_topics=names, **kw)


def plan_and_apply(admin: Admin, desired: Iterable[DesiredTopic]) -> tuple[Plan, ApplyReport]:
    plan = plan_for(admin, desired)
    return plan, apply_plan(admin, plan)


def delete_topics(bootstrap: str, names: Iterable[str], timeout: float = 30) -> None:
    """Delete `names`, waiting (bounded) until the metadata no longer lists them."""
    names = sorted(set(names))
    if not names:
        return
    client = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    for fut in client.delete_topics(names, request_timeout=timeout).values():
        fut.result(timeout=timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not set(names) & set(client.list_topics(timeout=timeout).topics):
            return
        time.sleep(0.2)


def delete_prefixed(bootstrap: str, prefix: str, timeout: float = 30) -> None:
    """Delete every topic whose name starts with `prefix`."""
    client = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    names = [n for n in client.list_topics(timeout=timeout).topics if n.startswith(prefix)]
    delete_topics(bootstrap, names, timeout)


@contextmanager
def topics_cleanup(bootstrap: str, prefix: str) -> Iterator[str]:
    try:
        yield prefix
    finally:
        delete_prefixed(bootstrap, prefix)
