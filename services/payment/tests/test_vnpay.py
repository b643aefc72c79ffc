"""The VNPay adapter: signatures against vectors computed by hand (openssl), callbacks, and the querydr/refund
calls against a scripted VNPay API served over real loopback HTTP."""

import asyncio
import hashlib
import hmac
from collections.abc import Callable
from datetime import datetime, timezone
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import SecretStr
from starlette.datastructures import QueryParams

from kit.testing import bound_socket, running_server
from payment.provider_settings import VnpaySettings
from payment.providers.base import Checkout, ProviderUnavailable
from payment.providers.vnpay import RefundOutcomeUnknown, VnpayProvider, ascii_text

SECRET = "TESTSECRETKEY0123456789ABCDEFXYZ"
TMN = "MOTCUA01"
CREATED = datetime(2025, 3, 1, 2, 30, tzinfo=timezone.utc)  # 09:30:00 in Hà Nội
CHECKOUT = Checkout(payment_id="PAY20250301A1B2", amount=150_000,
                    description="Lệ phí hồ sơ 000.00.12.H29-250301-0001",
                    return_url="https://motcua.example.vn/thanh-toan/ket-qua", client_ip="203.162.4.191",
                    created_at=CREATED, expires_at=datetime(2025, 3, 1, 2, 45, tzinfo=timezone.utc))

# Written out by hand from VNPay's algorithm (sorted, form-encoded, '&'-joined), and signed with
#   printf '%s' "$DATA" | openssl dgst -sha512 -hmac TESTSECRETKEY0123456789ABCDEFXYZ
PAY_DATA = ("vnp_Amount=15000000&vnp_Command=pay&vnp_CreateDate=20250301093000&vnp_CurrCode=VND"
            "&vnp_ExpireDate=20250301094500&vnp_IpAddr=203.162.4.191&vnp_Locale=vn"
            "&vnp_OrderInfo=Le+phi+ho+so+000.00.12.H29-250301-0001&vnp_OrderType=other"
            "&vnp_ReturnUrl=https%3A%2F%2Fmotcua.example.vn%2Fthanh-toan%2Fket-qua&vnp_TmnCode=MOTCUA01"
            "&vnp_TxnRef=PAY20250301A1B2&vnp_Version=2.1.0")
PAY_HASH = ("d0228828ebccd38d86e51345d57f2314c32d499d33a7176e750113d480ad5b39"
            "05fa45188357c8c329c387fc6882dd9dfd86645dd9105fe4d35a0a60f9d69169")
QUERYDR_DATA = ("REQ0001|2.1.0|querydr|MOTCUA01|PAY20250301A1B2|20250301093000|20250301101500|10.0.0.5"
                "|Truy van giao dich PAY20250301A1B2")
QUERYDR_HASH = ("5b990f23bc21dbb695e3aa962599c8a12d5c49f144e5943a1ac506186d0ea88f"
                "8735a753db41a075b53a7c48365265046c360fa01707b0525b0581fe66668a2f")
REFUND_DATA = ("REQ0002|2.1.0|refund|MOTCUA01|03|PAY20250301A1B2|5000000|14512345|20250301093000|officer-7"
               "|20250302080000|10.0.0.5|Hoan tien PAY20250301A1B2")
REFUND_HASH = ("a5a32a9da63e4e37d300f637ec7474c28937d2138d30ccf55c5f158abb61fe4d"
               "a4deb64d187c18b7c235a2ed8fb94136041c29ee4c15d670305e7fc5fd9fc11b")

QUERYDR_ANSWER_FIELDS = ("vnp_ResponseId", "vnp_Command", "vnp_ResponseCode", "vnp_Message", "vnp_TmnCode",
                         "vnp_TxnRef", "vnp_Amount", "vnp_BankCode", "vnp_PayDate", "vnp_TransactionNo",
                         "vnp_TransactionType", "vnp_TransactionStatus", "vnp_OrderInfo", "vnp_PromotionCode",
                         "vnp_PromotionAmount")
REFUND_ANSWER_FIELDS = QUERYDR_ANSWER_FIELDS[:13]


