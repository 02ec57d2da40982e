"""serialization: protobuf on the in-memory broker (eventgen.runtime.testing): the generated
publisher and a consumer app of the generated spec, as users unit-test their handlers."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.publisher import Publisher
from eventgen.runtime.testing import InMemoryBroker, headers_of
from tests.protobuf.runtime_fixtures.build import shared_fixture


def test_publish_and_consume_in_memory(tmp_path: Path) -> None:
    built = shared_fixture()
    route = built.things
    assert route.dlq is not None
    commands = built.app.PUBLISHER_SPEC.route("rt-alpha.DoThing").topic.name
    broker = InMemoryBroker({route.topic.name: 3, route.dlq: 1, commands: 1})
    publisher = Publisher(built.app.PUBLISHER_SPEC)
    publisher.configure(RuntimeConfig(), transport=broker)
    a, b = built.alpha, built.base
    sent = [
        a.DoThing(id=UUID(int=1), colour=list(b.Colour)[4]),  # another topic: not consumed
        *(
            a.OrderPlaced(id=UUID(int=10 + n), customer="c", placed_at="2026-01-01T00:00:00Z",
                          total="1.00", colour=list(b.Colour)[n], lines=[], note=None)
            for n in range(3)
        ),
    ]  # fmt: skip
    envelopes = [publisher.publish(m) for m in sent]
    publisher.flush()
    broker.produce(route.topic.name, b"\x0a\x7f", None, headers=[("type", b"rt-alpha.OrderPlaced"),
                   ("schema_version", b"1")])  # fmt: skip
    template = built.app.thing_watcher
    app = type(template)(template.spec, messages=tuple(template.messages.values()))
    got: list[Any] = []

    def handle(event: Any, ctx: Any) -> None:
        got.append(event)

    app.on(a.OrderPlaced)(handle)
    app.on(a.ThingHappened)(handle)
    stats = app.run(RuntimeConfig(sqlite_path=str(tmp_path / "x")), transport=broker,
                    idle_exit_s=0.5)  # fmt: skip
    assert sorted(got, key=lambda m: m.id) == [e.payload for e in envelopes[1:]]
    assert (stats.handled, stats.dead_lettered) == (3, 1)
    (letter,) = broker.records(route.dlq)
    assert headers_of(letter)["eventgen-dlq-error-message"].startswith("corrupt_payload")
