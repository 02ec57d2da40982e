"""Fields: type expressions, decimals, constraints and defaults."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from eventgen.diagnostics import Loc
from eventgen.ir.model import Constraints, Field, ListOf, MapOf, Named, Scalar, TypeRef, freeze
from eventgen.ir.regex_risk import exponential_backtracking
from eventgen.ir.resolve.scope import Scope
from eventgen.ir.types import TypeSyntaxError, innermost, parse_type
from eventgen.ir.values import value_problem
from eventgen.spec.nodes import PMap

DEFAULT_DECIMAL = (38, 9)
MAX_DECIMAL_PRECISION = 38  # what Avro readers, Java's BigDecimal schemas and Postgres agree on


def resolve_type(scope: Scope, text: object, context: str, loc: Loc) -> TypeRef | None:
    """Parse and resolve a type expression; report and return None when it is wrong."""
    if not isinstance(text, str):
        return None  # the structure check reported it
    try:
        ref = parse_type(text)
    except TypeSyntaxError as exc:
        scope.error("E0310", loc, str(exc), "examples: uuid, string?, list[OrderLine], map[int]")
        return None
    return _resolve_names(scope, ref, context, loc)


def _resolve_names(scope: Scope, ref: TypeRef, context: str, loc: Loc) -> TypeRef | None:
    match ref:
        case ListOf(item) | MapOf(item):
            resolved = _resolve_names(scope, item, context, loc)
            return replace(ref, item=resolved) if resolved is not None else None
        case Named(name):
            qualified = scope.resolve_type_name(name, context, loc)
            return replace(ref, name=qualified) if qualified else None
        case Scalar():
            return ref


def build_fields(
    scope: Scope, node: Any, context: str, *, check_defaults: bool = True
) -> tuple[Field, ...]:
    """Build the fields of a mapping `{name: type | {type: ..., ...}}` in declaration order."""
    if not isinstance(node, PMap):
        return ()
    fields: list[Field] = []
    for name, spec in node.items():
        fld = build_field(scope, name, spec, context, node.key_loc(name), node.value_loc(name))
        if fld is not None:
            fields.append(fld)
    if check_defaults:
        for fld in fields:
            check_field_default(scope, fld, default_loc(node, fld.name))
    return tuple(fields)


def build_field(
    scope: Scope, name: str, spec: Any, context: str, key_loc: Loc, loc: Loc
) -> Field | None:
    attrs: dict[str, Any] = {}
    if isinstance(spec, PMap):
        attrs = dict(spec)
        type_text, type_loc = spec.get("type"), spec.value_loc("type")
    else:
        type_text, type_loc = spec, loc
    ref = resolve_type(scope, type_text, context, type_loc)
    if ref is None:
        return None
    ref = _decimal(scope, ref, attrs, loc, spec)
    # A constraint of the wrong type was reported by the structure check; leave it out here
    # (the default check would otherwise compare a number with a list).
    constraints = Constraints(
        minimum=_typed(attrs.get("minimum"), (int, float)),
        maximum=_typed(attrs.get("maximum"), (int, float)),
        min_length=_typed(attrs.get("min_length"), int),
        max_length=_typed(attrs.get("max_length"), int),
        pattern=_typed(attrs.get("pattern"), str),
    )
    if constraints.pattern is not None:
        try:
            re.compile(constraints.pattern)
        except re.error as exc:
            scope.error("E0508", spec.value_loc("pattern"), f"invalid pattern: {exc}")
        else:
            if exponential_backtracking(constraints.pattern):
                scope.error(
                    "E0515",
                    spec.value_loc("pattern"),
                    f"pattern `{constraints.pattern}` repeats a variable-length repeat: Python's "
                    "re (the generator's checks and the generated models) can take exponential "
                    "time on a non-matching value",
                    "make the repeated part start with something the inner repeat cannot "
                    "match, e.g. `[a-z]+(-[a-z]+)*` instead of `([a-z-]+)+`",
                )
                # Checked without it: matching the default against it could hang.
                constraints = replace(constraints, pattern=None)
    has_default = "default" in attrs or ref.nullable
    default = freeze(attrs.get("default")) if "default" in attrs else None
    doc = attrs.get("doc") if isinstance(attrs.get("doc"), str) else None
    return Field(
        name=name,
        type=ref,
        doc=doc,
        has_default=has_default,
        default=default,
        constraints=constraints,
        deprecated=attrs.get("deprecated") is True,
        loc=key_loc,
    )


def _typed(value: Any, kinds: type | tuple[type, ...]) -> Any:
    return value if isinstance(value, kinds) and not isinstance(value, bool) else None


def _decimal(scope: Scope, ref: TypeRef, attrs: dict[str, Any], loc: Loc, spec: Any) -> TypeRef:
    target = innermost(ref)
    if not (isinstance(target, Scalar) and target.name == "decimal"):
        if "precision" in attrs or "scale" in attrs:
            scope.error("E0502", loc, f"`precision`/`scale` apply to decimals, not `{ref}`")
        return ref
    precision = attrs.get("precision", target.precision)
    scale = attrs.get("scale", target.scale)
    if precision is None:
        scope.warn(
            "W0501",
            loc,
            f"decimal without precision and scale; using decimal{DEFAULT_DECIMAL}",
            "write {type: decimal, precision: 12, scale: 2} or decimal(12,2)",
        )
        precision, scale = DEFAULT_DECIMAL
    scale = 0 if scale is None else scale
    if not (1 <= precision <= MAX_DECIMAL_PRECISION) or not (0 <= scale <= precision):
        where = (
            spec.value_loc("precision") if isinstance(spec, PMap) and "precision" in spec else loc
        )
        scope.error(
            "E0503",
            where,
            f"decimal({precision},{scale}) is invalid",
            f"precision must be 1..{MAX_DECIMAL_PRECISION} and 0 <= scale <= precision",
        )
    return _with_decimal(ref, precision, scale)


def _with_decimal(ref: TypeRef, precision: int, scale: int) -> TypeRef:
    match ref:
        case ListOf(item) | MapOf(item):
            return replace(ref, item=_with_decimal(item, precision, scale))
        case Scalar():
            return replace(ref, precision=precision, scale=scale)
        case Named():
            return ref  # _decimal calls this only for decimals


def default_loc(fields_node: Any, name: str) -> Loc | None:
    """Where the `default:` of field `name` is written (None when it has no mapping form)."""
    spec = fields_node.get(name) if isinstance(fields_node, PMap) else None
    if isinstance(spec, PMap) and "default" in spec:
        return spec.value_loc("default")
    return None


def check_field_default(scope: Scope, fld: Field, where: Loc | None = None) -> None:
    """E0504 at the default itself when the runtime would refuse it: one definition of valid."""
    if not fld.has_default:
        return  # `default: null` on a non-nullable type is refused below like any other value
    problem = value_problem(fld.default, fld.type, scope.named, constraints=fld.constraints)
    if problem:
        scope.error(
            "E0504",
            where or fld.loc,
            f"default of `{fld.name}` does not fit its type: {problem}",
        )
