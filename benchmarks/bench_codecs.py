"""Avro encode/decode throughput of a generated 12-field event vs bare fastavro on the same dicts.

    python benchmarks/bench_codecs.py [--seconds 1.0]

Target: eventgen's codec within 1.5x of bare fastavro (schemaless_writer / schemaless_reader).
Each side runs in short slices that alternate (`--rounds` pairs, default 60); the slowdown is
the median over the pairs of eventgen's slice time over fastavro's, so load from other
processes on a shared machine hits both sides of a pair alike instead of whichever ran second
(the best slice of each side is printed too, as msg/s).
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import fastavro

from benchmarks.pairing import paired
from eventgen import runtime as rt
from eventgen.ir.model import Constraints, EnumType
from tests.models import fixtures as fx


def platform() -> fx.Project:
    ctx = "bench"
    status = EnumType(f"{ctx}.Status", ctx, "Status", ("NEW", "DONE"), default="NEW")
    fields = [
        fx.fld("order_id", fx.scalar("uuid")),
        fx.fld("placed_at", fx.scalar("timestamp")),
        fx.fld("amount", fx.scalar("decimal", precision=12, scale=2)),
        fx.fld("currency", fx.scalar("string"), constraints=Constraints(pattern="^[A-Z]{3}$")),
        fx.fld("quantity", fx.scalar("int"), constraints=Constraints(minimum=1, maximum=1000)),
        fx.fld("sequence", fx.scalar("long")),
        fx.fld("weight", fx.scalar("double")),
        fx.fld("gift", fx.scalar("boolean")),
        fx.fld("status", fx.named(f"{ctx}.Status")),
        fx.fld("tags", fx.list_of(fx.scalar("string"))),
        fx.fld("stock", fx.map_of(fx.scalar("long"))),
        fx.fld("note", fx.scalar("string", nullable=True)),
    ]
    message = fx.message(ctx, "OrderPlaced", fields)
    return fx.project([fx.context(ctx, [status], [message], [])], "bench_events")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=1.0, help="per side and codec")
    ap.add_argument("--rounds", type=int, default=60, help="alternating slice pairs")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cls = fx.import_package(platform(), Path(tmp))["bench"].OrderPlaced
        message = cls(
            order_id=uuid.uuid4(), placed_at=datetime.now(UTC), amount=Decimal("1234.50"),
            currency="EUR", quantity=3, sequence=2**40, weight=1.25, gift=True, status="DONE",
            tags=("a", "b"), stock={"w1": 5, "w2": 7}, note=None,
        )  # fmt: skip
        schema = rt.avro_schema(cls)
        record = message.model_dump()
        data = rt.encode_avro(message)

        def bare_write() -> bytes:
            buffer = io.BytesIO()
            fastavro.schemaless_writer(buffer, schema, record)
            return buffer.getvalue()

        def bare_read() -> object:
            return fastavro.schemaless_reader(io.BytesIO(data), schema, None)

        seconds, rounds = args.seconds * 2, args.rounds
        rows = [
            ("encode", *paired(lambda: rt.encode_avro(message), bare_write, seconds, rounds)),
            ("decode", *paired(lambda: rt.decode_avro(cls, data), bare_read, seconds, rounds)),
        ]
    print(f"12-field event, {len(data)} bytes of Avro")
    for name, ours, bare, slowdown in rows:
        print(
            f"{name}: eventgen {ours:10,.0f} msg/s   fastavro {bare:10,.0f} msg/s (best slices)"
            f"   slowdown {slowdown:4.2f}x (median of paired slices; target <= 1.5)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
