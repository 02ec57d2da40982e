"""The WIRE_JSON breaking rules of buf (V2 spec), their purposes and their checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from eventgen.compat.protobuf import check_fields as cf
from eventgen.compat.protobuf import check_rpc as cr
from eventgen.compat.protobuf import check_types as ct
from eventgen.compat.protobuf.issue import ProtoIssue
from eventgen.compat.protobuf.parse import Schema

Check = Callable[[Schema, Schema], Iterator[ProtoIssue]]


def _with(code: str, fn: Callable[[Schema, Schema, str], Iterator[ProtoIssue]]) -> Check:
    return lambda old, new: fn(old, new, code)


# (buf rule id, purpose, check) in buf's V2 spec order for the WIRE_JSON category.
WIRE_JSON: tuple[tuple[str, str, Check], ...] = (
    (
        "ENUM_SAME_JSON_FORMAT",
        "An enum that supported JSON (json_format ALLOW) must keep supporting it.",
        _with("ENUM_SAME_JSON_FORMAT", ct.json_format_changes),
    ),
    (
        "ENUM_VALUE_SAME_NAME",
        "An enum number keeps its names: JSON writes enum values by name.",
        ct.enum_value_renames,
    ),
    (
        "FIELD_SAME_JSON_NAME",
        "A field keeps its JSON name (json_name), the key of its value in JSON.",
        cf.json_name_changes,
    ),
    (
        "FIELD_SAME_NAME",
        "A field number keeps its name: JSON parsers also accept the original field name.",
        cf.field_renames,
    ),
    (
        "MESSAGE_SAME_JSON_FORMAT",
        "A message that supported JSON (json_format ALLOW) must keep supporting it.",
        _with("MESSAGE_SAME_JSON_FORMAT", ct.json_format_changes),
    ),
    (
        "FIELD_SAME_DEFAULT",
        "A field's default value (proto2, editions) may not change: readers fill it in.",
        cr.default_changes,
    ),
    (
        "FIELD_SAME_ONEOF",
        "A field may not move into, out of or between oneofs (readers would clear siblings).",
        cf.oneof_moves,
    ),
    (
        "FILE_SAME_PACKAGE",
        "A file keeps its package: every full type name depends on it.",
        ct.package_changes,
    ),
    (
        "MESSAGE_SAME_REQUIRED_FIELDS",
        "Required fields may be neither added nor removed: the side that lacks one fails.",
        ct.required_changes,
    ),
    (
        "RESERVED_ENUM_NO_DELETE",
        "Reserved enum numbers and names stay reserved, so they are never reused.",
        _with("RESERVED_ENUM_NO_DELETE", ct.reserved_deletions),
    ),
    (
        "RESERVED_MESSAGE_NO_DELETE",
        "Reserved field numbers and names stay reserved, so they are never reused.",
        _with("RESERVED_MESSAGE_NO_DELETE", ct.reserved_deletions),
    ),
    (
        "RPC_SAME_CLIENT_STREAMING",
        "An RPC keeps its client streaming mode.",
        _with("RPC_SAME_CLIENT_STREAMING", cr.rpc_changes),
    ),
    (
        "RPC_SAME_IDEMPOTENCY_LEVEL",
        "An RPC keeps its idempotency level (it changes how clients may call it).",
        _with("RPC_SAME_IDEMPOTENCY_LEVEL", cr.rpc_changes),
    ),
    (
        "RPC_SAME_REQUEST_TYPE",
        "An RPC keeps its request message type.",
        _with("RPC_SAME_REQUEST_TYPE", cr.rpc_changes),
    ),
    (
        "RPC_SAME_RESPONSE_TYPE",
        "An RPC keeps its response message type.",
        _with("RPC_SAME_RESPONSE_TYPE", cr.rpc_changes),
    ),
    (
        "RPC_SAME_SERVER_STREAMING",
        "An RPC keeps its server streaming mode.",
        _with("RPC_SAME_SERVER_STREAMING", cr.rpc_changes),
    ),
    (
        "ENUM_VALUE_NO_DELETE_UNLESS_NAME_RESERVED",
        "A deleted enum value must have its name reserved, so JSON never reuses it.",
        _with("ENUM_VALUE_NO_DELETE_UNLESS_NAME_RESERVED", ct.enum_value_deletions),
    ),
    (
        "FIELD_NO_DELETE_UNLESS_NAME_RESERVED",
        "A deleted field must have its name reserved, so JSON never reuses the key.",
        _with("FIELD_NO_DELETE_UNLESS_NAME_RESERVED", cf.field_deletions),
    ),
    (
        "FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY",
        (
            "A field may change cardinality only within a group that reads alike on the wire "
            "and in JSON (optional with or without presence); repeated, map and required differ."
        ),
        cf.cardinality_changes,
    ),
    (
        "FIELD_WIRE_JSON_COMPATIBLE_TYPE",
        (
            "A field's type may change only to one with the same wire and JSON encoding "
            "(int32<->uint32, int64<->uint64, fixed32<->sfixed32, fixed64<->sfixed64, or an "
            "enum of the same short name that keeps every value)."
        ),
        cf.type_changes,
    ),
    (
        "ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED",
        "A deleted enum value must have its number reserved, so it is never reused.",
        _with("ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED", ct.enum_value_deletions),
    ),
    (
        "FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED",
        "A deleted field must have its number reserved, so old data is never misread.",
        _with("FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED", cf.field_deletions),
    ),
)

CODES: tuple[str, ...] = tuple(code for code, _, _ in WIRE_JSON)
CHECKS: dict[str, Check] = {code: check for code, _, check in WIRE_JSON}


def rule_id(code: str) -> str:
    """eventgen's rule id for a buf rule: `protobuf.<rule in lower case>`."""
    return "protobuf." + code.lower()


def run(old: Schema, new: Schema, codes: tuple[str, ...] = CODES) -> list[ProtoIssue]:
    """Every issue of the chosen buf rules, in rule order then in schema order."""
    found: list[ProtoIssue] = []
    for code in codes:
        found += CHECKS[code](old, new)
    return found
