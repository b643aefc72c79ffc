"""VNPay payment gateway, protocol version 2.1.0 (https://sandbox.vnpayment.vn/apis/docs/).

- Pay: the browser is sent to `vnpay_pay_url` with `vnp_*` parameters sorted by name, URL-encoded the way
  VNPay's own demo code does (space as `+`), joined by `&` and signed with HMAC-SHA512 of the hash secret
  (`vnp_SecureHash`, hex). The IPN (server to server) and the browser return carry the result the same way.
- querydr and refund: JSON POSTed to `vnpay_api_url`, signed over the values joined by `|` in VNPay's
  documented order; VNPay's answers are signed the same way and are checked here.

Retries: querydr is read-only, so it is retried (a new vnp_RequestId each time: VNPay answers 94 to a
repeated one). A refund is not idempotent for us: VNPay refuses a repeated vnp_RequestId (94) without saying
what became of the first, so a refund is sent again only when the connection was never made. When a refund
may have reached VNPay and no answer came back, `RefundOutcomeUnknown` says so: look (querydr, the merchant
portal) before refunding again.

Never logged: the hash secret, signatures, URLs carrying them, the citizen's IP, the officer's name."""

import asyncio
import hashlib
import hmac
import logging
import re
import unicodedata
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote_plus
from zoneinfo import ZoneInfo

import httpx

from payment.provider_settings import VnpaySettings
from payment.providers.base import (
    CallbackVerdict,
    Checkout,
    PaymentProvider,
    ProviderUnavailable,
    RefundAnswer,
    RefundOutcomeUnknown,
    StatusAnswer,
)

log = logging.getLogger("motcua.payment.vnpay")

VERSION = "2.1.0"
VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DATE_FORMAT = "%Y%m%d%H%M%S"
HASH_FIELDS_EXCLUDED = frozenset({"vnp_SecureHash", "vnp_SecureHashType"})

# Field orders of the `|`-joined signatures (VNPay API docs, "querydr, refund").
QUERYDR_REQUEST_FIELDS = ("vnp_RequestId", "vnp_Version", "vnp_Command", "vnp_TmnCode", "vnp_TxnRef",
                          "vnp_TransactionDate", "vnp_CreateDate", "vnp_IpAddr", "vnp_OrderInfo")
QUERYDR_RESPONSE_FIELDS = ("vnp_ResponseId", "vnp_Command", "vnp_ResponseCode", "vnp_Message", "vnp_TmnCode",
                           "vnp_TxnRef", "vnp_Amount", "vnp_BankCode", "vnp_PayDate", "vnp_TransactionNo",
                           "vnp_TransactionType", "vnp_TransactionStatus", "vnp_OrderInfo", "vnp_PromotionCode",
                           "vnp_PromotionAmount")
REFUND_REQUEST_FIELDS = ("vnp_RequestId", "vnp_Version", "vnp_Command", "vnp_TmnCode", "vnp_TransactionType",
                         "vnp_TxnRef", "vnp_Amount", "vnp_TransactionNo", "vnp_TransactionDate", "vnp_CreateBy",
                         "vnp_CreateDate", "vnp_IpAddr", "vnp_OrderInfo")
REFUND_RESPONSE_FIELDS = ("vnp_ResponseId", "vnp_Command", "vnp_ResponseCode", "vnp_Message", "vnp_TmnCode",
                          "vnp_TxnRef", "vnp_Amount", "vnp_BankCode", "vnp_PayDate", "vnp_TransactionNo",
                          "vnp_TransactionType", "vnp_TransactionStatus", "vnp_OrderInfo")

SUSPICIOUS = "07"  # response code: money taken, the transaction is suspected of fraud; the merchant decides
NOT_FOUND = "91"

