"""Property tests: a 'compatible' verdict must mean the data really can be read."""

from __future__ import annotations

import io
from typing import Any

import fastavro
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from eventgen.compat import Versions, check

EXAMPLES = 200
# derandomize: the floors below count verdicts, so the examples must be the same every run.
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
PRIMS = ["int", "long", "float", "double", "string", "bytes", "boolean"]
PROMOTE = {
    "int": ["long", "float", "double"],
    "long": ["float", "double"],
    "float": ["double"],
    "string": ["bytes"],
    "bytes": ["string"],
}
DEFAULTS: dict[str, Any] = {
    "int": 0,
    "long": 0,
    "float": 0.0,
    "double": 0.0,
    "string": "",
    "bytes": "",
    "boolean": False,
}


# ---------------------------------------------------------------- Avro
@st.composite
def avro_type(draw: st.DrawFn, names: list[str], depth: int = 0) -> Any:
    kind = draw(
        st.sampled_from(
            ["prim", "nullable", "enum", "array", "map"] + (["record"] if depth < 2 else [])
        )
    )
    if kind == "prim":
        return draw(st.sampled_from(PRIMS))
    if kind == "nullable":
        return ["null", draw(st.sampled_from(PRIMS))]
    if kind == "enum":
        names.append(f"E{len(names)}")
        syms = draw(st.lists(st.sampled_from("ABCDE"), min_size=1, max_size=4, unique=True))
        return {"type": "enum", "name": names[-1], "symbols": syms}
    if kind in ("array", "map"):
        key = "items" if kind == "array" else "values"
        return {"type": kind, key: draw(st.sampled_from(PRIMS))}
    names.append(f"R{len(names)}")
    name = names[-1]
    n = draw(st.integers(1, 3))
    return {
        "type": "record",
        "name": name,
        "fields": [{"name": f"n{i}", "type": draw(avro_type(names, depth + 1))} for i in range(n)],
    }


def evolve_type(draw: st.DrawFn, t: Any) -> Any:
    """Randomly change a field type: promote, demote, make nullable, edit enum symbols."""
    op = draw(st.sampled_from(["keep", "keep", "promote", "other", "nullable", "enum"]))
    if op == "promote" and isinstance(t, str) and t in PROMOTE:
        return draw(st.sampled_from(PROMOTE[t]))
    if op == "other" and isinstance(t, str):
        return draw(st.sampled_from(PRIMS))
    if op == "nullable" and isinstance(t, str):
        return ["null", t]
    if isinstance(t, dict) and t["type"] == "enum" and op == "enum":
        syms = draw(st.lists(st.sampled_from("ABCDEF"), min_size=1, max_size=5, unique=True))
        new = {**t, "symbols": syms}
        if draw(st.booleans()):
            new["default"] = syms[0]
        return new
    if isinstance(t, dict) and t["type"] == "record":
        return evolve_record(draw, t)
    return t


def evolve_record(draw: st.DrawFn, rec: dict[str, Any]) -> dict[str, Any]:
    fields = []
    for f in rec["fields"]:
        if draw(st.integers(0, 5)) == 0:
            continue  # field removed
        fields.append({**f, "type": evolve_type(draw, f["type"])})
    for i in range(draw(st.integers(0, 2))):
        t = draw(st.sampled_from(PRIMS))
        field: dict[str, Any] = {"name": f"added{i}", "type": t}
        if draw(st.booleans()):
            field["default"] = DEFAULTS[t]
        fields.append(field)
    return {**rec, "fields": fields}


def datum(draw: st.DrawFn, t: Any, named: dict[str, Any]) -> Any:
    if isinstance(t, list):
        branch = draw(st.sampled_from(t))
        return None if branch == "null" else datum(draw, branch, named)
    if isinstance(t, str) and t in named:
        t = named[t]
    if isinstance(t, str):
        return draw(
            {
                "int": st.integers(-(2**31), 2**31 - 1),
                "long": st.integers(-(2**63), 2**63 - 1),
                "float": st.floats(width=32, allow_nan=False),
                "double": st.floats(allow_nan=False),
                "string": st.text(max_size=5),
                "bytes": st.binary(max_size=5),
                "boolean": st.booleans(),
            }[t]
        )
    named[t.get("name", "")] = t
    if t["type"] == "enum":
        return draw(st.sampled_from(t["symbols"]))
    if t["type"] == "array":
        return [datum(draw, t["items"], named) for _ in range(draw(st.integers(0, 2)))]
    if t["type"] == "map":
        return {f"k{i}": datum(draw, t["values"], named) for i in range(draw(st.integers(0, 2)))}
    return {f["name"]: datum(draw, f["type"], named) for f in t["fields"]}


@st.composite
def avro_evolution(draw: st.DrawFn) -> tuple[Any, Any, Any]:
    names: list[str] = []
    n = draw(st.integers(1, 4))
    writer = {
        "type": "record",
        "name": "Top",
        "fields": [{"name": f"f{i}", "type": draw(avro_type(names))} for i in range(n)],
    }
    reader = evolve_record(draw, writer)
    return writer, reader, datum(draw, writer, {})


class Tally:
    """Verdict counts of one property run, and how many incompatible verdicts were witnessed."""

    def __init__(self) -> None:
        self.compatible = 0
        self.incompatible = 0
        self.witnessed = 0  # incompatible, and the sample data really fails

    def check_floors(self, examples: int) -> None:
        """Fail a checker that (nearly) always gives one verdict, or unfounded 'incompatible's."""
        print(
            f"compatible={self.compatible} incompatible={self.incompatible} "
            f"witnessed={self.witnessed}"
        )
        assert self.compatible + self.incompatible == examples
        assert self.compatible >= examples // 5, "too few compatible verdicts"
        assert self.incompatible >= examples // 5, "too few incompatible verdicts"
        # The converse direction: most 'incompatible' verdicts show up as a real failure on
        # the drawn data (not all can: the breaking value may simply not have been drawn).
        assert self.witnessed >= self.incompatible // 3, "incompatible without evidence"


