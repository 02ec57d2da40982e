"""The checks behind the generated golden tests of a spec's `examples:` entries.

`<output>/tests/test_<context>_examples.py` holds each context's examples as a table and calls
these, so the checks have one implementation (the generated modules only parametrize):

- `read_example(cls, version, payload)`: the example as the runtime reads a stored or consumed
  record of `version`: the generated upcaster chain (`upcast_for`, user `handler` ops
  included), then strict JSON-mode validation as the current model (`lift` / `decode_json`);
- `check_upcast(cls, version, payload, expect)`: that read gives exactly `expect` (the payload
  at the current version), compared as the validated models' `model_dump_json()` bytes, so
  spellings the model normalises (`"19.0"` / `"19.00"` for a decimal(12,2)) compare equal;
- `check_round_trip(cls, version, payload)`: the current model survives the Avro and the JSON
  codecs byte for byte.
"""

from __future__ import annotations

import json
from typing import Any

from eventgen.runtime.avro import decode_avro, encode_avro, lift
from eventgen.runtime.jsoncodec import decode_json, encode_json
from eventgen.runtime.model import Message
from eventgen.runtime.serde import upcast_for

__all__ = ["check_round_trip", "check_upcast", "read_example"]


def read_example(cls: type[Message], version: int, payload: dict[str, Any]) -> Message:
    """The example as the runtime reads a record of `version`: upcast, then strictly validated."""
    text = json.dumps(payload)
    upcast = upcast_for(cls, version)
    if upcast is None:
        return decode_json(cls, text)
    return lift(cls, version, json.loads(text), upcast)


def check_upcast(
    cls: type[Message], version: int, payload: dict[str, Any], expect: dict[str, Any]
) -> None:
    """AssertionError (with both payloads) unless reading `payload` gives `expect`."""
    got = read_example(cls, version, payload)
    want = decode_json(cls, json.dumps(expect))
    if type(got) is not cls:
        raise AssertionError(f"read as {type(got).__name__}, not {cls.__name__}")
    got_json, want_json = got.model_dump_json(), want.model_dump_json()
    if got_json.encode() != want_json.encode():
        raise AssertionError(f"upcast: {got_json}\nexpect: {want_json}")


def check_round_trip(cls: type[Message], version: int, payload: dict[str, Any]) -> None:
    """AssertionError unless the example reads as `cls` at its current version and comes back
    from the Avro and the JSON codecs as the same bytes."""
    message = read_example(cls, version, payload)
    if type(message) is not cls or message.VERSION != cls.VERSION:
        raise AssertionError(f"read as {type(message).__name__} v{message.VERSION}")
    canonical = message.model_dump_json().encode()
    through_avro = decode_avro(cls, encode_avro(message)).model_dump_json().encode()
    if through_avro != canonical:
        raise AssertionError(f"Avro round trip: {through_avro!r}\nexpected: {canonical!r}")
    through_json = decode_json(cls, encode_json(message)).model_dump_json().encode()
    if through_json != canonical:
        raise AssertionError(f"JSON round trip: {through_json!r}\nexpected: {canonical!r}")
