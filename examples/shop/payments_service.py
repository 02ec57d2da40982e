"""Payments' handlers: charges and refunds against a fake card gateway, and the refund reaction.

    python -m eventgen.runtime run payments_service:payment_command_handler
    python -m eventgen.runtime run payments_service:refund_orders

The fake gateway is deterministic, so the demo and the tests can steer it:

- an amount whose cents are `.13` is declined (`INSUFFICIENT_FUNDS`), one above 5000.00 too
  (`LIMIT_EXCEEDED`);
- the statement descriptor `GATEWAY DOWN`, or an amount whose cents are `.66` (PlaceOrderSaga
  sends no descriptor), makes the gateway raise `GatewayUnavailable`: the
  command is retried (the spec's 3 attempts), then dead-lettered, and because the consumer has
  `on_failure: park-key` every later command of that order (a refund, say) follows it to the
  DLQ until it is replayed (`eventgen dlq replay`);
- anything else is charged.

A charge is recorded in shop_payments in the inbox row's transaction (`ctx.db`, PostgreSQL);
a command seen again with a new event id (the saga retrying) gets the recorded outcome back, as
a PSP's idempotency key would, so nobody is charged twice.

The spec gives payments a Debezium outbox (`outbox: {relay: debezium}`): a service that wants
its events to commit with the charge writes `outbox.add(ctx.db, event)` instead of
`ctx.publish(event)` and runs Kafka Connect with generated/connect/payments-outbox.json. This
example replies with `ctx.publish` so it runs on a broker and a database alone.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from shop_events.orders import Money, OrderCancelled
from shop_events.payments import (
    CardCharged,
    CardDeclined,
    CardToken,
    ChargeCard,
    DeclineCode,
    PaymentMethod,
    PaymentRefunded,
    RefundFailed,
    RefundPayment,
)
from shop_events.payments_app import (
    PaymentCommandHandlerContext,
    RefundOrdersContext,
    payment_command_handler,
    refund_orders,
)
from shop_events.payments_reactions import refund_payment_on_shipment_failed
from shop_events.shipping import ShipmentFailed

from eventgen.runtime.app.context import Context

__all__ = [
    "GatewayUnavailable",
    "charge",
    "gateway_charge",
    "payment_command_handler",
    "refund",
    "refund_orders",
]

log = logging.getLogger("shop.payments")

DOWN_DESCRIPTOR = "GATEWAY DOWN"
DOWN_CENTS = Decimal("0.66")  # the saga sends no descriptor: an amount ending in .66 also fails
LIMIT = Decimal("5000.00")


class GatewayUnavailable(ConnectionError):
    """The PSP did not answer: a transient failure, retried by the consumer."""


@dataclass(frozen=True)
class Decline:
    code: DeclineCode
    reason: str


def gateway_charge(customer_id: UUID, amount: Money, descriptor: str) -> Decline | None:
    """The fake PSP: None when charged, else why not."""
    if descriptor == DOWN_DESCRIPTOR or amount.amount % 1 == DOWN_CENTS:
        raise GatewayUnavailable("card gateway did not answer")
    if amount.amount % 1 == Decimal("0.13"):
        return Decline(DeclineCode.INSUFFICIENT_FUNDS, "insufficient funds")
    if amount.amount > LIMIT:
        return Decline(DeclineCode.LIMIT_EXCEEDED, f"amount above the card limit of {LIMIT}")
    return None


def stored_card(customer_id: UUID) -> CardToken:
    """The customer's stored card as the PSP tokenised it (derived, so it is stable)."""
    digest = hashlib.sha256(customer_id.bytes).digest()
    return CardToken(
        token="tok_" + digest.hex()[:28],
        brand="visa",
        last4=f"{int.from_bytes(digest[:2], 'big') % 10000:04d}",
        expiry_month=1 + digest[2] % 12,
        expiry_year=2030,
        fingerprint=digest,
    )


def cardholder(customer_id: UUID) -> str:
    return f"Customer {str(customer_id)[:8]}"


# -- charges and refunds, on an open psycopg connection ----------------------------------------


