"""The VNPay sandbox and the VNPay adapter together, over real loopback HTTP: the sandbox, a merchant's IPN
receiver and return page (a real server too), and the adapter as the payment service uses it."""

import asyncio
import logging
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, urljoin, urlsplit

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import SecretStr

from kit.testing import eventually, free_port, running_server, unique
from payment.provider_settings import SandboxSettings, VnpaySettings
from payment.providers.base import Checkout, ProviderUnavailable
from payment.providers.vnpay import VnpayProvider
from payment.sandbox import create_app

TMN = "MOTCUA01"
SECRET = "sandbox-test-secret-0123456789"


class MerchantSite:
    """The merchant's side: an IPN endpoint answering as VNPay asks merchants to, and a return page."""

    def __init__(self):
        self.provider: VnpayProvider | None = None
        self.expected: dict[str, int] = {}  # payment id -> amount owed
        self.confirmed: set[str] = set()
        self.ipns: list[dict] = []
        self.returns: list[dict] = []
        self.fail_next = 0
        self.app = FastAPI()

        @self.app.get("/vnpay/ipn")
        async def ipn(request: Request):
            if self.fail_next:
                self.fail_next -= 1
                return JSONResponse({"detail": "down"}, status_code=500)
            verdict = self.provider.verify_callback(request.query_params)
            if not verdict.signature_ok:
                answer = {"RspCode": "97", "Message": "Invalid signature"}
            elif verdict.payment_id not in self.expected:
                answer = {"RspCode": "01", "Message": "Order not found"}
            elif verdict.amount != self.expected[verdict.payment_id]:
                answer = {"RspCode": "04", "Message": "Invalid amount"}
            elif verdict.payment_id in self.confirmed:
                answer = {"RspCode": "02", "Message": "Order already confirmed"}
            else:
                self.confirmed.add(verdict.payment_id)
                answer = {"RspCode": "00", "Message": "Confirm Success"}
            self.ipns.append({"params": dict(request.query_params), "verdict": verdict, "answer": answer})
            return answer

        @self.app.get("/thanh-toan/ket-qua", response_class=HTMLResponse)
        async def back(request: Request):
            verdict = self.provider.verify_callback(request.query_params)
            self.returns.append({"params": dict(request.query_params), "verdict": verdict})
            return "<p>Đã nhận kết quả thanh toán</p>"


@dataclass
class World:
    sandbox: str
    merchant: MerchantSite
    merchant_url: str
    provider: VnpayProvider
    http: httpx.AsyncClient

    def checkout(self, amount: int = 150_000, *, minutes: int = 15) -> Checkout:
        now = datetime.now(timezone.utc).replace(microsecond=0)
        payment_id = unique("PAY")
        self.merchant.expected[payment_id] = amount
        return Checkout(payment_id=payment_id, amount=amount, description=f"Lệ phí hồ sơ {payment_id}",
                        return_url=f"{self.merchant_url}/thanh-toan/ket-qua", client_ip="203.162.4.191",
                        created_at=now, expires_at=now + timedelta(minutes=minutes))

    async def pay(self, checkout: Checkout, outcome: str = "success") -> httpx.Response:
        url = self.provider.checkout_url(checkout)
        assert (await self.http.get(url)).status_code == 200  # the citizen sees the page
        response = await self.http.post(f"{url}&auto={outcome}")
        assert response.status_code == 303, response.text
        return response

    async def ipn_log(self, txn_ref: str | None = None) -> list[dict]:
        response = await self.http.get(f"{self.sandbox}/_sandbox/ipn-log",
                                       params={"txn_ref": txn_ref} if txn_ref else {})
        response.raise_for_status()
        return response.json()

    def query(self, checkout: Checkout):
        return self.provider.query(payment_id=checkout.payment_id, created_at=checkout.created_at)

    def refund(self, checkout: Checkout, amount: int, *, full: bool = False, transaction: str | None = None):
        return self.provider.refund(payment_id=checkout.payment_id, amount=amount, full=full,
                                    provider_transaction=transaction, paid_at=checkout.created_at, actor="officer-7")


def sandbox_settings(ipn_url: str, **overrides) -> SandboxSettings:
    values = dict(vnpay_tmn_code=TMN, vnpay_hash_secret=SecretStr(SECRET), sandbox_ipn_url=ipn_url,
                  sandbox_test_hooks=True, sandbox_ipn_attempts=4, sandbox_ipn_backoff_seconds=0.05)
    return SandboxSettings(**(values | overrides))


