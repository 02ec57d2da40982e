"""A hand-written stand-in for a generated `<context>_app.py` with typed registration.

The app object is a plain `ConsumerApp`; the module gives it a Protocol type whose `on` has one
overload per handled message, so `mypy --strict` rejects, in the user's module, a handler for
a message the consumer does not handle or with a wrong parameter type. (Subclassing
ConsumerApp and narrowing `on` would not do: mypy reports the override as incompatible.)
The generic `ConsumerApp.on` is assignable to each overload, so no cast is needed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from eventgen.runtime.app import Context
from tests.runtime.apps.shop import Placed, make_app

PlacedHandler = Callable[[Placed, Context[Placed]], None]


class ReserveStock(Protocol):
    """The consumer `reserve-stock`: handles shop.Placed."""

    def on(self, message: type[Placed]) -> Callable[[PlacedHandler], PlacedHandler]: ...


reserve_stock: ReserveStock = make_app("shop.placed", "reserve-stock")
