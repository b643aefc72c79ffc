"""The sandbox's VNPay: merchants, transactions and refunds in memory, IPN delivery, querydr and refund.

State changes happen under one lock that is never held across an `await`, so the gateway is safe from the
event loop and from other threads alike."""

import asyncio
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from payment.provider_settings import SandboxSettings
from payment.sandbox import protocol as p

log = logging.getLogger("motcua.sandbox.vnpay")

REQUEST_ID_WINDOW_SECONDS = 300  # VNPay refuses a repeated vnp_RequestId within 5 minutes (94)
MIN_AMOUNT, MAX_AMOUNT = 5_000, 1_000_000_000  # VND: from 5,000 to under 1 billion
Tamper = Literal["amount", "signed_amount", "signature"]


@dataclass(frozen=True)
class Merchant:
    tmn_code: str
    secret: str
    ipn_url: str | None


@dataclass
class Refund:
    request_id: str
    transaction_no: str
    transaction_type: str  # 02 full, 03 partial
    amount: int  # VND
    created_by: str
    created_at: str


@dataclass
class Transaction:
    tmn_code: str
    txn_ref: str
    amount: int  # VND
    order_info: str
    return_url: str
    create_date: str  # the merchant's vnp_CreateDate, how querydr and refund find the payment
    expire_date: str | None
    request_signature: str
    session: str  # the payment page's token
    bank_code: str
    status: str = "01"  # vnp_TransactionStatus: 01 pending, 00 paid, 02 failed, 07 suspected fraud
    response_code: str | None = None
    transaction_no: str = "0"
    pay_date: str | None = None
    bank_tran_no: str | None = None
    card_type: str | None = None
    result: dict[str, str] | None = None  # the signed result parameters (IPN and browser return)
    ipn_acknowledged: bool = False
    settled_silently: bool = False
    refunds: list[Refund] = field(default_factory=list)

    @property
    def refunded(self) -> int:
        return sum(r.amount for r in self.refunds)

    def public(self) -> dict[str, Any]:
        return {
            "tmn_code": self.tmn_code, "txn_ref": self.txn_ref, "amount": self.amount,
            "order_info": self.order_info, "create_date": self.create_date, "expire_date": self.expire_date,
            "status": self.status, "response_code": self.response_code, "transaction_no": self.transaction_no,
            "pay_date": self.pay_date, "bank_code": self.bank_code, "ipn_acknowledged": self.ipn_acknowledged,
            "settled_silently": self.settled_silently, "refunded": self.refunded,
            "refunds": [r.__dict__ for r in self.refunds],
        }


class PayError(Exception):
    def __init__(self, code: str):
        super().__init__(p.PAY_ERRORS.get(code, code))
        self.code = code


