"""Events of online fee payment. A dossier waiting on fees moves on when `payment.succeeded` names its
fee item."""

from datetime import datetime

from contracts.base import EventData, contract

TOPIC = "payment.events"


class PaymentChange(EventData):
    payment_id: str
    dossier_code: str
    item_id: str  # the fee item paid for: "<dossier code>/<item>" (see the payment service)
    amount: int  # VND, the intent's amount
    method: str  # "vnpay", "counter" …
    occurred_at: datetime


@contract("vn.motcua.payment.succeeded.v1", TOPIC, "A fee item was paid (settled once, whatever the callbacks).")
class PaymentSucceeded(PaymentChange):
    provider_transaction: str | None = None
    paid_at: datetime


@contract("vn.motcua.payment.failed.v1", TOPIC, "A payment attempt failed, was cancelled or expired.")
class PaymentFailed(PaymentChange):
    status: str  # failed / cancelled / expired
    reason: str = ""


@contract("vn.motcua.payment.refunded.v1", TOPIC, "Money went back to the payer (part or all of a payment).")
class PaymentRefunded(PaymentChange):
    refunded: int  # this refund, VND
    refunded_total: int  # all refunds of the payment so far
    full: bool


@contract("vn.motcua.payment.unsettled.v1", TOPIC,
          "A payment is still not settled 30 minutes after it started: someone must look (alert).")
class PaymentUnsettled(PaymentChange):
    started_at: datetime
