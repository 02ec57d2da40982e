"""The field-number lock `protobuf/field-numbers.lock.json` (issue 12).

The build reads it back from the output directory, `plan.next_lock` adds numbers for new
fields and enum symbols and turns removed ones into reserved numbers and names, and the
emitter writes it back in canonical JSON. A number, once given to a name in a message or
enum, is never given to anything else.

    {"version": 1, "packages": {"<proto package>": {
       "messages": {"<Msg>": {"fields": {"<name>": 1}, "reserved": [2], "reserved_names": ["old"]},
                    "<Msg>.<Wrapper>": {...}},
       "enums": {"<Enum>": {"values": {"<SYMBOL>": 1}, "reserved": [], "reserved_names": []}}}}}

Enum entries are keyed by the spec symbol (`PAID`), not the proto value name; 0 is always
`<ENUM>_UNSPECIFIED` and never in the lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eventgen import canonical

LOCK_VERSION = 1
# Field numbers: 1..2^29-1 without protobuf's own 19000-19999; enum numbers: int32.
FIELD_MAX = 536_870_911
RESERVED_FIRST, RESERVED_LAST = 19_000, 19_999
ENUM_MAX = 2_147_483_647


@dataclass(frozen=True)
class Numbers:
    """The numbers of one message (fields) or enum (symbols)."""

    assigned: tuple[tuple[str, int], ...] = ()  # sorted by name
    reserved: tuple[int, ...] = ()  # sorted
    reserved_names: tuple[str, ...] = ()  # sorted

    def number(self, name: str) -> int | None:
        return dict(self.assigned).get(name)

    def to_json(self, key: str) -> dict[str, Any]:
        return {
            key: dict(self.assigned),
            "reserved": list(self.reserved),
            "reserved_names": list(self.reserved_names),
        }


EMPTY = Numbers()


@dataclass(frozen=True)
class PackageNumbers:
    messages: tuple[tuple[str, Numbers], ...] = ()  # sorted by lock key
    enums: tuple[tuple[str, Numbers], ...] = ()  # sorted by name

    def message(self, key: str) -> Numbers:
        return dict(self.messages).get(key, EMPTY)

    def enum(self, name: str) -> Numbers:
        return dict(self.enums).get(name, EMPTY)


@dataclass(frozen=True)
class Lock:
    packages: tuple[tuple[str, PackageNumbers], ...] = ()  # sorted by package

    def package(self, name: str) -> PackageNumbers:
        return dict(self.packages).get(name, PackageNumbers())

    def to_json(self) -> dict[str, Any]:
        return {
            "version": LOCK_VERSION,
            "packages": {
                name: {
                    "messages": {k: n.to_json("fields") for k, n in pkg.messages},
                    "enums": {k: n.to_json("values") for k, n in pkg.enums},
                }
                for name, pkg in self.packages
            },
        }

    def dumps(self) -> bytes:
        return canonical.dumps(self.to_json())
