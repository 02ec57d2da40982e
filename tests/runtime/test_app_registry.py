"""Confluent framing through a real Schema Registry (Apicurio): an unknown schema id is a
decode dead letter, records of known ids are handled, the partition goes on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from eventgen.runtime.app import Context
from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.confluent import RegistryAvroCodec
from eventgen.runtime.model import Message
from eventgen.runtime.registry_client import RegistryClient
from eventgen.runtime.serde import encode_key
from tests.runtime.apps.kit import Raw, headers_of, produce, read_all, topics, unique
from tests.runtime.apps.shop import Placed, input_route, make_app

pytestmark = pytest.mark.kafka


@pytest.fixture
def names(kafka_bootstrap_servers: str) -> Iterator[dict[str, str]]:
    base = unique("reg")
    made = {"topic": f"{base}.in", "dlq": f"{base}.in.dlq", "group": f"{base}-g"}
    with topics(kafka_bootstrap_servers, {made["topic"]: 1, made["dlq"]: 1}):
        yield made


def test_unknown_schema_id_is_dead_lettered_and_the_partition_goes_on(
    kafka_bootstrap_servers: str,
    names: dict[str, str],
    registry_url: str,
    tmp_path: Path,
) -> None:
    topic, dlq, group = names["topic"], names["dlq"], names["group"]
    route = input_route(topic, dlq)
    writer = RegistryAvroCodec(RegistryClient(registry_url), "topic", auto_register=True)

    def framed(seq: int, *, with_headers: bool) -> Raw:
        message: Message = Placed(order="r", seq=seq)
        value, headers = writer.encode(message.envelope(), route)
        return 0, encode_key(route, message), value, headers if with_headers else []

    unknown: Raw = (0, b"\x02r", b"\x00\x7f\xff\xff\xf0" + b"\x02r\x02", [])
    produce(kafka_bootstrap_servers, topic,
            [framed(1, with_headers=True), unknown, framed(2, with_headers=False)])  # fmt: skip
    cfg = RuntimeConfig(bootstrap_servers=kafka_bootstrap_servers, connect_timeout_s=10.0,
                        schema_registry_url=registry_url,
                        sqlite_path=str(tmp_path / "reg.sqlite3"))  # fmt: skip
    app = make_app(topic, group, dlq=dlq)
    got: list[tuple[int, str]] = []

    @app.on(Placed)
    def handle(event: Placed, ctx: Context[Placed]) -> None:
        got.append((event.seq, str(ctx.event_id)))

    stats = app.run(cfg, idle_exit_s=3.0)
    assert [seq for seq, _ in got] == [1, 2]  # the header-less record: type from the schema id
    assert (stats.handled, stats.dead_lettered) == (2, 1)
    (letter,) = read_all(kafka_bootstrap_servers, dlq, expect=1)
    assert letter.value() == unknown[2] and letter.key() == unknown[1]
    h = headers_of(letter)
    assert h["eventgen-dlq-reason"] == "decode"
    assert h["eventgen-dlq-error-message"].startswith("unknown_schema_id")
    assert h["eventgen-dlq-original-offset"] == "1"
