"""The generated publisher on the real Kafka vs a bare confluent-kafka Producer loop.

    eval "$(scripts/services start --no-connect)"   # Kafka + PostgreSQL
    python benchmarks/bench_runtime_publisher.py [--messages 100000] [--rounds 5] [--json PATH]

Both sides send the same 12-field OrderPlaced messages (a pool of 1,000, cycled) to the same
3-partition topic of the bench spec (bench_runtime_consumer.py builds it), and both wait for
every acknowledgement at the end of a round:

- eventgen: `publisher.publish(message)` for each, then `publisher.flush()`;
- bare: `message.envelope()` (a new event id and time, as publish makes), `encode_for_outbox`
  (the same codec, key and six envelope headers), `Producer.produce(...)` with one delivery
  callback, `poll(0)` after each, then `flush()`; the producer has the publisher's settings
  (`acks=all`, idempotence, the route's compression).

Each side is warmed up once (its producer connected), then they alternate for `--rounds`
rounds; a round's rate is messages / (time from the first publish to the end of the flush).
Target: the publisher at >= 85 % of the bare loop (median of the paired rounds).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_runtime_consumer import machine, median, platform, profiled, write_json
from confluent_kafka import Producer

from eventgen.runtime.publisher import Publisher, encode_for_outbox, producer_config


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=100_000, help="per side and round")
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds")
    ap.add_argument("--partitions", type=int, default=3)
    ap.add_argument("--profile", choices=("publisher", "bare"), help="one more run, cProfiled")
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = ap.parse_args()
    before = machine()
    rounds: list[dict[str, Any]] = []
    with platform(args.partitions) as plat:
        pool = [plat.message(i) for i in range(1000)]
        route = plat.in_route
        config = plat.config
        publisher = Publisher(plat.app.PUBLISHER_SPEC)
        publisher.configure(config)
        producer = Producer(producer_config(config, route.compression))
        errors: list[Any] = []

        def delivered(err: Any, _msg: Any) -> None:
            if err is not None:
                errors.append(err)

        def eventgen_side(n: int) -> tuple[float, float]:
            started, cpu = time.perf_counter(), time.process_time()
            for i in range(n):
                publisher.publish(pool[i % 1000])
            publisher.flush(120.0)
            return n / (time.perf_counter() - started), (time.process_time() - cpu) / n * 1e6

        def bare_side(n: int) -> tuple[float, float]:
            topic = route.topic.name
            started, cpu = time.perf_counter(), time.process_time()
            for i in range(n):
                value, key, headers = encode_for_outbox(pool[i % 1000].envelope(), route, config)
                while True:
                    try:
                        producer.produce(
                            topic, value=value, key=key, headers=headers, on_delivery=delivered
                        )
                        break
                    except BufferError:
                        producer.poll(0.1)
                producer.poll(0)
            left = producer.flush(120.0)
            if left or errors:
                sys.exit(f"bare producer: {left} unacknowledged, errors {errors[:3]}")
            return n / (time.perf_counter() - started), (time.process_time() - cpu) / n * 1e6

        eventgen_side(200)  # warm-up: producers made and connected, codecs cached
        bare_side(200)
        print(f"{before['cpus']} cpus, load {before['loadavg']}; "
              f"{args.messages:,} messages per side and round")  # fmt: skip
        for i in range(args.rounds):
            order = [("publisher", eventgen_side), ("bare", bare_side)]
            got: dict[str, float] = {}
            for name, side in order[:: 1 if i % 2 == 0 else -1]:
                got[name], got[f"{name}_cpu_us"] = side(args.messages)
            print(f"round {i + 1}: publisher {got['publisher']:>9,.0f} msg/s "
                  f"{got['publisher_cpu_us']:5.1f} CPU us/msg   "
                  f"bare {got['bare']:>9,.0f} msg/s {got['bare_cpu_us']:5.1f} CPU us/msg   "
                  f"ratio {got['publisher'] / got['bare']:.1%}")  # fmt: skip
            rounds.append(got)
        if args.profile:
            side = eventgen_side if args.profile == "publisher" else bare_side
            print(
                f"profile of {args.profile}: {profiled(lambda: side(args.messages))[0]:,.0f} msg/s"
            )
    summary = {
        "publisher": median([r["publisher"] for r in rounds]),
        "bare": median([r["bare"] for r in rounds]),
        "publisher/bare": median([r["publisher"] / r["bare"] for r in rounds]),
        "publisher_cpu_us": median([r["publisher_cpu_us"] for r in rounds]),
        "bare_cpu_us": median([r["bare_cpu_us"] for r in rounds]),
        # CPU per message the other way up: the share of the publisher's CPU a bare loop needs.
        "bare/publisher_cpu": median([r["bare_cpu_us"] / r["publisher_cpu_us"] for r in rounds]),
    }
    ratio = summary["publisher/bare"]
    print(f"medians: publisher {summary['publisher']:,.0f} msg/s, bare {summary['bare']:,.0f} "
          f"msg/s; publisher / bare {ratio:.1%} (median of paired rounds; target >= 85%: "
          f"{'met' if ratio >= 0.85 else 'MISSED'}); CPU per message: publisher "
          f"{summary['publisher_cpu_us']:.1f} us, bare {summary['bare_cpu_us']:.1f} us, "
          f"bare / publisher {summary['bare/publisher_cpu']:.1%}")  # fmt: skip
    write_json(
        args.json,
        {
            "benchmark": "runtime publisher",
            "machine_before": before,
            "machine_after": machine(),
            "args": vars(args),
            "rounds": rounds,
            "summary": summary,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
