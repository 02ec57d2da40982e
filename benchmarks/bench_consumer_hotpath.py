"""The consumer's per-record Python cost without Kafka: bare decode, the app's decode, its loop.

    python benchmarks/bench_consumer_hotpath.py [--records 20000] [--runs 12]

Builds the spec of bench_runtime_consumer.py, encodes `--records` OrderPlaced records as the
publisher does into `confluent_kafka.Message` objects held in memory, and times, in
alternating runs, on the thread's CPU clock (the hypervisor's steal time and other processes
move wall time by a third here):

- `bare`: what the bare loop of bench_runtime_consumer.py does per record (the `type`
  header, `decode_avro` into the model);
- `decode`: the app's decoder (`serde.decoder_for`: the envelope headers checked, the
  payload decoded, the envelope built);
- `loop`: the whole at-least-once loop (`Loop.run`, no store, no-op handler) over a consumer
  that hands out the same records 500 at a time and commits nowhere.

No broker and no services; a run takes a few seconds. The differences are what the runtime
adds per record on top of librdkafka (bench_runtime_consumer.py measures it on Kafka).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from bench_runtime_consumer import Platform, build_package
from confluent_kafka import Message, TopicPartition

from eventgen.runtime.app.loop import Loop
from eventgen.runtime.avro import decode_avro
from eventgen.runtime.config import RuntimeConfig
from eventgen.runtime.publisher import encode_for_outbox
from eventgen.runtime.serde import codec_for, decoder_for


class MemoryConsumer:
    """Hands out `records` `n` at a time; assigns the three partitions at subscribe."""

    def __init__(self, records: list[Any]) -> None:
        self.records = records
        self.at = 0

    def subscribe(self, topics: list[str], **callbacks: Any) -> None:
        callbacks["on_assign"](self, [TopicPartition(topics[0], p) for p in range(3)])

    def consume(self, n: int, timeout: float) -> list[Any]:
        out = self.records[self.at : self.at + n]
        self.at += n
        return out

    def commit(self, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass

    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        return partitions

    def get_watermark_offsets(self, *args: Any, **kwargs: Any) -> tuple[int, int]:
        return (0, 0)


class IdleProducer:
    def flush(self, timeout: float | None = None) -> int:
        return 0

    def poll(self, timeout: float | None = None) -> int:
        return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=12, help="alternating runs of each side")
    args = ap.parse_args()
    with build_package(3, "hotpath") as (app, models, tmp):
        config = RuntimeConfig(bootstrap_servers="127.0.0.1:9")  # never connected
        plat = Platform("hotpath", app, models, config, tmp)
        route = plat.in_route
        records: list[Any] = []
        for i in range(args.records):
            value, key, headers = encode_for_outbox(plat.message(i).envelope(), route, config)
            records.append(
                Message(topic=route.topic.name, partition=i % 3, offset=i // 3, key=key,
                        value=value, headers=headers, timestamp=(1, 1_700_000_000_000))
            )  # fmt: skip
        classes = {cls.TYPE: cls for cls in route.topic.messages}
        decode = decoder_for(codec_for(route, config), route, frozenset(classes))
        spec = app.alo.spec

        def bare() -> None:
            for record in records:
                kind = next(v for k, v in record.headers() if k == "type").decode()
                decode_avro(classes[kind], record.value())

        def decoded() -> None:
            for record in records:
                decode(record)

        def loop() -> None:
            handled = [0]

            def handler(message: Any, ctx: Any) -> None:
                handled[0] += 1

            run = Loop(spec, config, {"bench.OrderPlaced": handler}, frozenset(spec.handles),
                       MemoryConsumer(records), IdleProducer(), None)  # type: ignore[arg-type]  # fmt: skip
            run.run(max_messages=len(records), idle_exit_s=None, stop=threading.Event())
            if handled[0] != len(records):
                sys.exit(f"the loop handled {handled[0]} of {len(records)} records")

        sides: dict[str, Callable[[], None]] = {"bare": bare, "decode": decoded, "loop": loop}
        for side in sides.values():
            side()  # warm: compiled readers, the decoder's memory
        times: dict[str, list[float]] = {name: [] for name in sides}
        for _ in range(args.runs):
            for name, side in sides.items():
                started = time.thread_time()
                side()
                times[name].append((time.thread_time() - started) / len(records) * 1e6)
    print(f"{args.records:,} records, {args.runs} runs each, thread CPU us per record:")
    for name, values in times.items():
        print(f"  {name:<7} median {statistics.median(values):6.2f}  min {min(values):6.2f}")
    bare_us, loop_us = (statistics.median(times[n]) for n in ("bare", "loop"))
    print(f"  bare / loop (medians): {bare_us / loop_us:.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
