"""Names that would break the generated package are refused at validate time, or escaped.

The golden cases tests/cases/names_* hold one spec per finding; these tests check what a
transcript cannot: that the escaped package imports without a warning, that the reserved sets
cover what the runtime and the generated code really use, bounds at their edges, and the
build's backstop when an emitter writes a path it did not claim.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from eventgen.cli import main
from eventgen.emit import layout, registry
from eventgen.evolution import history
from eventgen.ir import naming
from eventgen.pipeline import load_project, load_project_envs
from eventgen.runtime import Message, OpenMessage, OpenRecord, Record

REPO = Path(__file__).resolve().parents[2]
CASES = REPO / "tests" / "cases"
PYDANTIC_CASE = CASES / "names_pydantic"

PROJECT = """\
eventgen: 1
project: demo
package: {package}
output: ../out
defaults:
  topic: {{partitions: {partitions}, replication_factor: 1}}
"""
ORDERS = """\
eventgen: 1
context: orders
events:
  {event}:
    topic: order-events
    key: order_id
    fields: {{order_id: uuid}}
types:
  {type}:
    fields: {{amount: int}}
topics:
  order-events: {{key: uuid}}
"""


def _specs(
    tmp_path: Path,
    *,
    package: str = "demo_events",
    partitions: int = 3,
    event: str = "OrderPlaced",
    type_name: str = "Money",
) -> Path:
    specs = tmp_path / "specs"
    specs.mkdir(parents=True)
    project = PROJECT.format(package=package, partitions=partitions)
    (specs / "eventgen.yaml").write_text(project, encoding="utf-8")
    orders = ORDERS.format(event=event, type=type_name)
    (specs / "orders.yaml").write_text(orders, encoding="utf-8")
    return specs


def _codes(specs: Path) -> list[str]:
    _, found = load_project(specs)
    return [d.code for d in found if d.severity.value == "error"]


def _run(args: list[str], cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{pythonpath}{os.pathsep}{REPO}"}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)


# --- fields named like pydantic's API ----------------------------------------------------------

IMPORT_AND_USE = """\
import json
import demo_events, demo_events.topics, demo_events._avro.orders
from demo_events.orders import OrderPlaced, Settings

wire = json.loads(__import__("sys").argv[1])
model = OrderPlaced.model_validate(wire)
assert model.register_ == 5 and model.model_dump_ == 2 and model.mro_ == 6, model
assert model.settings.model_config_ == "cfg" and model.settings.model_fields_ == 0
assert model.model_dump(mode="json") == {**wire, "settings": {**wire["settings"], "model_fields": 0, "copy": None}}
assert OrderPlaced.model_validate_json(model.model_dump_json()) == model
print("ok")
"""
WIRE: dict[str, Any] = {
    "order_id": "6f1c1c1e-2b35-4f5e-9a8e-8d1c1c1e2b35",
    "model_validate": 1,
    "model_dump": 2,
    "model_dump_json": "x",
    "model_post_init": 3,
    "register": 5,
    "mro": 6,
    "schema": 7,
    "json": 8,
    "dict": 9,
    "validate": 10,
    "construct": 11,
    "fields": "f",
    "envelope": "e",
    "partition_key": "p",
    "settings": {"model_config": "cfg"},
}


def test_pydantic_named_fields_import_without_any_warning(tmp_path: Path) -> None:
    """The built package imports under `-W error` and keeps every wire name."""
    out = PYDANTIC_CASE / "expected"
    done = _run(
        [sys.executable, "-W", "error", "-c", IMPORT_AND_USE, json.dumps(WIRE)], tmp_path, out
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
    warned = (PYDANTIC_CASE / "expected.txt").read_text(encoding="utf-8").count("W0407")
    assert warned == 17  # every such field is named in a warning, none silently renamed


def test_the_escapes_are_what_keeps_import_quiet() -> None:
    """Without the escape or the runtime's namespace setting, pydantic warns (the test above
    would fail): a field named `register` shadows ABCMeta.register, `model_dump_` is in
    pydantic's protected `model_dump` namespace."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        type("Raw", (Message,), {"__annotations__": {"register": int}})
        type("Plain", (BaseModel,), {"__annotations__": {"model_dump_": int}})
    texts = [str(w.message) for w in caught]
    assert len(texts) == 2, texts
    assert "shadows an attribute in parent" in texts[0]
    assert "protected namespace" in texts[1]


