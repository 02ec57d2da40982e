"""Protobuf diagnostics (issue 12): the committed field-number lock and `.proto` names.

The lock (`<output>/protobuf/field-numbers.lock.json`) is read by
eventgen.emit.protobuf.lock_file before anything is emitted, by `validate` and `build` alike;
E0901-E0906 are the codes it reports, positioned in the lock. E0911/E0912 are names the
mapping (eventgen.emit.protobuf.mapping) would write twice into one proto scope: protoc
refuses such a file, so the spec is refused first, at the item that made the second name.
W0913 warns of versioned messages under serialization protobuf (older payloads are
dead-lettered, not upcast; see check_protobuf_versions).
A `.proto` file collision between two contexts (`order-events` and `order_events` both make
`order_events.proto`) is the output collision every generated path gets (checks_output).
"""

from __future__ import annotations

from eventgen.diagnostics import Diagnostic, Loc, error, warning
from eventgen.ir.model import Context, EnumType, Project
from eventgen.rules.registry import Rule, declare


def _locs(ctx: Context) -> dict[str, Loc]:
    found: dict[str, Loc] = {}
    for item in (*ctx.types, *ctx.messages):
        found.setdefault(item.name, item.loc)
    return found


def check_proto_names(project: Project) -> list[Diagnostic]:
    from eventgen.emit.protobuf.mapping import context_shape, enum_value_name

    found: list[Diagnostic] = []
    for ctx in project.contexts:
        locs = _locs(ctx)
        shape = context_shape(project, ctx.name)
        # Package scope: messages, enums, and every enum value (proto enum values are
        # siblings of their enum, C++ style).
        owner: dict[str, str] = {}
        for item in (*ctx.types, *ctx.messages):
            owner.setdefault(item.name, f"`{item.qualified}`")
        for enum in (t for t in ctx.types if isinstance(t, EnumType)):
            # A symbol written twice is E0505 already; only distinct symbols can meet here.
            for symbol in (None, *dict.fromkeys(enum.symbols)):
                value = enum_value_name(enum.name, symbol)
                what = f"enum value `{value}` of `{enum.qualified}`"
                if value in owner:
                    found.append(
                        error(
                            "E0911",
                            enum.loc,
                            f"protobuf package `{shape.package}`: {what} is also "
                            f"the name of {owner[value]}",
                            "rename the symbol or the enum: proto enum values share the "
                            "package scope (`<ENUM>_<SYMBOL>`)",
                        )
                    )
                    continue
                owner[value] = what
        for message, wrappers in shape.wrapper_names:
            seen: set[str] = set()
            for name in wrappers:
                if name in seen:
                    found.append(
                        error(
                            "E0912",
                            locs.get(message, ctx.loc),
                            f"protobuf message `{shape.package}.{message}`: two fields need "
                            f"the wrapper message `{name}`",
                            "rename one field: wrappers are named after the field in "
                            "PascalCase (`x_1` and `x1` both give `X1`)",
                        )
                    )
                seen.add(name)
    return found


def check_protobuf_versions(project: Project) -> list[Diagnostic]:
    """Versioned messages on protobuf: their older payloads are dead-lettered, not upcast.

    The runtime reads a protobuf payload with the current message only (an older payload read
    by field number would take proto3 defaults where its upcast gives values), so a consumer
    dead-letters an older `schema_version` as `unsupported_version`. Said at build time, where
    the version is written, rather than first seen in a DLQ.
    """
    if project.defaults.serialization != "protobuf":
        return []
    found: list[Diagnostic] = []
    for ctx in project.contexts:
        for m in ctx.messages:
            if m.version > 1:
                found.append(
                    warning(
                        "W0913",
                        m.version_loc if m.version_loc.line else m.loc,
                        f"`{m.qualified}` is at version {m.version} under serialization "
                        f"protobuf: payloads of older versions are not upcast, consumers "
                        f"dead-letter them (unsupported_version)",
                        "on protobuf evolve the message by adding and removing fields (the "
                        "lock keeps their numbers), or suppress W0913 once no older payload "
                        "is left on the topics",
                    )
                )
    return found


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
    declare(
        "E0911",
        "error",
        "rule",
        "two names in one protobuf package (an enum value `<ENUM>_<SYMBOL>` and another name)",
        check_proto_names,
    ),
    declare(
        "E0912",
        "error",
        "rule",
        "two fields of a message need the same protobuf wrapper message name",
        check_proto_names,
    ),
    declare(
        "W0913",
        "warning",
        "rule",
        "versioned message under serialization protobuf (older payloads are not upcast)",
        check_protobuf_versions,
    ),
)
