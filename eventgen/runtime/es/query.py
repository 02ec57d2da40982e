"""Queries over Kafka: an app answering a spec query that has a `topic`, and a client.

`QueryApp` is a runner target (`python -m eventgen.runtime run MODULE:ATTR`); the generated
`<context>_projections.py` holds one per query with a topic whose function reads a projection
(`get_order_summary_app`). It consumes the query's topic (group
`<context>.<query-kebab>-answerer`), decodes each request with the route's codec, calls the
generated query function on a connection of the projection's store and produces the answer to
the topic named in the request's `reply_to` header:

- value: JSON `{"type": "<query TYPE>", "found": true|false, "result": <row as wire JSON>|null}`
  (plus `"error": "<class>: <message>"` when the query function raised: the asker gets an
  answer at once instead of a timeout; nothing is retried, a query is a read);
- key: the request's key (so replies keep the request's partitioning);
- headers: `correlation_id` (the request's, or its event_id when it has none), `causation_id`
  (the request's event_id), `type` = `<query TYPE>.Result`, and a fresh `event_id` and
  `occurred_at`.

At-least-once: a batch's offsets are committed (synchronously) only after every reply of the
batch was acknowledged by the broker (`acks=all`, idempotent producer); a delivery failure
stops the app with `DeliveryError` and nothing of that batch is committed, so a restart answers
those requests again (an asker may see a duplicate answer: match on `correlation_id`).

A request without `reply_to`, with a `reply_to` that is not an existing topic, or one that
does not decode is logged, counted (`no_reply_to`, `bad_reply_to`, `undecodable`) and skipped
(its offset is committed). Queries are reads, so there is no DLQ: nothing is lost by skipping,
the asker times out. Records of other types on the topic are `ignored`.

`eventgen.runtime.es.query_client.QueryClient` publishes a query with `reply_to` and waits
(bounded) for the answer with the same `correlation_id` on the reply topic;
`QueryApp.client(...)` / `QueryApp.ask(...)` build one from the app's route.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from pydantic import BaseModel

from eventgen.runtime.config import RuntimeConfig, load_config
from eventgen.runtime.db import Store
from eventgen.runtime.errors import DecodeError, DeliveryError, DeliveryFailure
from eventgen.runtime.model import Envelope, Message
from eventgen.runtime.spec import Route

if TYPE_CHECKING:
    from eventgen.runtime.es.query_client import QueryClient

log = logging.getLogger("eventgen.runtime.es.query")

Q = TypeVar("Q", bound=Message)
R = TypeVar("R", bound=BaseModel)

REPLY_TO = "reply_to"  # the request header naming the reply topic
RESULT_SUFFIX = ".Result"  # the reply's `type` header: `<query TYPE>.Result`
POLL_TIMEOUT_S = 0.5  # longest wait for requests: `stop` is seen at least this often
BATCH = 100  # requests per batch (one flush and one commit per batch)
REPLY_TIMEOUT_S = 30.0  # librdkafka message.timeout.ms of replies; the flush waits a bit longer
_TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")


@dataclass(frozen=True)
class QueryAppSpec:
    """What the generated code tells a `QueryApp`: plain data, written as a literal."""

    name: str  # spec name, e.g. "GetOrderSummary"
    qualified: str  # "orders.GetOrderSummary"
    context: str
    type: str  # the query message TYPE (the envelope `type` of requests)
    group: str  # Kafka group of the answerer, `<context>.<query-kebab>-answerer`
    store: Literal["sqlite", "postgres"]  # the projection's store
    projection: str  # qualified projection the query reads
    params: tuple[str, ...] = ()  # python names of the query's fields = the function's keywords
    batch: int = BATCH


@dataclass
class QueryStats:
    """Counters of a run; `line()` is the runner's closing line."""

    requests: int = 0  # records read (errors of the consumer not counted)
    answered: int = 0  # replies acknowledged by the broker
    found: int = 0
    not_found: int = 0
    failed: int = 0  # the query function raised: answered with an `error`
    ignored: int = 0  # other message types on the topic
    undecodable: int = 0
    no_reply_to: int = 0
    bad_reply_to: int = 0  # not a topic name, or no such topic
    batches: int = 0

    def line(self) -> str:
        return " ".join(f"{name}={value}" for name, value in vars(self).items())


@dataclass(frozen=True)
class QueryReply:
    """An answer as the client received it."""

    type: str
    found: bool
    result: dict[str, Any] | None
    error: str | None
    correlation_id: str | None
    causation_id: str | None
    key: bytes | None
    headers: dict[str, str] = field(default_factory=dict)


class QueryError(Exception):
    """The answering app's query function raised; the message is its `error`."""


def reply_value(query_type: str, row: BaseModel | None, error: str | None = None) -> bytes:
    """The JSON value of an answer (wire names; decimals, times and UUIDs as JSON strings)."""
    body: dict[str, Any] = {
        "type": query_type,
        "found": row is not None,
        "result": None if row is None else row.model_dump(mode="json"),
    }
    if error is not None:
        body["error"] = error
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _text_headers(headers: Any) -> dict[str, str]:
    """Record headers as {name: last value} text (values that are not UTF-8 are left out)."""
    found: dict[str, str] = {}
    for name, value in headers or ():
        if value is None:
            continue
        try:
            found[name] = bytes(value).decode()
        except UnicodeDecodeError:
            continue
    return found