def _runtime_names() -> set[str]:
    names: set[str] = set()
    for cls in (Record, OpenRecord, Message, OpenMessage):
        names |= {n for n in dir(cls) + dir(type(cls)) if not n.startswith("_")}
    return names


def test_every_runtime_base_class_name_is_escaped() -> None:
    """Derived from the classes generated models extend (metaclass included), not by hand."""
    names = _runtime_names()
    assert {"register", "mro", "model_validate", "envelope", "partition_key"} <= names
    assert sorted(n for n in names if naming.py_attr(n) == n) == []


def test_escaped_attributes_define_quiet_models() -> None:
    names = sorted(_runtime_names())
    annotations = {naming.py_attr(n): int for n in names}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for base in (Message, OpenRecord):
            cls: type[Record] = type("Every", (base,), {"__annotations__": annotations})
            assert len(cls.model_fields) == len(names)


# --- package names --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "package",
    [
        "eventgen",
        "pydantic",
        "pydantic_core",
        "fastavro",
        "confluent_kafka",
        "yaml",
        "typing_extensions",
        "orjson",
        "sys",
        "typing",
        "uuid",
        "decimal",
        "avro",
        "jsonschema",
        "topics",
        "httpx",  # the Schema Registry client's own imports
        "authlib",
        "cachetools",
    ],
)
def test_shadowing_package_names_are_refused(tmp_path: Path, package: str) -> None:
    assert _codes(_specs(tmp_path, package=package)) == ["E0410"]


def test_a_keyword_package_is_one_finding(tmp_path: Path) -> None:
    # `json` is a module name of the stdlib and a BaseModel method: E0408 says it once.
    assert _codes(_specs(tmp_path, package="class")) == ["E0408"]
    assert _codes(_specs(tmp_path / "b", package="demo_events")) == []


def _top_modules(tree: Path) -> set[str]:
    found: set[str] = set()
    for path in tree.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found


def test_generated_imports_are_reserved_package_names() -> None:
    """Every top-level module the committed generated code imports is a refused package name."""
    package = "shop_events"
    imported = _top_modules(REPO / "generated" / package) - {package}
    assert {"eventgen", "pydantic"} <= imported
    assert sorted(imported - naming.SHADOWED_PACKAGES) == []


LOADED = """\
import sys
before = set(sys.modules)
import importlib, pkgutil, shop_events
for info in pkgutil.walk_packages(shop_events.__path__, "shop_events."):
    importlib.import_module(info.name)
import eventgen.runtime.avro, eventgen.runtime.jsoncodec, eventgen.runtime.confluent
from shop_events.orders import OrderPlaced
OrderPlaced.model_rebuild()
print("\\n".join(sorted({m.split(".")[0] for m in set(sys.modules) - before})))
"""


def test_what_importing_a_generated_package_loads_is_reserved(tmp_path: Path) -> None:
    """Importing the package and using the runtime loads only modules a package cannot be."""
    done = _run([sys.executable, "-c", LOADED], tmp_path, REPO / "generated")
    assert done.returncode == 0, done.stderr
    loaded = set(done.stdout.split()) - {"shop_events"}
    assert {"pydantic", "fastavro", "eventgen"} <= loaded
    # Private C helpers (`_cffi_backend`, ...) cannot be spec package names: the schema wants
    # a leading letter or underscore, and a leading underscore is not a platform name.
    public = {m for m in loaded if not m.startswith("_")}
    assert sorted(public - naming.SHADOWED_PACKAGES) == []


# --- context and environment names, paths ----------------------------------------------------


def test_reserved_names_come_from_the_layout() -> None:
    assert history.ROOT == naming.HISTORY_FOLDER
    project, found = load_project(REPO / "specs")
    assert project is not None, found
    paths = {c.path for c in layout.claims(project)}
    assert f"shop_events/{naming.TOPICS_MODULE}.py" in paths
    assert any(p.startswith(f"avro/{naming.KEYS_FOLDER}/") for p in paths)
    assert any(p.startswith(f"shop_events/{naming.SCHEMAS_PACKAGE}/") for p in paths)
    assert set(naming.RESERVED_CONTEXTS) == {naming.TOPICS_MODULE, naming.KEYS_FOLDER}


