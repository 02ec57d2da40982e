"""The runtime fixture spec (`specs/`, serialization: protobuf) built and imported for tests.

`shared_fixture()` builds it once per process (a Python process can import one package
`pbrt_events` and one `rt_alpha_pb2`): the specs copied with a unique topic suffix (so runs
on a shared broker or registry never meet), `eventgen build`, the output put on sys.path,
the modules imported. `shared_protoc()` compiles the generated `.proto` files with the
protoc of grpcio-tools and imports the `_pb2` modules it writes (into protobuf's default
pool; the runtime codec uses pools of its own).
"""

from __future__ import annotations

import atexit
import functools
import importlib
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from eventgen.runtime.spec import Route
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

    @property
    def things(self) -> Route:
        """The route of topic `things` (its Kafka name carries the suffix)."""
        return getattr(self.app, f"ROUTE_RT_ALPHA_THINGS_{self.suffix.upper()}")  # type: ignore[no-any-return]


@functools.cache
def shared_fixture() -> Built:
    root = Path(tempfile.mkdtemp(prefix="eventgen-pbrt-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return build_fixture(root)


@functools.cache
def shared_protoc() -> dict[str, ModuleType]:
    built = shared_fixture()
    work = built.out.parent / "protoc"
    work.mkdir()
    return protoc_modules(built, work)


def build_fixture(root: Path) -> Built:
    suffix = uuid.uuid4().hex[:8]
    package = "pbrt_events"
    specs = root / "specs"
    specs.mkdir(parents=True)
    for spec in SPECS.glob("*.yaml"):
        text = spec.read_text().replace("things", f"things-{suffix}")
        text = text.replace("thing-commands", f"thing-commands-{suffix}")
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


@dataclass
class Rec:
    """A consumed record as the codecs see it (confluent_kafka.Message's accessors)."""

    value_: bytes | None
    headers_: list[tuple[str, bytes | None]] | None = None
    topic_: str = "t"
    offset_: int = 0

    def topic(self) -> str | None:
        return self.topic_

    def partition(self) -> int | None:
        return 0

    def offset(self) -> int | None:
        return self.offset_

    def key(self) -> bytes | None:
        return None

    def value(self) -> bytes | None:
        return self.value_

    def headers(self) -> list[tuple[str, bytes | None]] | None:
        return self.headers_

    def timestamp(self) -> tuple[int, int]:
        return (1, 1_700_000_000_000)

    def error(self) -> Any:
        return None
