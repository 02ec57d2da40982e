"""One definition of a valid value: `validate` accepts a default exactly when `build` can emit it.

For random (type, default) pairs written as a real spec: when validate is clean, the emitters
must succeed and the generated model, the Avro schema (default resolution by fastavro) and the
JSON Schema must all accept the default; when validate refuses, it is one E0504 at the default
itself, and the model built for the same type refuses the value as a JSON payload (or the value
has no JSON form at all). Floors on both outcomes keep either side from going untested.
"""

from __future__ import annotations

import io
import json
import math
import tempfile
from collections import Counter
from decimal import Context, Decimal
from pathlib import Path
from typing import Any, cast

import fastavro
import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventgen.emit import avro, layout
from eventgen.emit import jsonschema as js_emit
from eventgen.ir import scalars
from eventgen.ir.model import Constraints, ListOf, MapOf, Project, Scalar, TypeRef
from eventgen.pipeline import load_project
from tests.models import fixtures as fx
from tests.models import strategies as strat

PACKAGE = "dflt_events"
NO_INDEX = cast(Any, None)  # wire_values reads the index only for named types; none here
HOSTILE = st.one_of(
    st.floats(),  # NaN, infinities, values past float32
    st.sampled_from([1e39, -1e39, 3.5e38, 1e308, 10**99, 2**31, -(2**31) - 1, 2**63, 1.0, 1.5]),
    st.integers(-(2**70), 2**70),  # (past 100 digits the loader refuses the literal: E0113)
    st.booleans(),
    st.none(),
    st.text(max_size=6),
    st.uuids().map(lambda u: u.hex),  # no hyphens
    st.uuids().map(lambda u: str(u).upper()),
    st.sampled_from(
        [
            "12345678901234567890123456789012345678",  # 38 digits: past any decimal(38, s > 0)
            "-0.00",
            "1e5",
            "0.125",
            "2024-02-30",
            "2024-01-01T00:00:00",  # no zone
            "2024-01-01T00:00:00Z",
            "2024-01-01 10:00:00+01:00",
            "24:00:00",
            "10:00:00.1234567",
            "YQ",
            "YQ==",
            "",
        ]
    ),
    st.lists(st.integers(-3, 3) | st.none(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(-3, 3), max_size=2),
)


@st.composite
def cases(draw: st.DrawFn) -> tuple[TypeRef, Constraints, Any]:
    ref, c = draw(strat.scalar_refs())
    wrap = draw(st.sampled_from([None, None, None, ListOf, MapOf]))
    if wrap is not None:  # collections: constraints would be the item's; keep them off
        ref, c = wrap(ref), Constraints()
    valid = strat.wire_values(NO_INDEX, ref, c)
    value = draw(valid if draw(st.booleans()) else HOSTILE)
    return ref, c, value


def _spec(ref: TypeRef, c: Constraints, value: Any, with_default: bool) -> dict[str, Any]:
    field: dict[str, Any] = {"type": str(ref)}
    bounds = {
        "minimum": c.minimum,
        "maximum": c.maximum,
        "min_length": c.min_length,
        "max_length": c.max_length,
        "pattern": c.pattern,
    }
    field.update({k: v for k, v in bounds.items() if v is not None})
    if with_default:
        field["default"] = value
    return {
        "eventgen": 1,
        "context": "d",
        "events": {"DefaultSet": {"fields": {"value": field}}},
    }


def _load(root: Path, spec: dict[str, Any]) -> tuple[Project | None, list[Any]]:
    specs = root / "specs"
    specs.mkdir(parents=True, exist_ok=True)
    (specs / "eventgen.yaml").write_text(
        f"eventgen: 1\nproject: dflt\npackage: {PACKAGE}\noutput: ../out\n", encoding="utf-8"
    )
    (specs / "d.yaml").write_text(_yaml(spec), encoding="utf-8")
    return load_project(specs)


def _yaml(value: Any, indent: str = "") -> str:
    """Block mappings down to the field, each field in flow style with YAML 1.2 scalars.

    Not yaml.safe_dump: PyYAML writes YAML 1.1, whose plain `0E0` is a string where the spec
    loader (YAML 1.2 core) reads a float; quoted JSON strings mean the same to both.
    """
    if isinstance(value, dict) and "type" not in value:
        return "".join(
            f"{indent}{key}:\n{_yaml(item, indent + '  ')}"
            if isinstance(item, dict)
            else f"{indent}{key}: {_flow(item)}\n"
            for key, item in value.items()
        )
    lines = [f"{indent}{key}: {_flow(item)}\n" for key, item in value.items()]
    return "".join(lines)


def _flow(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _quoted(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(map(_flow, value)) + "]"
    return "{" + ", ".join(f"{_quoted(k)}: {_flow(v)}" for k, v in value.items()) + "}"


def _quoted(text: str) -> str:
    """A YAML double-quoted scalar: printable characters as they are, the rest escaped."""
    out = []
    for ch in text:
        code = ord(ch)
        printable = (
            0x20 <= code <= 0x7E
            or 0xA0 <= code <= 0xD7FF
            or 0xE000 <= code <= 0xFFFD
            or code >= 0x10000
        )
        if ch in '"\\':
            out.append("\\" + ch)
        elif printable and code != 0xFEFF:
            out.append(ch)
        else:
            out.append(f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}")
    return '"' + "".join(out) + '"'


def _default_line(root: Path) -> int:
    lines = (root / "specs" / "d.yaml").read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.strip().startswith("default:"))


def _model(project: Project, out: Path) -> Any:
    modules = fx.import_package(project, out)
    return fx.model_class(project, modules, "d.DefaultSet")


def _emitted_accepts_default(project: Project, out: Path) -> None:
    """Build succeeds, and the model, Avro resolution and JSON Schema all take the default."""
    avro_files, js_files = avro.emit(project), js_emit.emit(project)
    cls = _model(project, out)
    instance = cls()  # the default fills the only field
    wire = json.loads(cls.model_validate_json(instance.model_dump_json()).model_dump_json())
    schema = json.loads(js_files[layout.jsonschema_path("d", "DefaultSet")].data)
    jsonschema.Draft202012Validator(schema).validate(wire)
    field_schema = schema["properties"]["value"]
    jsonschema.Draft202012Validator(field_schema).validate(field_schema["default"])
    declared = json.loads(avro_files[layout.avro_path("d", "DefaultSet")].data)
    reader: Any = fastavro.parse_schema(declared)  # a parsed schema: str, list or dict
    writer = {"type": "record", "name": "DefaultSet", "namespace": reader["name"].rsplit(".", 1)[0]}
    # Any: fastavro types a read record as a union of every Avro value
    resolved: Any = fastavro.schemaless_reader(io.BytesIO(b""), writer | {"fields": []}, reader)
    # fastavro hands defaults over in their Avro JSON form (a date as days, bytes as latin-1
    # text): compare with the model's own value written by fastavro and read back without
    # logical types, which is that same underlying form.
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, reader, instance.model_dump())
    buf.seek(0)
    plain = fastavro.parse_schema(_strip_logical(declared))
    raw: Any = fastavro.schemaless_reader(buf, plain, None)
    assert _same_underlying(raw["value"], resolved["value"]), (raw, resolved)


def _strip_logical(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _strip_logical(v) for k, v in schema.items() if k != "logicalType"}
    if isinstance(schema, list):
        return [_strip_logical(v) for v in schema]
    return schema


def _same_underlying(raw: Any, default: Any) -> bool:
    if isinstance(raw, bytes) and isinstance(default, str):
        return raw == default.encode("latin-1")
    if isinstance(raw, list) and isinstance(default, list):
        return len(raw) == len(default) and all(map(_same_underlying, raw, default))
    if isinstance(raw, dict) and isinstance(default, dict):
        return raw.keys() == default.keys() and all(
            _same_underlying(raw[k], default[k]) for k in raw
        )
    return type(raw) is type(default) and raw == default


def _model_refuses(project: Project, out: Path, value: Any) -> bool:
    try:
        payload = json.dumps({"value": value}, allow_nan=False)
    except ValueError:
        return True  # NaN and infinities have no JSON form: nothing could carry this default
    try:
        _model(project, out).model_validate_json(payload)
    except ValueError:
        return True
    return False


def test_validate_accepts_exactly_what_build_emits() -> None:
    outcomes: Counter[str] = Counter()

    @settings(
        max_examples=120,
        deadline=None,
        database=None,
        derandomize=True,  # the same pairs every run: CI cannot flake on a fresh draw
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases())
    def run(case: tuple[TypeRef, Constraints, Any]) -> None:
        ref, c, value = case
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            project, found = _load(root, _spec(ref, c, value, with_default=True))
            errors = [d for d in found if d.severity.value == "error"]
            if project is not None:
                outcomes["clean"] += 1
                _emitted_accepts_default(project, root / "out")
                return
            outcomes["refused"] += 1
            assert [d.code for d in errors] == ["E0504"], errors
            # At the default itself (a block list or mapping starts on the next line).
            assert errors[0].loc.line - _default_line(root) in (0, 1), errors
            bare, more = _load(root / "bare", _spec(ref, c, value, with_default=False))
            assert bare is not None, more
            assert _model_refuses(bare, root / "bare-out", value), (str(ref), value)

    run()
    assert outcomes["clean"] >= 25, outcomes
    assert outcomes["refused"] >= 25, outcomes


@pytest.mark.parametrize(
    ("type_text", "default"),
    [
        ("double", float("inf")),
        ("double", float("nan")),
        ("float", 1e39),
        ("decimal(38,9)", "12345678901234567890123456789012345678"),
        ("uuid", "12345678123456781234567812345678"),
        ("int", 2**31),
        ("date", "2023-02-29"),
        ("boolean", 0),
    ],
)
def test_known_disagreements_are_refused(type_text: str, default: Any, tmp_path: Path) -> None:
    spec = {
        "eventgen": 1,
        "context": "d",
        "events": {"DefaultSet": {"fields": {"value": {"type": type_text, "default": default}}}},
    }
    project, found = _load(tmp_path, spec)
    assert project is None
    errors = [(d.code, d.loc.line) for d in found if d.severity.value == "error"]
    assert errors == [("E0504", _default_line(tmp_path))]


@pytest.mark.parametrize(
    ("precision", "scale", "text"),
    [
        (29, 0, "12345678901234567890123456789"),
        (38, 9, "-12345678901234567890123456789.123456789"),
        (38, 38, "0.12345678901234567890123456789012345678"),
        (5, 2, "0.00"),
    ],
)
def test_avro_decimal_default_keeps_every_digit(precision: int, scale: int, text: str) -> None:
    ref = Scalar("decimal", precision=precision, scale=scale)
    encoded = scalars.avro_json(ref, scalars.wire_value(ref, text)).encode("latin-1")
    unscaled = int.from_bytes(encoded, "big", signed=True)
    assert Decimal(unscaled).scaleb(-scale, Context(prec=80)) == Decimal(text)
