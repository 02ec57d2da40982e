"""Checks on names, fields, enums, constraints and type recursion."""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator

from eventgen.diagnostics import Diagnostic, Loc, error, warning
from eventgen.ir import naming
from eventgen.ir.model import EnumType, Field, Named, Project, RecordType
from eventgen.ir.types import kind_name, walk
from eventgen.rules.registry import Rule, declare

NUMERIC = {"int", "long", "float", "double", "decimal"}
# Lengths on bytes have no JSON Schema counterpart on base64 text, so they are not offered.
SIZED = {"string"}
PAST_IRREGULAR = {
    "Sent", "Paid", "Made", "Built", "Held", "Sold", "Lost", "Found", "Taken", "Given", "Done",
    "Won", "Began", "Set", "Put", "Kept", "Left", "Met", "Read", "Run", "Shut", "Split", "Cut",
    "Bought", "Brought", "Caught", "Taught", "Thought", "Told", "Became", "Came", "Went",
    "Withdrawn", "Drawn", "Written", "Chosen", "Frozen", "Broken", "Spent", "Lent", "Rebuilt",
}  # fmt: skip


def _words(name: str) -> list[str]:
    return re.findall(r"[A-Z][a-z0-9]*", name)


def field_lists(project: Project) -> Iterator[tuple[str, tuple[Field, ...], tuple[str, ...]]]:
    """(owner, fields, suppressed warnings) for every list of fields in the project."""
    for ctx in project.contexts:
        for t in ctx.types:
            if isinstance(t, RecordType):
                yield t.qualified, t.fields, ()
        for m in ctx.messages:
            yield m.qualified, m.fields, m.suppress
        for p in ctx.projections:
            yield p.qualified, p.fields, ()
        for a in ctx.aggregates:
            yield a.qualified, a.state, ()
        for s in ctx.sagas:
            yield s.qualified, s.data, ()


def check_names(project: Project) -> Iterator[Diagnostic]:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", project.package) or naming.is_python_reserved(
        project.package
    ):
        yield error(
            "E0408",
            dict(project.project_locs).get("package", Loc("eventgen.yaml")),
            f"package `{project.package}` is not a usable Python module name",
        )
    for ctx in project.contexts:
        pascal = [
            *ctx.types,
            *ctx.messages,
            *ctx.aggregates,
            *ctx.projections,
            *ctx.sagas,
            *ctx.choreographies,
        ]
        for item in pascal:
            if not naming.MESSAGE_NAME.fullmatch(item.name):
                yield error(
                    "E0404", item.loc, f"`{item.name}` must be PascalCase (like OrderPlaced)"
                )
        local_names = [(t.local_name, t.loc) for t in ctx.topics]
        local_names += [(c.name, c.loc) for c in ctx.consumers]
        for name, loc in local_names:
            if not naming.ITEM_NAME.fullmatch(name):
                yield error("E0404", loc, f"`{name}` must be lower_snake or kebab-case")
        for m in ctx.messages:
            if m.kind == "event" and not _past_tense(m.name):
                yield warning(
                    "W0901",
                    m.loc,
                    f"event `{m.name}` does not read as a past-tense fact",
                    "name events like OrderPlaced; silence with `suppress: [W0901]`",
                )
            if m.kind == "command" and _past_word(_words(m.name)[:1]):
                yield warning(
                    "W0902",
                    m.loc,
                    f"command `{m.name}` reads as a past fact, not an imperative",
                    "name commands like PlaceOrder; silence with `suppress: [W0902]`",
                )


def _past_word(words: list[str]) -> bool:
    return any(w.endswith("ed") or w in PAST_IRREGULAR for w in words)


def _past_tense(name: str) -> bool:
    """Events read as facts: some word after the subject is a past participle."""
    words = _words(name)
    return _past_word(words[1:] or words)


def check_fields(project: Project) -> Iterator[Diagnostic]:
    for owner, fields, _suppressed in field_lists(project):
        attrs: dict[str, Field] = {}
        for fld in fields:
            if not naming.FIELD_NAME.fullmatch(fld.name):
                yield error(
                    "E0405", fld.loc, f"field `{fld.name}` must be snake_case (like order_id)"
                )
                continue
            attr = naming.py_attr(fld.name)
            if attr in attrs:
                yield error(
                    "E0406",
                    fld.loc,
                    f"fields `{attrs[attr].name}` and `{fld.name}` of {owner} both become the attribute `{attr}`",
                )
            attrs[attr] = fld
            if attr != fld.name:
                yield warning(
                    "W0407",
                    fld.loc,
                    f"field `{fld.name}` {naming.attr_escape_reason(fld.name)}; "
                    f"its attribute is `{attr}`",
                    "the wire name stays unchanged (pydantic alias)",
                )
            yield from _constraint_checks(fld)


