"""Shipping's handlers: delivery slots and shipments in SQLite, carrier tracking, pushes.

    python -m eventgen.runtime run shipping_service:shipping_command_handler
    python -m eventgen.runtime run shipping_service:ship_confirmed_orders
    python -m eventgen.runtime run shipping_service:carrier_webhook_normaliser
    python -m eventgen.runtime run shipping_service:tracking_push_notifications

shipping-command-handler uses the `sqlite` idempotency store: `ctx.db` is the sqlite3
connection of the inbox row's transaction (the file `EVENTGEN_SQLITE_PATH`), and shop_slots and
shop_shipments live in the same file. Rules of the fake logistics:

- we deliver to DE, AT, NL, FR and GB only (anything else: DeliverySlotBookingFailed);
- slots are two-hour windows from 08:00 to 20:00, Monday to Saturday, at most
  `SLOT_CAPACITY` orders per window; the earliest free one on or after the preferred date
  (and never before tomorrow) is booked;
- ShipOrder needs a booked slot (else ShipmentFailed); the carrier is the slot's.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import zlib
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID, uuid4

from shop_events.orders import Address, OrderConfirmed
from shop_events.shipping import (
    BookDeliverySlot,
    Carrier,
    DeliverySlot,
    DeliverySlotBooked,
    DeliverySlotBookingFailed,
    DeliverySlotReleased,
    Parcel,
    ReleaseDeliverySlot,
    ShipmentDispatched,
    ShipmentFailed,
    ShipmentTrackingUpdated,
    ShipOrder,
    TrackingStatus,
)
from shop_events.shipping_app import (
    CarrierWebhookNormaliserBatch,
    ShippingCommandHandlerContext,
    TrackingPushNotificationsContext,
    carrier_webhook_normaliser,
    ship_confirmed_orders,
    shipping_command_handler,
    tracking_push_notifications,
)
from shop_events.shipping_reactions import ship_order_on_order_confirmed

from eventgen.runtime.app.context import Context

__all__ = [
    "book_slot",
    "carrier_webhook_normaliser",
    "release_slot",
    "ship",
    "ship_confirmed_orders",
    "shipping_command_handler",
    "tracking_push_notifications",
]

log = logging.getLogger("shop.shipping")

CARRIERS = {"DE": Carrier.DHL, "AT": Carrier.DPD, "NL": Carrier.GLS, "FR": Carrier.DPD}
CARRIERS["GB"] = Carrier.UPS
SLOT_CAPACITY = 3
WINDOWS = [(time(h), time(h + 2)) for h in range(8, 20, 2)]
PARCEL_GRAMS = 1000  # the fake warehouse packs every order into one 1 kg parcel


def book_slot(
    conn: sqlite3.Connection, order_id: UUID, address: Address, preferred: date | None
) -> DeliverySlotBooked | DeliverySlotBookingFailed:
    held = conn.execute(
        "SELECT slot_id, day, starts_at, ends_at, carrier FROM shop_slots"
        " WHERE order_id = ? AND status = 'held'",
        (str(order_id),),
    ).fetchone()
    if held is not None:  # the same command again: the slot it booked
        return _booked(order_id, held)
    carrier = CARRIERS.get(address.country)
    if carrier is None:
        reason = f"we do not deliver to {address.country}"
        return DeliverySlotBookingFailed(order_id=order_id, reason=reason)
    day = max(preferred or date.min, datetime.now(UTC).date() + timedelta(days=1))
    for _ in range(60):  # two months ahead at most
        if day.weekday() != 6:
            taken = Counter(
                starts
                for (starts,) in conn.execute(
                    "SELECT starts_at FROM shop_slots WHERE day = ? AND status != 'released'",
                    (day.isoformat(),),
                )
            )
            for starts, ends in WINDOWS:
                if taken[starts.isoformat()] < SLOT_CAPACITY:
                    row = (str(uuid4()), day.isoformat(), starts.isoformat(), ends.isoformat())
                    conn.execute(
                        "INSERT OR REPLACE INTO shop_slots VALUES (?, ?, ?, ?, ?, ?, 'held')",
                        (str(order_id), *row, carrier.value),
                    )
                    return _booked(order_id, (*row, carrier.value))
        day += timedelta(days=1)
    return DeliverySlotBookingFailed(order_id=order_id, reason="no free slot in the next 60 days")


def _booked(order_id: UUID, row: Any) -> DeliverySlotBooked:
    slot_id, day, starts, ends, carrier = row
    slot = DeliverySlot(
        slot_id=UUID(slot_id),
        day=date.fromisoformat(day),
        starts_at=time.fromisoformat(starts),
        ends_at=time.fromisoformat(ends),
    )
    return DeliverySlotBooked(order_id=order_id, slot=slot, carrier=Carrier(carrier))


def release_slot(
    conn: sqlite3.Connection, order_id: UUID, slot_id: UUID | None
) -> DeliverySlotReleased:
    row = conn.execute(
        "SELECT slot_id FROM shop_slots WHERE order_id = ? AND status = 'held'", (str(order_id),)
    ).fetchone()
    if row is not None and (slot_id is None or row[0] == str(slot_id)):
        conn.execute(
            "UPDATE shop_slots SET status = 'released' WHERE order_id = ?", (str(order_id),)
        )
        slot_id = UUID(row[0])
    return DeliverySlotReleased(order_id=order_id, slot_id=slot_id)


def ship(conn: sqlite3.Connection, order_id: UUID) -> ShipmentDispatched | ShipmentFailed:
    done = conn.execute(
        "SELECT shipment_id, carrier, tracking_number, weight_grams, dispatched_at"
        " FROM shop_shipments WHERE order_id = ?",
        (str(order_id),),
    ).fetchone()
    if done is None:
        slot = conn.execute(
            "SELECT carrier FROM shop_slots WHERE order_id = ? AND status = 'held'",
            (str(order_id),),
        ).fetchone()
        if slot is None:
            return ShipmentFailed(
                order_id=order_id, reason="no delivery slot booked", failed_at=datetime.now(UTC)
            )
        shipment_id = uuid4()
        tracking = f"{slot[0]}{zlib.crc32(shipment_id.bytes):010d}{shipment_id.hex[:6].upper()}"
        done = (str(shipment_id), slot[0], tracking, PARCEL_GRAMS, datetime.now(UTC).isoformat())
        conn.execute("INSERT INTO shop_shipments VALUES (?, ?, ?, ?, ?, ?)", (str(order_id), *done))
        conn.execute(
            "UPDATE shop_slots SET status = 'shipped' WHERE order_id = ?", (str(order_id),)
        )
    shipment_id_text, carrier, tracking, grams, dispatched_at = done
    return ShipmentDispatched(
        shipment_id=UUID(shipment_id_text),
        order_id=order_id,
        carrier=Carrier(carrier),
        tracking_number=tracking,
        weight_grams=grams,
        parcels=(Parcel(weight_grams=grams, length_cm=30.0, width_cm=20.0, height_cm=10.0),),
        dispatched_at=datetime.fromisoformat(dispatched_at),
    )


# -- shipping-command-handler -----------------------------------------------------------------


@shipping_command_handler.on(BookDeliverySlot)
def on_book_delivery_slot(command: BookDeliverySlot, ctx: ShippingCommandHandlerContext) -> None:
    reply = book_slot(ctx.db, command.order_id, command.address, command.preferred_date)
    log.info("order %s: %s", command.order_id, type(reply).__name__)
    ctx.publish(reply)


@shipping_command_handler.on(ReleaseDeliverySlot)
def on_release_delivery_slot(
    command: ReleaseDeliverySlot, ctx: ShippingCommandHandlerContext
) -> None:
    ctx.publish(release_slot(ctx.db, command.order_id, command.slot_id))


@shipping_command_handler.on(ShipOrder)
def on_ship_order(command: ShipOrder, ctx: ShippingCommandHandlerContext) -> None:
    reply = ship(ctx.db, command.order_id)
    log.info("order %s: %s", command.order_id, type(reply).__name__)
    ctx.publish(reply)


# -- ship-confirmed-orders: the OrderFulfilment choreography starts here ----------------------


@ship_order_on_order_confirmed.handler
def on_order_confirmed(event: OrderConfirmed, ctx: Context[Any]) -> ShipOrder | None:
    """The generated Reaction runs this in ship-confirmed-orders and publishes the ShipOrder
    with the flow's correlation id (the order id); shipping-command-handler then ships it."""
    return ShipOrder(order_id=event.order_id)


