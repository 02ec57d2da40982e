"""Protobuf diagnostics (issue 12): the committed field-number lock. Codes E0901-E0929.

The lock (`<output>/protobuf/field-numbers.lock.json`) is read by
eventgen.emit.protobuf.lock_file before anything is emitted, by `validate` and `build` alike;
these are the codes it reports, positioned in the lock. A `.proto` file collision between
two contexts (`order-events` and `order_events` both make `order_events.proto`) is the output
collision every generated path gets (checks_output).
"""

from __future__ import annotations

from eventgen.rules.registry import Rule, declare

RULES: tuple[Rule, ...] = (
    declare("E0901", "error", "load", "protobuf field-number lock is not readable UTF-8 JSON"),
    declare("E0902", "error", "load", "protobuf field-number lock has the wrong shape"),
    declare("E0903", "error", "load", "protobuf field-number lock lists a key twice"),
    declare("E0904", "error", "load", "protobuf field-number lock gives one number to two names"),
    declare("E0905", "error", "load", "protobuf field-number lock uses a reserved number or name"),
    declare(
        "E0906",
        "error",
        "load",
        "protobuf field number out of range (1..2^29-1, not 19000-19999; enums 1..2^31-1)",
    ),
)
