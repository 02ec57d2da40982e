"""Handler registration is checked by mypy --strict in the user's module (contract "Handlers").

Runs mypy on a small user module against tests/runtime/apps/typed_shop_app.py, the
hand-written stand-in for a generated app module, and expects exactly the two wrong handlers
to be reported.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

GOOD = """\
from eventgen.runtime.app import Context
from tests.runtime.apps.shop import Placed
from tests.runtime.apps.typed_shop_app import reserve_stock


@reserve_stock.on(Placed)
def good(event: Placed, ctx: Context[Placed]) -> None:
    ctx.publish(event)
"""
BAD = """
from tests.runtime.apps.shop import Shipped


@reserve_stock.on(Shipped)
def not_handled(event: Shipped, ctx: Context[Shipped]) -> None: ...


@reserve_stock.on(Placed)
def wrong_param(event: Shipped, ctx: Context[Placed]) -> None: ...
"""


def mypy(module: Path, cache: Path) -> tuple[int, list[str]]:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--cache-dir",
         str(cache), str(module)],
        cwd=REPO, env={**os.environ, "MYPYPATH": str(REPO)}, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    lines = [line.split(": ", 1)[1] for line in result.stdout.splitlines() if ": error:" in line]
    return result.returncode, lines


def test_mypy_accepts_the_right_handler_and_rejects_the_wrong_ones(tmp_path: Path) -> None:
    module = tmp_path / "user_handlers.py"
    module.write_text(GOOD)
    assert mypy(module, tmp_path / "cache") == (0, [])
    module.write_text(GOOD + BAD)
    code, errors = mypy(module, tmp_path / "cache")
    assert code == 1
    shipped = "Callable[[Shipped, Context[Shipped]], None]"
    placed = "Callable[[Placed, Context[Placed]], None]"
    mixed = "Callable[[Shipped, Context[Placed]], None]"
    assert errors == [
        f'error: Argument 1 has incompatible type "{shipped}"; expected "{placed}"  [arg-type]',
        'error: Argument 1 to "on" of "ReserveStock" has incompatible type "type[Shipped]"; '
        + 'expected "type[Placed]"  [arg-type]',
        f'error: Argument 1 has incompatible type "{mixed}"; expected "{placed}"  [arg-type]',
    ]