def charge(conn: Any, command: ChargeCard) -> CardCharged | CardDeclined:
    row = conn.execute(
        "SELECT payment_id, customer_id, amount, currency, status, decline_code, reason,"
        " cardholder, charged_at FROM shop_payments WHERE order_id = %s FOR UPDATE",
        (command.order_id,),
    ).fetchone()
    if row is not None:  # charged (or declined) before: the same answer, no second charge
        return _outcome(command.order_id, row)
    decline = gateway_charge(command.customer_id, command.amount, command.statement_descriptor)
    now = datetime.now(UTC)
    conn.execute(
        "INSERT INTO shop_payments (order_id, payment_id, customer_id, amount, currency, status,"
        " decline_code, reason, cardholder, charged_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            command.order_id,
            uuid4(),
            command.customer_id,
            command.amount.amount,
            command.amount.currency,
            "captured" if decline is None else "declined",
            None if decline is None else decline.code.value,
            None if decline is None else decline.reason,
            cardholder(command.customer_id),
            now,
        ),
    )
    row = conn.execute(
        "SELECT payment_id, customer_id, amount, currency, status, decline_code, reason,"
        " cardholder, charged_at FROM shop_payments WHERE order_id = %s",
        (command.order_id,),
    ).fetchone()
    return _outcome(command.order_id, row)


def _outcome(order_id: UUID, row: Any) -> CardCharged | CardDeclined:
    payment_id, customer_id, amount, currency, status, code, reason, holder, at = row
    if status == "declined":
        return CardDeclined(
            order_id=order_id,
            payment_id=payment_id,
            decline_code=DeclineCode(code),
            reason=reason,
            declined_at=at,
        )
    return CardCharged(
        payment_id=payment_id,
        order_id=order_id,
        amount=Money(amount=amount, currency=currency),
        method=PaymentMethod.CARD,
        cardholder_name=holder,
        card=stored_card(customer_id),
        charged_at=at,
    )


def refund(conn: Any, command: RefundPayment) -> PaymentRefunded | RefundFailed:
    row = conn.execute(
        "SELECT payment_id, amount, currency, status, refunded_at FROM shop_payments"
        " WHERE order_id = %s FOR UPDATE",
        (command.order_id,),
    ).fetchone()
    now = datetime.now(UTC)
    if row is None:
        return RefundFailed(
            order_id=command.order_id, reason="no payment for this order", failed_at=now
        )
    payment_id, amount, currency, status, refunded_at = row
    if status == "declined":
        return RefundFailed(
            order_id=command.order_id,
            payment_id=payment_id,
            reason="the charge was declined: nothing to refund",
            failed_at=now,
        )
    if status == "captured":
        conn.execute(
            "UPDATE shop_payments SET status = 'refunded', refunded_at = %s WHERE order_id = %s",
            (now, command.order_id),
        )
        refunded_at = now
    return PaymentRefunded(
        order_id=command.order_id,
        payment_id=payment_id,
        amount=Money(amount=amount, currency=currency),
        refunded_at=refunded_at,
    )


# -- payment-command-handler ------------------------------------------------------------------


@payment_command_handler.on(ChargeCard)
def on_charge_card(command: ChargeCard, ctx: PaymentCommandHandlerContext) -> None:
    reply = charge(ctx.db, command)
    log.info("order %s: %s", command.order_id, type(reply).__name__)
    ctx.publish(reply)


@payment_command_handler.on(RefundPayment)
def on_refund_payment(command: RefundPayment, ctx: PaymentCommandHandlerContext) -> None:
    ctx.publish(refund(ctx.db, command))


# -- refund-orders: the payments reaction of the OrderFulfilment choreography -----------------


def _captured(conn: Any, order_id: UUID) -> bool:
    row = conn.execute(
        "SELECT 1 FROM shop_payments WHERE order_id = %s AND status = 'captured'", (order_id,)
    ).fetchone()
    return row is not None


@refund_orders.on(OrderCancelled)
def on_order_cancelled(event: OrderCancelled, ctx: RefundOrdersContext) -> None:
    if _captured(ctx.db, event.order_id):  # a cancelled order never charged needs no refund
        reason = f"order cancelled: {event.reason}"[:500]
        ctx.publish(RefundPayment(order_id=event.order_id, reason=reason))


@refund_payment_on_shipment_failed.handler
def on_shipment_failed(event: ShipmentFailed, ctx: Context[Any]) -> RefundPayment | None:
    """OrderFulfilment's reaction (shop_events.payments_reactions), run in refund-orders: the
    Reaction publishes the RefundPayment with the flow's correlation id; None: nothing to do."""
    if not _captured(ctx.db, event.order_id):
        return None
    return RefundPayment(order_id=event.order_id, reason=f"shipment failed: {event.reason}"[:500])