def test_claims_are_every_emitted_file() -> None:
    """Claims computed from the IR alone are exactly what the emitters write."""
    project, by_env, found = load_project_envs(REPO / "specs")
    assert project is not None, found
    files = registry.emit_all(project, by_env)
    claimed = [c.path for c in layout.claims(project) if c.emitter not in ("history", "manifest")]
    assert len(claimed) == len(set(claimed))
    assert sorted(claimed) == sorted(files)
    # The history's claims are its subject folders, plus the catalog page it renders.
    history_dirs = {
        c.path for c in layout.claims(project) if c.emitter == "history" and c.path.endswith("/")
    }
    root = REPO / "generated" / naming.HISTORY_FOLDER
    on_disk = {p.parent.name for p in root.rglob("*") if p.is_file()}
    assert {f"{naming.HISTORY_FOLDER}/{s}/" for s in on_disk} == history_dirs


def test_an_emitter_writing_an_unclaimed_or_lost_path_is_an_internal_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs = _specs(tmp_path)
    original = registry.EMITTERS

    # The fakes wrap the real Avro emitter, whatever arguments the registry gives it.
    def overwrote(*args: Any) -> Any:
        # A path written twice inside one emitter: the dict holds one file fewer.
        files = dict(original[1].emit(*args))
        files.pop(min(files))
        return files

    lost = dataclasses.replace(original[1], emit=overwrote)
    monkeypatch.setattr(registry, "EMITTERS", (original[0], lost, *original[2:]))
    assert main(["build", str(specs), "-o", str(tmp_path / "out"), "--no-cache"]) == 2
    assert not (tmp_path / "out").exists()

    def twice(*args: Any) -> Any:
        files = dict(original[1].emit(*args))
        return {"resolved-spec.json": files[min(files)], **files}

    dup = dataclasses.replace(original[1], emit=twice)
    monkeypatch.setattr(registry, "EMITTERS", (original[0], dup, *original[2:]))
    project, by_env, _ = load_project_envs(specs)
    assert project is not None
    with pytest.raises(RuntimeError, match="unclaimed: \\['resolved-spec.json'\\]"):
        registry.emit_all(project, by_env)


def test_validate_and_build_agree_on_every_names_case(tmp_path: Path) -> None:
    cases = sorted(p for p in CASES.glob("names_*") if (p / "specs").is_dir())
    assert len(cases) >= 6
    for case in cases:
        expected = (case / "expected.txt").read_text(encoding="utf-8")
        build_code = int(expected.split()[1])
        assert main(["validate", str(case / "specs")]) == build_code, case.name


# --- bounds at their edges -------------------------------------------------------------------


def test_partitions_are_bounded_by_kafka_int32(tmp_path: Path) -> None:
    assert _codes(_specs(tmp_path / "a", partitions=2**31 - 1)) == []
    assert _codes(_specs(tmp_path / "b", partitions=2**31)) == ["E0206"]


def test_name_lengths_at_the_bound(tmp_path: Path) -> None:
    limit = naming.FILE_NAME_MAX - layout.VERSION_SUFFIX_MAX  # 244: room for `.v1000.avsc`
    assert limit == 244
    event = "Order" + "X" * (limit - len("OrderPlaced")) + "Placed"
    assert _codes(_specs(tmp_path / "a", event=event)) == []
    assert _codes(_specs(tmp_path / "b", event=event + "X")) == ["E0412"]
    money = "M" * (naming.FILE_NAME_MAX - len(".avsc"))  # a type has no versions
    assert _codes(_specs(tmp_path / "c", type_name=money)) == []
    assert _codes(_specs(tmp_path / "d", type_name=money + "Y")) == ["E0412"]


def test_the_longest_accepted_names_build(tmp_path: Path) -> None:
    """At the bound, the build really writes its files (the bound is not too tight either)."""
    event = "Order" + "X" * (244 - len("OrderPlaced")) + "Placed"
    money = "M" * (naming.FILE_NAME_MAX - len(".avsc"))
    specs = _specs(tmp_path, event=event, type_name=money)
    assert main(["build", str(specs), "-o", str(tmp_path / "out"), "--no-cache"]) == 0
    assert (tmp_path / "out" / "avro" / "orders" / f"{money}.avsc").is_file()
    assert (tmp_path / "out" / "avro" / "orders" / f"{event}.avsc").is_file()
    longest = tmp_path / "out" / "avro" / "orders" / f"{event}.v1000.avsc"
    longest.write_bytes(b"{}")  # the file a 1000th version would add can be created
