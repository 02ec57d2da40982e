"""Numbering: the proto files of a project with the lock's numbers applied (issue 12).

`next_lock(project, lock)` is the lock after this build: every current field and enum
symbol keeps its number; a new one gets the next number after the highest ever used or
reserved in its message/enum (skipping protobuf's 19000-19999); a name no longer in the
spec moves to `reserved` (number) and `reserved_names` (name); a re-added or renamed field
gets a fresh number, its old one stays reserved. Messages, enums and packages that left the
spec keep their entries, so a later return cannot reuse their numbers. Pure.

`proto_files(project, lock)` = the model of every context's file numbered by
`next_lock(project, lock)` (so every number is there whatever the lock held).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

from eventgen.emit import layout
from eventgen.emit.protobuf.lock import (
    EMPTY,
    RESERVED_FIRST,
    RESERVED_LAST,
    Lock,
    Numbers,
    PackageNumbers,
)
from eventgen.emit.protobuf.mapping import (
    ContextShape,
    context_shape,
    doc_lines,
    enum_value_name,
)
from eventgen.emit.protobuf.model import ProtoEnum, ProtoFile, ProtoMessage
from eventgen.ir.model import Project


def shapes(project: Project) -> dict[str, ContextShape]:
    """Every context's messages and enums before numbering, by context name."""
    return {ctx.name: context_shape(project, ctx.name) for ctx in project.contexts}


def walk(messages: Sequence[ProtoMessage]) -> Iterator[ProtoMessage]:
    """Every message, wrappers after their owner."""
    for msg in messages:
        yield msg
        yield from walk(msg.nested)


def _next_number(after: int) -> int:
    number = after + 1
    return RESERVED_LAST + 1 if RESERVED_FIRST <= number <= RESERVED_LAST else number


def allocate(entry: Numbers, names: Sequence[str]) -> Numbers:
    """`entry` updated for the current `names` (in declaration order)."""
    assigned = dict(entry.assigned)
    reserved = set(entry.reserved)
    reserved_names = set(entry.reserved_names)
    current = set(names)
    for name in sorted(assigned):
        if name not in current:
            reserved.add(assigned.pop(name))
            reserved_names.add(name)
    highest = max([0, *assigned.values(), *reserved])
    for name in names:
        if name not in assigned:
            highest = _next_number(highest)
            assigned[name] = highest
            reserved_names.discard(name)
    return Numbers(
        tuple(sorted(assigned.items())), tuple(sorted(reserved)), tuple(sorted(reserved_names))
    )


def _next_package(old: PackageNumbers, shape: ContextShape) -> PackageNumbers:
    messages = dict(old.messages)
    for msg in walk(shape.messages):
        messages[msg.lock_key] = allocate(
            messages.get(msg.lock_key, EMPTY), [f.name for f in msg.fields]
        )
    enums = dict(old.enums)
    for enum in shape.enums:
        symbols = [v.symbol for v in enum.values if v.symbol is not None]
        enums[enum.name] = allocate(enums.get(enum.name, EMPTY), symbols)
    return PackageNumbers(tuple(sorted(messages.items())), tuple(sorted(enums.items())))


def next_lock(project: Project, lock: Lock | None) -> Lock:
    return _next_lock(shapes(project), lock)


def _next_lock(by_context: dict[str, ContextShape], lock: Lock | None) -> Lock:
    packages = dict(lock.packages) if lock is not None else {}
    for shape in by_context.values():
        old = packages.get(shape.package, PackageNumbers())
        packages[shape.package] = _next_package(old, shape)
    return Lock(tuple(sorted(packages.items())))


def _number_message(msg: ProtoMessage, pkg: PackageNumbers) -> ProtoMessage:
    entry = pkg.message(msg.lock_key)
    numbers = dict(entry.assigned)
    return replace(
        msg,
        fields=tuple(replace(f, number=numbers[f.name]) for f in msg.fields),
        nested=tuple(_number_message(n, pkg) for n in msg.nested),
        reserved=entry.reserved,
        reserved_names=entry.reserved_names,
    )


def _number_enum(enum: ProtoEnum, pkg: PackageNumbers) -> ProtoEnum:
    entry = pkg.enum(enum.name)
    numbers = dict(entry.assigned)
    values = tuple(
        replace(v, number=0 if v.symbol is None else numbers[v.symbol]) for v in enum.values
    )
    return replace(
        enum,
        values=tuple(sorted(values, key=lambda v: v.number)),
        reserved=entry.reserved,
        reserved_names=tuple(sorted(enum_value_name(enum.name, s) for s in entry.reserved_names)),
    )


def proto_files(project: Project, lock: Lock | None) -> dict[str, ProtoFile]:
    """Every context's `.proto` model, numbered, by context name."""
    by_context = shapes(project)
    numbered = _next_lock(by_context, lock)
    files: dict[str, ProtoFile] = {}
    for ctx in project.contexts:
        shape = by_context[ctx.name]
        pkg = numbered.package(shape.package)
        files[ctx.name] = ProtoFile(
            context=ctx.name,
            path=layout.proto_path(ctx.name),
            import_path=layout.proto_import(ctx.name),
            package=shape.package,
            imports=shape.imports,
            messages=tuple(_number_message(m, pkg) for m in shape.messages),
            enums=tuple(_number_enum(e, pkg) for e in shape.enums),
            doc=doc_lines(ctx.doc),
        )
    return files


def files_and_lock(project: Project, lock: Lock | None) -> tuple[dict[str, ProtoFile], Lock]:
    """`proto_files` and `next_lock` in one pass (the emitter needs both)."""
    return proto_files(project, lock), next_lock(project, lock)
