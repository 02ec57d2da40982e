"""Enum, reservation, required-field, JSON-format, file and RPC WIRE_JSON rules."""

from __future__ import annotations

from collections.abc import Iterator

from eventgen.compat.protobuf import features as ft
from eventgen.compat.protobuf import parse as p
from eventgen.compat.protobuf.check_fields import message_pairs
from eventgen.compat.protobuf.issue import ProtoIssue
from eventgen.compat.protobuf.parse import Located, Schema


def enum_pairs(old: Schema, new: Schema) -> Iterator[tuple[Located, Located]]:
    for name in sorted(old.enums):
        if name in new.enums:
            yield old.enums[name], new.enums[name]


def _values_by_number(enum: Located) -> dict[int, list[tuple[str, tuple[int, ...]]]]:
    found: dict[int, list[tuple[str, tuple[int, ...]]]] = {}
    for i, v in enumerate(enum.proto.value):
        found.setdefault(v.number, []).append((v.name, enum.path + (p.ENUM_VALUE, i)))
    return found


def enum_value_deletions(old: Schema, new: Schema, code: str) -> Iterator[ProtoIssue]:
    """ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED / _NAME_RESERVED."""
    by_number = code.endswith("NUMBER_RESERVED")
    for was, now in enum_pairs(old, new):
        after = _values_by_number(now)
        for number, values in sorted(_values_by_number(was).items()):
            if number in after:
                continue
            # EnumReservedRange ends are inclusive.
            if by_number and any(r.start <= number <= r.end for r in now.proto.reserved_range):
                continue
            names = sorted(name for name, _ in values)
            if not by_number and all(n in now.proto.reserved_name for n in names):
                continue
            what = (
                f'number "{number}"'
                if by_number
                else "name"
                + ("s" if len(names) > 1 else "")
                + " "
                + ", ".join(f'"{n}"' for n in names)
            )
            yield ProtoIssue(
                code,
                now.file,
                new.span(now.file, now.path),
                f'Previously present enum value "{number}" on enum "{now.proto.name}" was '
                f"deleted without reserving the {what}.",
                now.full_name,
            )


def enum_value_renames(old: Schema, new: Schema) -> Iterator[ProtoIssue]:
    """ENUM_VALUE_SAME_NAME: every old name of a number must still name it (JSON uses names)."""
    for was, now in enum_pairs(old, new):
        after = _values_by_number(now)
        for number, values in sorted(_values_by_number(was).items()):
            if number not in after:
                continue
            old_names = sorted(n for n, _ in values)
            new_names = sorted(n for n, _ in after[number])
            if all(n in new_names for n in old_names):
                continue
            for name, path in sorted(after[number]):
                yield ProtoIssue(
                    "ENUM_VALUE_SAME_NAME",
                    now.file,
                    new.span(now.file, path + (p.VALUE_NUMBER,), path),
                    f'Enum value "{number}" on enum "{now.proto.name}" changed name from '
                    f"{', '.join(old_names)} to {', '.join(new_names)}.",
                    f"{now.full_name}.{name}",
                )


def _collapse(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _covered(start: int, end: int, ranges: list[tuple[int, int]]) -> bool:
    return any(s <= start and end <= e for s, e in ranges)


def _reserved_issues(
    new: Schema, was: Located, now: Located, kind: str, code: str, exclusive: bool
) -> Iterator[ProtoIssue]:
    def ranges(loc: Located) -> list[tuple[int, int]]:
        return [(r.start, r.end - 1 if exclusive else r.end) for r in loc.proto.reserved_range]

    collapsed = _collapse(ranges(now))
    span = new.span(now.file, now.path)
    for start, end in ranges(was):
        if not _covered(start, end, collapsed):
            text = f'Previously present reserved range "{start}-{end}" on {kind} '
            yield ProtoIssue(
                code, now.file, span, text + f'"{now.proto.name}" lost values.', now.full_name
            )
    for name in sorted(set(was.proto.reserved_name) - set(now.proto.reserved_name)):
        yield ProtoIssue(
            code,
            now.file,
            span,
            f'Previously present reserved name "{name}" on {kind} "{now.proto.name}" was deleted.',
            now.full_name,
        )


def reserved_deletions(old: Schema, new: Schema, code: str) -> Iterator[ProtoIssue]:
    """RESERVED_MESSAGE_NO_DELETE / RESERVED_ENUM_NO_DELETE."""
    if code == "RESERVED_MESSAGE_NO_DELETE":
        for was, now in message_pairs(old, new):
            yield from _reserved_issues(new, was, now, "message", code, exclusive=True)
    else:
        for was, now in enum_pairs(old, new):
            yield from _reserved_issues(new, was, now, "enum", code, exclusive=False)


def required_changes(old: Schema, new: Schema) -> Iterator[ProtoIssue]:
    """MESSAGE_SAME_REQUIRED_FIELDS: required fields may be neither added nor removed."""
    code = "MESSAGE_SAME_REQUIRED_FIELDS"
    for was, now in message_pairs(old, new):
        before = {f.number for f in was.proto.field if ft.is_required(old, f, was)}
        after = {
            f.number: now.path + (p.MSG_FIELD, i)
            for i, f in enumerate(now.proto.field)
            if ft.is_required(new, f, now)
        }
        for number in sorted(before - set(after)):
            yield ProtoIssue(
                code,
                now.file,
                new.span(now.file, now.path),
                f'Message "{now.proto.name}" had required field "{number}" deleted.',
                now.full_name,
            )
        for number in sorted(set(after) - before):
            yield ProtoIssue(
                code,
                now.file,
                new.span(now.file, after[number]),
                f'Message "{now.proto.name}" had required field "{number}" added.',
                now.full_name,
            )


# Path to features.json_format inside an element: options field, features field, json_format.
_JSON_FORMAT_PATH = {"message": (7, 12, 6), "enum": (3, 7, 6)}


def json_format_changes(old: Schema, new: Schema, code: str) -> Iterator[ProtoIssue]:
    """MESSAGE_SAME_JSON_FORMAT / ENUM_SAME_JSON_FORMAT: JSON support may not be dropped."""
    kind = "message" if code.startswith("MESSAGE") else "enum"
    pairs = message_pairs(old, new) if kind == "message" else enum_pairs(old, new)
    for was, now in pairs:
        before, after = ft.json_format(old, was), ft.json_format(new, now)
        if before == ft.FS.ALLOW and after != ft.FS.ALLOW:
            yield ProtoIssue(
                code,
                now.file,
                new.span(now.file, now.path + _JSON_FORMAT_PATH[kind], now.path),
                f'{kind.capitalize()} "{now.proto.name}" JSON format support changed from '
                f"ALLOW to {ft.FS.JsonFormat.Name(after)}.",
                now.full_name,
            )


def package_changes(old: Schema, new: Schema) -> Iterator[ProtoIssue]:
    """FILE_SAME_PACKAGE: a file (matched by path) keeps its package."""
    for path in sorted(old.files):
        if path in new.files and old.files[path].package != new.files[path].package:
            before, after = old.files[path].package, new.files[path].package
            yield ProtoIssue(
                "FILE_SAME_PACKAGE",
                path,
                new.span(path, (p.FILE_PACKAGE,)),
                f'File package changed from "{before}" to "{after}".',
                path,
            )