def settings(**overrides) -> VnpaySettings:
    values = dict(vnpay_tmn_code=TMN, vnpay_hash_secret=SecretStr(SECRET), vnpay_server_ip="10.0.0.5",
                  vnpay_pay_url="https://pay.example/paymentv2/vpcpay.html",
                  vnpay_api_url="http://127.0.0.1:9/merchant_webapi/api/transaction",
                  vnpay_retry_backoff_seconds=0.01, vnpay_timeout_seconds=2, vnpay_connect_timeout_seconds=1)
    return VnpaySettings(**(values | overrides))


def hmac512(data: str, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), data.encode(), hashlib.sha512).hexdigest()


def signed_callback(secret: str = SECRET, **fields: str) -> dict[str, str]:
    """A VNPay result (IPN or browser return), signed here with the standard library only."""
    params = {"vnp_Amount": "15000000", "vnp_BankCode": "NCB", "vnp_BankTranNo": "VNP14512345",
              "vnp_CardType": "ATM", "vnp_OrderInfo": "Le phi ho so 000.00.12.H29-250301-0001",
              "vnp_PayDate": "20250301093512", "vnp_ResponseCode": "00", "vnp_TmnCode": TMN,
              "vnp_TransactionNo": "14512345", "vnp_TransactionStatus": "00", "vnp_TxnRef": "PAY20250301A1B2"}
    params |= fields
    params["vnp_SecureHash"] = hmac512(urlencode(sorted(params.items()), quote_via=quote_plus), secret)
    return params


# ------------------------------------------------------------------------------------------- pay URL


def test_checkout_url_is_signed_as_vnpay_documents():
    url = VnpayProvider(settings()).checkout_url(CHECKOUT)
    assert url == f"https://pay.example/paymentv2/vpcpay.html?{PAY_DATA}&vnp_SecureHash={PAY_HASH}"


def test_checkout_times_are_in_ho_chi_minh_city_and_amount_in_hundredths():
    params = dict(parse_qsl(urlsplit(VnpayProvider(settings()).checkout_url(CHECKOUT)).query))
    assert params["vnp_CreateDate"] == "20250301093000" and params["vnp_ExpireDate"] == "20250301094500"
    assert params["vnp_Amount"] == "15000000"
    assert params["vnp_TxnRef"] == CHECKOUT.payment_id


def test_order_info_is_ascii_without_special_characters():
    assert ascii_text("Lệ phí đăng ký kết hôn — Sở Tư pháp (HS#12) ~100%") == (
        "Le phi dang ky ket hon So Tu phap HS#12 100")
    assert len(ascii_text("x" * 400)) == 255
    assert ascii_text("¤¤¤") == "Thanh toan"


# ------------------------------------------------------------------------------------------- callbacks


@pytest.mark.parametrize(("response", "status", "succeeded", "suspicious"), [
    ("00", "00", True, False),
    ("00", "02", False, False),
    ("24", "02", False, False),  # the citizen cancelled
    ("51", "02", False, False),
    ("07", "07", False, True),  # money taken but suspected fraud: manual review
    ("07", "00", False, True),
])
def test_callback_success_rule(response, status, succeeded, suspicious):
    verdict = VnpayProvider(settings()).verify_callback(
        signed_callback(vnp_ResponseCode=response, vnp_TransactionStatus=status))
    assert verdict.signature_ok
    assert (verdict.succeeded, verdict.suspicious, verdict.code) == (succeeded, suspicious, response)
    assert verdict.payment_id == "PAY20250301A1B2" and verdict.amount == 150_000
    assert verdict.provider_transaction == "14512345"


def test_cancelled_callback_has_no_provider_transaction():
    verdict = VnpayProvider(settings()).verify_callback(
        signed_callback(vnp_ResponseCode="24", vnp_TransactionStatus="02", vnp_TransactionNo="0"))
    assert verdict.signature_ok and verdict.provider_transaction is None


@pytest.mark.parametrize(("field", "value"), [
    ("vnp_Amount", "15000100"), ("vnp_Amount", "1500000000"), ("vnp_TxnRef", "PAY20250301A1B3"),
    ("vnp_ResponseCode", "00 "), ("vnp_TransactionStatus", "01"), ("vnp_OrderInfo", "Le phi"),
    ("vnp_TmnCode", "OTHER001"), ("vnp_Extra", "1"),
])
def test_any_tampered_parameter_fails(field, value):
    params = signed_callback()
    params[field] = value
    verdict = VnpayProvider(settings()).verify_callback(params)
    assert not verdict.signature_ok and not verdict.succeeded and verdict.amount is None


