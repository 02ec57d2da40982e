"""Check a JSON-like literal (a default, an example value) against a type and constraints.

Scalars are checked by the runtime's own validators (through the scalar table), in JSON mode:
a spec literal is written in the wire form, and it is valid exactly when a generated model
would accept it in a JSON payload. So anything validate accepts, build can emit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from eventgen.ir import scalars
from eventgen.ir.model import (
    Constraints,
    EnumType,
    ListOf,
    MapOf,
    Named,
    RecordType,
    Scalar,
    TypeRef,
)

Lookup = Callable[[str], RecordType | EnumType | None]
NO_CONSTRAINTS = Constraints()
_SHOWN = 60  # characters of a value quoted in a message: findings stay one short line


def value_problem(
    value: Any,
    ref: TypeRef,
    lookup: Lookup,
    path: str = "",
    *,
    constraints: Constraints = NO_CONSTRAINTS,
) -> str | None:
    """Why `value` is not a valid `ref` value (with the field's constraints), or None."""
    where = f" at `{path}`" if path else ""
    if value is None:
        return None if ref.nullable else f"null{where} is not allowed for non-nullable `{ref}`"
    match ref:
        case ListOf(item):
            if not isinstance(value, (list, tuple)):
                return f"expected a list{where}, got {type(value).__name__}"
            for i, entry in enumerate(value):
                if problem := value_problem(entry, item, lookup, f"{path}[{i}]"):
                    return problem
            return _length_problem(value, constraints, where)
        case MapOf(item):
            if not isinstance(value, Mapping):
                return f"expected a mapping{where}, got {type(value).__name__}"
            for key, entry in value.items():
                if problem := value_problem(entry, item, lookup, f"{path}.{key}"):
                    return problem
            return _length_problem(value, constraints, where)
        case Named():
            return _named_problem(value, ref, lookup, path)
        case Scalar():
            problem = scalars.value_problem(ref, value, constraints)
            if problem is None:
                return None
            kind = str(ref).removesuffix("?")
            if problem.startswith("not a valid"):  # the runtime's words would repeat ours
                return f"{_show(value)}{where} is not a valid {kind}"
            return f"{_show(value)}{where} is not a valid {kind}: {problem}"


def _show(value: Any) -> str:
    text = str(value)
    return f"`{text if len(text) <= _SHOWN else text[:_SHOWN] + '...'}`"


def _length_problem(value: Any, c: Constraints, where: str) -> str | None:
    size = len(value)
    if c.min_length is not None and size < c.min_length:
        return f"{size} item(s){where}, below min_length {c.min_length}"
    if c.max_length is not None and size > c.max_length:
        return f"{size} item(s){where}, above max_length {c.max_length}"
    return None


def _named_problem(value: Any, ref: Named, lookup: Lookup, path: str) -> str | None:
    target = lookup(ref.name)
    where = f" at `{path}`" if path else ""
    if target is None:
        return None  # an unresolved type is reported elsewhere
    if isinstance(target, EnumType):
        if not isinstance(value, str) or value not in target.symbols:
            return (
                f"{_show(value)}{where} is not a symbol of {target.name} "
                f"({', '.join(target.symbols)})"
            )
        return None
    if not isinstance(value, Mapping):
        return f"expected a {target.name} mapping{where}"
    names = {f.name for f in target.fields}
    for key in value:
        if key not in names:
            return f"{target.name} has no field `{key}`{where}"
    for fld in target.fields:
        sub = f"{path}.{fld.name}" if path else fld.name
        if fld.name not in value:
            if not (fld.has_default or fld.type.nullable):
                return f"missing `{sub}` (no default)"
            continue
        if problem := value_problem(
            value[fld.name], fld.type, lookup, sub, constraints=fld.constraints
        ):
            return problem
    return None
