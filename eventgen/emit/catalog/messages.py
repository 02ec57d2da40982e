"""The catalog's sections for one message or named type: field tables, versions, examples.

Types are shown in spec notation (`list[OrderLine]`, `string?`, `decimal(12,2)`): a type of
the page's own context by its bare name, a type of another context qualified, as the spec
writes them. Every value taken from the spec goes through `markdown` escaping.
"""

from __future__ import annotations

import re

from eventgen.canonical import dumps
from eventgen.emit import layout
from eventgen.emit.catalog import markdown as md
from eventgen.ir.model import (
    Constraints,
    EnumType,
    Field,
    ListOf,
    MapOf,
    Message,
    Named,
    RecordType,
    TypeRef,
    Upcast,
    thaw,
)

FIELD_HEADER = (
    "field",
    "type",
    "required",
    "nullable",
    "default",
    "constraints",
    "deprecated",
    "doc",
)


def heading(kind: str, name: str) -> str:
    """The heading text of an item (`Event OrderPlaced`, `Record Money`): kinds keep
    same-named items of one page apart, so anchors are unique and stable."""
    return f"{kind.capitalize()} {name}"


def item_kind(item: Message | RecordType | EnumType) -> str:
    if isinstance(item, Message):
        return item.kind
    return "record" if isinstance(item, RecordType) else "enum"


def item_link(context: str, qualified: str, kind: str, here: str) -> str:
    """A link target to an item's heading, relative to the page of context `here`."""
    name = qualified.rsplit(".", 1)[-1]
    frag = "#" + md.anchor(heading(kind, name))
    return frag if context == here else f"{context}.md{frag}"


def notation(ref: TypeRef, here: str) -> str:
    """`ref` in spec notation, types of context `here` by bare name."""
    mark = "?" if ref.nullable else ""
    match ref:
        case ListOf(item):
            return f"list[{notation(item, here)}]{mark}"
        case MapOf(item):
            return f"map[{notation(item, here)}]{mark}"
        case Named(name):
            ctx, _, short = name.rpartition(".")
            return (short if ctx == here else name) + mark
        case _:
            return str(ref)


def _named_refs(ref: TypeRef) -> list[str]:
    match ref:
        case ListOf(item) | MapOf(item):
            return _named_refs(item)
        case Named(name):
            return [name]
        case _:
            return []


def constraints_text(c: Constraints) -> str:
    parts = []
    if c.minimum is not None:
        parts.append(md.text(f"minimum {c.minimum}"))
    if c.maximum is not None:
        parts.append(md.text(f"maximum {c.maximum}"))
    if c.min_length is not None:
        parts.append(md.text(f"min length {c.min_length}"))
    if c.max_length is not None:
        parts.append(md.text(f"max length {c.max_length}"))
    if c.pattern is not None:
        parts.append("pattern " + md.code(c.pattern))
    return ", ".join(parts) or "-"


def field_rows(
    fields: tuple[Field, ...], here: str, kinds: dict[str, tuple[str, str]]
) -> list[list[str]]:
    """One row per field; `kinds` maps a named type to (its context, its heading kind)."""
    rows = []
    for f in fields:
        shown = md.code(notation(f.type, here))
        links = []
        for name in _named_refs(f.type):
            if name in kinds:
                ctx, kind = kinds[name]
                links.append(md.link(name.rsplit(".", 1)[-1], item_link(ctx, name, kind, here)))
        if links:
            shown += " (" + ", ".join(links) + ")"
        required = not f.type.nullable and not f.has_default
        doc = md.doc(f.doc) if f.doc else ""
        rows.append(
            [
                md.code(f.name),
                shown,
                "yes" if required else "no",
                "yes" if f.type.nullable else "no",
                md.code(_json(thaw(f.default))) if f.has_default else "-",
                constraints_text(f.constraints),
                "**yes**" if f.deprecated else "no",
                doc or "-",
            ]
        )
    return rows


def _json(value: object) -> str:
    return re.sub(r"\s*\n\s*", " ", dumps(value).decode().strip())


