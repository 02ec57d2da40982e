"""One small before/after `.proto` pair per rule: documentation examples that tests run.

Each pair produces exactly its rule (once) and nothing else; tests/compat/
test_protobuf_rules.py checks that, and the docs fragment is generated from these pairs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Example:
    """A change that buf's rule `code` reports."""

    code: str
    before: str
    after: str


def _p3(body: str) -> str:
    return f'syntax = "proto3";\n\npackage demo;\n\n{body}'


def _p2(body: str) -> str:
    return f'syntax = "proto2";\n\npackage demo;\n\n{body}'


def _ed(body: str) -> str:
    return f'edition = "2023";\n\npackage demo;\n\n{body}'


_ENUM = "enum Color {\n  COLOR_UNSPECIFIED = 0;\n  COLOR_RED = 1;\n}\n"
_SERVICE = "message Req {}\n\nmessage Res {}\n\nservice Shop {\n  rpc Get({req}) returns ({res}){opt}\n}}\n"


def _service(req: str = "Req", res: str = "Res", opt: str = ";") -> str:
    return _p3(
        _SERVICE.replace("{req}", req)
        .replace("{res}", res)
        .replace("{opt}", opt)
        .replace("}}", "}")
    )


EXAMPLES: tuple[Example, ...] = (
    Example(
        "ENUM_SAME_JSON_FORMAT",
        _ed("enum Color {\n  COLOR_UNSPECIFIED = 0;\n}\n"),
        _ed(
            "enum Color {\n  option features.json_format = LEGACY_BEST_EFFORT;\n"
            "  COLOR_UNSPECIFIED = 0;\n}\n"
        ),
    ),
    Example(
        "ENUM_VALUE_SAME_NAME",
        _p3(_ENUM),
        _p3(_ENUM.replace("COLOR_RED", "COLOR_CRIMSON")),
    ),
    Example(
        "FIELD_SAME_JSON_NAME",
        _p3("message Order {\n  string order_id = 1;\n}\n"),
        _p3('message Order {\n  string order_id = 1 [json_name = "id"];\n}\n'),
    ),
    Example(
        "FIELD_SAME_NAME",
        _p3("message Order {\n  string order_id = 1;\n}\n"),
        _p3('message Order {\n  string id = 1 [json_name = "orderId"];\n}\n'),
    ),
    Example(
        "MESSAGE_SAME_JSON_FORMAT",
        _ed("message Order {\n  string id = 1;\n}\n"),
        _ed(
            "message Order {\n  option features.json_format = LEGACY_BEST_EFFORT;\n"
            "  string id = 1;\n}\n"
        ),
    ),
    Example(
        "FIELD_SAME_DEFAULT",
        _p2("message Order {\n  optional int32 quantity = 1 [default = 1];\n}\n"),
        _p2("message Order {\n  optional int32 quantity = 1 [default = 2];\n}\n"),
    ),
    Example(
        "FIELD_SAME_ONEOF",
        _p3("message Order {\n  string id = 1;\n}\n"),
        _p3("message Order {\n  oneof key {\n    string id = 1;\n  }\n}\n"),
    ),
    Example(
        "FILE_SAME_PACKAGE",
        _p3("message Order {\n  string id = 1;\n}\n"),
        _p3("message Order {\n  string id = 1;\n}\n").replace("package demo;", "package shop;"),
    ),
    Example(
        "MESSAGE_SAME_REQUIRED_FIELDS",
        _p2("message Order {\n  optional string id = 1;\n}\n"),
        _p2("message Order {\n  optional string id = 1;\n  required int32 quantity = 2;\n}\n"),
    ),
    Example(
        "RESERVED_ENUM_NO_DELETE",
        _p3("enum Color {\n  COLOR_UNSPECIFIED = 0;\n  reserved 2;\n}\n"),
        _p3("enum Color {\n  COLOR_UNSPECIFIED = 0;\n}\n"),
    ),
    Example(
        "RESERVED_MESSAGE_NO_DELETE",
        _p3("message Order {\n  string id = 1;\n  reserved 2;\n}\n"),
        _p3("message Order {\n  string id = 1;\n}\n"),
    ),
    Example("RPC_SAME_CLIENT_STREAMING", _service(), _service(req="stream Req")),
    Example(
        "RPC_SAME_IDEMPOTENCY_LEVEL",
        _service(),
        _service(opt=" {\n    option idempotency_level = NO_SIDE_EFFECTS;\n  }"),
    ),
    Example("RPC_SAME_REQUEST_TYPE", _service(), _service(req="Res")),
    Example("RPC_SAME_RESPONSE_TYPE", _service(), _service(res="Req")),
    Example("RPC_SAME_SERVER_STREAMING", _service(), _service(res="stream Res")),
    Example(
        "ENUM_VALUE_NO_DELETE_UNLESS_NAME_RESERVED",
        _p3(_ENUM),
        _p3("enum Color {\n  COLOR_UNSPECIFIED = 0;\n  reserved 1;\n}\n"),
    ),
    Example(
        "FIELD_NO_DELETE_UNLESS_NAME_RESERVED",
        _p3("message Order {\n  string id = 1;\n  string note = 2;\n}\n"),
        _p3("message Order {\n  string id = 1;\n  reserved 2;\n}\n"),
    ),
    Example(
        "FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY",
        _p3("message Order {\n  string tag = 1;\n}\n"),
        _p3("message Order {\n  repeated string tag = 1;\n}\n"),
    ),
    Example(
        "FIELD_WIRE_JSON_COMPATIBLE_TYPE",
        _p3("message Order {\n  int32 quantity = 1;\n}\n"),
        _p3("message Order {\n  int64 quantity = 1;\n}\n"),
    ),
    Example(
        "ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED",
        _p3(_ENUM),
        _p3('enum Color {\n  COLOR_UNSPECIFIED = 0;\n  reserved "COLOR_RED";\n}\n'),
    ),
    Example(
        "FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED",
        _p3("message Order {\n  string id = 1;\n  string note = 2;\n}\n"),
        _p3('message Order {\n  string id = 1;\n  reserved "note";\n}\n'),
    ),
)
"""In buf's WIRE_JSON rule order (eventgen.compat.protobuf.rules.WIRE_JSON)."""
