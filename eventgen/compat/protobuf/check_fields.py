"""Field-level WIRE_JSON rules: deletions, names, JSON names, oneofs, types, cardinality."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from eventgen.compat.protobuf import features as ft
from eventgen.compat.protobuf import parse as p
from eventgen.compat.protobuf.issue import ProtoIssue
from eventgen.compat.protobuf.parse import Located, Schema

# No type stubs ship with protobuf: descriptors are dynamic messages here.
descriptor_pb2: Any = importlib.import_module("google.protobuf.descriptor_pb2")

Field = Any
FieldPair = tuple[Field, tuple[int, ...], Field, tuple[int, ...]]


def _fields(msg: Located) -> dict[int, tuple[Field, tuple[int, ...]]]:
    return {f.number: (f, msg.path + (p.MSG_FIELD, i)) for i, f in enumerate(msg.proto.field)}


def message_pairs(old: Schema, new: Schema) -> Iterator[tuple[Located, Located]]:
    """Messages present in both versions, matched by full name (buf's pairing)."""
    for name in sorted(old.messages):
        if name in new.messages:
            yield old.messages[name], new.messages[name]


def field_pairs(old_msg: Located, new_msg: Located) -> Iterator[FieldPair]:
    """Fields present in both versions of a message, matched by number."""
    before, after = _fields(old_msg), _fields(new_msg)
    for number in sorted(before):
        if number in after:
            yield before[number] + after[number]


@dataclass(frozen=True)
class Pair:
    """One field (or extension) in both versions, with the scopes that declare them."""

    before: Field
    old_owner: Located
    after: Field
    path: tuple[int, ...]
    new_owner: Located
    extension: bool


def all_field_pairs(old: Schema, new: Schema) -> Iterator[Pair]:
    """Message fields matched by message and number, then extensions by extendee and number."""
    for old_msg, new_msg in message_pairs(old, new):
        for before, _, after, path in field_pairs(old_msg, new_msg):
            yield Pair(before, old_msg, after, path, new_msg, False)
    for key in sorted(old.extensions):
        if key in new.extensions:
            before, _, old_scope = old.extensions[key]
            after, path, new_scope = new.extensions[key]
            yield Pair(before, old_scope, after, path, new_scope, True)


def _in_ranges(number: int, ranges: object) -> bool:
    # DescriptorProto.ReservedRange ends are exclusive.
    return any(r.start <= number < r.end for r in ranges)  # type: ignore[attr-defined]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _describe(field: Field, msg: Located) -> str:
    return f'field "{field.number}" with name "{field.name}" on message "{msg.proto.name}"'


def _full(field: Field, owner: Located) -> str:
    return f"{owner.full_name}.{field.name}" if owner.full_name else field.name


def _describe_pair(pair: Pair) -> str:
    """buf's wording: extensions by full name on their extendee, fields on their message."""
    if pair.extension:
        return (
            f'Extension "{pair.after.number}" with name "{_full(pair.after, pair.new_owner)}" '
            f'on message "{pair.after.extendee.lstrip(".")}"'
        )
    return _cap(_describe(pair.after, pair.new_owner))


def field_deletions(old: Schema, new: Schema, code: str) -> Iterator[ProtoIssue]:
    """FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED / _NAME_RESERVED."""
    by_number = code.endswith("NUMBER_RESERVED")
    for old_msg, new_msg in message_pairs(old, new):
        after = _fields(new_msg)
        for number, (field, _) in sorted(_fields(old_msg).items()):
            if number in after:
                continue
            if by_number and _in_ranges(number, new_msg.proto.reserved_range):
                continue
            if not by_number and field.name in new_msg.proto.reserved_name:
                continue
            what = f'number "{number}"' if by_number else f'name "{field.name}"'
            yield ProtoIssue(
                code,
                new_msg.file,
                new.span(new_msg.file, new_msg.path),
                f"Previously present {_describe(field, old_msg)} was deleted without "
                f"reserving the {what}.",
                new_msg.full_name,
            )


def _pair_issue(
    code: str, new: Schema, pair: Pair, paths: list[tuple[int, ...]], text: str
) -> ProtoIssue:
    owner = pair.new_owner
    return ProtoIssue(
        code, owner.file, new.span(owner.file, *paths), text, _full(pair.after, owner)
    )


def field_renames(old: Schema, new: Schema) -> Iterator[ProtoIssue]:
    """FIELD_SAME_NAME: a number keeps its name (JSON and text formats use names)."""
    for pair in all_field_pairs(old, new):
        was, now = pair.before.name, pair.after.name
        if pair.extension:
            was, now = _full(pair.before, pair.old_owner), _full(pair.after, pair.new_owner)
        if was != now:
            owner = f'on message "{pair.new_owner.proto.name}"'
            if pair.extension:
                owner = f'on message "{pair.after.extendee.lstrip(".")}"'
            kind = "Extension" if pair.extension else "Field"
            yield _pair_issue(
                "FIELD_SAME_NAME",
                new,
                pair,
                [pair.path + (p.FIELD_NAME,)],
                f'{kind} "{pair.after.number}" {owner} changed name from "{was}" to "{now}".',
            )


def json_name_changes(old: Schema, new: Schema) -> Iterator[ProtoIssue]:
    """FIELD_SAME_JSON_NAME: the JSON key of a field must not change."""
    for pair in all_field_pairs(old, new):
        if not pair.extension and pair.before.json_name != pair.after.json_name:
            yield _pair_issue(
                "FIELD_SAME_JSON_NAME",
                new,
                pair,
                [pair.path + (p.FIELD_JSON_NAME,), pair.path],
                f'{_describe_pair(pair)} changed option "json_name" from '
                f'"{pair.before.json_name}" to "{pair.after.json_name}".',
            )


def oneof_moves(old: Schema, new: Schema) -> Iterator[ProtoIssue]:
    """FIELD_SAME_ONEOF: a field may not move into, out of, or between oneofs."""
    for pair in all_field_pairs(old, new):
        if pair.extension:
            continue
        was = ft.real_oneof(pair.before, pair.old_owner)
        now = ft.real_oneof(pair.after, pair.new_owner)
        if was == now:
            continue
        if was is not None and now is not None:
            text = f'moved from oneof "{was}" to oneof "{now}"'
        elif was is not None:
            text = "moved from inside to outside a oneof"
        else:
            text = "moved from outside to inside a oneof"
        yield _pair_issue(
            "FIELD_SAME_ONEOF", new, pair, [pair.path], f"{_describe_pair(pair)} {text}."
        )


def cardinality_changes(old: Schema, new: Schema) -> Iterator[ProtoIssue]:
    """FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY."""
    for pair in all_field_pairs(old, new):
        if (
            not pair.extension
            and pair.old_owner.proto.options.map_entry
            and pair.new_owner.proto.options.map_entry
        ):
            # Map entry fields are checked through the map field itself.
            continue
        was = ft.cardinality(old, pair.before, pair.old_owner)
        now = ft.cardinality(new, pair.after, pair.new_owner)
        if ft.CARDINALITY_GROUP[was] != ft.CARDINALITY_GROUP[now]:
            yield _pair_issue(
                "FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY",
                new,
                pair,
                [pair.path],
                f'{_describe_pair(pair)} changed cardinality from "{was}" to "{now}".',
            )


def _short(type_name: str) -> str:
    return type_name.rsplit(".", 1)[-1]


def _enum_compatible(old: Schema, new: Schema, before: Field, after: Field) -> bool:
    """A renamed enum type is compatible when short names match and no value was lost."""
    if _short(before.type_name) != _short(after.type_name):
        return False
    was = old.enums.get(before.type_name.lstrip("."))
    now = new.enums.get(after.type_name.lstrip("."))
    if was is None or now is None:
        return was is None and now is None
    now_values = {v.name: v.number for v in now.proto.value}
    return all(now_values.get(v.name) == v.number for v in was.proto.value)


def type_changes(old: Schema, new: Schema) -> Iterator[ProtoIssue]:
    """FIELD_WIRE_JSON_COMPATIBLE_TYPE: types must share both wire and JSON encodings."""
    named = (ft.F.TYPE_MESSAGE, ft.F.TYPE_GROUP, ft.F.TYPE_ENUM)
    for pair in all_field_pairs(old, new):
        before, after, path = pair.before, pair.after, pair.path
        was = ft.field_kind(old, before, pair.old_owner)
        now = ft.field_kind(new, after, pair.new_owner)
        type_path = path + ((p.FIELD_TYPE_NAME,) if now in named else (p.FIELD_TYPE,))
        if ft.WIRE_JSON_GROUP[was] != ft.WIRE_JSON_GROUP[now]:
            text = f'changed type from "{ft.KIND_NAMES[was]}" to "{ft.KIND_NAMES[now]}".'
        elif (
            before.type_name == after.type_name
            or now not in named
            or now == ft.F.TYPE_ENUM
            and _enum_compatible(old, new, before, after)
        ):
            continue
        else:
            type_path = path + (p.FIELD_TYPE_NAME,)
            text = (
                f'changed type from "{before.type_name.lstrip(".")}" to '
                f'"{after.type_name.lstrip(".")}".'
            )
        yield _pair_issue(
            "FIELD_WIRE_JSON_COMPATIBLE_TYPE",
            new,
            pair,
            [type_path, path],
            f"{_describe_pair(pair)} {text}",
        )