def _schema_links(message: Message) -> list[str]:
    """Links to the Avro and JSON Schema file of every emitted version (docs/contexts/ is
    two levels below the output directory)."""
    out = []
    for version, _ in layout.versions(message):
        suffix = None if version == message.version else version
        avro = layout.avro_path(message.context, message.name, suffix)
        json_schema = layout.jsonschema_path(message.context, message.name, suffix)
        out.append(md.link(f"v{version} Avro", f"../../{avro}"))
        out.append(md.link(f"v{version} JSON Schema", f"../../{json_schema}"))
    return out


def field_table(
    fields: tuple[Field, ...], here: str, kinds: dict[str, tuple[str, str]]
) -> list[str]:
    if not fields:
        return ["No fields."]
    return md.table(FIELD_HEADER, field_rows(fields, here, kinds))


def upcast_steps(upcast: Upcast) -> list[str]:
    """One list item per op of the step from `from_version` to the next."""
    out = []
    for op in upcast.ops:
        args = re.sub(r"\s+", " ", dumps(thaw(op.args)).decode())
        out.append(f"  - {md.code(op.op)}: {md.code(args)}")
    return out


def versions_section(message: Message, here: str) -> list[str]:
    """Each version's fields (name: type) and the upcast steps between versions."""
    if len(message.versions) <= 1 and not message.upcasts:
        return [f"Version {message.version} (the only one)."]
    steps = {u.from_version: u for u in message.upcasts}
    out = []
    for v in message.versions:
        fields = ", ".join(md.code(f"{f.name}: {notation(f.type, here)}") for f in v.fields)
        note = "" if v.complete else " (an upcast op hides some older field types)"
        current = " (current)" if v.version == message.version else ""
        out.append(f"- v{v.version}{current}: {fields or 'no fields'}{note}")
        if v.version in steps:
            out.append(f"- upcast v{v.version} -> v{v.version + 1}:")
            out += upcast_steps(steps[v.version])
    return out


def examples_section(message: Message) -> list[str]:
    out: list[str] = []
    for i, ex in enumerate(message.examples, 1):
        out += ["", f"Example {i} (version {ex.version}):", ""]
        out += md.fenced(dumps(thaw(ex.payload)).decode(), "json")
        if ex.expect is not None:
            out += ["", f"Upcast to version {message.version}, it reads:", ""]
            out += md.fenced(dumps(thaw(ex.expect)).decode(), "json")
    return out


def message_section(
    message: Message, here: str, kinds: dict[str, tuple[str, str]], topic: str | None
) -> list[str]:
    out = [f"### {md.text(heading(message.kind, message.name))}", ""]
    if message.doc:
        out += [md.prose(message.doc), ""]
    facts = [f"{message.kind}, version {message.version}"]
    if message.event_kind:
        facts.append(md.text(f"{message.event_kind} event"))
    if message.pattern:
        facts.append(md.text(message.pattern))
    facts.append("topic " + (md.code(topic) if topic else "none"))
    facts.append("key " + (md.code(".".join(message.key)) if message.key else "none"))
    if message.aggregate:
        facts.append("aggregate " + md.code(message.aggregate))
    if message.returns:
        facts.append("returns " + md.code(message.returns))
    for what, replies in (
        ("success", message.replies_success),
        ("failure", message.replies_failure),
    ):
        if replies:
            facts.append(f"replies on {what}: " + ", ".join(md.code(r) for r in replies))
    facts.append("schemas: " + ", ".join(_schema_links(message)))
    out += ["- " + fact for fact in facts]
    out += ["", *field_table(message.fields, here, kinds), "", "Versions:", ""]
    out += versions_section(message, here)
    out += examples_section(message)
    return out + [""]


def type_section(
    named: RecordType | EnumType, here: str, kinds: dict[str, tuple[str, str]]
) -> list[str]:
    out = [f"### {md.text(heading(item_kind(named), named.name))}", ""]
    if named.doc:
        out += [md.prose(named.doc), ""]
    if isinstance(named, EnumType):
        out.append("Symbols: " + ", ".join(md.code(s) for s in named.symbols) + ".")
        if named.default is not None:
            out += ["", "Reader default: " + md.code(named.default) + "."]
    else:
        out += field_table(named.fields, here, kinds)
    return out + [""]
