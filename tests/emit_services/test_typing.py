"""Typed handler registration: mypy --strict on users' modules against the generated apps.

A correct module passes; a handler for a message the consumer does not handle, one with the
wrong message or context parameter, and a batch handler of the wrong element type each fail
with mypy's own error on the line of the mistake.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.emit_services.helpers import run_mypy

CORRECT = """\
from shop_events.inventory import CommitStock, ReleaseStock, ReserveStock, StockReserved
from shop_events.inventory_app import (
    InventoryCommandHandlerContext,
    StockLedgerBatch,
    inventory_command_handler,
    stock_ledger,
)
from shop_events.shipping import ShipmentDispatched
from shop_events.inventory_app import CommitDispatchedStockContext, commit_dispatched_stock


@inventory_command_handler.on(ReserveStock)
def reserve(event: ReserveStock, ctx: InventoryCommandHandlerContext) -> None:
    topic: str = ctx.topic
    attempt: int = ctx.attempt
    print(event.order_id, topic, attempt, ctx.event_id, ctx.db)


@inventory_command_handler.on(ReleaseStock)
def release(event: ReleaseStock, ctx: InventoryCommandHandlerContext) -> None:
    print(event.reservation_id)


@inventory_command_handler.on(CommitStock)
def commit(event: CommitStock, ctx: InventoryCommandHandlerContext) -> None:
    print(event.order_id)


@commit_dispatched_stock.on(ShipmentDispatched)
def dispatched(event: ShipmentDispatched, ctx: CommitDispatchedStockContext) -> None:
    print(event.order_id)


@stock_ledger.on_batch
def fold(items: StockLedgerBatch) -> None:
    for message, ctx in items:
        if isinstance(message, StockReserved):
            print(message.reservation_id, ctx.offset)
"""

# name -> (module text, [(line, fragment of mypy's message, error code)])
WRONG = {
    "unhandled_message": (
        """\
from shop_events.inventory import StockReserved
from shop_events.inventory_app import InventoryCommandHandlerContext, inventory_command_handler


@inventory_command_handler.on(StockReserved)
def reserve(event: StockReserved, ctx: InventoryCommandHandlerContext) -> None:
    print(event)
""",
        [(5, ('Argument 1 to "on" of "InventoryCommandHandlerApp" has incompatible type '
          '"type[StockReserved]"; expected "type[CommitStock]"'), "arg-type")],
    ),
    "wrong_message_parameter": (
        """\
from shop_events.inventory import ReleaseStock, ReserveStock
from shop_events.inventory_app import InventoryCommandHandlerContext, inventory_command_handler


@inventory_command_handler.on(ReserveStock)
def reserve(event: ReleaseStock, ctx: InventoryCommandHandlerContext) -> None:
    print(event)
""",
        [(5, '"Callable[[ReleaseStock, Context[CommitStock | ReleaseStock | ReserveStock]], None]"',
          "arg-type")],
    ),
    "wrong_context_parameter": (
        """\
from shop_events.inventory import ReserveStock
from shop_events.inventory_app import StockLedgerContext, inventory_command_handler


@inventory_command_handler.on(ReserveStock)
def reserve(event: ReserveStock, ctx: StockLedgerContext) -> None:
    print(event)
""",
        [(5, "Argument 1 has incompatible type", "arg-type")],
    ),
    "single_handle_consumer": (
        """\
from shop_events.inventory_app import CommitDispatchedStockContext, commit_dispatched_stock
from shop_events.shipping import ShipmentFailed


@commit_dispatched_stock.on(ShipmentFailed)
def failed(event: ShipmentFailed, ctx: CommitDispatchedStockContext) -> None:
    print(event)
""",
        [(5, ('Argument 1 to "on" of "CommitDispatchedStockApp" has incompatible type '
          '"type[ShipmentFailed]"; expected "type[ShipmentDispatched]"'), "arg-type")],
    ),
    "batch_element_type": (
        """\
from shop_events.inventory import StockReserved
from shop_events.inventory_app import StockLedgerContext, stock_ledger


@stock_ledger.on_batch
def fold(items: list[tuple[StockReserved, StockLedgerContext]]) -> None:
    print(items)
""",
        [(5, 'Argument 1 to "on_batch" of "StockLedgerApp" has incompatible type', "arg-type")],
    ),
}  # fmt: skip


def test_correct_handlers_pass(example_build: Path) -> None:
    (example_build / "handlers_ok.py").write_text(CORRECT, encoding="utf-8")
    done = run_mypy(example_build, "handlers_ok.py")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("name", sorted(WRONG))
def test_wrong_handler_is_a_mypy_error(example_build: Path, name: str) -> None:
    text, expected = WRONG[name]
    module = f"handlers_{name}.py"
    (example_build / module).write_text(text, encoding="utf-8")
    done = run_mypy(example_build, module)
    assert done.returncode == 1, done.stdout + done.stderr
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    for line, fragment, code in expected:
        hits = [
            e for e in errors
            if e.startswith(f"{module}:{line}: error:") and fragment in e and e.endswith(f"[{code}]")
        ]  # fmt: skip
        assert hits, f"expected {module}:{line} {fragment!r} [{code}] in:\n{done.stdout}"
    # Only the mistake is reported: the generated package itself type-checks.
    assert all(re.match(rf"{re.escape(module)}:\d+: error:", e) for e in errors), done.stdout