def fastavro_reads(writer: Any, reader: Any, value: Any) -> bool:
    """Whether fastavro decodes `value` written with `writer` using `reader`."""
    buf = io.BytesIO()
    w = fastavro.parse_schema(writer, named_schemas={})
    fastavro.schemaless_writer(buf, w, value)
    buf.seek(0)
    try:
        fastavro.schemaless_reader(buf, w, fastavro.parse_schema(reader, named_schemas={}))
    except Exception:  # noqa: BLE001 - any resolution or decode failure is the evidence
        return False
    return True


@SETTINGS
@given(avro_evolution())
def _avro_property(tally: Tally, case: tuple[Any, Any, Any]) -> None:
    writer, reader, value = case
    result = check("avro", Versions([writer]), reader, "BACKWARD")
    reads = fastavro_reads(writer, reader, value)
    if result.compatible:
        tally.compatible += 1
        assert reads, (writer, reader, value)
    else:
        tally.incompatible += 1
        tally.witnessed += not reads


def test_avro_compatible_means_fastavro_reads() -> None:
    """compatible => fastavro reads the datum; incompatible => mostly a real failure."""
    tally = Tally()
    _avro_property(tally)
    tally.check_floors(EXAMPLES)


# ---------------------------------------------------------------- JSON Schema
SCALARS = st.sampled_from(
    [
        {"type": "string"},
        {"type": "string", "maxLength": 3},
        {"type": "integer"},
        {"type": "integer", "minimum": 0},
        {"type": "number"},
        {"type": "boolean"},
        {"enum": ["a", "b"]},
        {"enum": ["a"]},
        {"type": ["string", "null"]},
    ]
)
ADDITIONAL = st.sampled_from([None, True, False, {"type": "string"}])


@st.composite
def json_object(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from("abcdef"), max_size=4, unique=True))
    schema: dict[str, Any] = {"type": "object", "properties": {n: draw(SCALARS) for n in names}}
    req = [n for n in names if draw(st.booleans())]
    if req:
        schema["required"] = req
    extra = draw(ADDITIONAL)
    if extra is not None:
        schema["additionalProperties"] = extra
    return schema


def evolve_object(draw: st.DrawFn, old: dict[str, Any]) -> dict[str, Any]:
    props = dict(old["properties"])
    for n in list(props):
        op = draw(st.sampled_from(["keep", "keep", "drop", "retype"]))
        if op == "drop":
            del props[n]
        elif op == "retype":
            props[n] = draw(SCALARS)
    for n in draw(st.lists(st.sampled_from("uvw"), max_size=2, unique=True)):
        props[n] = draw(SCALARS)
    new: dict[str, Any] = {"type": "object", "properties": props}
    req = [n for n in props if draw(st.booleans())]
    if req:
        new["required"] = req
    extra = draw(st.sampled_from(["same", "change"]))
    value = old.get("additionalProperties") if extra == "same" else draw(ADDITIONAL)
    if value is not None:
        new["additionalProperties"] = value
    return new


def instance(draw: st.DrawFn, s: Any) -> Any:
    if s is True or s == {}:
        return draw(st.one_of(st.integers(), st.text(max_size=3), st.booleans()))
    if "enum" in s:
        return draw(st.sampled_from(s["enum"]))
    t = s["type"]
    if isinstance(t, list):
        t = draw(st.sampled_from(t))
    if t == "null":
        return None
    if t == "string":
        return draw(st.text(max_size=s.get("maxLength", 6)))
    if t == "integer":
        return draw(st.integers(min_value=s.get("minimum"), max_value=10**6))
    if t == "number":
        return draw(st.one_of(st.integers(-100, 100), st.floats(-1e6, 1e6)))
    if t == "boolean":
        return draw(st.booleans())
    doc = {
        n: instance(draw, p)
        for n, p in s["properties"].items()
        if n in s.get("required", []) or draw(st.booleans())
    }
    extra = s.get("additionalProperties", True)
    if extra is not False and draw(st.booleans()):
        key = draw(st.sampled_from("abcdefuvwxyz"))
        if key not in s["properties"]:
            doc[key] = instance(draw, extra)
    return doc


@st.composite
def json_evolution(draw: st.DrawFn) -> tuple[Any, Any, list[Any]]:
    old = draw(json_object())
    new = evolve_object(draw, old)
    docs = [instance(draw, old) for _ in range(3)]
    return old, new, docs


@SETTINGS
@given(json_evolution())
def _json_property(tally: Tally, case: tuple[Any, Any, list[Any]]) -> None:
    old, new, docs = case
    for doc in docs:
        assert Draft202012Validator(old).is_valid(doc)
    validator = Draft202012Validator(new)
    all_valid = all(validator.is_valid(doc) for doc in docs)
    if check("json", [old], new, "BACKWARD").compatible:
        tally.compatible += 1
        assert all_valid, (old, new, docs)
    else:
        tally.incompatible += 1
        tally.witnessed += not all_valid


def test_json_backward_compatible_means_old_documents_validate() -> None:
    """compatible => every old document validates; incompatible => mostly one does not."""
    tally = Tally()
    _json_property(tally)
    tally.check_floors(EXAMPLES)
