"""A generic HTTP SMS gateway: `POST {base_url}/v1/sms` with JSON `{to, text, client_ref}` and a bearer key.

2xx: accepted (`{"id": …}` is the provider's id). 401/403, 429 and 5xx: temporary (the provider's trouble,
not the message's: retry, or fail over). Other 4xx: the message is refused for good."""

import logging

import httpx

from notification.sms.base import (DeliveryReport, ProviderError, SendResult, SmsProvider, mask_phone,
                                   normalize_phone, parse_delivery_report, signature_matches)
from notification.sms.settings import SmsSettings
from notification.sms.text import segments

log = logging.getLogger("notification.sms")

_PROVIDER_TROUBLE = {401, 403, 408, 429}


class HttpSmsGateway(SmsProvider):
    def __init__(self, *, name: str, base_url: str, api_key: str, callback_secret: str,
                 connect_timeout: float = 1.0, timeout: float = 3.0, max_parts: int = 5):
        self.name = name
        self._callback_secret = callback_secret
        self._max_parts = max_parts
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers={"Authorization": f"Bearer {api_key}"},
            timeout=httpx.Timeout(timeout, connect=connect_timeout))

    @classmethod
    def from_settings(cls, settings: SmsSettings) -> list["HttpSmsGateway"]:
        """The configured gateways, primary first."""
        gateways = [cls(name=settings.primary_name, base_url=settings.primary_url,
                        api_key=settings.primary_api_key.get_secret_value(),
                        callback_secret=settings.primary_callback_secret.get_secret_value(),
                        connect_timeout=settings.connect_timeout_seconds, timeout=settings.timeout_seconds,
                        max_parts=settings.max_parts)]
        if settings.secondary_url:
            gateways.append(cls(name=settings.secondary_name, base_url=settings.secondary_url,
                                api_key=settings.secondary_api_key.get_secret_value(),
                                callback_secret=settings.secondary_callback_secret.get_secret_value(),
                                connect_timeout=settings.connect_timeout_seconds, timeout=settings.timeout_seconds,
                                max_parts=settings.max_parts))
        return gateways

    async def send(self, to: str, text: str, message_id: str) -> SendResult:
        number = normalize_phone(to)
        encoding, parts = segments(text)
        if not text or parts > self._max_parts:
            return SendResult(accepted=False, error=f"text must be 1 to {self._max_parts} SMS parts "
                                                    f"({encoding}, {parts} parts)")
        try:
            response = await self._client.post("/v1/sms", json={"to": number, "text": text, "client_ref": message_id})
        except httpx.HTTPError as exc:
            # A read timeout may mean the gateway took it; a retry carries the same client_ref.
            raise ProviderError(f"{self.name}: {type(exc).__name__}") from exc
        if response.is_success:
            try:
                provider_id = str(response.json()["id"])
            except (ValueError, KeyError, TypeError) as exc:
                raise ProviderError(f"{self.name}: accepted without an id") from exc
            log.info("sms accepted", extra={"provider": self.name, "message_id": message_id,
                                            "to": mask_phone(number), "encoding": encoding, "parts": parts})
            return SendResult(accepted=True, provider_id=provider_id)
        temporary = response.status_code in _PROVIDER_TROUBLE or response.status_code >= 500
        error = f"HTTP {response.status_code}: {_error_of(response)}"
        log.warning("sms not accepted", extra={"provider": self.name, "message_id": message_id,
                                               "to": mask_phone(number), "status": response.status_code,
                                               "temporary": temporary})
        return SendResult(accepted=False, temporary=temporary, error=error)

    def verify_callback(self, body: bytes, signature_header: str | None) -> DeliveryReport | None:
        if not signature_matches(body, signature_header, self._callback_secret):
            return None
        return parse_delivery_report(body)

    async def aclose(self) -> None:
        await self._client.aclose()


def _error_of(response: httpx.Response) -> str:
    """The gateway's short error code or message, never the request echoed back."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    return str(error)[:200] if error else response.reason_phrase