def test_signed_with_another_secret_fails():
    assert not VnpayProvider(settings()).verify_callback(signed_callback(secret="another-secret")).signature_ok


def test_during_a_rotation_the_previous_secret_is_still_accepted_and_never_signs():
    rotating = VnpayProvider(settings(vnpay_hash_secret=SecretStr("NEW-SECRET-0123456789"),
                                      vnpay_previous_hash_secret=SecretStr(SECRET)))
    assert rotating.verify_callback(signed_callback(secret=SECRET)).signature_ok  # started before the switch
    assert rotating.verify_callback(signed_callback(secret="NEW-SECRET-0123456789")).signature_ok
    assert not rotating.verify_callback(signed_callback(secret="another-secret")).signature_ok
    url = urlsplit(rotating.checkout_url(CHECKOUT))
    given = dict(parse_qsl(url.query))["vnp_SecureHash"]
    assert given == hmac512(PAY_DATA, "NEW-SECRET-0123456789")  # signed with the new secret only
    # After the rotation (the previous secret removed), the old one is refused again.
    assert not VnpayProvider(settings(vnpay_hash_secret=SecretStr("NEW-SECRET-0123456789"))).verify_callback(
        signed_callback(secret=SECRET)).signature_ok


def test_signature_of_another_terminal_is_refused_even_if_valid():
    params = signed_callback(vnp_TmnCode="OTHER001")
    assert not VnpayProvider(settings()).verify_callback(params).signature_ok


def test_uppercase_hash_and_hash_type_are_accepted():
    params = signed_callback()
    params["vnp_SecureHash"] = params["vnp_SecureHash"].upper()
    params["vnp_SecureHashType"] = "HmacSHA512"
    assert VnpayProvider(settings()).verify_callback(params).succeeded


def test_non_vnp_parameters_are_ignored():
    params = signed_callback() | {"utm_source": "mail", "lang": "vi"}
    assert VnpayProvider(settings()).verify_callback(params).succeeded


def test_a_repeated_parameter_is_refused():
    params = signed_callback()
    query = QueryParams(urlencode(list(params.items()) + [("vnp_Amount", "99900")]))
    assert not VnpayProvider(settings()).verify_callback(query).signature_ok
    assert VnpayProvider(settings()).verify_callback(QueryParams(urlencode(params))).succeeded


def test_empty_values_signed_either_way_are_accepted():
    """VNPay's Java/.NET code signs without empty parameters, its PHP demo with them: both verify."""
    params = signed_callback(vnp_BankTranNo="")  # signed with "vnp_BankTranNo=" in the data
    assert VnpayProvider(settings()).verify_callback(params).succeeded
    without = {k: v for k, v in signed_callback().items() if k not in ("vnp_BankTranNo", "vnp_SecureHash")}
    without["vnp_SecureHash"] = hmac512(urlencode(sorted(without.items()), quote_via=quote_plus))
    assert VnpayProvider(settings()).verify_callback(without | {"vnp_BankTranNo": ""}).succeeded


def test_a_signed_but_unreadable_amount_is_not_a_success():
    verdict = VnpayProvider(settings()).verify_callback(signed_callback(vnp_Amount="15000050"))
    assert verdict.signature_ok and verdict.amount is None and not verdict.succeeded
    verdict = VnpayProvider(settings()).verify_callback(signed_callback(vnp_Amount="mười lăm"))
    assert verdict.signature_ok and not verdict.succeeded


@pytest.mark.parametrize("garbage", [
    {}, {"vnp_SecureHash": ""}, {"vnp_SecureHash": "zz"}, {"vnp_SecureHash": "ạ" * 128},
    {"vnp_SecureHash": None}, {"vnp_SecureHash": 12}, {"vnp_Amount": None, "vnp_SecureHash": "ab"},
    {"vnp_Amount": ["1"], "vnp_SecureHash": "ab"}, {1: "a", "vnp_SecureHash": "ab"},
    {"vnp_TxnRef": "\x00\ud800", "vnp_SecureHash": "ab" * 64}, {"vnp_Amount": "1" * 10_000, "vnp_SecureHash": "0"},
    None, "vnp_Amount=1", 42, [("vnp_Amount", "1")],
])
def test_garbage_never_raises(garbage):
    verdict = VnpayProvider(settings()).verify_callback(garbage)  # type: ignore[arg-type]
    assert not verdict.signature_ok and not verdict.succeeded


