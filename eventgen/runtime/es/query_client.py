"""The asking side of queries over Kafka (eventgen.runtime.es.query answers them).

`QueryClient` reads the reply topic's partitions from their end offsets at open (no group,
nothing committed), publishes a query with a `reply_to` header and waits, bounded, for the
answer with the same `correlation_id`, passing over answers for other ids; `TimeoutError` when
none comes in time, `QueryError` on an `error` answer. `ask(...)` is the one-shot form.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from eventgen.runtime.config import RuntimeConfig, load_config
from eventgen.runtime.errors import DeliveryError, DeliveryFailure, StartupError
from eventgen.runtime.es.query import (
    REPLY_TO,
    RESULT_SUFFIX,
    QueryError,
    QueryReply,
    _text_headers,
)
from eventgen.runtime.model import Envelope, Message
from eventgen.runtime.spec import Route

R = TypeVar("R", bound=BaseModel)


class QueryClient(Generic[R]):
    """Publishes queries with `reply_to` and waits for their answers on the reply topic.

    The reply topic's partitions are assigned (no group, nothing committed) at their end
    offsets read when the client opens, so no answer produced after that is missed. Answers to
    other askers (other correlation ids) on a shared reply topic are passed over.
    """

    def __init__(
        self,
        route: Route,
        *,
        reply_topic: str,
        config: RuntimeConfig | None = None,
        transport: Any = None,
        row: type[R] | None = None,
        query_type: str | None = None,
    ) -> None:
        self.route = route
        self.reply_topic = reply_topic
        self.config = config if config is not None else load_config()
        self.transport = transport
        self.row = row
        self.query_type = query_type
        self.passed_over = 0  # answers read that were not for the request waited on
        self._producer: Any = None
        self._consumer: Any = None

    def __enter__(self) -> QueryClient[R]:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def open(self) -> None:
        if self._consumer is not None:
            return
        from confluent_kafka import TopicPartition

        from eventgen.runtime.publisher import producer_config
        from eventgen.runtime.transport import KafkaTransport

        transport = self.transport if self.transport is not None else KafkaTransport()
        timeout = min(30.0, self.config.connect_timeout_s)
        producer = transport.producer(producer_config(self.config, self.route.compression))
        consumer = transport.consumer(
            {
                "bootstrap.servers": self.config.bootstrap_servers,
                "group.id": f"eventgen.query-client.{uuid.uuid4().hex}",  # never joined
                "enable.auto.commit": False,
                "enable.partition.eof": False,
                **self.config.client,
            }
        )
        try:
            metadata = consumer.list_topics(self.reply_topic, timeout=timeout)
            topic = metadata.topics.get(self.reply_topic)
            if topic is None or topic.error is not None or not topic.partitions:
                raise StartupError(f"query client: reply topic {self.reply_topic} is not available")
            partitions = []
            for partition in sorted(topic.partitions):
                tp = TopicPartition(self.reply_topic, partition)
                marks = consumer.get_watermark_offsets(tp, timeout=timeout)
                if marks is None:
                    raise StartupError(f"query client: no offsets for {self.reply_topic}")
                partitions.append(TopicPartition(self.reply_topic, partition, marks[1]))
            consumer.assign(partitions)
        except BaseException:
            consumer.close()
            raise
        self._producer, self._consumer = producer, consumer

    def close(self) -> None:
        if self._consumer is not None:
            try:
                self._consumer.close()
            finally:
                self._consumer = None
        if self._producer is not None:
            self._producer.flush(5.0)
            self._producer = None

    def send(
        self,
        query: Message,
        *,
        correlation_id: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout_s: float = 10.0,
    ) -> Envelope[Message]:
        """Publish `query` with `reply_to` (acknowledged within `timeout_s`); its envelope."""
        from eventgen.runtime.publisher import produce_envelope

        self.open()
        envelope: Envelope[Message] = query.envelope(
            correlation_id=correlation_id or str(uuid.uuid4())
        )
        failures: list[DeliveryFailure] = []

        def report(err: Any, msg: Any) -> None:
            if err is not None:
                failures.append(
                    DeliveryFailure(self.route.topic.name, None, str(envelope.event_id), str(err))
                )

        produce_envelope(
            self._producer, envelope, self.route, self.config,
            headers={**(headers or {}), REPLY_TO: self.reply_topic}, on_delivery=report,
        )  # fmt: skip
        left = self._producer.flush(timeout_s)
        if left:
            failures.append(
                DeliveryFailure(self.route.topic.name, None, str(envelope.event_id), "timed out")
            )
        if failures:
            raise DeliveryError(failures)
        return envelope

    def wait(self, correlation_id: str, *, timeout_s: float = 10.0) -> QueryReply:
        """The answer with `correlation_id`; TimeoutError after `timeout_s`."""
        self.open()
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(
                    f"no answer with correlation_id {correlation_id} on {self.reply_topic} "
                    f"after {timeout_s:g} s"
                )
            for record in self._consumer.consume(50, min(0.2, left)):
                if record.error() is not None:
                    continue
                headers = _text_headers(record.headers())
                if headers.get("correlation_id") != correlation_id:
                    self.passed_over += 1
                    continue
                if self.query_type is not None and headers.get("type") != (
                    self.query_type + RESULT_SUFFIX
                ):
                    self.passed_over += 1
                    continue
                return _reply(record, headers)

    def request(
        self, query: Message, *, timeout_s: float = 10.0, correlation_id: str | None = None
    ) -> QueryReply:
        """Send `query` and wait for its answer (both within `timeout_s` in all)."""
        start = time.monotonic()
        envelope = self.send(query, correlation_id=correlation_id, timeout_s=timeout_s)
        assert envelope.correlation_id is not None
        left = max(0.001, timeout_s - (time.monotonic() - start))
        return self.wait(envelope.correlation_id, timeout_s=left)

    def ask(self, query: Message, *, timeout_s: float = 10.0) -> dict[str, Any] | None:
        """The answer's row as wire JSON (a dict), None when not found; QueryError when the
        answering app's query failed, TimeoutError when no answer came in time."""
        reply = self.request(query, timeout_s=timeout_s)
        if reply.error is not None:
            raise QueryError(reply.error)
        return reply.result if reply.found else None

    def ask_row(self, query: Message, *, timeout_s: float = 10.0) -> R | None:
        """`ask`, the row validated into the row model (needs `row`)."""
        if self.row is None:
            raise ValueError("QueryClient.ask_row needs the row model (row=...)")
        result = self.ask(query, timeout_s=timeout_s)
        return None if result is None else self.row.model_validate(result)


def ask(
    config: RuntimeConfig,
    query_message: Message,
    *,
    route: Route,
    reply_topic: str,
    timeout_s: float = 10.0,
    transport: Any = None,
) -> dict[str, Any] | None:
    """Ask once with a client opened and closed around it (see `QueryClient.ask`)."""
    client: QueryClient[Any] = QueryClient(
        route, reply_topic=reply_topic, config=config, transport=transport
    )
    with client:
        return client.ask(query_message, timeout_s=timeout_s)


def _reply(record: Any, headers: dict[str, str]) -> QueryReply:
    try:
        body = json.loads(record.value() or b"")
    except ValueError as exc:
        raise QueryError(f"the answer is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise QueryError("the answer is not a JSON object")
    result = body.get("result")
    error = body.get("error")
    return QueryReply(
        type=str(body.get("type")),
        found=body.get("found") is True,
        result=result if isinstance(result, dict) else None,
        error=None if error is None else str(error),
        correlation_id=headers.get("correlation_id"),
        causation_id=headers.get("causation_id"),
        key=record.key(),
        headers=headers,
    )
