"""A fake VNPay (protocol 2.1.0) that really serves HTTP: the payment page, IPN delivery to the merchant,
the browser return, and the querydr/refund API. `python -m payment.sandbox`, or `create_app(settings)` to
mount it in-process (embedded mode)."""

from payment.sandbox.app import create_app
from payment.sandbox.gateway import Gateway, Merchant

__all__ = ["Gateway", "Merchant", "create_app"]