REFUND_MESSAGES = {
    "00": "Yêu cầu hoàn tiền thành công / Refund accepted",
    "02": "Tổng số tiền hoàn trả lớn hơn số tiền gốc / Refunds would exceed the amount paid",
    "03": "Dữ liệu gửi sang không đúng định dạng / Malformed request",
    "04": "Không cho phép hoàn trả toàn phần sau khi hoàn trả một phần / "
          "No full refund after a partial one: refund the rest as a partial refund",
    "13": "Chỉ cho phép hoàn trả một phần / Only partial refunds are allowed",
    "91": "Không tìm thấy giao dịch yêu cầu hoàn trả / Transaction not found",
    "93": "Số tiền hoàn trả không hợp lệ / Invalid refund amount",
    "94": "Yêu cầu trùng lặp, VNPAY đang xử lý / Duplicate request: VNPay is already processing a refund",
    "95": "Giao dịch không thành công bên VNPAY, VNPAY từ chối / The payment did not succeed at VNPay",
    "97": "Chữ ký không hợp lệ / Invalid signature (check the hash secret)",
    "99": "Lỗi khác / Other error",
}


# ---------------------------------------------------------------------------------------------- signing


def hmac_sha512(secret: str, data: str) -> str:
    return hmac.new(secret.encode("utf-8"), data.encode("utf-8"), hashlib.sha512).hexdigest()


def payment_hash_data(params: Mapping[str, str], *, keep_empty: bool = False) -> str:
    """The string VNPay signs for pay URLs, IPNs and returns: every non-empty `vnp_*` parameter but the hash
    itself, sorted by name, `quote_plus(name)=quote_plus(value)`, joined by `&`. (VNPay's Java and .NET
    code leave empty values out, its PHP demo keeps them: `keep_empty` gives the latter.)"""
    items = sorted((k, v) for k, v in params.items()
                   if k.startswith("vnp_") and k not in HASH_FIELDS_EXCLUDED and (keep_empty or v != ""))
    return "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in items)


def pipe_hash_data(values: Mapping[str, Any], fields: tuple[str, ...]) -> str:
    """The string signed in querydr/refund requests and answers: the values in the given order, joined by
    `|`, a missing one as the empty string."""
    return "|".join("" if values.get(f) is None else str(values.get(f)) for f in fields)


def signature_matches(expected: str, given: object) -> bool:
    """Constant-time comparison of hex digests, case-insensitive (VNPay's demos compare ignoring case)."""
    if not isinstance(given, str) or not given.isascii():
        return False
    return hmac.compare_digest(expected.lower().encode(), given.strip().lower().encode())


# ---------------------------------------------------------------------------------------------- helpers


def vnpay_time(moment: datetime) -> str:
    """yyyyMMddHHmmss in Asia/Ho_Chi_Minh (a naive datetime is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(VN_TZ).strftime(DATE_FORMAT)


_UNSAFE = re.compile(r"[^A-Za-z0-9 .,:/#_-]+")


def ascii_text(text: str, limit: int = 255) -> str:
    """VNPay wants order info in Vietnamese without diacritics and without special characters. Keep only
    characters that every VNPay-side URL encoder (Java, .NET, PHP) encodes the same way as quote_plus."""
    text = text.replace("đ", "d").replace("Đ", "D")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = " ".join(_UNSAFE.sub(" ", text).split())
    return text[:limit] or "Thanh toan"


def _amount_from_vnpay(raw: object) -> int | None:
    """VNPay amounts are VND x 100, as digits."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str) or not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        return None
    value = int(raw)
    return value // 100 if value % 100 == 0 else None


def _transaction_no(raw: object) -> str | None:
    if raw is None:
        return None
    text = str(raw).strip()
    return text if text and text != "0" else None


def _text(raw: object) -> str | None:
    if raw is None:
        return None
    return raw if isinstance(raw, str) else str(raw)


# ---------------------------------------------------------------------------------------------- adapter


