"""The provider port: what the payment service asks of any payment provider (a redirect to pay,
checking a signed callback, asking for a payment's status, refunding). One adapter per provider."""

from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import datetime
from typing import Literal

from pydantic import BaseModel


class Checkout(BaseModel):
    """Everything a provider needs to take one payment."""

    payment_id: str  # our reference, echoed back by the provider (VNPay: vnp_TxnRef)
    amount: int  # VND
    description: str  # ASCII-safe order info
    return_url: str  # where the citizen's browser comes back (display only)
    client_ip: str
    created_at: datetime
    expires_at: datetime


class CallbackVerdict(BaseModel):
    """A callback (server-to-server notification or browser return) as checked by the adapter."""

    signature_ok: bool
    payment_id: str | None = None
    amount: int | None = None  # VND, as the provider says it was paid
    succeeded: bool = False  # the provider's own success rule (VNPay: response 00 and status 00)
    provider_transaction: str | None = None
    code: str | None = None  # the provider's result code, for the record
    suspicious: bool = False  # the provider flags the payment for review (VNPay: response code 07)


PaymentStatus = Literal["succeeded", "failed", "pending", "not_found"]


class StatusAnswer(BaseModel):
    status: PaymentStatus
    amount: int | None = None
    provider_transaction: str | None = None
    code: str | None = None
    suspicious: bool = False


class RefundAnswer(BaseModel):
    accepted: bool
    provider_reference: str | None = None
    code: str | None = None
    message: str = ""


class ProviderUnavailable(Exception):
    """The provider could not be reached or answered garbage; the caller retries later."""


class RefundOutcomeUnknown(ProviderUnavailable):
    """The refund request may have reached the provider but no trustworthy answer came back: never send
    it again blindly (check with the provider first). Any provider's refund may end this way."""


class PaymentProvider(ABC):
    name: str

    @abstractmethod
    def checkout_url(self, checkout: Checkout) -> str:
        """The signed URL the citizen's browser is sent to."""

    @abstractmethod
    def verify_callback(self, params: Mapping[str, str]) -> CallbackVerdict:
        """Check a callback's signature and read it. Never raises for bad input: signature_ok=False."""

    @abstractmethod
    async def query(self, *, payment_id: str, created_at: datetime) -> StatusAnswer:
        """Ask the provider what became of a payment (reconciliation). ProviderUnavailable on failure."""

    @abstractmethod
    async def refund(self, *, payment_id: str, amount: int, full: bool, provider_transaction: str | None,
                     paid_at: datetime, actor: str) -> RefundAnswer:
        """Give back `amount` VND of a settled payment. ProviderUnavailable on failure."""
