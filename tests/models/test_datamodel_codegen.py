"""Independent cross-check: datamodel-codegen's models of our JSON Schemas agree with ours.

Its models are not strict where JSON Schema is (a field with a default becomes Optional and
accepts null; `format` strings are parsed leniently), so only these are compared: valid
instances (both accept), and missing required fields, unknown properties, string length and
pattern, integer range and unknown enum symbols (both reject).
"""

from __future__ import annotations

import copy
import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventgen import runtime as rt
from eventgen.emit import jsonschema as js_emit
from eventgen.emit import layout
from eventgen.ir.model import Named, Scalar
from eventgen.pipeline import load_project
from tests.models import fixtures as fx
from tests.models import strategies as strat

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Any:
    project, found = load_project(ROOT / "specs")
    assert project is not None, found
    out = tmp_path_factory.mktemp("dmc")
    fx.write(fx.contents(js_emit.emit(project)), out / "schemas")
    modules = fx.import_package(project, out / "ours")
    done = subprocess.run(
        [sys.executable, "-m", "datamodel_code_generator", "--input", str(out / "schemas" / "jsonschema"),
         "--input-file-type", "jsonschema", "--output-model-type", "pydantic_v2.BaseModel",
         "--formatters", "ruff-format", "--disable-timestamp", "--output", str(out / "theirs" / "dmc_models")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    sys.path.insert(0, str(out / "theirs"))
    return project, modules


def _theirs(message: Any) -> Any:
    module = importlib.import_module(
        f"dmc_models.{message.context.replace('-', '_')}.{message.name}"
    )
    return getattr(module, message.name)


def _accepts(cls: Any, instance: Any) -> bool:
    try:
        cls.model_validate_json(json.dumps(instance), strict=True)
    except (ValueError, rt.DecodeError):  # pydantic's ValidationError is a ValueError
        return False
    return True


def _violations(
    index: layout.TypeIndex, message: Any, instance: dict[str, Any]
) -> list[dict[str, Any]]:
    out = []
    for f in message.fields:
        if not (f.has_default or f.type.nullable) and f.name in instance:
            out.append({k: v for k, v in instance.items() if k != f.name})
        c, bad = f.constraints, copy.deepcopy(instance)
        if isinstance(f.type, Scalar) and f.type.name == "string" and c.max_length is not None:
            bad[f.name] = "A" * (c.max_length + 1)
        elif (
            isinstance(f.type, Scalar) and f.type.name in ("int", "long") and c.minimum is not None
        ):
            bad[f.name] = int(c.minimum) - 1
        elif (
            isinstance(f.type, Named)
            and not f.type.nullable
            and f.type.name.endswith(("Status", "Channel", "Method", "Code", "Warehouse"))
        ):
            bad[f.name] = "NOT_A_SYMBOL"
        else:
            continue
        out.append(bad)
    out.append({**instance, "zz_unknown": 1})
    return out


def _messages() -> list[str]:
    project, _ = load_project(ROOT / "specs")
    assert project is not None
    return [m.qualified for m in project.all_messages()]


@pytest.mark.parametrize("qualified", _messages())
@given(data=st.data())
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_datamodel_codegen_agrees(both: Any, qualified: str, data: st.DataObject) -> None:
    project, modules = both
    message = project.message(qualified)
    ours, theirs = fx.model_class(project, modules, qualified), _theirs(message)
    index = layout.TypeIndex(project)
    instance = data.draw(strat.record_instances(index, message.fields))
    assert _accepts(theirs, instance) and rt.decode_json(ours, json.dumps(instance))
    for bad in _violations(index, message, instance):
        assert not _accepts(theirs, bad) and not _accepts(ours, bad), bad