class Gateway:
    def __init__(self, settings: SandboxSettings | None = None, *, merchants: list[Merchant] | None = None,
                 clock: Callable[[], datetime] | None = None):
        self.settings = settings or SandboxSettings()
        if merchants is None:
            merchants = [Merchant(self.settings.vnpay_tmn_code, self.settings.vnpay_hash_secret.get_secret_value(),
                                  self.settings.sandbox_ipn_url)]
        self.merchants = {m.tmn_code: m for m in merchants}
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._lock = threading.Lock()
        self._transactions: dict[tuple[str, str], Transaction] = {}
        self._sessions: dict[str, tuple[str, str]] = {}
        self._request_ids: dict[tuple[str, str], float] = {}
        self._ipn_log: list[dict[str, Any]] = []
        self._counter = 14_000_000 + secrets.randbelow(1_000_000)
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task] = set()

    # ------------------------------------------------------------------------------ lifecycle

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.settings.sandbox_ipn_timeout_seconds)
        return self._client

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def reset(self) -> None:
        with self._lock:
            self._transactions.clear()
            self._sessions.clear()
            self._request_ids.clear()
            self._ipn_log.clear()

    def _now(self) -> str:
        return p.vn_time(self._clock())

    def _next_number(self) -> str:
        with self._lock:
            return self._next_number_locked()

    def _next_number_locked(self) -> str:
        self._counter += 1
        return str(self._counter)

    # ------------------------------------------------------------------------------ pay

    def open(self, params: dict[str, str]) -> Transaction:
        """Check a pay request and record its transaction (pending), or find it again on a reload."""
        tmn = params.get("vnp_TmnCode", "")
        merchant = self.merchants.get(tmn)
        if merchant is None:
            raise PayError("72")
        if not params.get("vnp_SecureHash") or not p.pay_signature_ok(params, merchant.secret):
            raise PayError("70")
        if any(not params.get(f) for f in p.PAY_REQUIRED):
            raise PayError("03")
        amount_raw = params["vnp_Amount"]
        created = p.parse_vn_time(params["vnp_CreateDate"])
        expires = p.parse_vn_time(params["vnp_ExpireDate"]) if params.get("vnp_ExpireDate") else None
        return_url = urlsplit(params["vnp_ReturnUrl"])
        if (params["vnp_Version"] != p.VERSION or params["vnp_Command"] != "pay"
                or params["vnp_CurrCode"] != "VND" or params["vnp_Locale"] not in ("vn", "en")
                or not amount_raw.isascii() or not amount_raw.isdigit() or int(amount_raw) % 100
                or created is None or (params.get("vnp_ExpireDate") and expires is None)
                or return_url.scheme not in ("http", "https") or not return_url.netloc
                or len(params["vnp_TxnRef"]) > 100 or len(params["vnp_OrderInfo"]) > 255):
            raise PayError("03")
        amount = int(amount_raw) // 100
        if not MIN_AMOUNT <= amount < MAX_AMOUNT:
            raise PayError("03")
        if expires is not None and expires < self._clock():
            raise PayError("15")
        key = (tmn, params["vnp_TxnRef"])
        with self._lock:
            existing = self._transactions.get(key)
            if existing is not None:
                if existing.request_signature == params["vnp_SecureHash"].lower() and existing.status == "01":
                    return existing  # the same request again (a reload): the same page
                raise PayError("01")
            txn = Transaction(tmn_code=tmn, txn_ref=params["vnp_TxnRef"], amount=amount,
                              order_info=params["vnp_OrderInfo"], return_url=params["vnp_ReturnUrl"],
                              create_date=params["vnp_CreateDate"], expire_date=params.get("vnp_ExpireDate"),
                              request_signature=params["vnp_SecureHash"].lower(),
                              session=secrets.token_urlsafe(18), bank_code=self.settings.sandbox_bank_code)
            self._transactions[key] = txn
            self._sessions[txn.session] = key
        log.info("sandbox: pay request %s for %d VND", txn.txn_ref, amount)
        return txn

    def by_session(self, session: str) -> Transaction | None:
        with self._lock:
            key = self._sessions.get(session)
            return self._transactions.get(key) if key else None

    def find(self, txn_ref: str, tmn_code: str | None = None) -> Transaction | None:
        with self._lock:
            if tmn_code is not None:
                return self._transactions.get((tmn_code, txn_ref))
            matches = [t for (_, ref), t in self._transactions.items() if ref == txn_ref]
            return matches[0] if len(matches) == 1 else None

    def complete(self, txn: Transaction, outcome: str, *, silently: bool = False) -> tuple[dict[str, str], bool]:
        """Record the citizen's choice once; answer the signed result and whether this call completed it."""
        if outcome not in p.OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        merchant = self.merchants[txn.tmn_code]
        with self._lock:
            if txn.result is not None:
                return txn.result, False
            expires = p.parse_vn_time(txn.expire_date) if txn.expire_date else None
            code, status = p.EXPIRED if expires is not None and expires < self._clock() else p.OUTCOMES[outcome]
            txn.response_code, txn.status = code, status
            txn.pay_date = self._now()
            if code != "24":
                txn.transaction_no = self._next_number_locked()
                txn.bank_tran_no = f"VNP{txn.transaction_no}"
                txn.card_type = "ATM"
            txn.settled_silently = silently
            result = {
                "vnp_Amount": str(txn.amount * 100),
                "vnp_BankCode": txn.bank_code,
                "vnp_BankTranNo": txn.bank_tran_no or "",
                "vnp_CardType": txn.card_type or "",
                "vnp_OrderInfo": txn.order_info,
                "vnp_PayDate": txn.pay_date,
                "vnp_ResponseCode": code,
                "vnp_TmnCode": txn.tmn_code,
                "vnp_TransactionNo": txn.transaction_no,
                "vnp_TransactionStatus": status,
                "vnp_TxnRef": txn.txn_ref,
            }
            txn.result = p.signed({k: v for k, v in result.items() if v}, merchant.secret)
        log.info("sandbox: %s completed: response %s, status %s%s", txn.txn_ref, code, status,
                 " (silently)" if silently else "")
        return txn.result, True

    def transactions(self) -> list[dict[str, Any]]:
        with self._lock:
            return [t.public() for t in self._transactions.values()]

    # ------------------------------------------------------------------------------ IPN

    def ipn_log(self, txn_ref: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self._ipn_log if txn_ref is None or e["txn_ref"] == txn_ref]

    def ipn_params(self, txn: Transaction, tamper: Tamper | None = None) -> dict[str, str]:
        assert txn.result is not None
        params = dict(txn.result)
        secret = self.merchants[txn.tmn_code].secret
        if tamper in ("amount", "signed_amount"):
            params["vnp_Amount"] = str(int(params["vnp_Amount"]) + 100_000)  # 1,000 VND more than paid
            if tamper == "signed_amount":
                params = p.signed({k: v for k, v in params.items() if k != "vnp_SecureHash"}, secret)
        elif tamper == "signature":
            params["vnp_SecureHash"] = p.sign("not-the-merchant-secret", p.pay_sign_data(params))
        return params

    async def send_ipn(self, txn: Transaction, *, kind: str = "ipn", tamper: Tamper | None = None,
                       attempt: int = 1) -> dict[str, Any]:
        """One IPN (GET to the merchant's IPN URL, as VNPay does), recorded with the merchant's answer."""
        merchant = self.merchants[txn.tmn_code]
        params = self.ipn_params(txn, tamper)
        entry: dict[str, Any] = {
            "txn_ref": txn.txn_ref, "tmn_code": txn.tmn_code, "kind": kind, "tamper": tamper,
            "attempt": attempt, "at": self._clock().isoformat(), "ipn_url": merchant.ipn_url,
            "params": params, "http_status": None, "rsp_code": None, "message": None, "error": None,
            "acknowledged": False,
        }
        if not merchant.ipn_url:
            entry["error"] = "no IPN URL configured for this terminal (MOTCUA_SANDBOX_IPN_URL)"
        else:
            separator = "&" if urlsplit(merchant.ipn_url).query else "?"
            try:
                response = await self.client.get(f"{merchant.ipn_url}{separator}{p.query_string(params)}")
                entry["http_status"] = response.status_code
                try:
                    body = response.json()
                except ValueError:
                    body = None
                if isinstance(body, dict):
                    entry["rsp_code"] = body.get("RspCode")
                    entry["message"] = body.get("Message")
                entry["acknowledged"] = response.status_code == 200 and entry["rsp_code"] in ("00", "02")
            except httpx.HTTPError as exc:
                entry["error"] = f"{type(exc).__name__}: {exc}"
        with self._lock:
            self._ipn_log.append(entry)
            if entry["acknowledged"] and tamper is None:
                txn.ipn_acknowledged = True
        log.info("sandbox: IPN %s attempt %d (%s): http %s, RspCode %s%s", txn.txn_ref, attempt, kind,
                 entry["http_status"], entry["rsp_code"], f", {entry['error']}" if entry["error"] else "")
        return entry

    async def notify(self, txn: Transaction) -> dict[str, Any]:
        """The first IPN now; if the merchant does not acknowledge it (RspCode 00 or 02), further attempts
        with backoff in the background, at most `sandbox_ipn_attempts` in all."""
        first = await self.send_ipn(txn)
        retry = self.settings.sandbox_ipn_attempts > 1 and self.merchants[txn.tmn_code].ipn_url
        if not first["acknowledged"] and retry:
            task = asyncio.create_task(self._retry_ipn(txn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return first

    async def _retry_ipn(self, txn: Transaction) -> None:
        s = self.settings
        for attempt in range(2, s.sandbox_ipn_attempts + 1):
            delay = s.sandbox_ipn_backoff_seconds * 2 ** (attempt - 2)
            await asyncio.sleep(min(delay, s.sandbox_ipn_max_backoff_seconds))
            entry = await self.send_ipn(txn, kind="retry", attempt=attempt)
            if entry["acknowledged"]:
                return
        log.warning("sandbox: IPN for %s never acknowledged after %d attempts", txn.txn_ref, s.sandbox_ipn_attempts)

    async def idle(self) -> None:
        """Wait for the background IPN retries (tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # ------------------------------------------------------------------------------ querydr, refund

    def api(self, body: object) -> dict[str, Any]:
        """POST /merchant_webapi/api/transaction: querydr or refund."""
        if not isinstance(body, dict) or not all(isinstance(v, str) for v in body.values()):
            return {"vnp_ResponseCode": "03", "vnp_Message": p.QUERYDR_MESSAGES["03"]}
        command = body.get("vnp_Command")
        if command == "querydr":
            return self._querydr(body)
        if command == "refund":
            return self._refund(body)
        return {"vnp_ResponseCode": "03", "vnp_Message": p.QUERYDR_MESSAGES["03"]}

    def _authenticate(self, body: dict[str, str], fields: tuple[str, ...]) -> tuple[Merchant | None, str | None]:
        """(merchant, error code): 02 unknown terminal, 97 bad signature, 94 repeated request id."""
        merchant = self.merchants.get(body.get("vnp_TmnCode", ""))
        if merchant is None:
            return None, "02"
        if not p.pipe_signature_ok(body, fields, merchant.secret):
            return merchant, "97"
        request_id = body.get("vnp_RequestId", "")
        if not request_id or len(request_id) > 32 or not request_id.isalnum():
            return merchant, "03"
        now = time.monotonic()
        with self._lock:
            for key, seen in list(self._request_ids.items()):
                if now - seen > REQUEST_ID_WINDOW_SECONDS:
                    del self._request_ids[key]
            if (merchant.tmn_code, request_id) in self._request_ids:
                return merchant, "94"
            self._request_ids[(merchant.tmn_code, request_id)] = now
        return merchant, None

    def _answer(self, merchant: Merchant | None, fields: tuple[str, ...], command: str, code: str,
                messages: dict[str, str], **values: str) -> dict[str, Any]:
        answer = {"vnp_ResponseId": secrets.token_hex(16), "vnp_Command": command, "vnp_ResponseCode": code,
                  "vnp_Message": messages.get(code, messages["99"]), **values}
        if merchant is not None:
            answer["vnp_TmnCode"] = merchant.tmn_code
            answer["vnp_SecureHash"] = p.sign(merchant.secret, p.pipe_data(answer, fields))
        return answer

    def _find_for_api(self, merchant: Merchant, body: dict[str, str]) -> Transaction | None:
        with self._lock:
            txn = self._transactions.get((merchant.tmn_code, body.get("vnp_TxnRef", "")))
        if txn is None or txn.create_date != body.get("vnp_TransactionDate"):
            return None
        return txn

    def _querydr(self, body: dict[str, str]) -> dict[str, Any]:
        merchant, error = self._authenticate(body, p.QUERYDR_REQUEST)
        ref = {"vnp_TxnRef": body.get("vnp_TxnRef", "")}
        if error is None and (any(not body.get(f) for f in p.QUERYDR_REQUEST)
                              or p.parse_vn_time(body["vnp_TransactionDate"]) is None
                              or p.parse_vn_time(body["vnp_CreateDate"]) is None):
            error = "03"
        if error is not None:
            return self._answer(merchant, p.QUERYDR_RESPONSE, "querydr", error, p.QUERYDR_MESSAGES, **ref)
        txn = self._find_for_api(merchant, body)
        if txn is None:
            return self._answer(merchant, p.QUERYDR_RESPONSE, "querydr", "91", p.QUERYDR_MESSAGES, **ref)
        with self._lock:
            values = {
                "vnp_TxnRef": txn.txn_ref, "vnp_Amount": str(txn.amount * 100), "vnp_OrderInfo": txn.order_info,
                "vnp_BankCode": txn.bank_code, "vnp_PayDate": txn.pay_date or "",
                "vnp_TransactionNo": txn.transaction_no, "vnp_TransactionType": "01",
                "vnp_TransactionStatus": txn.status, "vnp_PromotionCode": "", "vnp_PromotionAmount": "",
            }
        return self._answer(merchant, p.QUERYDR_RESPONSE, "querydr", "00", p.QUERYDR_MESSAGES, **values)

    def _refund(self, body: dict[str, str]) -> dict[str, Any]:
        merchant, error = self._authenticate(body, p.REFUND_REQUEST)
        ref = {"vnp_TxnRef": body.get("vnp_TxnRef", "")}
        kind = body.get("vnp_TransactionType", "")
        raw = body.get("vnp_Amount", "")
        required = [f for f in p.REFUND_REQUEST if f != "vnp_TransactionNo"]
        if error is None and (any(not body.get(f) for f in required) or kind not in ("02", "03")
                              or not raw.isascii() or not raw.isdigit() or int(raw) % 100 or int(raw) == 0
                              or p.parse_vn_time(body["vnp_TransactionDate"]) is None
                              or p.parse_vn_time(body["vnp_CreateDate"]) is None):
            error = "03"
        if error is not None:
            return self._answer(merchant, p.REFUND_RESPONSE, "refund", error, p.REFUND_MESSAGES, **ref)
        txn = self._find_for_api(merchant, body)
        if txn is None or (body.get("vnp_TransactionNo") and body["vnp_TransactionNo"] != txn.transaction_no):
            return self._answer(merchant, p.REFUND_RESPONSE, "refund", "91", p.REFUND_MESSAGES, **ref)
        amount = int(raw) // 100
        with self._lock:
            if txn.status != "00":
                code = "95"
            elif amount > txn.amount or (kind == "02" and amount != txn.amount):
                code = "93"
            elif kind == "02" and txn.refunds:
                code = "04"
            elif txn.refunded + amount > txn.amount:
                code = "02"
            else:
                code = "00"
                refund = Refund(request_id=body["vnp_RequestId"], transaction_no=self._next_number_locked(),
                                transaction_type=kind, amount=amount, created_by=body["vnp_CreateBy"],
                                created_at=self._now())
                txn.refunds.append(refund)
            values = {"vnp_TxnRef": txn.txn_ref, "vnp_Amount": raw, "vnp_OrderInfo": body["vnp_OrderInfo"],
                      "vnp_BankCode": txn.bank_code, "vnp_PayDate": txn.pay_date or "",
                      "vnp_TransactionType": kind}
            if code == "00":
                values |= {"vnp_TransactionNo": refund.transaction_no, "vnp_TransactionStatus": "05",
                           "vnp_PayDate": refund.created_at}
        log.info("sandbox: refund %s of %d VND (%s): %s", txn.txn_ref, amount, kind, code)
        return self._answer(merchant, p.REFUND_RESPONSE, "refund", code, p.REFUND_MESSAGES, **values)
