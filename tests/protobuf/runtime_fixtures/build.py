"""The runtime fixture spec (`specs/`, serialization: protobuf) built and imported for tests.

`build_fixture` copies the specs with a unique package name (and topic suffix, so runs on a
shared broker never meet), runs `eventgen build`, puts the output on sys.path and returns
the imported modules. `protoc_modules` compiles the generated `.proto` files with the protoc
of grpcio-tools and imports the `_pb2` modules it writes (into protobuf's default pool; the
runtime codec uses pools of its own).
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from tests.protobuf.proto_protoc import run_protoc

SPECS = Path(__file__).resolve().parent / "specs"
EVENTGEN = Path(sys.executable).parent / "eventgen"
CONTEXTS = ("rt_alpha", "rt_base")


@dataclass(frozen=True)
class Built:
    out: Path
    package: str
    suffix: str
    alpha: ModuleType  # models of context rt-alpha
    base: ModuleType  # models of context rt-base
    app: ModuleType  # rt_alpha_app: publisher and the thing-watcher consumer


def build_fixture(root: Path, *, unique: bool = False) -> Built:
    suffix = uuid.uuid4().hex[:8] if unique else ""
    package = f"pbrt_events{'_' + suffix if suffix else ''}"
    specs = root / "specs"
    specs.mkdir(parents=True)
    for spec in SPECS.glob("*.yaml"):
        text = spec.read_text().replace("pbrt_events", package)
        if suffix:
            text = text.replace("things", f"things-{suffix}").replace(
                "thing-commands", f"thing-commands-{suffix}"
            )
        (specs / spec.name).write_text(text)
    out = root / "out"
    done = subprocess.run(
        [str(EVENTGEN), "build", str(specs), "-o", str(out), "--no-cache"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    sys.path.insert(0, str(out))
    return Built(
        out,
        package,
        suffix,
        importlib.import_module(f"{package}.rt_alpha"),
        importlib.import_module(f"{package}.rt_base"),
        importlib.import_module(f"{package}.rt_alpha_app"),
    )


def protoc_modules(built: Built, work: Path) -> dict[str, ModuleType]:
    """The protoc `_pb2` modules of the fixture's `.proto` files, by context module."""
    result = run_protoc(built.out / "protobuf", [f"{c}.proto" for c in CONTEXTS], work)
    assert result.returncode == 0, result.stderr
    sys.path.insert(0, str(work))
    try:
        return {c: importlib.import_module(f"{c}_pb2") for c in CONTEXTS}
    finally:
        sys.path.remove(str(work))