def provider_settings(sandbox: str, **overrides) -> VnpaySettings:
    values = dict(vnpay_tmn_code=TMN, vnpay_hash_secret=SecretStr(SECRET),
                  vnpay_pay_url=f"{sandbox}/paymentv2/vpcpay.html",
                  vnpay_api_url=f"{sandbox}/merchant_webapi/api/transaction", vnpay_retry_backoff_seconds=0.01)
    return VnpaySettings(**(values | overrides))


@pytest.fixture
async def world():
    merchant = MerchantSite()
    async with running_server(merchant.app) as merchant_url:
        app = create_app(sandbox_settings(f"{merchant_url}/vnpay/ipn"))
        async with running_server(app) as sandbox, httpx.AsyncClient(timeout=10) as http:
            provider = VnpayProvider(provider_settings(sandbox))
            merchant.provider = provider
            yield World(sandbox, merchant, merchant_url, provider, http)
            await provider.aclose()


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


# ------------------------------------------------------------------------------------------- paying


async def test_a_payment_from_checkout_to_ipn_return_and_query(world):
    checkout = world.checkout(150_000)
    assert (await world.query(checkout)).status == "not_found"  # VNPay has not seen it yet

    url = world.provider.checkout_url(checkout)
    page = await world.http.get(url)
    assert page.status_code == 200
    for text in ("Thanh toán thành công", "Hủy giao dịch", "Thất bại", "Nghi ngờ (07)", "150.000 ₫",
                 f"Le phi ho so {checkout.payment_id}"):
        assert text in page.text
    assert (await world.query(checkout)).status == "pending"

    response = await world.http.post(f"{url}&auto=success")
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(f"{world.merchant_url}/thanh-toan/ket-qua?")

    # The IPN came first, server to server, signed, and was acknowledged.
    [ipn] = world.merchant.ipns
    assert ipn["verdict"].signature_ok and ipn["verdict"].succeeded and ipn["answer"]["RspCode"] == "00"
    assert ipn["verdict"].payment_id == checkout.payment_id and ipn["verdict"].amount == 150_000
    [logged] = await world.ipn_log(checkout.payment_id)
    assert logged["acknowledged"] and logged["rsp_code"] == "00" and logged["attempt"] == 1

    # The browser comes back with the same signed result.
    verdict = world.provider.verify_callback(query_of(location))
    assert verdict.signature_ok and verdict.succeeded and verdict.amount == 150_000
    assert verdict.provider_transaction == ipn["verdict"].provider_transaction is not None
    assert (await world.http.get(location)).status_code == 200
    assert world.merchant.returns[0]["verdict"].succeeded

    status = await world.query(checkout)
    assert (status.status, status.amount, status.provider_transaction) == (
        "succeeded", 150_000, verdict.provider_transaction)


async def test_unknown_reference_is_not_found(world):
    answer = await world.provider.query(payment_id="NOSUCHPAYMENT", created_at=datetime.now(timezone.utc))
    assert answer.status == "not_found" and answer.code == "91"


async def test_the_payment_page_buttons_are_forms_a_browser_can_post(world):
    checkout = world.checkout()
    url = world.provider.checkout_url(checkout)
    page = await world.http.get(url)
    actions = dict((outcome, action) for action, outcome in
                   re.findall(r'<form method="post" action="([^"]+)">'
                              r'<input type="hidden" name="outcome" value="(\w+)">', page.text))
    assert set(actions) == {"success", "cancel", "fail", "suspicious"}
    choose = urljoin(str(page.url), actions["cancel"])

    response = await world.http.post(choose, data={"outcome": "cancel"})
    assert response.status_code == 303
    verdict = world.provider.verify_callback(query_of(response.headers["location"]))
    assert verdict.signature_ok and not verdict.succeeded and verdict.code == "24"
    assert verdict.provider_transaction is None
    assert world.merchant.ipns[0]["verdict"].code == "24"
    assert (await world.query(checkout)).status == "failed"

    again = await world.http.post(choose, data={"outcome": "success"})  # a second click changes nothing
    assert again.headers["location"] == response.headers["location"]
    assert len(world.merchant.ipns) == 1
    assert (await world.http.get(url)).headers["location"].endswith("code=01")  # the request is spent


