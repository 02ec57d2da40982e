"""A hand-built saga, written as a build would write one: an order saga shaped like the
example's PlaceOrderSaga.

reserve_stock and book_delivery_slot send a command, retry on timeout and are compensated;
charge_card is the pivot (no compensation, no retry); confirm_order is a local aggregate
command. `FORWARD_SAGA` adds a forward send step after the pivot (notify_warehouse: retried
until done or the deadline), which the example does not have. The engine tests run on these
instead of the generated module, so they do not depend on the sagas emitter; the stateful
test also runs on the generated PLACE_ORDER_SAGA once a build writes it.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import ClassVar, Final
from uuid import UUID

from eventgen.runtime.model import Message, Record
from eventgen.runtime.saga.codec import schema_hash
from eventgen.runtime.saga.spec import (
    COMPENSATE,
    COMPLETED,
    DONE,
    NEXT_COMPENSATION,
    REJECTED,
    RETRY,
    STUCK,
    TIMEOUT,
    CompensationSpec,
    SagaDefinition,
    StepRetry,
    StepSpec,
    Transition,
)


class _Shop(Message):
    SCHEMAS: ClassVar[str] = "tests.sagas.fixtures_saga"
    VERSION: ClassVar[int] = 1

    order_id: UUID

    def partition_key(self) -> UUID:
        return self.order_id


# -- messages -------------------------------------------------------------------------------


class OrderPlaced(_Shop):
    TYPE: ClassVar[str] = "orders.OrderPlaced"
    total: Decimal


class ReserveStock(_Shop):
    TYPE: ClassVar[str] = "inventory.ReserveStock"


class StockReserved(_Shop):
    TYPE: ClassVar[str] = "inventory.StockReserved"
    reservation_id: UUID


class StockReservationFailed(_Shop):
    TYPE: ClassVar[str] = "inventory.StockReservationFailed"
    reason: str


class ReleaseStock(_Shop):
    TYPE: ClassVar[str] = "inventory.ReleaseStock"
    reservation_id: UUID | None = None  # unknown when the reservation timed out


class StockReleased(_Shop):
    TYPE: ClassVar[str] = "inventory.StockReleased"


class BookDeliverySlot(_Shop):
    TYPE: ClassVar[str] = "shipping.BookDeliverySlot"


class DeliverySlotBooked(_Shop):
    TYPE: ClassVar[str] = "shipping.DeliverySlotBooked"
    slot_id: UUID


class DeliverySlotBookingFailed(_Shop):
    TYPE: ClassVar[str] = "shipping.DeliverySlotBookingFailed"
    reason: str


class ReleaseDeliverySlot(_Shop):
    TYPE: ClassVar[str] = "shipping.ReleaseDeliverySlot"
    slot_id: UUID | None = None


class DeliverySlotReleased(_Shop):
    TYPE: ClassVar[str] = "shipping.DeliverySlotReleased"


class ChargeCard(_Shop):
    TYPE: ClassVar[str] = "payments.ChargeCard"
    amount: Decimal


class CardCharged(_Shop):
    TYPE: ClassVar[str] = "payments.CardCharged"
    payment_id: UUID


class CardDeclined(_Shop):
    TYPE: ClassVar[str] = "payments.CardDeclined"
    reason: str


class NotifyWarehouse(_Shop):
    TYPE: ClassVar[str] = "warehouse.NotifyWarehouse"


class WarehouseNotified(_Shop):
    TYPE: ClassVar[str] = "warehouse.WarehouseNotified"


class ConfirmOrder(_Shop):
    TYPE: ClassVar[str] = "orders.ConfirmOrder"


# -- saga data and mappings -----------------------------------------------------------------


class OrderSagaData(Record):
    order_id: UUID
    total: Decimal
    reservation_id: UUID | None = None
    slot_id: UUID | None = None
    payment_id: UUID | None = None
    failure_reason: str | None = None


def init_order_saga(event: OrderPlaced) -> OrderSagaData:
    return OrderSagaData(order_id=event.order_id, total=event.total)


def send_reserve_stock(data: OrderSagaData) -> ReserveStock:
    return ReserveStock(order_id=data.order_id)


def compensate_reserve_stock(data: OrderSagaData) -> ReleaseStock:
    return ReleaseStock(order_id=data.order_id, reservation_id=data.reservation_id)


def send_book_delivery_slot(data: OrderSagaData) -> BookDeliverySlot:
    return BookDeliverySlot(order_id=data.order_id)


def compensate_book_delivery_slot(data: OrderSagaData) -> ReleaseDeliverySlot:
    return ReleaseDeliverySlot(order_id=data.order_id, slot_id=data.slot_id)


def send_charge_card(data: OrderSagaData) -> ChargeCard:
    return ChargeCard(order_id=data.order_id, amount=data.total)


def send_notify_warehouse(data: OrderSagaData) -> NotifyWarehouse:
    return NotifyWarehouse(order_id=data.order_id)


def local_confirm_order(data: OrderSagaData) -> ConfirmOrder:
    return ConfirmOrder(order_id=data.order_id)


def save_reserve_stock_stock_reserved(data: OrderSagaData, reply: StockReserved) -> OrderSagaData:
    return data.model_copy(update={"reservation_id": reply.reservation_id})


def save_reserve_stock_failed(data: OrderSagaData, reply: StockReservationFailed) -> OrderSagaData:
    return data.model_copy(update={"failure_reason": "out of stock"})


def save_book_delivery_slot_booked(data: OrderSagaData, reply: DeliverySlotBooked) -> OrderSagaData:
    return data.model_copy(update={"slot_id": reply.slot_id})


def save_book_delivery_slot_failed(
    data: OrderSagaData, reply: DeliverySlotBookingFailed
) -> OrderSagaData:
    return data.model_copy(update={"failure_reason": reply.reason})


def save_charge_card_charged(data: OrderSagaData, reply: CardCharged) -> OrderSagaData:
    return data.model_copy(update={"payment_id": reply.payment_id})


def save_charge_card_declined(data: OrderSagaData, reply: CardDeclined) -> OrderSagaData:
    return data.model_copy(update={"failure_reason": reply.reason})


# -- steps and the table --------------------------------------------------------------------

RESERVE_STOCK = StepSpec(
    name="reserve_stock",
    kind="send",
    command=ReserveStock.TYPE,
    build=send_reserve_stock,
    timeout_ms=10_000,
    retry=StepRetry(max_attempts=5, initial_ms=1000),
    compensation=CompensationSpec(
        ReleaseStock.TYPE, compensate_reserve_stock, (StockReleased.TYPE,)
    ),
)
BOOK_DELIVERY_SLOT = StepSpec(
    name="book_delivery_slot",
    kind="send",
    command=BookDeliverySlot.TYPE,
    build=send_book_delivery_slot,
    timeout_ms=10_000,
    retry=StepRetry(max_attempts=3, initial_ms=500),
    compensation=CompensationSpec(
        ReleaseDeliverySlot.TYPE, compensate_book_delivery_slot, (DeliverySlotReleased.TYPE,)
    ),
)
CHARGE_CARD = StepSpec(
    name="charge_card",
    kind="send",
    command=ChargeCard.TYPE,
    build=send_charge_card,
    timeout_ms=30_000,
    pivot=True,
)
NOTIFY_WAREHOUSE = StepSpec(
    name="notify_warehouse",
    kind="send",
    command=NotifyWarehouse.TYPE,
    build=send_notify_warehouse,
    timeout_ms=5_000,
    retry=StepRetry(max_attempts=2, initial_ms=1000, max_interval_ms=8000),
    forward=True,
    # A spec check forbids a compensation after the pivot; it is here so the tests can see
    # that the engine never sends it anyway.
    compensation=CompensationSpec(
        ReleaseStock.TYPE, compensate_reserve_stock, (StockReleased.TYPE,)
    ),
)
CONFIRM_ORDER = StepSpec(
    name="confirm_order", kind="local", command=ConfirmOrder.TYPE, build=local_confirm_order
)

R: Final = "RUNNING"
C: Final = "COMPENSATING"

# fmt: off
ORDER_SAGA_TRANSITIONS = (
    Transition(R, "reserve_stock",      StockReserved.TYPE,             "success",     "book_delivery_slot", save=save_reserve_stock_stock_reserved),
    Transition(R, "reserve_stock",      StockReservationFailed.TYPE,    "failure",     COMPENSATE, save=save_reserve_stock_failed),
    Transition(R, "reserve_stock",      TIMEOUT,                        "timeout",     RETRY, exhausted=COMPENSATE),
    Transition(C, "reserve_stock",      StockReleased.TYPE,             "compensated", NEXT_COMPENSATION),
    Transition(C, "reserve_stock",      TIMEOUT,                        "timeout",     RETRY, exhausted=STUCK),
    Transition(R, "book_delivery_slot", DeliverySlotBooked.TYPE,        "success",     "charge_card", save=save_book_delivery_slot_booked),
    Transition(R, "book_delivery_slot", DeliverySlotBookingFailed.TYPE, "failure",     COMPENSATE, save=save_book_delivery_slot_failed),
    Transition(R, "book_delivery_slot", TIMEOUT,                        "timeout",     RETRY, exhausted=COMPENSATE),
    Transition(C, "book_delivery_slot", DeliverySlotReleased.TYPE,      "compensated", NEXT_COMPENSATION),
    Transition(C, "book_delivery_slot", TIMEOUT,                        "timeout",     RETRY, exhausted=STUCK),
    Transition(R, "charge_card",        CardCharged.TYPE,               "success",     "confirm_order", save=save_charge_card_charged),
    Transition(R, "charge_card",        CardDeclined.TYPE,              "failure",     COMPENSATE, save=save_charge_card_declined),
    Transition(R, "charge_card",        TIMEOUT,                        "timeout",     RETRY, exhausted=STUCK),
    Transition(R, "confirm_order",      DONE,                           "success",     COMPLETED),
    Transition(R, "confirm_order",      REJECTED,                       "failure",     STUCK),
)
# fmt: on

ORDER_SAGA = SagaDefinition(
    name="OrderSaga",
    context="orders",
    data_model=OrderSagaData,
    data_hash=schema_hash(OrderSagaData),
    correlation="order_id",
    started_by=OrderPlaced.TYPE,
    init=init_order_saga,
    steps=(RESERVE_STOCK, BOOK_DELIVERY_SLOT, CHARGE_CARD, CONFIRM_ORDER),
    transitions=ORDER_SAGA_TRANSITIONS,
    deadline_ms=15 * 60_000,
    compensation_retry=StepRetry(max_attempts=10, initial_ms=5000),
    compensation_then="park",
)


def _forward_transitions() -> tuple[Transition, ...]:
    """The order table with notify_warehouse between the pivot and confirm_order."""
    rows: list[Transition] = []
    for row in ORDER_SAGA_TRANSITIONS:
        if row.step == "charge_card" and row.outcome == "success":
            row = replace(row, target="notify_warehouse")
        rows.append(row)
        if row.step == "charge_card" and row.on == TIMEOUT:
            rows += [
                Transition(
                    R, "notify_warehouse", WarehouseNotified.TYPE, "success", "confirm_order"
                ),
                Transition(R, "notify_warehouse", TIMEOUT, "timeout", RETRY, exhausted=STUCK),
            ]
    return tuple(rows)


FORWARD_SAGA = replace(
    ORDER_SAGA,
    name="ForwardOrderSaga",
    steps=(RESERVE_STOCK, BOOK_DELIVERY_SLOT, CHARGE_CARD, NOTIFY_WAREHOUSE, CONFIRM_ORDER),
    transitions=_forward_transitions(),
)

# The reply types of each step, by outcome, for tests that play participants.
SUCCESS: dict[str, type[_Shop]] = {
    "reserve_stock": StockReserved,
    "book_delivery_slot": DeliverySlotBooked,
    "charge_card": CardCharged,
    "notify_warehouse": WarehouseNotified,
}
FAILURE: dict[str, type[_Shop]] = {
    "reserve_stock": StockReservationFailed,
    "book_delivery_slot": DeliverySlotBookingFailed,
    "charge_card": CardDeclined,
}
COMPENSATED: dict[str, type[_Shop]] = {
    "reserve_stock": StockReleased,
    "book_delivery_slot": DeliverySlotReleased,
}


def reply_of(kind: type[_Shop], order_id: UUID, n: int = 0) -> _Shop:
    """A reply of `kind` for the order, its ids derived from `n` (deterministic)."""
    fields: dict[str, object] = {"order_id": order_id}
    for name in kind.model_fields:
        if name.endswith("_id") and name != "order_id":
            fields[name] = UUID(int=n + 1)
        elif name == "reason":
            fields[name] = f"refused {n}"
    return kind.model_validate(fields)
