"""The worked example of docs/running.md ("Unit-testing your handlers") runs and type-checks.

Its blocks (each after a `<!-- running-example: FILE -->` line) are written next to the example
platform's package, built from specs/ by this repository's eventgen, and the example's own test
runs with pytest in that directory, as a user would run it; mypy --strict checks the files too
(the generated app's typed `on` is part of what the example shows).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "running.md"
BIN = Path(sys.executable).parent
MARKER = re.compile(r"^<!-- running-example: (?P<file>[\w.]+\.py) -->$")
TIMEOUT_S = 300
# The editable install's import hook is invisible to mypy: point it at the repository.
MYPY_ENV = {**os.environ, "MYPYPATH": str(REPO)}


def examples() -> dict[str, str]:
    lines = DOC.read_text(encoding="utf-8").splitlines()
    found: dict[str, str] = {}
    for n, line in enumerate(lines):
        match = MARKER.match(line)
        if match is None:
            continue
        assert lines[n + 1] == "```python", f"running.md:{n + 2}: expected a ```python block"
        end = lines.index("```", n + 2)
        found[match["file"]] = "\n".join(lines[n + 2 : end]) + "\n"
    return found


@pytest.fixture(scope="module")
def example_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("running-example")
    out = root / "out"
    built = subprocess.run(
        [str(BIN / "eventgen"), "build", str(REPO / "specs"), "-o", str(out), "--no-cache"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    work = root / "work"
    work.mkdir()
    shutil.copytree(out / "shop_events", work / "shop_events")
    for name, text in examples().items():
        (work / name).write_text(text)
    return work


def test_the_doc_has_the_example() -> None:
    assert sorted(examples()) == ["shipping_service.py", "test_shipping_service.py"]


def test_the_example_passes(example_dir: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "test_shipping_service.py",
        ],
        capture_output=True,
        text=True,
        cwd=example_dir,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "1 passed" in result.stdout


def test_the_example_type_checks(example_dir: Path) -> None:
    result = subprocess.run(
        [str(BIN / "mypy"), "--strict", "--no-incremental", "shipping_service.py",
         "test_shipping_service.py"],
        capture_output=True,
        text=True,
        cwd=example_dir,
        env=MYPY_ENV,
        timeout=TIMEOUT_S,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:]
    # The generated app's typed `on` rejects a handler for a message it does not handle.
    wrong = example_dir / "wrong_handler.py"
    wrong.write_text(
        "from shop_events.orders import OrderPlaced\n"
        "from shop_events.shipping_app import ShipConfirmedOrdersContext, ship_confirmed_orders\n"
        "\n\n"
        "@ship_confirmed_orders.on(OrderPlaced)\n"
        "def ship(event: OrderPlaced, ctx: ShipConfirmedOrdersContext) -> None:\n"
        "    pass\n"
    )
    rejected = subprocess.run(
        [str(BIN / "mypy"), "--strict", "--no-incremental", wrong.name],
        capture_output=True,
        text=True,
        cwd=example_dir,
        env=MYPY_ENV,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert rejected.returncode == 1, rejected.stdout
    assert "wrong_handler.py:5: error" in rejected.stdout, rejected.stdout