@pytest.mark.parametrize(("outcome", "code", "status", "suspicious"), [
    ("fail", "51", "failed", False), ("suspicious", "07", "pending", True)])
async def test_failed_and_suspicious_payments(world, outcome, code, status, suspicious):
    checkout = world.checkout()
    response = await world.pay(checkout, outcome)
    verdict = world.provider.verify_callback(query_of(response.headers["location"]))
    assert verdict.signature_ok and not verdict.succeeded
    assert (verdict.code, verdict.suspicious) == (code, suspicious)
    answer = await world.query(checkout)
    assert (answer.status, answer.suspicious) == (status, suspicious)


async def test_an_ipn_is_retried_until_the_merchant_acknowledges_it(world):
    world.merchant.fail_next = 2
    checkout = world.checkout()
    await world.pay(checkout)
    log = await eventually(lambda: _acknowledged(world, checkout.payment_id), timeout=10)
    assert [(e["attempt"], e["http_status"], e["acknowledged"]) for e in log] == [
        (1, 500, False), (2, 500, False), (3, 200, True)]
    assert len(world.merchant.ipns) == 1


async def _acknowledged(world: World, txn_ref: str):
    log = await world.ipn_log(txn_ref)
    return log if log and log[-1]["acknowledged"] else None


async def test_ipn_retries_are_bounded(world):
    world.merchant.fail_next = 100
    checkout = world.checkout()
    await world.pay(checkout)
    log = await eventually(lambda: _all_attempts(world, checkout.payment_id, 4), timeout=10)
    await asyncio.sleep(0.5)
    assert len(await world.ipn_log(checkout.payment_id)) == 4 == len(log)
    assert not any(e["acknowledged"] for e in log)


async def _all_attempts(world: World, txn_ref: str, count: int):
    log = await world.ipn_log(txn_ref)
    return log if len(log) >= count else None


# ------------------------------------------------------------------------------------------- refusing


async def test_a_bad_merchant_signature_is_refused(world):
    checkout = world.checkout(150_000)
    url = world.provider.checkout_url(checkout).replace("vnp_Amount=15000000", "vnp_Amount=1500000")
    response = await world.http.get(url)
    assert response.status_code == 302 and response.headers["location"].endswith("Payment/Error.html?code=70")
    error = await world.http.get(url, follow_redirects=True)
    assert error.status_code == 400 and "70" in error.text and "Sai chữ ký" in error.text

    automatic = await world.http.post(f"{url}&auto=success")
    assert automatic.headers["location"].endswith("code=70")
    transactions = (await world.http.get(f"{world.sandbox}/_sandbox/transactions")).json()
    assert transactions == [] and world.merchant.ipns == []


async def test_unknown_terminal_expired_or_malformed_requests_are_refused(world):
    stranger = VnpayProvider(provider_settings(world.sandbox, vnpay_tmn_code="OTHER001"))
    assert (await world.http.get(stranger.checkout_url(world.checkout()))).headers["location"].endswith("code=72")
    expired = world.checkout(minutes=-1)
    assert (await world.http.get(world.provider.checkout_url(expired))).headers["location"].endswith("code=15")
    too_small = world.checkout(amount=1_000)  # VNPay takes 5,000 VND to under 1 billion
    assert (await world.http.get(world.provider.checkout_url(too_small))).headers["location"].endswith("code=03")
    url = world.provider.checkout_url(world.checkout())
    assert (await world.http.get(f"{url}&vnp_Amount=100")).headers["location"].endswith("code=03")  # repeated


async def test_answers_signed_with_another_secret_are_not_trusted(world):
    checkout = world.checkout()
    await world.pay(checkout)
    wrong = VnpayProvider(provider_settings(world.sandbox, vnpay_hash_secret=SecretStr("not-the-secret")))
    with pytest.raises(ProviderUnavailable):  # the sandbox answers 97, signed with the real secret
        await wrong.query(payment_id=checkout.payment_id, created_at=checkout.created_at)
    await wrong.aclose()


async def test_a_repeated_request_id_is_refused(world):
    checkout = world.checkout()
    await world.pay(checkout)
    same = VnpayProvider(provider_settings(world.sandbox, vnpay_query_attempts=2), new_request_id=lambda: "SAMEID0001")
    assert (await same.query(payment_id=checkout.payment_id, created_at=checkout.created_at)).status == "succeeded"
    with pytest.raises(ProviderUnavailable, match="94"):
        await same.query(payment_id=checkout.payment_id, created_at=checkout.created_at)
    await same.aclose()