class VnpayProvider(PaymentProvider):
    name = "vnpay"

    def __init__(self, settings: VnpaySettings | None = None, *, client: httpx.AsyncClient | None = None,
                 clock: Callable[[], datetime] | None = None, new_request_id: Callable[[], str] | None = None):
        self.settings = settings or VnpaySettings()
        self._secret = self.settings.vnpay_hash_secret.get_secret_value()
        previous = self.settings.vnpay_previous_hash_secret
        # What a signature from VNPay may be made with: the current secret, then, during a rotation, the old one.
        self._accepted = [self._secret] + ([previous.get_secret_value()] if previous and previous.get_secret_value() else [])
        self._client = client
        self._owns_client = client is None
        self._timeout = httpx.Timeout(self.settings.vnpay_timeout_seconds,
                                      connect=self.settings.vnpay_connect_timeout_seconds)
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._new_request_id = new_request_id or (lambda: uuid.uuid4().hex)

    def __repr__(self) -> str:  # never the secret
        return f"VnpayProvider(tmn_code={self.settings.vnpay_tmn_code!r})"

    async def aclose(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout)
        return self._client

    # ------------------------------------------------------------------------------ pay

    def checkout_params(self, checkout: Checkout) -> dict[str, str]:
        """The signed `vnp_*` parameters of a pay request."""
        params = {
            "vnp_Version": VERSION,
            "vnp_Command": "pay",
            "vnp_TmnCode": self.settings.vnpay_tmn_code,
            "vnp_Amount": str(checkout.amount * 100),
            "vnp_CurrCode": "VND",
            "vnp_TxnRef": checkout.payment_id,
            "vnp_OrderInfo": ascii_text(checkout.description),
            "vnp_OrderType": self.settings.vnpay_order_type,
            "vnp_Locale": self.settings.vnpay_locale,
            "vnp_ReturnUrl": checkout.return_url,
            "vnp_IpAddr": checkout.client_ip or self.settings.vnpay_server_ip,
            "vnp_CreateDate": vnpay_time(checkout.created_at),
            "vnp_ExpireDate": vnpay_time(checkout.expires_at),
        }
        params["vnp_SecureHash"] = hmac_sha512(self._secret, payment_hash_data(params))
        return params

    def checkout_url(self, checkout: Checkout) -> str:
        params = self.checkout_params(checkout)
        signature = params.pop("vnp_SecureHash")
        return f"{self.settings.vnpay_pay_url}?{payment_hash_data(params)}&vnp_SecureHash={signature}"

    # ------------------------------------------------------------------------------ IPN / return

    def verify_callback(self, params: Mapping[str, str]) -> CallbackVerdict:
        try:
            return self._verify_callback(params)
        except Exception:  # garbage of any shape is a bad callback, never an error
            log.warning("vnpay callback unreadable", exc_info=False)
            return CallbackVerdict(signature_ok=False)

    def _verify_callback(self, params: Mapping[str, str]) -> CallbackVerdict:
        getlist = getattr(params, "getlist", None)
        if getlist is not None and any(len(getlist(k)) > 1 for k in params.keys()):
            return CallbackVerdict(signature_ok=False)  # a repeated parameter: which one was signed?
        given = params.get("vnp_SecureHash")
        values = {k: params[k] for k in params.keys() if isinstance(k, str) and k.startswith("vnp_")}
        if not given or not all(isinstance(v, str) for v in values.values()):
            return CallbackVerdict(signature_ok=False)
        signed = [payment_hash_data(values)]
        if any(v == "" for v in values.values()):
            signed.append(payment_hash_data(values, keep_empty=True))
        ok = any(signature_matches(hmac_sha512(secret, data), given) for secret in self._accepted for data in signed)
        if not ok:
            log.warning("vnpay callback with a bad signature (vnp_TxnRef=%s)",
                        _UNSAFE.sub("?", str(values.get("vnp_TxnRef", "")))[:64])
            return CallbackVerdict(signature_ok=False)
        if values.get("vnp_TmnCode") != self.settings.vnpay_tmn_code:
            return CallbackVerdict(signature_ok=False)
        payment_id = values.get("vnp_TxnRef") or None
        amount = _amount_from_vnpay(values.get("vnp_Amount"))
        code = values.get("vnp_ResponseCode") or None
        status = values.get("vnp_TransactionStatus") or None
        suspicious = code == SUSPICIOUS or status == SUSPICIOUS
        succeeded = (code == "00" and status == "00" and payment_id is not None and amount is not None)
        return CallbackVerdict(signature_ok=True, payment_id=payment_id, amount=amount, succeeded=succeeded,
                               provider_transaction=_transaction_no(values.get("vnp_TransactionNo")),
                               code=code, suspicious=suspicious)

    # ------------------------------------------------------------------------------ server to server

    def _now(self) -> str:
        return vnpay_time(self._clock())

    async def _post(self, body: dict[str, str]) -> httpx.Response:
        return await self.client.post(self.settings.vnpay_api_url, json=body, timeout=self._timeout,
                                      headers={"Accept": "application/json"})

    def _signed_answer(self, response: httpx.Response, fields: tuple[str, ...], payment_id: str,
                       error: type[ProviderUnavailable]) -> dict[str, Any]:
        if response.status_code != 200:
            raise error(f"VNPay answered HTTP {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            raise error("VNPay answered something other than JSON") from None
        if not isinstance(answer, dict):
            raise error("VNPay answered something other than a JSON object")
        data = pipe_hash_data(answer, fields)
        if not any(signature_matches(hmac_sha512(secret, data), answer.get("vnp_SecureHash")) for secret in self._accepted):
            log.warning("vnpay answer with a missing or bad signature (vnp_TxnRef=%s, code=%s)", payment_id,
                        _text(answer.get("vnp_ResponseCode")))
            raise error("VNPay's answer is not signed with our hash secret")
        if _text(answer.get("vnp_TxnRef")) not in (payment_id, None, ""):
            raise error("VNPay answered about another transaction")
        return answer

    async def query(self, *, payment_id: str, created_at: datetime) -> StatusAnswer:
        """querydr. `created_at` must be the checkout's `created_at` (VNPay finds a payment by vnp_TxnRef and
        vnp_TransactionDate, the vnp_CreateDate of the pay request)."""
        attempts = self.settings.vnpay_query_attempts
        last: Exception | None = None
        for attempt in range(1, attempts + 1):
            body = {
                "vnp_RequestId": self._new_request_id(),
                "vnp_Version": VERSION,
                "vnp_Command": "querydr",
                "vnp_TmnCode": self.settings.vnpay_tmn_code,
                "vnp_TxnRef": payment_id,
                "vnp_OrderInfo": ascii_text(f"Truy van giao dich {payment_id}"),
                "vnp_TransactionDate": vnpay_time(created_at),
                "vnp_CreateDate": self._now(),
                "vnp_IpAddr": self.settings.vnpay_server_ip,
            }
            body["vnp_SecureHash"] = hmac_sha512(self._secret, pipe_hash_data(body, QUERYDR_REQUEST_FIELDS))
            try:
                response = await self._post(body)
                if response.status_code >= 500:
                    raise ProviderUnavailable(f"VNPay answered HTTP {response.status_code}")
                answer = self._signed_answer(response, QUERYDR_RESPONSE_FIELDS, payment_id, ProviderUnavailable)
                code = _text(answer.get("vnp_ResponseCode"))
                if code == "94" and attempt < attempts:  # duplicate request id: ask again with a new one
                    raise ProviderUnavailable("VNPay saw a duplicate request id")
                return self._status(payment_id, answer)
            except (httpx.HTTPError, ProviderUnavailable) as exc:
                last = exc
                log.info("vnpay querydr attempt %d/%d for %s failed: %s", attempt, attempts, payment_id,
                         type(exc).__name__)
                if attempt < attempts:
                    await asyncio.sleep(self.settings.vnpay_retry_backoff_seconds * 2 ** (attempt - 1))
        raise ProviderUnavailable(f"VNPay querydr failed after {attempts} attempt(s): "
                                  f"{type(last).__name__}: {last}") from last

    def _status(self, payment_id: str, answer: dict[str, Any]) -> StatusAnswer:
        code = _text(answer.get("vnp_ResponseCode"))
        if code == NOT_FOUND:
            log.info("vnpay querydr %s: not found", payment_id)
            return StatusAnswer(status="not_found", code=code)
        if code != "00":
            raise ProviderUnavailable(f"VNPay refused the querydr request (code {code})")
        status = _text(answer.get("vnp_TransactionStatus"))
        if not status:
            raise ProviderUnavailable("VNPay's querydr answer has no transaction status")
        amount = _amount_from_vnpay(answer.get("vnp_Amount"))
        transaction = _transaction_no(answer.get("vnp_TransactionNo"))
        if status == "00":
            mapped, suspicious = "succeeded", False
        elif status == "01":
            mapped, suspicious = "pending", False
        elif status == "02":
            mapped, suspicious = "failed", False
        elif status in ("05", "06", "09"):  # refund being processed / sent to the bank / refused: it was paid
            mapped, suspicious = "succeeded", False
        elif status in ("04", SUSPICIOUS):
            # 04: debited at the bank but not successful at VNPay (being reversed); 07: suspected fraud.
            # Neither is settled nor failed: a person looks (the payment stays pending and raises the alert).
            mapped, suspicious = "pending", True
        else:
            mapped, suspicious = "pending", False
        if mapped == "succeeded" and amount is None:
            raise ProviderUnavailable("VNPay's querydr answer has no readable amount")
        log.info("vnpay querydr %s: transaction status %s -> %s", payment_id, status, mapped)
        return StatusAnswer(status=mapped, amount=amount, provider_transaction=transaction, code=status,
                            suspicious=suspicious)

    async def refund(self, *, payment_id: str, amount: int, full: bool, provider_transaction: str | None,
                     paid_at: datetime, actor: str) -> RefundAnswer:
        """VNPay `refund`. `paid_at` is the payment's vnp_TransactionDate, i.e. the checkout's `created_at`
        (the vnp_CreateDate of the pay request), which is how VNPay finds the payment. `full` asks for a full
        refund (type 02), which VNPay refuses after a partial one (04): refund the rest as partial (03)."""
        if amount <= 0:
            raise ValueError("a refund is of a positive amount")
        body = {
            "vnp_RequestId": self._new_request_id(),
            "vnp_Version": VERSION,
            "vnp_Command": "refund",
            "vnp_TmnCode": self.settings.vnpay_tmn_code,
            "vnp_TransactionType": "02" if full else "03",
            "vnp_TxnRef": payment_id,
            "vnp_Amount": str(amount * 100),
            "vnp_OrderInfo": ascii_text(f"Hoan tien {payment_id}"),
            "vnp_TransactionDate": vnpay_time(paid_at),
            "vnp_CreateBy": ascii_text(actor, 250),
            "vnp_CreateDate": self._now(),
            "vnp_IpAddr": self.settings.vnpay_server_ip,
        }
        if provider_transaction:
            body["vnp_TransactionNo"] = provider_transaction
        body["vnp_SecureHash"] = hmac_sha512(self._secret, pipe_hash_data(body, REFUND_REQUEST_FIELDS))
        response = await self._send_refund(body, payment_id)
        answer = self._signed_answer(response, REFUND_RESPONSE_FIELDS, payment_id, RefundOutcomeUnknown)
        code = _text(answer.get("vnp_ResponseCode")) or ""
        if code == "98":  # "Timeout Exception" inside VNPay: the refund may or may not have been made
            raise RefundOutcomeUnknown("VNPay timed out while processing the refund (98)")
        accepted = code == "00"
        log.info("vnpay refund %s (%s): code %s", payment_id, body["vnp_TransactionType"], code)
        return RefundAnswer(accepted=accepted,
                            provider_reference=_transaction_no(answer.get("vnp_TransactionNo")) if accepted else None,
                            code=code, message=REFUND_MESSAGES.get(code, _text(answer.get("vnp_Message")) or ""))

    async def _send_refund(self, body: dict[str, str], payment_id: str) -> httpx.Response:
        """Sent again (same vnp_RequestId) only when the connection was never made; any other failure leaves
        the outcome unknown."""
        attempts = self.settings.vnpay_query_attempts
        for attempt in range(1, attempts + 1):
            try:
                return await self._post(body)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                log.info("vnpay refund %s: no connection (attempt %d/%d): %s", payment_id, attempt, attempts,
                         type(exc).__name__)
                if attempt == attempts:
                    raise ProviderUnavailable(f"VNPay could not be reached: {type(exc).__name__}") from exc
                await asyncio.sleep(self.settings.vnpay_retry_backoff_seconds * 2 ** (attempt - 1))
            except httpx.HTTPError as exc:
                log.warning("vnpay refund %s: sent, no answer (%s)", payment_id, type(exc).__name__)
                raise RefundOutcomeUnknown(f"the refund may have reached VNPay: {type(exc).__name__}") from exc
        raise AssertionError("unreachable")
