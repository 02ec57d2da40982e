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
`ctx.publish(command, correlation_id=str(event.<correlation>), event_id=reaction_event_id(...))`
(so the command, and the participant's replies to it, carry the flow's correlation id).

The command's event id is deterministic: `uuid5(REACTION_NAMESPACE,
f"{choreography}/{on event id}/{do TYPE}")`. At-least-once acknowledges the produce before the
consumer's inbox commit, so a crash in between runs the reaction again for the same `on`
record; the command it publishes then carries the same event id, and the participant's inbox
handles it once. Running the app
(`python -m eventgen.runtime run <service>_app:<consumer>`) runs the reaction with it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar
from uuid import UUID, uuid5

from eventgen.runtime.app.consumer import ConsumerApp
from eventgen.runtime.app.context import Context
from eventgen.runtime.errors import StartupError
from eventgen.runtime.model import Message

E = TypeVar("E", bound=Message)
C = TypeVar("C", bound=Message)

ReactionHandler = Callable[[E, Context[Any]], C | None]

REACTION_NAMESPACE = UUID("5b0d2c6e-3f7a-4c1e-9a58-2d8e61f0b7a4")


def reaction_event_id(choreography: str, on_event_id: UUID, do_type: str) -> UUID:
    """The event id of the command a reaction publishes for the `on` record `on_event_id`:
    the same for every run of the reaction on that record, so the participant's inbox drops a
    repeat."""
    return uuid5(REACTION_NAMESPACE, f"{choreography}/{on_event_id}/{do_type}")


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
        ctx.publish(
            command,
            correlation_id=str(getattr(event, self.correlation)),
            event_id=reaction_event_id(self.choreography, ctx.event_id, self.do.TYPE),
        )