async def test_querydr_needs_the_payments_own_date(world):
    checkout = world.checkout()
    await world.pay(checkout)
    answer = await world.provider.query(payment_id=checkout.payment_id,
                                        created_at=checkout.created_at + timedelta(seconds=1))
    assert answer.status == "not_found"


# ------------------------------------------------------------------------------------------- refunds


async def test_refunds_partial_then_the_rest_and_never_more_than_paid(world):
    checkout = world.checkout(150_000)
    response = await world.pay(checkout)
    transaction = world.provider.verify_callback(query_of(response.headers["location"])).provider_transaction

    partial = await world.refund(checkout, 50_000, transaction=transaction)
    assert partial.accepted and partial.code == "00" and partial.provider_reference

    full_after_partial = await world.refund(checkout, 150_000, full=True)
    assert not full_after_partial.accepted and full_after_partial.code == "04"

    above = await world.refund(checkout, 100_001)
    assert not above.accepted and above.code == "02"

    rest = await world.refund(checkout, 100_000)
    assert rest.accepted and rest.provider_reference != partial.provider_reference

    one_more = await world.refund(checkout, 5_000)
    assert not one_more.accepted and one_more.code == "02"

    [txn] = [t for t in (await world.http.get(f"{world.sandbox}/_sandbox/transactions")).json()
             if t["txn_ref"] == checkout.payment_id]
    assert txn["refunded"] == 150_000 and [r["amount"] for r in txn["refunds"]] == [50_000, 100_000]
    assert (await world.query(checkout)).status == "succeeded"  # the payment itself stands


async def test_full_refund_and_refusals(world):
    paid = world.checkout(80_000)
    await world.pay(paid)
    assert not (await world.refund(paid, 90_000, full=True)).accepted  # a full refund is of the whole amount
    assert (await world.refund(paid, 80_000, full=True)).accepted
    assert (await world.refund(paid, 1_000)).code == "02"

    cancelled = world.checkout()
    await world.pay(cancelled, "cancel")
    assert (await world.refund(cancelled, 10_000)).code == "95"

    never_seen = world.checkout()
    assert (await world.refund(never_seen, 10_000)).code == "91"

    above_paid = world.checkout(20_000)
    await world.pay(above_paid)
    assert (await world.refund(above_paid, 20_001)).code == "93"
    assert (await world.refund(above_paid, 10_000, transaction="99999999")).code == "91"  # not its transaction


# ------------------------------------------------------------------------------------------- test hooks


async def test_redelivered_and_tampered_ipns(world):
    checkout = world.checkout()
    await world.pay(checkout)
    hook = f"{world.sandbox}/_sandbox/transactions/{checkout.payment_id}/deliver-ipn"

    twice = (await world.http.post(hook, params={"times": 2})).json()
    assert [e["rsp_code"] for e in twice] == ["02", "02"]  # already confirmed: acknowledged, no double booking

    for tamper, expected in (("amount", "97"), ("signature", "97"), ("signed_amount", "04")):
        [entry] = (await world.http.post(hook, params={"tamper": tamper})).json()
        assert entry["rsp_code"] == expected and not entry["acknowledged"], tamper
    assert [i["answer"]["RspCode"] for i in world.merchant.ipns] == ["00", "02", "02", "97", "97", "04"]
    assert len(world.merchant.confirmed) == 1

    unfinished = world.checkout()
    await world.http.get(world.provider.checkout_url(unfinished))
    refused = await world.http.post(f"{world.sandbox}/_sandbox/transactions/{unfinished.payment_id}/deliver-ipn")
    assert refused.status_code == 409


async def test_settle_silently_for_reconciliation(world):
    opened = world.checkout()
    await world.http.get(world.provider.checkout_url(opened))
    settled = await world.http.post(f"{world.sandbox}/_sandbox/settle-silently", json={"txn_ref": opened.payment_id})
    assert settled.status_code == 200 and settled.json()["status"] == "00"

    never_opened = world.checkout()
    settled = await world.http.post(f"{world.sandbox}/_sandbox/settle-silently",
                                    json={"payment_url": world.provider.checkout_url(never_opened), "outcome": "fail"})
    assert settled.status_code == 200

    assert await world.ipn_log() == [] and world.merchant.ipns == []
    assert (await world.query(opened)).status == "succeeded"
    assert (await world.query(never_opened)).status == "failed"
    again = await world.http.post(f"{world.sandbox}/_sandbox/settle-silently", json={"txn_ref": opened.payment_id})
    assert again.status_code == 409