def _constraint_checks(fld: Field) -> Iterator[Diagnostic]:
    base = walk(fld.type)[0]
    c = fld.constraints
    name = kind_name(base)
    if (c.minimum is not None or c.maximum is not None) and name not in NUMERIC:
        yield error("E0509", fld.loc, f"minimum/maximum do not apply to `{fld.type}`")
    if (c.min_length is not None or c.max_length is not None) and name not in SIZED | {
        "list",
        "map",
    }:
        yield error("E0509", fld.loc, f"min_length/max_length do not apply to `{fld.type}`")
    if c.pattern is not None and name != "string":
        yield error("E0509", fld.loc, f"pattern applies to strings, not `{fld.type}`")
    if name == "decimal" and (c.maximum is not None or c.minimum not in (None, 0)):
        yield error(
            "E0509",
            fld.loc,
            "decimal bounds other than `minimum: 0` cannot be expressed in JSON Schema",
            "decimals travel as strings there; use `minimum: 0` or check the range in a handler",
        )
    if name == "float":
        for bound in (c.minimum, c.maximum):
            if bound is not None and struct.unpack("<f", struct.pack("<f", bound))[0] != bound:
                yield error(
                    "E0509",
                    fld.loc,
                    f"bound {bound} is not exactly a 32-bit float, so values at the bound "
                    "could fail after rounding",
                    "use `double`, or a bound such as 0.5 or 100",
                )
    for low, high in ((c.minimum, c.maximum), (c.min_length, c.max_length)):
        if low is not None and high is not None and low > high:
            yield error("E0509", fld.loc, f"lower bound {low} is above upper bound {high}")


def check_types(project: Project) -> Iterator[Diagnostic]:
    records = {t.qualified: t for t in project.all_types() if isinstance(t, RecordType)}
    for t in project.all_types():
        if isinstance(t, EnumType):
            seen: set[str] = set()
            for index, symbol in enumerate(t.symbols):
                if not naming.ENUM_SYMBOL.fullmatch(symbol) or symbol in seen:
                    yield error(
                        "E0505",
                        t.symbol_at(index),
                        f"enum {t.name}: symbol `{symbol}` is repeated or not a valid Avro name",
                    )
                seen.add(symbol)
            members: dict[str, str] = {}
            for index, symbol in enumerate(t.symbols):
                member = naming.py_enum_member(symbol)
                if member in members and members[member] != symbol:
                    yield error(
                        "E0512",
                        t.symbol_at(index),
                        f"enum {t.name}: symbols `{members[member]}` and `{symbol}` both become "
                        f"the Python member `{member}`",
                    )
                members[member] = symbol
            if t.default is not None and t.default not in t.symbols:
                yield error(
                    "E0506",
                    t.default_loc,
                    f"enum {t.name}: default `{t.default}` is not one of its symbols",
                )
    reported: set[str] = set()
    for name in sorted(records):
        cycle = _cycle(name, records, [])
        if cycle and cycle[0] not in reported:
            reported.update(cycle)
            yield error(
                "E0507",
                records[cycle[0]].loc,
                "recursive type: " + " -> ".join([*cycle, cycle[0]]),
                "break the cycle with an id reference; recursion is not portable across Avro, JSON Schema and pydantic here",
            )


def _cycle(name: str, records: dict[str, RecordType], path: list[str]) -> list[str] | None:
    if name in path:
        return path[path.index(name) :]
    for fld in records[name].fields:
        for ref in walk(fld.type):
            if (
                isinstance(ref, Named)
                and ref.name in records
                and (found := _cycle(ref.name, records, [*path, name]))
            ):
                return found
    return None


def check_context_cycles(project: Project) -> Iterator[Diagnostic]:
    """Generated modules import the contexts whose types they use: that graph must be acyclic."""
    uses: dict[str, dict[str, Field]] = {}
    for owner, fields, _ in field_lists(project):
        context = owner.split(".")[0]
        for fld in fields:
            for ref in walk(fld.type):
                other = ref.name.split(".")[0] if isinstance(ref, Named) else context
                if other != context:
                    uses.setdefault(context, {}).setdefault(other, fld)
    reported: set[frozenset[str]] = set()
    for start in sorted(uses):
        for middle in sorted(uses[start]):
            if start in uses.get(middle, {}) and frozenset((start, middle)) not in reported:
                reported.add(frozenset((start, middle)))
                yield error(
                    "E0513",
                    uses[middle][start].loc,
                    f"contexts `{start}` and `{middle}` use each other's types, so their generated "
                    "modules would import each other",
                    "move the shared types into one context (or a shared one) that both use",
                )


# The codes these checks report, composed into the ruleset by eventgen.rules.catalog.
RULES: tuple[Rule, ...] = (
    declare("E0404", "error", "rule", "message, type or item name has the wrong form", check_names),
    declare(
        "E0408", "error", "rule", "package name is not a valid Python module name", check_names
    ),
    declare(
        "W0901", "warning", "rule", "event name does not read as a past-tense fact", check_names
    ),
    declare("W0902", "warning", "rule", "command name does not read as an imperative", check_names),
    declare("E0405", "error", "rule", "field name is not snake_case", check_fields),
    declare(
        "E0406", "error", "rule", "two field names map to the same Python attribute", check_fields
    ),
    declare(
        "W0407",
        "warning",
        "rule",
        "field name is Python-reserved or a pydantic model name; the attribute gets a trailing `_`",
        check_fields,
    ),
    declare(
        "E0509",
        "error",
        "rule",
        "constraint does not apply to the field's type, or min > max",
        check_fields,
    ),
    declare(
        "E0505", "error", "rule", "enum symbol is not a valid Avro name, or repeated", check_types
    ),
    declare("E0506", "error", "rule", "enum default is not one of its symbols", check_types),
    declare(
        "E0507",
        "error",
        "rule",
        "recursive type (not supported by all three schema formats)",
        check_types,
    ),
    declare(
        "E0512", "error", "rule", "two enum symbols become the same Python member", check_types
    ),
    declare(
        "E0513",
        "error",
        "rule",
        "two contexts use each other's types (import cycle)",
        check_context_cycles,
    ),
)