def test_garbage_with_a_valid_signature_never_raises():
    params = signed_callback(vnp_TxnRef="", vnp_Amount="", vnp_ResponseCode="", vnp_TransactionStatus="")
    verdict = VnpayProvider(settings()).verify_callback(params)
    assert verdict.signature_ok and not verdict.succeeded and verdict.payment_id is None


# ------------------------------------------------------------------------------------------- querydr, refund


class ScriptedVnpay:
    """A stand-in for VNPay's transaction API over real HTTP, answering what each test scripts."""

    def __init__(self):
        self.requests: list[dict] = []
        self.script: list[Callable[[dict], tuple[int, object]]] = []
        self.app = FastAPI()

        @self.app.post("/merchant_webapi/api/transaction")
        async def api(request: Request):
            body = await request.json()
            self.requests.append(body)
            status, answer = self.script.pop(0)(body) if self.script else (500, {"error": "unscripted"})
            return JSONResponse(answer, status_code=status)


def signed_answer(fields: tuple[str, ...], secret: str = SECRET, **values: str) -> dict[str, str]:
    answer = {"vnp_ResponseId": "a1b2c3", "vnp_Message": "Yeu cau thanh cong", "vnp_TmnCode": TMN,
              "vnp_TxnRef": "PAY20250301A1B2"} | values
    answer["vnp_SecureHash"] = hmac512("|".join(answer.get(f, "") for f in fields), secret)
    return answer


def querydr_answer(code: str = "00", status: str | None = "00", **values: str) -> dict[str, str]:
    fields = {"vnp_Command": "querydr", "vnp_ResponseCode": code, "vnp_Amount": "15000000", "vnp_BankCode": "NCB",
              "vnp_PayDate": "20250301093512", "vnp_TransactionNo": "14512345", "vnp_TransactionType": "01",
              "vnp_OrderInfo": "Le phi", "vnp_PromotionCode": "", "vnp_PromotionAmount": ""}
    if status is not None:
        fields["vnp_TransactionStatus"] = status
    return signed_answer(QUERYDR_ANSWER_FIELDS, **(fields | values))


@pytest.fixture
async def vnpay():
    scripted = ScriptedVnpay()
    async with running_server(scripted.app) as base:
        scripted.url = f"{base}/merchant_webapi/api/transaction"
        yield scripted


def provider_for(vnpay: ScriptedVnpay, first_request: int = 1, **overrides) -> VnpayProvider:
    ids = iter(f"REQ{n:04d}" for n in range(first_request, 100))
    clock = overrides.pop("clock", lambda: datetime(2025, 3, 1, 3, 15, tzinfo=timezone.utc))
    return VnpayProvider(settings(vnpay_api_url=vnpay.url, **overrides), clock=clock, new_request_id=lambda: next(ids))


async def test_querydr_request_is_signed_in_vnpays_order(vnpay):
    vnpay.script.append(lambda body: (200, querydr_answer()))
    provider = provider_for(vnpay)
    answer = await provider.query(payment_id="PAY20250301A1B2", created_at=CREATED)
    await provider.aclose()
    assert vnpay.requests == [{
        "vnp_RequestId": "REQ0001", "vnp_Version": "2.1.0", "vnp_Command": "querydr", "vnp_TmnCode": TMN,
        "vnp_TxnRef": "PAY20250301A1B2", "vnp_OrderInfo": "Truy van giao dich PAY20250301A1B2",
        "vnp_TransactionDate": "20250301093000", "vnp_CreateDate": "20250301101500", "vnp_IpAddr": "10.0.0.5",
        "vnp_SecureHash": QUERYDR_HASH}]
    assert hmac512(QUERYDR_DATA) == QUERYDR_HASH
    assert answer.status == "succeeded" and answer.amount == 150_000 and answer.provider_transaction == "14512345"