async def test_hooks_are_off_unless_enabled():
    app = create_app(SandboxSettings(vnpay_tmn_code=TMN, vnpay_hash_secret=SecretStr(SECRET), sandbox_test_hooks=False))
    async with running_server(app) as sandbox, httpx.AsyncClient() as http:
        assert (await http.get(f"{sandbox}/_sandbox/transactions")).status_code == 404
        assert (await http.post(f"{sandbox}/_sandbox/settle-silently", json={})).status_code == 404


# ------------------------------------------------------------------------------------------- ways to run


async def test_mounted_in_process_under_a_prefix():
    """The embedded mode mounts the sandbox in the platform's process; its relative links still work."""
    merchant = MerchantSite()
    async with running_server(merchant.app) as merchant_url:
        sandbox_app = create_app(sandbox_settings(f"{merchant_url}/vnpay/ipn"))
        host = FastAPI()
        host.mount("/vnpay-sandbox", sandbox_app)
        async with running_server(host) as base, httpx.AsyncClient() as http:
            provider = VnpayProvider(provider_settings(f"{base}/vnpay-sandbox"))
            merchant.provider = provider
            world = World(f"{base}/vnpay-sandbox", merchant, merchant_url, provider, http)
            checkout = world.checkout()
            url = provider.checkout_url(checkout)
            page = await http.get(url)
            action = re.search(r'action="([^"]+)"', page.text).group(1)
            chosen = await http.post(urljoin(str(page.url), action), data={"outcome": "success"})
            assert provider.verify_callback(query_of(chosen.headers["location"])).succeeded
            assert merchant.ipns[0]["verdict"].succeeded
            assert (await world.query(checkout)).status == "succeeded"
            bad = await http.get(url.replace("vnp_TxnRef=", "vnp_TxnRef=X"), follow_redirects=True)
            assert bad.status_code == 400
            assert str(bad.url).startswith(f"{base}/vnpay-sandbox/paymentv2/Payment/Error.html")
            await provider.aclose()
        await sandbox_app.state.gateway.aclose()  # a mounted app's lifespan does not run: its host closes it


async def test_python_dash_m_payment_sandbox_serves_on_the_configured_port():
    port = free_port()
    env = os.environ | {"MOTCUA_SANDBOX_PORT": str(port), "MOTCUA_VNPAY_TMN_CODE": TMN,
                        "MOTCUA_VNPAY_HASH_SECRET": SECRET, "MOTCUA_LOG_FORMAT": "text"}
    process = subprocess.Popen([sys.executable, "-m", "payment.sandbox"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        async with httpx.AsyncClient() as http:
            async def up():
                try:
                    return (await http.get(f"http://127.0.0.1:{port}/health/live")).status_code == 200
                except httpx.HTTPError:
                    assert process.poll() is None, process.stderr.read().decode()
                    return False

            await eventually(up, timeout=30, interval=0.1)
            provider = VnpayProvider(provider_settings(f"http://127.0.0.1:{port}"))
            now = datetime.now(timezone.utc)
            checkout = Checkout(payment_id="PROC1", amount=10_000, description="x", return_url="http://127.0.0.1:1/r",
                                client_ip="127.0.0.1", created_at=now, expires_at=now + timedelta(minutes=5))
            assert (await http.get(provider.checkout_url(checkout))).status_code == 200
            assert (await provider.query(payment_id="PROC1", created_at=now)).status == "pending"
            await provider.aclose()
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stderr.close()


async def test_signed_ipn_urls_stay_out_of_the_logs(world, caplog):
    """The adapter's and the sandbox's own logs, and httpx's request lines (uvicorn's access log and httpcore's
    DEBUG traces belong to the test servers' and client's setup)."""
    caplog.set_level(logging.INFO)
    await world.pay(world.checkout())
    assert world.merchant.ipns
    records = [r for r in caplog.records if r.name.startswith("motcua") or r.name == "httpx"]
    assert any(r.name == "httpx" and "/vnpay/ipn" in r.getMessage() for r in records)
    text = "\n".join(r.getMessage() for r in records)
    assert "vnp_SecureHash" not in text and SECRET not in text
