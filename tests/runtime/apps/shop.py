"""A hand-written stand-in for a generated context module and its `<context>_app.py`.

`Placed` and `Shipped` travel on the input topic (the consumers handle only `Placed`, so
`Shipped` is skipped); `Billed` is what the transform apps publish.
"""

from __future__ import annotations

from typing import Any, ClassVar

from eventgen.runtime.app import ConsumerApp
from eventgen.runtime.model import Message
from eventgen.runtime.registry import TopicBinding
from eventgen.runtime.spec import ConsumerSpec, PublisherSpec, RetryPolicy, Route

SCHEMAS = "tests.runtime.apps._avro_shop"


class Placed(Message):
    TYPE: ClassVar[str] = "shop.Placed"
    VERSION: ClassVar[int] = 1
    SCHEMAS: ClassVar[str] = SCHEMAS

    order: str
    seq: int

    def partition_key(self) -> str:
        return self.order


class Shipped(Message):
    TYPE: ClassVar[str] = "shop.Shipped"
    VERSION: ClassVar[int] = 1
    SCHEMAS: ClassVar[str] = SCHEMAS

    order: str

    def partition_key(self) -> str:
        return self.order


class Billed(Message):
    TYPE: ClassVar[str] = "shop.Billed"
    VERSION: ClassVar[int] = 1
    SCHEMAS: ClassVar[str] = SCHEMAS

    order: str
    seq: int

    def partition_key(self) -> str:
        return self.order


def input_route(topic: str, dlq: str | None) -> Route:
    return Route(TopicBinding(topic, (Placed, Shipped), "string"), "avro", None, dlq)


def output_route(topic: str) -> Route:
    return Route(TopicBinding(topic, (Billed,), "string"), "avro", None, None)


def make_app(
    topic: str,
    group: str,
    *,
    dlq: str | None = None,
    output: str | None = None,
    name: str = "test-consumer",
    retry: RetryPolicy | None = None,
    **fields: Any,
) -> ConsumerApp:
    """A consumer of `topic` handling `Placed` (as the generated module would write it)."""
    publisher = None
    if output is not None:
        publisher = PublisherSpec("shop", (("shop.Billed", output_route(output)),))
    spec = ConsumerSpec(
        name=name,
        context="shop",
        group=group,
        topics=(input_route(topic, dlq),),
        handles=("shop.Placed",),
        retry=retry or RetryPolicy(max_attempts=1),
        dlq=dlq is not None,
        publisher=publisher,
        **fields,
    )
    return ConsumerApp(spec, (Placed, Shipped))
