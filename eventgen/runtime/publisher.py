"""A context's publisher: topic, key, envelope and codec from the spec; no lost deliveries.

`Publisher(spec)` reads nothing and connects to nothing until the first `publish` (or
`configure`). Producers are idempotent with `acks=all`, one per distinct compression of the
context's routes. Delivery reports are collected from the callbacks; `flush()` waits for
them and raises `DeliveryError` listing every record the broker did not acknowledge.

`encode_for_outbox` and `produce_envelope` are the same encoding for the outbox (value and
key bytes stored in a row) and for apps' `ctx.publish` (their own transactional producer).
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from uuid import UUID

from eventgen.runtime.config import RuntimeConfig, load_config
from eventgen.runtime.errors import DeliveryError, DeliveryFailure
from eventgen.runtime.headers import HEADER_FIELDS
from eventgen.runtime.model import Envelope, Message
from eventgen.runtime.partitioning import PARTITIONER
from eventgen.runtime.serde import codec_for, encode_key
from eventgen.runtime.spec import PublisherSpec, Route
from eventgen.runtime.transport import KafkaTransport, ProducerLike, Transport

UserHeaders = Mapping[str, str | bytes] | Iterable[tuple[str, str | bytes]]
DeliveryCallback = Callable[[Any, Any], None]
# How long `produce` may wait for room in a full local queue before giving up.
QUEUE_FULL_WAIT_S = 30.0
EXIT_FLUSH_S = 10.0  # the interpreter-exit flush of a publisher nobody flushed
log = logging.getLogger("eventgen.runtime.publisher")


def producer_config(config: RuntimeConfig, compression: str | None) -> dict[str, Any]:
    """librdkafka settings of a publishing producer: acks from all replicas, idempotent."""
    conf: dict[str, Any] = {
        "bootstrap.servers": config.bootstrap_servers,
        "acks": "all",
        "enable.idempotence": True,
        "partitioner": PARTITIONER,
    }
    if (codec := librdkafka_compression(compression)) is not None:
        conf["compression.type"] = codec
    conf.update(config.client)  # the operator's settings win (documented in config.py)
    return conf


def librdkafka_compression(topic_compression: str | None) -> str | None:
    """The producer's `compression.type` for a topic's `compression` (Route.compression): the
    topic-level names differ from librdkafka's (`uncompressed` is `none`), and `producer`
    (the broker keeps what the producer sent) leaves the producer's default: None."""
    if topic_compression in (None, "producer"):
        return None
    return "none" if topic_compression == "uncompressed" else topic_compression


def encode_for_outbox(
    envelope: Envelope[Message], route: Route, config: RuntimeConfig
) -> tuple[bytes, bytes | None, list[tuple[str, bytes]]]:
    """Value bytes, key bytes and envelope headers, exactly as a publisher writes them."""
    value, headers = codec_for(route, config).encode(envelope, route)
    return value, encode_key(route, envelope.payload), headers


def user_headers(headers: UserHeaders | None) -> list[tuple[str, bytes]]:
    """Extra headers as bytes; the envelope's names are refused (they would contradict it)."""
    if headers is None:
        return []
    items = headers.items() if isinstance(headers, Mapping) else headers
    out = []
    for name, value in items:
        if name in HEADER_FIELDS:
            raise ValueError(f"header {name!r} is part of the envelope; set it through publish()")
        out.append((name, value.encode() if isinstance(value, str) else bytes(value)))
    return out


def produce_envelope(
    producer: ProducerLike,
    envelope: Envelope[Message],
    route: Route,
    config: RuntimeConfig,
    *,
    headers: UserHeaders | None = None,
    on_delivery: DeliveryCallback | None = None,
) -> None:
    """Encode `envelope` for `route` and hand it to `producer` (waits while its queue is full)."""
    value, key, envelope_headers = encode_for_outbox(envelope, route, config)
    record_headers = envelope_headers + user_headers(headers)
    deadline = time.monotonic() + QUEUE_FULL_WAIT_S
    while True:
        try:
            producer.produce(
                route.topic.name, value=value, key=key, headers=record_headers,
                on_delivery=on_delivery,
            )  # fmt: skip
            return
        except BufferError:
            if time.monotonic() >= deadline:
                raise
            producer.poll(0.1)  # serve delivery reports: they make room


