"""`ConsumerApp`: handler registration and `run()` of one spec consumer.

The generated `<package>/<context>_app.py` makes one ready object per consumer (importing it
connects to nothing); the user's module registers handlers with `@app.on(MessageClass)`, then
`python -m eventgen.runtime run MODULE:ATTR` (or `app.run(...)`) starts it.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import threading
import typing
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from eventgen.runtime.app.context import Context as _Context
from eventgen.runtime.app.startup import (
    StartupError,
    check_topics,
    consumer_config,
    producer_config,
)
from eventgen.runtime.app.stats import RunStats
from eventgen.runtime.config import RuntimeConfig, load_config
from eventgen.runtime.model import Message
from eventgen.runtime.spec import ConsumerSpec
from eventgen.runtime.transport import KafkaTransport, Transport

if TYPE_CHECKING:
    from eventgen.runtime.app.loop import Loop
    from eventgen.runtime.db import Store

log = logging.getLogger("eventgen.runtime.app")

M = TypeVar("M", bound=Message)
BatchHandler = Callable[[list[tuple[Any, _Context[Any]]]], None]


class ConsumerApp:
    """One consumer of the spec: its handlers and the loop of its delivery guarantee."""

    Context = _Context  # `ctx: app.Context` in handler signatures
    # The loop class of stream processing (None: eventgen.runtime.app.loop.Loop); a subclass
    # of ConsumerApp that needs its own loop (the saga worker's) names it here.
    loop_class: ClassVar[type[Loop] | None] = None

    def __init__(self, spec: ConsumerSpec, messages: Sequence[type[Message]]) -> None:
        self.spec = spec
        self.messages: dict[str, type[Message]] = {cls.TYPE: cls for cls in messages}
        self.handlers: dict[str, Callable[[Any, _Context[Any]], None]] = {}
        self.batch_handler: BatchHandler | None = None

    def on(
        self, message: type[M]
    ) -> Callable[[Callable[[M, _Context[M]], None]], Callable[[M, _Context[M]], None]]:
        """Register the handler of `message` (one of the consumer's `handles`, once)."""
        name = getattr(message, "TYPE", None)
        if name not in self.spec.handles or self.messages.get(name) is not message:
            raise StartupError(
                f"consumer {self.spec.name} does not handle {getattr(message, '__name__', message)}"
                f" (it handles {', '.join(self.spec.handles)})"
            )
        if self.spec.processing == "batch":
            raise StartupError(
                f"consumer {self.spec.name} processes batches: register one handler with "
                "on_batch(...), not on(...)"
            )
        if name in self.handlers:
            raise StartupError(f"consumer {self.spec.name}: a second handler for {name}")

        def register(handler: Callable[[M, _Context[M]], None]) -> Callable[[M, _Context[M]], None]:
            self._check_parameter(handler, message)
            self.handlers[message.TYPE] = handler
            return handler

        return register

    def _check_parameter(self, handler: Callable[..., None], message: type[Message]) -> None:
        """The handler's first parameter, when annotated with a class, must accept `message`.

        mypy --strict catches this in the user's code through the generated overloads; this is
        the same check at start for code that is not type-checked. Annotations that do not
        resolve (forward references to names out of scope) or are not plain classes (unions,
        type variables, `Any`) are not checked.
        """
        try:
            params = list(inspect.signature(handler).parameters.values())
            hints = typing.get_type_hints(handler)
        except Exception:  # noqa: BLE001 - unresolvable annotations: nothing to check
            return
        if not params:
            return
        annotated = hints.get(params[0].name)
        # typing.Any is a class since Python 3.11: it accepts everything, like `object`.
        if annotated is Any or not isinstance(annotated, type) or issubclass(message, annotated):
            return
        name = getattr(handler, "__qualname__", repr(handler))
        raise StartupError(
            f"consumer {self.spec.name}: handler {name} is registered for {message.__name__} "
            f"but its first parameter is annotated {annotated.__name__}"
        )

    def on_batch(self, handler: BatchHandler) -> BatchHandler:
        """Register the batch handler (`processing: batch`): a list of (message, ctx) pairs."""
        if self.spec.processing != "batch":
            raise StartupError(
                f"consumer {self.spec.name} processes a stream: register handlers with on(...)"
            )
        if self.batch_handler is not None:
            raise StartupError(f"consumer {self.spec.name}: a second batch handler")
        self.batch_handler = handler
        return handler

    def missing(self) -> list[str]:
        """The handled message types without a handler."""
        if self.spec.processing == "batch":
            return [] if self.batch_handler is not None else ["a batch handler (on_batch)"]
        return [name for name in self.spec.handles if name not in self.handlers]

    def run(
        self,
        config: RuntimeConfig | None = None,
        *,
        transport: Transport | None = None,
        max_messages: int | None = None,
        idle_exit_s: float | None = None,
        stop: threading.Event | None = None,
    ) -> RunStats:
        """Consume until `stop` is set, `max_messages` records were consumed, or nothing came
        for `idle_exit_s` seconds; commit, leave the group and return the counters.

        Raises StartupError (one line) before consuming anything when a handler is missing,
        Kafka does not answer within `config.connect_timeout_s`, a topic or DLQ topic does not
        exist or the idempotency store cannot be opened.
        """
        from eventgen.runtime.app.batch import BatchLoop
        from eventgen.runtime.app.loop import Loop

        spec = self.spec
        if spec.handlers_module is not None and self.missing():
            # Generated handlers (an aggregate's commands) live in a module that imports this
            # one; importing it registers them, so `run <context>_app:<attr>` works as well.
            importlib.import_module(spec.handlers_module)
        missing = self.missing()
        if missing:
            raise StartupError(f"consumer {spec.name}: no handler for {', '.join(missing)}")
        config = config or load_config()
        transport = transport or KafkaTransport()
        producer = transport.producer(producer_config(spec, config))
        check_topics(spec, producer, config.connect_timeout_s)
        store = self._open_store(config)
        try:
            consumer = transport.consumer(consumer_config(spec, config))
        except Exception:
            if store is not None:
                store.close()
            raise
        handles = frozenset(spec.handles)
        loop: Loop
        if self.batch_handler is not None:
            loop = BatchLoop(spec, config, {}, handles, consumer, producer, store)
            loop.batch_handler = self.batch_handler
        else:
            loop_class = self.loop_class or Loop
            loop = loop_class(spec, config, dict(self.handlers), handles, consumer, producer, store)
        return loop.run(
            max_messages=max_messages, idle_exit_s=idle_exit_s, stop=stop or threading.Event()
        )

    def _open_store(self, config: RuntimeConfig) -> Store | None:
        spec = self.spec
        kind = spec.idempotency
        if kind == "none" and spec.on_failure == "park-key":
            kind = "sqlite"  # parked keys must survive a restart: the embedded store keeps them
        if kind == "none":
            return None
        from eventgen.runtime.db import Store, StoreError

        tables: dict[str, str] = {}
        if spec.idempotency != "none" and spec.delivery != "exactly-once":
            tables["inbox"] = spec.inbox_table
        if spec.on_failure == "park-key":
            tables["parked"] = spec.parked_table
        try:
            store = Store.open(kind, config)
            try:
                _ensure_schema(store, tables, config.connect_timeout_s)
            except Exception:
                store.close()
                raise
        except StoreError as exc:
            raise StartupError(f"consumer {spec.name}: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - a database error while creating the tables
            raise StartupError(f"consumer {spec.name}: store: {exc}") from None
        return store


def _ensure_schema(store: Store, tables: dict[str, str], timeout_s: float) -> None:
    """Create the tables, bounded: on PostgreSQL a lock held elsewhere (a long transaction on
    the same tables, another process creating them) fails the start instead of hanging it."""
    if store.dialect != "postgres":
        store.ensure_schema(tables)
        return
    # Tables that exist are left alone: many instances starting at once then take no locks.
    conn = store.connection
    if all(
        conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0] is not None
        for table in tables.values()
    ):
        return
    store.connection.execute(f"SET lock_timeout = {max(1, int(timeout_s * 1000))}")
    try:
        store.ensure_schema(tables)
    finally:
        store.connection.execute("SET lock_timeout = 0")