class QueryApp(Generic[Q, R]):
    """Answers one query over Kafka (a runner target); see the module docstring."""

    def __init__(
        self,
        spec: QueryAppSpec,
        function: Callable[..., R | None],
        *,
        row: type[R],
        query: type[Q],
        route: Route,
    ) -> None:
        if query.TYPE != spec.type:
            raise ValueError(f"query app {spec.qualified}: class {query.TYPE} is not {spec.type}")
        self.spec = spec
        self.function = function
        self.row = row
        self.query = query
        self.route = route
        self._reply_topics: set[str] = set()

    # -- answering ----------------------------------------------------------------------

    def answer(self, conn: Any, query: Q) -> tuple[R | None, str | None]:
        """(row or None, None), or (None, error text) when the query function raised."""
        try:
            row = self.function(conn, **{name: getattr(query, name) for name in self.spec.params})
        except Exception as exc:  # the asker gets the error instead of a timeout
            detail = str(exc).splitlines()[0][:300] if str(exc) else ""
            log.warning("query %s failed: %s", self.spec.qualified, exc, exc_info=True)
            return None, f"{type(exc).__name__}: {detail}"
        if row is not None and not isinstance(row, self.row):
            return (
                None,
                f"TypeError: the query returned {type(row).__name__}, not {self.row.__name__}",
            )
        return row, None

    def run(
        self,
        *,
        config: RuntimeConfig | None = None,
        transport: Any = None,
        max_messages: int | None = None,
        idle_exit_s: float | None = None,
        stop: threading.Event | None = None,
    ) -> QueryStats:
        from eventgen.runtime.app.startup import check_topics
        from eventgen.runtime.serde import codec_for, decoder_for
        from eventgen.runtime.transport import KafkaTransport

        config = config if config is not None else load_config()
        stop = stop if stop is not None else threading.Event()
        transport = transport if transport is not None else KafkaTransport()
        spec = self.spec
        stats = QueryStats()
        store = Store.open(spec.store, config)
        consumer: Any = None
        producer: Any = None
        try:
            producer = transport.producer(self._producer_settings(config))
            check_topics(self._consumer_spec(), producer, config.connect_timeout_s)
            consumer = transport.consumer(self._consumer_settings(config))
            consumer.subscribe([self.route.topic.name])
            decode = decoder_for(codec_for(self.route, config), self.route, frozenset({spec.type}))
            seen = 0
            last_request = time.monotonic()
            last_log = time.monotonic()
            while not stop.is_set():
                want = spec.batch if max_messages is None else min(spec.batch, max_messages - seen)
                records = consumer.consume(want, POLL_TIMEOUT_S)
                read = self._batch(store.connection, consumer, producer, records, decode, stats)
                if read:
                    seen += read
                    last_request = time.monotonic()
                if max_messages is not None and seen >= max_messages:
                    break
                if idle_exit_s is not None and time.monotonic() - last_request >= idle_exit_s:
                    break
                if time.monotonic() - last_log >= config.log_interval_s:
                    last_log = time.monotonic()
                    log.info("query %s: %s", spec.qualified, stats.line())
        finally:
            if consumer is not None:
                try:
                    consumer.close()
                except Exception:
                    log.warning("query %s: consumer close failed", spec.qualified, exc_info=True)
            if producer is not None:
                producer.flush(1.0)  # every batch was flushed already; nothing is committed here
            store.close()
        return stats

    def _batch(
        self,
        conn: Any,
        consumer: Any,
        producer: Any,
        records: list[Any],
        decode: Callable[[Any], Envelope[Message] | None],
        stats: QueryStats,
    ) -> int:
        """Answer one batch; commit its offsets once every reply is acknowledged."""
        from confluent_kafka import KafkaException, TopicPartition

        spec = self.spec
        offsets: dict[tuple[str, int], int] = {}
        failures: list[DeliveryFailure] = []
        sent = 0
        found = not_found = 0
        read = 0
        for record in records:
            error = record.error()
            if error is not None:
                log.warning("query %s: consumer error %s", spec.qualified, error)
                continue
            read += 1
            stats.requests += 1
            where = f"{record.topic()}:{record.partition()}@{record.offset()}"
            offsets[(record.topic(), record.partition())] = record.offset()
            try:
                envelope = decode(record)
            except DecodeError as exc:
                stats.undecodable += 1
                log.warning("query %s: skipping undecodable request %s: %s",
                            spec.qualified, where, exc)  # fmt: skip
                continue
            if envelope is None:
                stats.ignored += 1
                continue
            reply_to = _text_headers(record.headers()).get(REPLY_TO)
            if not reply_to:
                stats.no_reply_to += 1
                log.warning("query %s: request %s (event %s) has no %s header: skipped",
                            spec.qualified, where, envelope.event_id, REPLY_TO)  # fmt: skip
                continue
            if not self._reply_topic_ok(producer, reply_to):
                stats.bad_reply_to += 1
                log.warning("query %s: request %s: reply topic %r does not exist: skipped",
                            spec.qualified, where, reply_to[:100])  # fmt: skip
                continue
            row, problem = self.answer(conn, envelope.payload)  # type: ignore[arg-type]
            if problem is not None:
                stats.failed += 1
            elif row is None:
                not_found += 1
            else:
                found += 1
            correlation = envelope.correlation_id or str(envelope.event_id)
            headers = [
                ("event_id", str(uuid.uuid4()).encode()),
                ("type", (spec.type + RESULT_SUFFIX).encode()),
                ("occurred_at", _now().encode()),
                ("correlation_id", correlation.encode()),
                ("causation_id", str(envelope.event_id).encode()),
            ]
            value = reply_value(spec.type, row, problem)

            def report(err: Any, msg: Any, topic: str = reply_to, event: str = correlation) -> None:
                if err is not None:
                    failures.append(DeliveryFailure(topic, None, event, str(err)))

            _produce(producer, reply_to, value, record.key(), headers, report)
            sent += 1
        if sent:
            left = producer.flush(REPLY_TIMEOUT_S + 5.0)
            if left:
                failures.append(
                    DeliveryFailure("*", None, None, f"{left} repl(ies) unacknowledged")
                )
            if failures:
                raise DeliveryError(failures)  # nothing of this batch is committed
        stats.answered += sent
        stats.found += found
        stats.not_found += not_found
        if offsets:
            stats.batches += 1
            commit = [TopicPartition(t, p, o + 1) for (t, p), o in sorted(offsets.items())]
            try:
                consumer.commit(offsets=commit, asynchronous=False)
            except KafkaException as exc:  # e.g. a rebalance took the partitions meanwhile
                log.warning("query %s: commit failed (%s); the new owner answers these "
                            "requests again", spec.qualified, exc)  # fmt: skip
        return read

    def _reply_topic_ok(self, producer: Any, topic: str) -> bool:
        if topic in self._reply_topics:
            return True
        if not _TOPIC_NAME.fullmatch(topic):
            return False
        try:
            metadata = producer.list_topics(topic, timeout=10.0)
        except Exception as exc:  # noqa: BLE001 - KafkaException and transport errors alike
            log.warning("query %s: metadata of %s: %s", self.spec.qualified, topic, exc)
            return False
        found = metadata.topics.get(topic)
        if found is None or found.error is not None or not found.partitions:
            return False
        self._reply_topics.add(topic)
        return True

    # -- client settings ------------------------------------------------------------------

    def _consumer_spec(self) -> Any:
        from eventgen.runtime.spec import ConsumerSpec

        return ConsumerSpec(
            name=f"{self.spec.name}-answerer",
            context=self.spec.context,
            group=self.spec.group,
            topics=(self.route,),
            handles=(self.spec.type,),
            dlq=False,
            idempotency="none",
        )

    def _consumer_settings(self, config: RuntimeConfig) -> dict[str, Any]:
        from eventgen.runtime.app.startup import consumer_config

        return consumer_config(self._consumer_spec(), config)

    def _producer_settings(self, config: RuntimeConfig) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "bootstrap.servers": config.bootstrap_servers,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 1,
            "message.timeout.ms": int(REPLY_TIMEOUT_S * 1000),
            # A reply_to naming no topic is refused (bad_reply_to), never created.
            "allow.auto.create.topics": False,
            "socket.connection.setup.timeout.ms": max(1000, int(config.connect_timeout_s * 1000)),
        }
        settings.update(config.client)
        return settings

    # -- asking ---------------------------------------------------------------------------

    def client(
        self,
        *,
        reply_topic: str,
        config: RuntimeConfig | None = None,
        transport: Any = None,
    ) -> QueryClient[R]:
        """A client asking this query (open it with `with`, or call `close()`)."""
        from eventgen.runtime.es.query_client import QueryClient

        return QueryClient(
            self.route,
            reply_topic=reply_topic,
            config=config,
            transport=transport,
            row=self.row,
            query_type=self.spec.type,
        )

    def ask(
        self,
        query: Q,
        *,
        reply_topic: str,
        config: RuntimeConfig | None = None,
        timeout_s: float = 10.0,
    ) -> R | None:
        """Ask once (a client opened and closed around it): the row, or None when not found."""
        with self.client(reply_topic=reply_topic, config=config) as client:
            return client.ask_row(query, timeout_s=timeout_s)


def _produce(
    producer: Any,
    topic: str,
    value: bytes,
    key: bytes | None,
    headers: list[tuple[str, bytes]],
    on_delivery: Callable[[Any, Any], None],
) -> None:
    deadline = time.monotonic() + REPLY_TIMEOUT_S
    while True:
        try:
            producer.produce(topic, value=value, key=key, headers=headers, on_delivery=on_delivery)
            producer.poll(0)
            return
        except BufferError:
            if time.monotonic() >= deadline:
                raise
            producer.poll(0.1)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
