"""The SMS provider port: send one message, verify a delivery callback; phone numbers in E.164."""

import abc
import hashlib
import hmac
import json
import re
from dataclasses import dataclass


class ProviderError(Exception):
    """The provider could not be reached or answered nonsense (network, timeout): always temporary."""


class InvalidPhoneNumber(ValueError):
    """Not a Vietnamese mobile number; no provider is asked."""


@dataclass(frozen=True)
class SendResult:
    accepted: bool
    provider_id: str | None = None
    # Not accepted, but may succeed later or through another provider (429, 5xx, the provider's own faults).
    temporary: bool = False
    error: str | None = None


@dataclass(frozen=True)
class DeliveryReport:
    provider_id: str
    message_id: str  # our client_ref
    status: str  # "delivered" | "failed" | "expired" | …, as the provider says
    error: str | None = None


_SEPARATORS = re.compile(r"[\s.\-()]")
# Vietnamese mobile numbers: +84 then 9 digits beginning 3, 5, 7, 8 or 9 (landlines, 2x, take no SMS).
_MOBILE = re.compile(r"\+84[35789]\d{8}")


def mask_phone(number: str) -> str:
    """For logs and errors: the last 3 digits only."""
    digits = re.sub(r"\D", "", number)
    return f"…{digits[-3:]}" if len(digits) > 3 else "…"


def normalize_phone(raw: str) -> str:
    """`0912 345 678`, `84912345678`, `+84 912-345-678` → `+84912345678`."""
    number = _SEPARATORS.sub("", raw or "")
    if number.startswith("00"):
        number = "+" + number[2:]
    elif number.startswith("0"):
        number = "+84" + number[1:]
    elif number.startswith("84"):
        number = "+" + number
    if not _MOBILE.fullmatch(number):
        raise InvalidPhoneNumber(f"not a Vietnamese mobile number ({mask_phone(raw or '')}): "
                                 "expected 10 digits starting 03, 05, 07, 08 or 09, or +84 and 9 digits")
    return number


def sign(body: bytes, secret: str) -> str:
    """The `X-Signature` of a callback: hex HMAC-SHA256 of the raw body."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(body: bytes, signature_header: str | None, secret: str) -> bool:
    if not signature_header or not secret:
        return False
    given = signature_header.strip().removeprefix("sha256=").lower().encode("ascii", "replace")
    return hmac.compare_digest(given, sign(body, secret).encode())


def parse_delivery_report(body: bytes) -> DeliveryReport | None:
    """The gateway's report body `{provider_id, client_ref, status, error?}`; None when it is not one."""
    try:
        data = json.loads(body)
        report = DeliveryReport(provider_id=str(data["provider_id"]), message_id=str(data["client_ref"]),
                                status=str(data["status"]), error=data.get("error"))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return report


class SmsProvider(abc.ABC):
    """One SMS provider. `name` tells the providers apart in logs, results and the circuit breaker."""

    name: str

    @abc.abstractmethod
    async def send(self, to: str, text: str, message_id: str) -> SendResult:
        """Send `text` to `to` (any form `normalize_phone` takes), `message_id` as the client reference.
        Raises InvalidPhoneNumber before calling the provider, ProviderError when it cannot be reached."""

    @abc.abstractmethod
    def verify_callback(self, body: bytes, signature_header: str | None) -> DeliveryReport | None:
        """The delivery report in a callback's raw body, or None when its signature does not verify."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        pass
