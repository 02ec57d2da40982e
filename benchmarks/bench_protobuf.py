"""Protobuf encode/decode of a generated event vs bare protobuf with protoc's class, same values.

    python benchmarks/bench_protobuf.py [--seconds 1.0] [--rounds 60]

The event is `rt-alpha.OrderPlaced` of tests/protobuf/runtime_fixtures (uuid, string,
timestamp, decimal, enum, a list of two nested records with a nested decimal, a nullable
string). eventgen's side is `encode_protobuf(model)` / `decode_protobuf(cls, data)` (the
model validated). The bare side uses the protoc-generated class of the same `.proto` and
does what a hand-written service would: build the message from the Python values
(`str(uuid)`, Timestamp seconds/nanos, `format(decimal, "f")`, the enum number, nested
messages) and `SerializeToString()`; `ParseFromString()` and read every field back into Python
values (UUID, datetime, Decimal, the enum member, dicts of the nested records, None when
unset). Target: eventgen within 1.5x of bare.

eventgen's decode also checks every rule of the model (patterns, lengths, bounds, scale) and
returns model instances, which bare decoding does not: a third row times bare decoding plus
the model's own validator on those values (`model_validate`), the same guarantees by hand.

Each side runs in short slices that alternate (`--rounds` pairs); the slowdown is the median
over the pairs of eventgen's slice time over bare's, so load from other processes hits both
sides of a pair alike (the best slice of each side is printed too, as msg/s).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.pairing import paired
from eventgen.emit.protobuf.mapping import enum_value_name
from eventgen.runtime.protobuf import decode_protobuf, encode_protobuf
from tests.protobuf.runtime_fixtures.build import shared_fixture, shared_protoc

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=1.0, help="per side and codec")
    ap.add_argument("--rounds", type=int, default=60, help="alternating slice pairs")
    args = ap.parse_args()
    built, pb2 = shared_fixture(), shared_protoc()
    a, b = built.alpha, built.base
    colours = list(b.Colour)
    cls = a.OrderPlaced
    message = cls(
        id=UUID("7a4f6c1e-0c1d-4b8e-9a57-1f0e2d3c4b5a"), customer="Ada Lovelace",
        placed_at=datetime(2026, 5, 6, 7, 8, 9, 123_456, tzinfo=UTC), total=Decimal("1234.50"),
        colour=colours[1], note=None,
        lines=[a.Line(sku="mugblue", qty=2, price=b.Money(amount=Decimal("600.00"), currency="EUR")),
               a.Line(sku="teeblack", qty=1, price=b.Money(amount=Decimal("34.50"), currency="EUR"))],
    )  # fmt: skip
    data = encode_protobuf(message)
    pa, pb = pb2["rt_alpha"], pb2["rt_base"]
    Order, Line, Money = pa.OrderPlaced, pa.Line, pb.Money
    Timestamp = Order.DESCRIPTOR.fields_by_name["placed_at"].message_type._concrete_class
    number = {c: pb.Colour.Value(enum_value_name("Colour", c.value)) for c in colours}
    member = {n: c for c, n in number.items()}
    # The Python values a service holds (what the model holds, as plain values).
    values: dict[str, Any] = dict(message)
    values["lines"] = [dict(line) | {"price": dict(line.price)} for line in message.lines]

    def bare_encode() -> bytes:
        v = values
        delta = v["placed_at"] - EPOCH
        stamp = Timestamp(
            seconds=delta.days * 86_400 + delta.seconds, nanos=delta.microseconds * 1000
        )
        lines = [
            Line(sku=x["sku"], qty=x["qty"],
                 price=Money(amount=format(x["price"]["amount"], "f"),
                             currency=x["price"]["currency"]))
            for x in v["lines"]
        ]  # fmt: skip
        return Order(  # type: ignore[no-any-return]
            id=str(v["id"]), customer=v["customer"], placed_at=stamp,
            total=format(v["total"], "f"), colour=number[v["colour"]], lines=lines,
            note=v["note"],
        ).SerializeToString()  # fmt: skip

    def bare_decode() -> dict[str, Any]:
        m = Order.FromString(data)
        ts = m.placed_at
        return {
            "id": UUID(m.id), "customer": m.customer,
            "placed_at": EPOCH + timedelta(seconds=ts.seconds, microseconds=ts.nanos // 1000),
            "total": Decimal(m.total), "colour": member[m.colour],
            "lines": [{"sku": x.sku, "qty": x.qty,
                       "price": {"amount": Decimal(x.price.amount),
                                 "currency": x.price.currency}} for x in m.lines],
            "note": m.note if m.HasField("note") else None,
        }  # fmt: skip

    def bare_validated() -> object:
        return cls.model_validate(bare_decode())

    assert Order.FromString(bare_encode()) == Order.FromString(data)
    assert decode_protobuf(cls, data) == message == bare_validated()
    seconds, rounds = args.seconds * 2, args.rounds
    rows = [
        ("encode", *paired(lambda: encode_protobuf(message), bare_encode, seconds, rounds)),
        ("decode", *paired(lambda: decode_protobuf(cls, data), bare_decode, seconds, rounds)),
        ("decode", *paired(lambda: decode_protobuf(cls, data), bare_validated, seconds, rounds)),
    ]
    print(f"OrderPlaced (7 fields, 2 nested lines), {len(data)} bytes of protobuf")
    labels = ["bare protobuf", "bare protobuf", "bare + validate"]
    for (name, ours, bare, slowdown), label in zip(rows, labels, strict=True):
        print(
            f"{name}: eventgen {ours:10,.0f} msg/s   {label:>15} {bare:10,.0f} msg/s (best "
            f"slices)   slowdown {slowdown:4.2f}x (median of paired slices; target <= 1.5)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