@pytest.mark.parametrize(("code", "status", "expected", "suspicious"), [
    ("00", "00", "succeeded", False), ("00", "01", "pending", False), ("00", "02", "failed", False),
    ("00", "04", "pending", True), ("00", "07", "pending", True), ("00", "05", "succeeded", False),
    ("00", "06", "succeeded", False), ("00", "99", "pending", False), ("91", None, "not_found", False),
])
async def test_querydr_answers_are_mapped(vnpay, code, status, expected, suspicious):
    vnpay.script.append(lambda body: (200, querydr_answer(code, status)))
    provider = provider_for(vnpay)
    answer = await provider.query(payment_id="PAY20250301A1B2", created_at=CREATED)
    await provider.aclose()
    assert (answer.status, answer.suspicious) == (expected, suspicious)


@pytest.mark.parametrize("bad_answer", [
    querydr_answer() | {"vnp_TransactionStatus": "02"},  # altered after signing
    {k: v for k, v in querydr_answer().items() if k != "vnp_SecureHash"},  # unsigned
    signed_answer(QUERYDR_ANSWER_FIELDS, secret="not-ours", vnp_ResponseCode="91", vnp_Command="querydr"),
    querydr_answer(vnp_TxnRef="SOMEONE-ELSE"),
    querydr_answer("97", None), querydr_answer("00", None), querydr_answer("00", "00", vnp_Amount=""),
    ["not", "an", "object"],
])
async def test_querydr_bad_answers_are_unavailable(vnpay, bad_answer):
    vnpay.script.extend([lambda body: (200, bad_answer)] * 3)
    provider = provider_for(vnpay)
    with pytest.raises(ProviderUnavailable):
        await provider.query(payment_id="PAY20250301A1B2", created_at=CREATED)
    await provider.aclose()
    assert len(vnpay.requests) == 3  # read-only: retried, up to vnpay_query_attempts


async def test_querydr_is_retried_with_a_new_request_id(vnpay):
    vnpay.script.extend([lambda body: (503, {}), lambda body: (200, querydr_answer("94", None)),
                         lambda body: (200, querydr_answer())])
    provider = provider_for(vnpay)
    answer = await provider.query(payment_id="PAY20250301A1B2", created_at=CREATED)
    await provider.aclose()
    assert answer.status == "succeeded"
    assert [r["vnp_RequestId"] for r in vnpay.requests] == ["REQ0001", "REQ0002", "REQ0003"]


async def test_unreachable_vnpay_is_unavailable():
    sock = bound_socket()  # bound, not listening: connections are refused
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/merchant_webapi/api/transaction"
    provider = VnpayProvider(settings(vnpay_api_url=url))
    try:
        with pytest.raises(ProviderUnavailable):
            await provider.query(payment_id="P1", created_at=CREATED)
        with pytest.raises(ProviderUnavailable) as refused:
            await provider.refund(payment_id="P1", amount=1000, full=True, provider_transaction=None,
                                  paid_at=CREATED, actor="officer-7")
        assert not isinstance(refused.value, RefundOutcomeUnknown)  # never sent: safe to try again
    finally:
        sock.close()
        await provider.aclose()


def refund_answer(code: str = "00", **values: str) -> dict[str, str]:
    fields = {"vnp_Command": "refund", "vnp_ResponseCode": code, "vnp_Amount": "5000000", "vnp_BankCode": "NCB",
              "vnp_PayDate": "20250302080001", "vnp_TransactionNo": "14519999", "vnp_TransactionType": "03",
              "vnp_TransactionStatus": "05", "vnp_OrderInfo": "Hoan tien PAY20250301A1B2"}
    return signed_answer(REFUND_ANSWER_FIELDS, **(fields | values))


