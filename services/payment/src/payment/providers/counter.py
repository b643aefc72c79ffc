"""Cash at the counter: the cashier takes the money and settles the payment on the spot, and hands cash back
for a refund. No redirect and no callback; a counter payment that a crash left open is not known to any
outside party, so reconciliation finds it "not found" and lets it expire (the cashier takes it again)."""

from collections.abc import Mapping
from datetime import datetime

from payment.providers.base import CallbackVerdict, Checkout, PaymentProvider, RefundAnswer, StatusAnswer


class CounterProvider(PaymentProvider):
    name = "counter"

    def checkout_url(self, checkout: Checkout) -> str:
        raise ValueError("cash is taken at the counter: there is nowhere to send the citizen")

    def verify_callback(self, params: Mapping[str, str]) -> CallbackVerdict:
        return CallbackVerdict(signature_ok=False)  # nobody calls back for cash

    async def query(self, *, payment_id: str, created_at: datetime) -> StatusAnswer:
        return StatusAnswer(status="not_found")

    async def refund(self, *, payment_id: str, amount: int, full: bool, provider_transaction: str | None,
                     paid_at: datetime, actor: str) -> RefundAnswer:
        # The cashier hands the cash back as the refund is recorded.
        return RefundAnswer(accepted=True, provider_reference=f"CASH-{payment_id}", code="00",
                            message="Hoàn tiền mặt tại quầy / Cash refunded at the counter")
