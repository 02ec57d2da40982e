"""Export -> import -> build: the example platform's schemas come back byte for byte.

`eventgen build specs/` writes generated/asyncapi.yaml; `eventgen import asyncapi` turns it
into specs2/; building specs2 must write the same Avro and JSON Schema files. The export has
no projections and no query `returns` types, so the four queries and the two types only a
query returns are not in it: they are listed below, by name, and nothing else may be missing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EVENTGEN = Path(sys.executable).parent / "eventgen"

# Not in the export: queries (they return a projection or a type no message uses) and
# PaymentView/PaymentStatus, the record GetPayment returns and the enum it holds.
NOT_EXPORTED = (
    "inventory/GetStockLevel",
    "orders/GetOrderSummary",
    "payments/GetPayment",
    "payments/PaymentStatus",
    "payments/PaymentView",
    "shipping/TrackShipment",
)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(EVENTGEN), *args], capture_output=True, text=True, cwd=ROOT, check=False
    )


def _schema_files(root: Path) -> list[str]:
    found = [*root.glob("avro/**/*.avsc"), *root.glob("jsonschema/**/*.json")]
    return sorted(p.relative_to(root).as_posix() for p in found)


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("roundtrip")
    built = _run("build", "specs", "-o", str(tmp / "out1"), "--no-cache")
    assert built.returncode == 0, built.stderr
    imported = _run(
        "import", "asyncapi", str(tmp / "out1" / "asyncapi.yaml"), "-o", str(tmp / "specs2")
    )
    assert imported.returncode == 0, imported.stdout + imported.stderr
    rebuilt = _run("build", str(tmp / "specs2"), "-o", str(tmp / "out2"), "--no-cache")
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "0 error(s)" in rebuilt.stderr
    return tmp / "out1", tmp / "out2"


def test_every_exported_schema_comes_back_byte_for_byte(trees: tuple[Path, Path]) -> None:
    out1, out2 = trees
    original = _schema_files(out1)
    excluded = [
        f"{kind}/{name}.{ext}"
        for name in NOT_EXPORTED
        for kind, ext in (("avro", "avsc"), ("jsonschema", "json"))
    ]
    assert all(e in original for e in excluded)
    expected = [f for f in original if f not in excluded]
    assert len(expected) == len(original) - 2 * len(NOT_EXPORTED)
    assert len(expected) >= 130  # the example has 144 Avro and JSON Schema files in all
    assert _schema_files(out2) == expected  # same list: nothing missing, nothing extra
    differing = [f for f in expected if (out1 / f).read_bytes() != (out2 / f).read_bytes()]
    assert differing == []


def test_key_schemas_and_json_twins_parse_equal(trees: tuple[Path, Path]) -> None:
    out1, out2 = trees
    keys = sorted(p.name for p in (out1 / "avro" / "keys").glob("*.avsc"))
    assert len(keys) >= 8
    for name in keys:
        first = json.loads((out1 / "avro" / "keys" / name).read_text("utf-8"))
        assert first == json.loads((out2 / "avro" / "keys" / name).read_text("utf-8"))