async def test_refund_request_is_signed_in_vnpays_order(vnpay):
    vnpay.script.append(lambda body: (200, refund_answer()))
    provider = provider_for(vnpay, first_request=2, clock=lambda: datetime(2025, 3, 2, 1, 0, tzinfo=timezone.utc))
    answer = await provider.refund(payment_id="PAY20250301A1B2", amount=50_000, full=False,
                                   provider_transaction="14512345", paid_at=CREATED, actor="officer-7")
    await provider.aclose()
    assert vnpay.requests == [{
        "vnp_RequestId": "REQ0002", "vnp_Version": "2.1.0", "vnp_Command": "refund", "vnp_TmnCode": TMN,
        "vnp_TransactionType": "03", "vnp_TxnRef": "PAY20250301A1B2", "vnp_Amount": "5000000",
        "vnp_OrderInfo": "Hoan tien PAY20250301A1B2", "vnp_TransactionDate": "20250301093000",
        "vnp_CreateBy": "officer-7", "vnp_CreateDate": "20250302080000", "vnp_IpAddr": "10.0.0.5",
        "vnp_TransactionNo": "14512345", "vnp_SecureHash": REFUND_HASH}]
    assert hmac512(REFUND_DATA) == REFUND_HASH
    assert answer.accepted and answer.provider_reference == "14519999" and answer.code == "00"


async def test_full_refund_is_type_02(vnpay):
    vnpay.script.append(lambda body: (200, refund_answer(vnp_TransactionType="02", vnp_Amount=body["vnp_Amount"])))
    provider = provider_for(vnpay)
    answer = await provider.refund(payment_id="PAY20250301A1B2", amount=150_000, full=True, provider_transaction=None,
                                   paid_at=CREATED, actor="Nguyễn Văn A")
    await provider.aclose()
    request = vnpay.requests[0]
    assert request["vnp_TransactionType"] == "02" and request["vnp_Amount"] == "15000000"
    assert "vnp_TransactionNo" not in request and request["vnp_CreateBy"] == "Nguyen Van A"
    assert answer.accepted


@pytest.mark.parametrize("code", ["02", "04", "91", "93", "94", "95", "97", "99"])
async def test_refused_refunds(vnpay, code):
    vnpay.script.append(lambda body: (200, refund_answer(code)))
    provider = provider_for(vnpay)
    answer = await provider.refund(payment_id="PAY20250301A1B2", amount=50_000, full=False,
                                   provider_transaction="14512345", paid_at=CREATED, actor="officer-7")
    await provider.aclose()
    assert not answer.accepted and answer.code == code and answer.message and answer.provider_reference is None


@pytest.mark.parametrize("failure", [
    lambda body: (500, {}),
    lambda body: (200, refund_answer() | {"vnp_Amount": "15000000"}),  # altered after signing
    lambda body: (200, {k: v for k, v in refund_answer().items() if k != "vnp_SecureHash"}),
    lambda body: (200, refund_answer("98")),  # VNPay's own timeout
])
async def test_a_refund_with_no_trustworthy_answer_is_not_sent_again(vnpay, failure):
    vnpay.script.extend([failure, lambda body: (200, refund_answer())])
    provider = provider_for(vnpay)
    with pytest.raises(RefundOutcomeUnknown):
        await provider.refund(payment_id="PAY20250301A1B2", amount=50_000, full=False,
                              provider_transaction="14512345", paid_at=CREATED, actor="officer-7")
    await provider.aclose()
    assert len(vnpay.requests) == 1


async def test_a_refund_that_timed_out_is_not_sent_again():
    calls = []
    app = FastAPI()

    @app.post("/api")
    async def slow(request: Request):
        calls.append(await request.json())
        await asyncio.sleep(2)
        return {}

    async with running_server(app) as base:
        provider = VnpayProvider(settings(vnpay_api_url=f"{base}/api", vnpay_timeout_seconds=0.3))
        with pytest.raises(RefundOutcomeUnknown):
            await provider.refund(payment_id="P1", amount=10_000, full=True, provider_transaction=None,
                                  paid_at=CREATED, actor="officer-7")
        await provider.aclose()
    assert len(calls) == 1


async def test_an_injected_client_is_used_and_left_open(vnpay):
    vnpay.script.append(lambda body: (200, querydr_answer()))
    async with httpx.AsyncClient() as client:
        provider = VnpayProvider(settings(vnpay_api_url=vnpay.url), client=client)
        assert (await provider.query(payment_id="PAY20250301A1B2", created_at=CREATED)).status == "succeeded"
        await provider.aclose()
        assert not client.is_closed


def test_the_secret_stays_out_of_reprs():
    provider = VnpayProvider(settings())
    assert SECRET not in repr(provider) and SECRET not in repr(provider.settings)