# -- carrier-webhook-normaliser: exactly-once, batch, no store --------------------------------

STATUS_CODES = {
    "label": TrackingStatus.LABEL_CREATED,
    "transit": TrackingStatus.IN_TRANSIT,
    "out_for_delivery": TrackingStatus.OUT_FOR_DELIVERY,
    "delivered": TrackingStatus.DELIVERED,
    "exception": TrackingStatus.EXCEPTION,
}


@carrier_webhook_normaliser.on_batch
def normalise(items: CarrierWebhookNormaliserBatch) -> None:
    """Map each callback's tracking number to its shipment and publish the tracking state.

    The shipments are read from the shipping SQLite file (`EVENTGEN_SQLITE_PATH`, the one the
    command handler writes), so this app runs beside it. A callback for a tracking number we
    never issued is logged and dropped: it is the carrier's noise, not a failure to retry.
    """
    path = os.environ.get("EVENTGEN_SQLITE_PATH") or "eventgen.sqlite3"
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        for message, ctx in items:
            row = conn.execute(
                "SELECT shipment_id, order_id FROM shop_shipments WHERE tracking_number = ?",
                (message.tracking_number,),
            ).fetchone()
            if row is None:
                log.warning("unknown tracking number %s: dropped", message.tracking_number)
                continue
            status = STATUS_CODES.get(message.status_code.lower(), TrackingStatus.UNKNOWN)
            ctx.publish(
                ShipmentTrackingUpdated(
                    shipment_id=UUID(row[0]),
                    order_id=UUID(row[1]),
                    status=status,
                    observed_at=message.received_at,
                )
            )
    finally:
        conn.close()


# -- tracking-push-notifications: at-most-once ------------------------------------------------

PUSHED: list[tuple[UUID, TrackingStatus]] = []  # what a push gateway would have been sent


@tracking_push_notifications.on(ShipmentTrackingUpdated)
def push(event: ShipmentTrackingUpdated, ctx: TrackingPushNotificationsContext) -> None:
    PUSHED.append((event.order_id, event.status))
    log.info("push to the customer of order %s: parcel %s", event.order_id, event.status.value)
