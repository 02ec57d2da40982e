"""Check a loaded spec file against the JSON Schema; translate errors into diagnostics."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from eventgen.diagnostics import Diagnostic, Loc, error
from eventgen.spec.nodes import PList, PMap, loc_at
from eventgen.spec.schema import spec_schema
from eventgen.suggest import did_you_mean

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

_JSON_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "nothing (null)",
}


def _kind_schema(kind: str) -> dict[str, Any]:
    schema = spec_schema()
    return {"$defs": schema["$defs"], "$ref": f"#/$defs/{kind}"}


@cache
def _validator(kind: str) -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(_kind_schema(kind))


@cache
def _fast_validator(kind: str) -> Any:
    # jsonschema-rs answers "valid?" in microseconds; the pure-Python validator, needed for
    # its detailed errors, runs only on documents that are invalid (rare, and small).
    import jsonschema_rs

    return jsonschema_rs.validator_for(_kind_schema(kind))


def describe_value(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"boolean `{str(value).lower()}`"
    if isinstance(value, (PMap, dict)):
        return "a mapping"
    if isinstance(value, (PList, list)):
        return "a list"
    if isinstance(value, (int, float)):
        return f"number `{value}`"
    text = str(value)
    return f"string `{text[:60]}{'…' if len(text) > 60 else ''}`"


def check_structure(doc: PMap, kind: str) -> list[Diagnostic]:
    """Validate one document (`project_file` or `context_file`); all findings, positioned."""
    if _fast_validator(kind).is_valid(doc):
        return []
    found: list[Diagnostic] = []
    for err in _validator(kind).iter_errors(doc):
        found.extend(_translate(err, doc))
    return found


def _where(root: PMap, path: Sequence[str | int], *, key: bool = False) -> Loc:
    return loc_at(root, path, key=key) or root.loc


def _expected(schema: dict[str, Any]) -> str:
    types = schema.get("type")
    if isinstance(types, str):
        types = [types]
    words = [_JSON_TYPE_WORDS.get(t, t) for t in (types or [])]
    return " or ".join(words) or "another value"


def _branches(err: ValidationError) -> dict[int, list[ValidationError]]:
    groups: dict[int, list[ValidationError]] = {}
    for sub in err.context or ():
        index = sub.relative_schema_path[0]
        if isinstance(index, int):
            groups.setdefault(index, []).append(sub)
    return groups


def _type_mismatch(errors: list[ValidationError], base_len: int) -> bool:
    return any(
        e.validator in ("type", "const") and len(e.absolute_path) == base_len for e in errors
    )


def _translate(err: ValidationError, root: PMap) -> list[Diagnostic]:
    path = list(err.absolute_path)
    validator = err.validator
    schema = err.schema if isinstance(err.schema, dict) else {}
    value: Any = err.validator_value  # jsonschema types these as possibly unset
    instance: Any = err.instance
    if validator in ("anyOf", "oneOf"):
        groups = _branches(err)
        viable = {i: e for i, e in groups.items() if not _type_mismatch(e, len(path))}
        if viable:
            best = min(viable.items(), key=lambda item: (len(item[1]), item[0]))[1]
            return [d for sub in best for d in _translate(sub, root)]
        options = [_expected(s) if "type" in s else _const_words(s) for s in value]
        options = [o for o in dict.fromkeys(options) if o]
        return [
            error(
                "E0203",
                _where(root, path),
                f"expected {' or '.join(options)}, got {describe_value(instance)}",
            )
        ]
    if validator == "additionalProperties" and isinstance(instance, dict):
        allowed = list(schema.get("properties", {}))
        extras = [k for k in instance if k not in allowed]
        return [
            error(
                "E0201",
                _where(root, [*path, k], key=True),
                f"unknown key `{k}`",
                did_you_mean(k, allowed)
                or (f"allowed here: {', '.join(allowed)}" if allowed else None),
            )
            for k in extras
        ]
    if validator == "required":
        missing = [k for k in value if k not in instance]
        return [error("E0202", _where(root, path), f"missing required key `{k}`") for k in missing]
    if validator == "type":
        return [
            error(
                "E0203",
                _where(root, path),
                f"expected {_expected(schema)}, got {describe_value(instance)}",
            )
        ]
    if validator in ("enum", "const"):
        options = value if validator == "enum" else [value]
        words = ", ".join(f"`{o}`" for o in options)
        hint = did_you_mean(str(instance), [str(o) for o in options])
        if path and path[-1] == "eventgen" and len(path) == 1:
            return [
                error(
                    "E0111",
                    _where(root, path),
                    f"unsupported spec language version {describe_value(instance)}",
                    "this eventgen reads `eventgen: 1`",
                )
            ]
        return [
            error(
                "E0204",
                _where(root, path),
                f"{describe_value(instance)} is not one of {words}",
                hint,
            )
        ]
    if validator == "pattern":
        form = schema.get("description") or f"the pattern {value}"
        return [
            error(
                "E0205",
                _where(root, path),
                f"{describe_value(instance)} is not in the expected form",
                f"expected {form}",
            )
        ]
    if validator in ("minProperties", "maxProperties") and isinstance(instance, dict):
        return [error("E0206", _where(root, path), "expected a mapping with exactly one key")]
    return [error("E0206", _where(root, path), _plain_message(err))]


def _const_words(schema: dict[str, Any]) -> str:
    if "const" in schema:
        return f"`{schema['const']}`"
    if "enum" in schema:
        return " or ".join(f"`{v}`" for v in schema["enum"])
    return ""


def _plain_message(err: ValidationError) -> str:
    value: Any = err.validator_value
    instance: Any = err.instance
    shown = describe_value(instance)
    bounds = {
        "minimum": "at least",
        "maximum": "at most",
        "exclusiveMinimum": "more than",
    }
    if err.validator == "minItems":
        return f"expected at least {value} item(s), got {len(instance)}"
    if err.validator in bounds:
        return f"{shown} is out of range: expected {bounds[str(err.validator)]} {value}"
    return f"{shown} is not valid here ({err.validator})"
