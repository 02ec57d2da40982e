"""RPC rules of WIRE_JSON (request/response types, streaming, idempotency) and field defaults."""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from fractions import Fraction

from eventgen.compat.protobuf import check_fields as cf
from eventgen.compat.protobuf import features as ft
from eventgen.compat.protobuf import parse as p
from eventgen.compat.protobuf.issue import ProtoIssue
from eventgen.compat.protobuf.parse import Located, Schema

_IDEMPOTENCY_PATH = (p.METHOD_OPTIONS, 34)


def _method_pairs(
    old: Schema, new: Schema
) -> Iterator[tuple[Located, object, object, tuple[int, ...]]]:
    for name in sorted(old.services):
        if name not in new.services:
            continue
        now = new.services[name]
        after = {
            m.name: (m, now.path + (p.SERVICE_METHOD, i)) for i, m in enumerate(now.proto.method)
        }
        for method in old.services[name].proto.method:
            if method.name in after:
                yield now, method, after[method.name][0], after[method.name][1]


def rpc_changes(old: Schema, new: Schema, code: str) -> Iterator[ProtoIssue]:
    """RPC_SAME_REQUEST_TYPE, _RESPONSE_TYPE, _CLIENT_STREAMING, _SERVER_STREAMING, _IDEMPOTENCY_LEVEL."""
    for svc, was, now, path in _method_pairs(old, new):
        attr, where = {
            "RPC_SAME_REQUEST_TYPE": ("input_type", [path + (p.METHOD_INPUT,)]),
            "RPC_SAME_RESPONSE_TYPE": ("output_type", [path + (p.METHOD_OUTPUT,)]),
            "RPC_SAME_CLIENT_STREAMING": ("client_streaming", [path]),
            "RPC_SAME_SERVER_STREAMING": ("server_streaming", [path]),
            "RPC_SAME_IDEMPOTENCY_LEVEL": ("idempotency_level", [path + _IDEMPOTENCY_PATH, path]),
        }[code]
        holder_was = was.options if attr == "idempotency_level" else was  # type: ignore[attr-defined]
        holder_now = now.options if attr == "idempotency_level" else now  # type: ignore[attr-defined]
        before, after = getattr(holder_was, attr), getattr(holder_now, attr)
        if before != after:
            yield ProtoIssue(
                code,
                svc.file,
                new.span(svc.file, *where),
                f'RPC "{now.name}" on service "{svc.proto.name}" changed {attr} from '  # type: ignore[attr-defined]
                f'"{before}" to "{after}".',
                f"{svc.full_name}.{now.name}",  # type: ignore[attr-defined]
            )


_NO_DEFAULT = (ft.F.TYPE_MESSAGE, ft.F.TYPE_GROUP)


def _default(schema: Schema, field: object) -> tuple[bool, object]:
    """(is text, value) of a field's default; undeclared defaults are the zero value.

    Numbers, booleans and enum numbers compare by exact value across types (buf compares
    them as big floats), float32 after rounding; strings and bytes compare as text.
    """
    kind = field.type  # type: ignore[attr-defined]
    text: str = field.default_value  # type: ignore[attr-defined]
    declared = field.HasField("default_value")  # type: ignore[attr-defined]
    if kind in (ft.F.TYPE_STRING, ft.F.TYPE_BYTES):
        return (True, text)
    if kind == ft.F.TYPE_ENUM:
        enum = schema.enums.get(field.type_name.lstrip("."))  # type: ignore[attr-defined]
        values = list(enum.proto.value) if enum is not None else []
        numbers = {v.name: v.number for v in values}
        if declared:
            return (False, Fraction(numbers.get(text, 0)))
        return (False, Fraction(values[0].number if values else 0))
    if kind == ft.F.TYPE_BOOL:
        return (False, Fraction(1 if text == "true" else 0))
    if kind in (ft.F.TYPE_FLOAT, ft.F.TYPE_DOUBLE):
        value = float(text) if declared else 0.0
        if kind == ft.F.TYPE_FLOAT:
            value = struct.unpack("<f", struct.pack("<f", value))[0]
        if math.isnan(value):
            return (False, "nan")
        if math.isinf(value):
            return (False, value)
        return (False, Fraction(value))
    return (False, Fraction(int(text, 0) if declared else 0))


def _is_zero(value: tuple[bool, object]) -> bool:
    return value[1] in ("", Fraction(0))


def _option_start(new: Schema, file: str, span: p.Span) -> p.Span:
    """Widen protoc's span of a default VALUE to the whole `default = value` option.

    protoc locates only the value; buf (protocompile) reports the option from its name.
    """
    lines = new.sources.get(file, [])
    if span[0] - 1 >= len(lines):
        return span
    line = lines[span[0] - 1]
    at = line.rfind("default", 0, span[1] - 1)
    if at < 0 or line[at + len("default") : span[1] - 1].strip() != "=":
        return span
    return (span[0], at + 1, span[2], span[3])


def _same_float_width(was: object, now: object, before: object, after: object) -> bool:
    """buf compares a float default with a double one at float precision."""
    kinds = {before.type, after.type}  # type: ignore[attr-defined]
    return kinds == {ft.F.TYPE_FLOAT, ft.F.TYPE_DOUBLE}


def _as_float32(value: tuple[bool, object]) -> tuple[bool, object]:
    number = value[1]
    if isinstance(number, Fraction):
        return (False, Fraction(struct.unpack("<f", struct.pack("<f", float(number)))[0]))
    return value


def default_changes(old: Schema, new: Schema) -> Iterator[ProtoIssue]:
    """FIELD_SAME_DEFAULT: a proto2/editions explicit default may not change."""
    for pair in cf.all_field_pairs(old, new):
        before, after, path, owner = pair.before, pair.after, pair.path, pair.new_owner
        if ft.F.LABEL_REPEATED in (before.label, after.label):
            continue
        if before.type in _NO_DEFAULT or after.type in _NO_DEFAULT:
            continue
        was, now = _default(old, before), _default(new, after)
        if _same_float_width(was, now, before, after):
            was, now = _as_float32(was), _as_float32(now)
        if (_is_zero(was) and _is_zero(now)) or was == now:
            continue
        span = new.span(owner.file, path + (p.FIELD_DEFAULT,))
        span = _option_start(new, owner.file, span) if span else new.span(owner.file, path)
        yield ProtoIssue(
            "FIELD_SAME_DEFAULT",
            owner.file,
            span,
            f'Field "{after.number}" with name "{after.name}" changed default value from '
            f"{before.default_value or '(none)'} to {after.default_value or '(none)'}.",
            f"{owner.full_name}.{after.name}",
        )
