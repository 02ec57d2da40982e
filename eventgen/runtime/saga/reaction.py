"""`Reaction`: one step of a choreography, bound to the reacting service's spec consumer.

The generated `<service>_reactions.py` holds one ready `Reaction` per reaction of the spec
(`ship_order_on_order_confirmed`). The user registers one typed handler: it takes the `on`
event and the consumer's context and returns the `do` command, or None to do nothing.

```python
from shop_events.shipping_reactions import ship_order_on_order_confirmed

@ship_order_on_order_confirmed.handler
def ship(event: OrderConfirmed, ctx: Context[Any]) -> ShipOrder | None:
    return ShipOrder(order_id=event.order_id, ...)
```

The reaction registers an app handler for the `on` message on the consumer app; that handler
calls the user's function and publishes the returned command with
`ctx.publish(command, correlation_id=str(event.<correlation>))` (so the command, and the
participant's replies to it, carry the flow's correlation id). Running the app
(`python -m eventgen.runtime run <service>_app:<consumer>`) runs the reaction with it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from eventgen.runtime.app.consumer import ConsumerApp
from eventgen.runtime.app.context import Context
from eventgen.runtime.errors import StartupError
from eventgen.runtime.model import Message

E = TypeVar("E", bound=Message)
C = TypeVar("C", bound=Message)

ReactionHandler = Callable[[E, Context[Any]], C | None]


class Reaction(Generic[E, C]):
    """`on` event in, `do` command (or None) out, published with the flow's correlation id."""

    def __init__(
        self,
        *,
        app: ConsumerApp,
        on: type[E],
        do: type[C],
        choreography: str,
        correlation: str,
    ) -> None:
        self.app = app
        self.on = on
        self.do = do
        self.choreography = choreography
        self.correlation = correlation
        self.function: Callable[[E, Context[Any]], C | None] | None = None

    def __repr__(self) -> str:
        return (
            f"Reaction({self.choreography}: {self.on.TYPE} -> {self.do.TYPE}, "
            f"consumer {self.app.spec.name})"
        )

    def handler(
        self, function: Callable[[E, Context[Any]], C | None]
    ) -> Callable[[E, Context[Any]], C | None]:
        """Register the reaction's function (once); returns it unchanged."""
        if self.function is not None:
            raise StartupError(
                f"reaction {self.choreography} {self.on.TYPE} -> {self.do.TYPE}: a second handler"
            )
        self.app.on(self.on)(self._call)
        self.function = function
        return function

    def _call(self, event: E, ctx: Context[Any]) -> None:
        function = self.function
        assert function is not None
        command = function(event, ctx)
        if command is None:
            return
        if not isinstance(command, self.do):
            name = getattr(function, "__qualname__", repr(function))
            raise TypeError(
                f"reaction {self.choreography}: {name} returned {type(command).__name__}, "
                f"expected {self.do.__name__} or None"
            )
        ctx.publish(command, correlation_id=str(getattr(event, self.correlation)))
