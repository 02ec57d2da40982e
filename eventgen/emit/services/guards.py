"""The `requires` guard of an aggregate command, compiled to a Python expression.

Grammar (split by eventgen.ir.guards, the tokenizer the rules check with too):

    guard  := clause (("and" | "or") clause)*      `and` binds tighter than `or`
    clause := field op literal                      op: == != < <= > >=

The literal is typed by the state field it is compared with: an enum symbol becomes the enum
member, numbers stay numbers, decimals `Decimal("...")`, timestamps/dates/uuids their Python
constructors, quoted or bare text a string literal (`py_str`, never pasted raw), `true` /
`false` booleans (compared with `is` / `is not`), and `null` an `is None` / `is not None`
test. An ordering comparison on a nullable field is false when the field is None
(`(x is not None and x < 3)`).

Nothing of the guard text reaches the generated module except through `py_str`; the rules
refuse every guard this module cannot compile (E0803, E0819) before emitters run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eventgen.emit import layout
from eventgen.emit.pymodels.literals import py_literal
from eventgen.emit.pymodels.types import TypeWriter
from eventgen.ir import naming
from eventgen.ir.guards import GuardSyntaxError, split_guard
from eventgen.ir.model import EnumType, Field, ListOf, MapOf, Named, Scalar, TypeRef
from eventgen.ir.types import non_null

_NUMBERS = frozenset({"int", "long", "float", "double"})


class GuardError(ValueError):
    """A guard the rules should have refused (a programming error if it reaches here)."""


@dataclass(frozen=True)
class Clause:
    field: Field
    op: str
    literal: str  # as written


@dataclass(frozen=True)
class Guard:
    """A parsed guard: `or` of `and` groups of clauses."""

    text: str
    groups: tuple[tuple[Clause, ...], ...]

    @property
    def fields(self) -> tuple[Field, ...]:
        """The state fields the guard reads, in order of first use, each once."""
        seen: dict[str, Field] = {}
        for group in self.groups:
            for clause in group:
                seen.setdefault(clause.field.name, clause.field)
        return tuple(seen.values())


def parse_guard(text: str, state: Sequence[Field]) -> Guard:
    by_name = {f.name: f for f in state}
    try:
        split = split_guard(text)
    except GuardSyntaxError as exc:
        raise GuardError(str(exc)) from exc
    groups: list[tuple[Clause, ...]] = []
    for group in split:
        found: list[Clause] = []
        for c in group:
            if c.field is None or c.op is None or c.literal is None or c.field not in by_name:
                raise GuardError(f"guard clause {c.text!r} does not parse or names unknown state")
            found.append(Clause(by_name[c.field], c.op, c.literal))
        groups.append(tuple(found))
    return Guard(text, tuple(groups))


_NEGATED = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}


def compile_rejection(guard: Guard, writer: TypeWriter, state: str = "state") -> str:
    """The condition under which the command is rejected: `not (guard)`, or the one clause
    negated when the guard is a single comparison (`status != OrderStatus.UNKNOWN`)."""
    if len(guard.groups) == 1 and len(guard.groups[0]) == 1:
        clause = guard.groups[0][0]
        if not (clause.field.type.nullable and clause.op not in ("==", "!=")):
            flipped = Clause(clause.field, _NEGATED[clause.op], clause.literal)
            return _clause(flipped, writer, state)
    return f"not ({compile_guard(guard, writer, state)})"


def compile_guard(guard: Guard, writer: TypeWriter, state: str = "state") -> str:
    """The guard as one Python boolean expression over `state` (the state model instance)."""
    groups = [[_clause(c, writer, state) for c in group] for group in guard.groups]
    if len(groups) == 1:
        return " and ".join(groups[0])
    return " or ".join(f"({' and '.join(g)})" if len(g) > 1 else g[0] for g in groups)


def _clause(clause: Clause, writer: TypeWriter, state: str) -> str:
    ref = clause.field.type
    attr = f"{state}.{naming.py_attr(clause.field.name)}"
    if clause.literal == "null":
        if clause.op not in ("==", "!="):
            raise GuardError(f"`{clause.op} null` does not compare")
        return f"{attr} is None" if clause.op == "==" else f"{attr} is not None"
    value = _literal(non_null(ref), clause.literal, writer)
    if value in ("True", "False"):  # booleans by identity: `x is False` is also right for None
        return f"{attr} {'is' if clause.op == '==' else 'is not'} {value}"
    test = f"{attr} {clause.op} {value}"
    if ref.nullable and clause.op not in ("==", "!="):
        return f"({attr} is not None and {test})"
    return test


def _literal(ref: TypeRef, literal: str, writer: TypeWriter) -> str:
    quoted = literal[:1] in "\"'" and len(literal) >= 2 and literal[-1:] == literal[:1]
    text = literal[1:-1] if quoted else literal
    match ref:
        case Named(name):
            named = writer.index[name]
            if not isinstance(named, EnumType) or text not in named.symbols:
                raise GuardError(f"{literal!r} is not a symbol of {name}")
            return writer.value(ref, text)
        case Scalar("boolean") if not quoted and text in ("true", "false"):
            return "True" if text == "true" else "False"
        case Scalar(name) if name in _NUMBERS and not quoted:
            number: int | float = int(text) if _is_int(text) else float(text)
            if name in ("float", "double"):
                return py_literal(float(number))
            if isinstance(number, float):
                raise GuardError(f"{literal!r} is not an integer")
            return repr(number)
        case Scalar():
            return writer.value(ref, layout.typed_value(ref, text, writer.index))
        case ListOf() | MapOf():
            raise GuardError("a list or map cannot be compared with a literal")
    raise GuardError(f"cannot compare {ref} with {literal!r}")


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True
