"""Public AsyncAPI documents (tests/interop/asyncapi_docs, see NOTICE.md) import and build.

Each is imported by the console script, then `eventgen build` must exit 0 with no error and
write the models of every imported message.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent / "asyncapi_docs"
EVENTGEN = Path(sys.executable).parent / "eventgen"

# document -> (package, context module, messages whose model classes must be generated)
CASES = {
    "streetlights-kafka-3.0.yaml": (
        "streetlights_kafka_api",
        "streetlights_kafka_api",
        ("LightMeasured", "TurnOnOff", "DimLight"),
    ),
    "streetlights-kafka-2.6.yaml": (
        "streetlights_kafka_api",
        "streetlights_kafka_api",
        ("LightMeasured", "TurnOnOff", "DimLight"),
    ),
    "avro-user-signedup.yaml": (
        "account_service",
        "account_service",
        ("UserSignedUp", "UserDeleted", "Address", "Plan"),
    ),
}


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(EVENTGEN), *map(str, args)], capture_output=True, text=True, check=False
    )


def test_every_document_is_a_case() -> None:
    assert sorted(p.name for p in DOCS.glob("*.yaml")) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_document_imports_and_builds(name: str, tmp_path: Path) -> None:
    package, module, classes = CASES[name]
    specs, out = tmp_path / "specs", tmp_path / "out"
    imported = _run("import", "asyncapi", DOCS / name, "-o", specs)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert imported.stdout == ""  # no findings at all
    built = _run("build", specs, "-o", out, "--no-cache")
    assert built.returncode == 0, built.stdout + built.stderr
    assert re.search(r"^0 error\(s\)", built.stderr, re.MULTILINE), built.stderr
    assert "error E" not in built.stdout + built.stderr
    code = (out / package / f"{module}.py").read_text("utf-8")
    for cls in classes:
        assert re.search(rf"^class {cls}\(", code, re.MULTILINE), cls
    assert (out / "asyncapi.yaml").is_file()
    assert list((out / "avro").rglob("*.avsc"))