class Publisher:
    """Publishes a context's messages to their topics (the generated `publisher` object)."""

    def __init__(self, spec: PublisherSpec) -> None:
        self.spec = spec
        self._config: RuntimeConfig | None = None
        self._transport: Transport | None = None
        self._producers: dict[str | None, ProducerLike] = {}
        self._failures: list[DeliveryFailure] = []
        self._lock = threading.Lock()

    def configure(
        self, config: RuntimeConfig | None = None, *, transport: Transport | None = None
    ) -> None:
        """Use `config` (default: load_config()) and `transport` (default: real Kafka)."""
        with self._lock:
            self._config = config or load_config()
            self._transport = transport or KafkaTransport()

    @property
    def config(self) -> RuntimeConfig:
        if self._config is None:
            self.configure()
        assert self._config is not None
        return self._config

    def publish(
        self,
        message: Message,
        *,
        correlation_id: str | None = None,
        causation_id: UUID | None = None,
        headers: UserHeaders | None = None,
    ) -> Envelope[Message]:
        """Send `message` in a new envelope to its topic; the envelope (event id, time) back.

        The send is asynchronous: call `flush()` to wait for the broker's acknowledgements.
        """
        try:
            route = self.spec.route(message.TYPE)
        except KeyError:
            raise ValueError(
                f"context {self.spec.context!r} does not publish {message.TYPE}"
            ) from None
        envelope: Envelope[Message] = message.envelope(
            correlation_id=correlation_id, causation_id=causation_id
        )
        producer = self._producer(route.compression)
        produce_envelope(
            producer, envelope, route, self.config, headers=headers,
            on_delivery=self._reporter(route.topic.name, str(envelope.event_id)),
        )  # fmt: skip
        producer.poll(0)
        return envelope

    def flush(self, timeout: float = 30.0) -> None:
        """Wait up to `timeout` s for every pending delivery; DeliveryError if any failed."""
        deadline = time.monotonic() + timeout
        for compression, producer in list(self._producers.items()):
            left = producer.flush(max(0.0, deadline - time.monotonic()))
            if left:
                with self._lock:
                    self._failures.append(
                        DeliveryFailure(
                            "*", None, None,
                            f"{left} record(s) (compression {compression}) still unacknowledged "
                            f"after {timeout:g} s",
                        )
                    )  # fmt: skip
        with self._lock:
            failures, self._failures = self._failures, []
        if failures:
            raise DeliveryError(failures)

    def close(self, timeout: float = 30.0) -> None:
        """Flush, then drop the producers (the next publish makes new ones)."""
        try:
            self.flush(timeout)
        finally:
            self._producers.clear()

    def _producer(self, compression: str | None) -> ProducerLike:
        producer = self._producers.get(compression)
        if producer is None:
            config = self.config
            with self._lock:
                producer = self._producers.get(compression)
                if producer is None:
                    transport = self._transport or KafkaTransport()
                    producer = transport.producer(producer_config(config, compression))
                    if not self._producers:
                        _flush_at_exit(self)
                    self._producers[compression] = producer
        return producer

    def _reporter(self, topic: str, event_id: str) -> DeliveryCallback:
        def report(err: Any, msg: Any) -> None:
            if err is None:
                return
            key = msg.key() if msg is not None else None
            with self._lock:
                self._failures.append(DeliveryFailure(topic, key, event_id, str(err)))

        return report


def _flush_at_exit(publisher: Publisher) -> None:
    """At interpreter exit, deliver what is still queued and log what fails: a program that
    forgot `flush()` must not lose records without a word. Weak: it keeps no publisher alive."""
    ref = weakref.ref(publisher)

    def flush() -> None:
        target = ref()
        if target is None or not target._producers:
            return
        try:
            target.flush(EXIT_FLUSH_S)
        except DeliveryError as exc:
            log.error("publisher of %s at exit: %s", target.spec.context, exc)

    atexit.register(flush)
