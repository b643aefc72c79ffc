"""Settlement through VNPay's protocol, over real HTTP: the payment service and the VNPay sandbox
(`payment.sandbox`) each on a loopback port, the sandbox delivering its IPNs to the service, the citizen's
browser played by an HTTP client, on the real store (both adapters).

Whatever arrives, in whatever order and however often (the IPN twice, after or before the browser return,
tampered with, for an unknown order; the reconciliation racing the IPN), a payment is settled at most once:
one ledger entry, one event, and the right RspCode to VNPay each time."""

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from kit.bus.memory import MemoryBroker, MemoryBus
from kit.events import utcnow
from kit.testing import bound_socket, running_server
from payment import handlers
from payment.app import create_app
from payment.providers.base import Checkout
from payment.sandbox import create_app as create_sandbox
from payment.sandbox.gateway import Gateway, Merchant
from payment.provider_settings import SandboxSettings

from .conftest import (ADMIN, CASHIER, CITIZEN, CODE, ONLINE_FEE, REQUESTED_FEE, SECURITY_CODE, Service, feed,
                       replica, settings)

ITEM = f"{CODE}/1"
IPN_PATH = "/payments/providers/vnpay/ipn"
MINUTES = timedelta(minutes=1)


@dataclass
class Stage(Service):
    http: httpx.AsyncClient | None = None
    sandbox: str = ""
    gateway: Gateway | None = None
    ipn_url: str = ""
    changes: dict | None = None

    async def start(self, item: str = ITEM) -> dict:
        r = await self.client.post("/payments", json={"item_id": item, "security_code": SECURITY_CODE},
                                   headers=CITIZEN)
        assert r.status_code in (200, 201), r.text
        return r.json()

    async def pay(self, payment: dict, outcome: str = "success") -> httpx.Response:
        """The citizen opens the payment page and chooses; the sandbox sends the IPN (if on), then the
        browser back to the return URL (the answer's Location)."""
        url = payment["checkout_url"]
        assert (await self.http.get(url)).status_code == 200
        response = await self.http.post(f"{url}&auto={outcome}")
        assert response.status_code == 303, response.text
        return response

    async def back(self, paid: httpx.Response) -> dict:
        """The browser follows the redirect to our return URL."""
        r = await self.http.get(paid.headers["location"])
        assert r.status_code == 200, r.text
        return r.json()

    def ipn(self, on: bool) -> None:
        """Switch the sandbox's IPN to this merchant on or off (an IPN lost in transit, or late)."""
        merchant = self.gateway.merchants[self.deps.settings.vnpay_tmn_code]
        self.gateway.merchants[merchant.tmn_code] = Merchant(merchant.tmn_code, merchant.secret,
                                                             self.ipn_url if on else None)

    async def ipn_log(self, payment_id: str) -> list[dict]:
        r = await self.http.get(f"{self.sandbox}/_sandbox/ipn-log", params={"txn_ref": payment_id})
        return r.json()

    async def redeliver(self, payment_id: str, *, tamper: str | None = None, times: int = 1) -> list[str]:
        r = await self.http.post(f"{self.sandbox}/_sandbox/transactions/{payment_id}/deliver-ipn",
                                 params={"times": times, **({"tamper": tamper} if tamper else {})})
        assert r.status_code == 200, r.text
        return [entry["rsp_code"] for entry in r.json()]

    async def payment(self, payment_id: str) -> dict:
        r = await self.client.get(f"/payments/{payment_id}", headers=CASHIER)
        assert r.status_code == 200, r.text
        return r.json()

    async def settle_silently(self, payment: dict, outcome: str = "success") -> dict:
        r = await self.http.post(f"{self.sandbox}/_sandbox/settle-silently",
                                 json={"payment_url": payment["checkout_url"], "outcome": outcome})
        assert r.status_code == 200, r.text
        return r.json()

    async def reconcile(self, payment: dict, after: timedelta, *, sweep: bool = False) -> handlers.Report:
        started = (await self.payment(payment["payment_id"]))["started_at"]
        return await handlers.reconcile(self.deps, now=datetime.fromisoformat(started) + after, sweep=sweep)

    async def quiet(self) -> None:
        """Let the relay publish what it holds."""
        await asyncio.sleep(0.3)


@contextlib.asynccontextmanager
async def staged(store, **changes):
    service_socket, sandbox_socket = bound_socket(), bound_socket()
    service_url = f"http://127.0.0.1:{service_socket.getsockname()[1]}"
    sandbox_url = f"http://127.0.0.1:{sandbox_socket.getsockname()[1]}"
    ipn_url = f"{service_url}{IPN_PATH}"
    gateway = Gateway(SandboxSettings(sandbox_ipn_url=ipn_url, sandbox_test_hooks=True, sandbox_ipn_attempts=1))
    provider = dict(vnpay_pay_url=f"{sandbox_url}/paymentv2/vpcpay.html",
                    vnpay_api_url=f"{sandbox_url}/merchant_webapi/api/transaction",
                    return_url=f"{service_url}/payments/providers/vnpay/return", vnpay_retry_backoff_seconds=0.01)
    broker = MemoryBroker()
    bus = MemoryBus(broker)
    app = create_app(settings(**provider, **changes), bus=bus, store=store)
    async with (running_server(create_sandbox(gateway.settings, gateway=gateway), sandbox_socket),
                running_server(app, service_socket),
                httpx.AsyncClient(base_url=service_url, timeout=10) as client,
                httpx.AsyncClient(timeout=10) as http):
        await feed(bus, client, store)
        yield Stage(client=client, bus=bus, broker=broker, store=store, app=app, http=http, sandbox=sandbox_url,
                    gateway=gateway, ipn_url=ipn_url, changes={**provider, **changes})
    await bus.stop()


@pytest.fixture
async def stage(store):
    async with staged(store) as s:
        yield s


# -- the IPN ------------------------------------------------------------------------------------------------------


async def test_the_ipn_delivered_twice_settles_once_and_the_return_after_it_only_shows(stage):
    payment = await stage.start()
    pid = payment["payment_id"]
    paid = await stage.pay(payment)
    [first] = await stage.ipn_log(pid)
    assert first["rsp_code"] == "00" and first["message"] == "Confirm Success"
    settled = await stage.payment(pid)
    assert settled["state"] == "succeeded" and settled["provider_transaction"]
    await stage.wait_events("succeeded", 1)

    assert await stage.redeliver(pid, times=2) == ["02", "02"]
    shown = await stage.back(paid)
    assert (shown["payment_id"], shown["state"], shown["paid"], shown["provider_says"]) == (pid, "succeeded", True,
                                                                                          "success")
    await stage.quiet()
    assert await stage.ledger_count() == 1
    assert len(await stage.events("succeeded")) == 1
    after = await stage.payment(pid)
    assert after == settled, "nothing else changed"


async def test_the_return_before_the_ipn_shows_but_never_settles(stage):
    stage.ipn(on=False)  # the IPN is late
    payment = await stage.start()
    pid = payment["payment_id"]
    paid = await stage.pay(payment)
    for _ in range(2):
        shown = await stage.back(paid)
        assert (shown["state"], shown["paid"], shown["provider_says"]) == ("started", False, "success")
        assert shown["state_label_vi"] == "Đang xác nhận thanh toán"
    assert (await stage.payment(pid))["state"] == "started"
    assert await stage.ledger_count() == 0 and await stage.events() == []

    stage.ipn(on=True)
    assert await stage.redeliver(pid) == ["00"]
    assert (await stage.back(paid))["paid"] is True
    assert await stage.ledger_count() == 1
    await stage.wait_events("succeeded", 1)


async def test_a_tampered_ipn_changes_nothing_and_gets_its_code(stage):
    stage.ipn(on=False)
    payment = await stage.start()
    pid = payment["payment_id"]
    await stage.pay(payment)
    stage.ipn(on=True)
    before = await stage.payment(pid)
    assert await stage.redeliver(pid, tamper="signed_amount") == ["04"]  # a changed amount, signed
    assert await stage.redeliver(pid, tamper="amount") == ["97"]  # a changed amount, signature broken
    assert await stage.redeliver(pid, tamper="signature") == ["97"]  # signed with another secret
    await stage.quiet()
    assert await stage.payment(pid) == before
    assert await stage.ledger_count() == 0 and await stage.events() == []
    assert await stage.redeliver(pid) == ["00"]  # the genuine one still settles
    assert await stage.redeliver(pid, tamper="signed_amount") == ["04"]  # and a wrong amount stays wrong
    assert await stage.ledger_count() == 1


async def test_an_ipn_for_an_order_we_never_made_is_01(stage):
    provider = stage.deps.providers["vnpay"]
    now = utcnow()
    checkout = Checkout(payment_id="261123FFFFFFFFFFFF", amount=ONLINE_FEE, description="Khong co", client_ip="",
                        return_url=stage.deps.settings.return_url, created_at=now, expires_at=now + 15 * MINUTES)
    await stage.pay({"checkout_url": provider.checkout_url(checkout)})
    [entry] = await stage.ipn_log(checkout.payment_id)
    assert entry["rsp_code"] == "01"
    assert await stage.store.collection("payments").count() == 0 and await stage.ledger_count() == 0


async def test_the_ipn_through_the_gateway_route_shape_is_not_a_settlement_without_a_signature(stage):
    r = await stage.http.get(stage.ipn_url, params={"vnp_TxnRef": "X", "vnp_Amount": "100", "vnp_SecureHash": "00"})
    assert r.status_code == 200 and r.json() == {"RspCode": "97", "Message": "Invalid signature"}
    r = await stage.http.get(stage.ipn_url)
    assert r.json()["RspCode"] == "97"
    r = await stage.http.get(stage.ipn_url.replace("vnpay", "momo"))
    assert r.json()["RspCode"] == "01"


@pytest.mark.parametrize(("outcome", "state", "code"), [("cancel", "failed", "24"), ("fail", "failed", "51")])
async def test_a_failed_payment_fails_once_and_the_item_can_be_paid_again(stage, outcome, state, code):
    payment = await stage.start()
    pid = payment["payment_id"]
    shown = await stage.back(await stage.pay(payment, outcome))
    assert (shown["state"], shown["paid"], shown["provider_says"]) == (state, False, "failure")
    assert f"code {code}" in (await stage.payment(pid))["reason"]
    assert await stage.redeliver(pid) == ["02"]
    [failed] = await stage.wait_events("failed", 1)
    assert (failed.payment_id, failed.status) == (pid, "failed")
    again = await stage.start()
    assert again["payment_id"] != pid and again["attempt"] == 2


async def test_a_suspicious_payment_waits_for_a_person(stage):
    payment = await stage.start()
    pid = payment["payment_id"]
    shown = await stage.back(await stage.pay(payment, "suspicious"))
    assert (shown["state"], shown["provider_says"]) == ("manual_review", "review")
    assert await stage.ledger_count() == 0
    r = await stage.client.post(f"/payments/{pid}/review", json={"decision": "accept", "reason": "VNPay xác nhận"},
                                headers=ADMIN)
    assert r.json()["state"] == "succeeded"
    assert await stage.ledger_count() == 1
    await stage.wait_events("succeeded", 1)


# -- reconciliation -----------------------------------------------------------------------------------------------------


async def test_reconciliation_settles_a_payment_whose_ipn_never_came_exactly_once(stage):
    payment = await stage.start()
    pid = payment["payment_id"]
    await stage.settle_silently(payment)  # paid at VNPay: no IPN, no browser return
    assert (await stage.payment(pid))["state"] == "started"

    early = await stage.reconcile(payment, 10 * MINUTES)  # not in the 15-30 min window yet
    assert early.checked == 0
    report = await stage.reconcile(payment, 20 * MINUTES)
    assert (report.checked, report.steps) == (1, {"succeed": 1})
    settled = await stage.payment(pid)
    assert settled["state"] == "succeeded" and settled["provider_transaction"]
    for later, sweep in ((25 * MINUTES, False), (2 * 60 * MINUTES, True)):
        report = await stage.reconcile(payment, later, sweep=sweep)
        assert report.checked == 0 and report.alerts == 0
    assert await stage.redeliver(pid) == ["02"]  # the IPN, when it finally comes
    await stage.wait_events("succeeded", 1)
    await stage.quiet()
    assert len(await stage.events("succeeded")) == 1 and await stage.ledger_count() == 1
    assert await stage.events("unsettled") == []


async def test_the_ipn_and_the_reconciliation_racing_settle_once(stage):
    stage.ipn(on=False)
    payments = [await stage.start(item) for item in (ITEM, f"{CODE}/2", f"{CODE}/fees-7")]
    for payment in payments:
        await stage.pay(payment)
    stage.ipn(on=True)
    answers = await asyncio.gather(*(stage.redeliver(p["payment_id"]) for p in payments),
                                   stage.reconcile(payments[0], 20 * MINUTES),
                                   stage.reconcile(payments[0], 21 * MINUTES, sweep=True))
    codes = [code for answer in answers[:3] for code in answer]
    assert set(codes) <= {"00", "02"}, codes
    for payment in payments:
        assert (await stage.payment(payment["payment_id"]))["state"] == "succeeded"
    assert await stage.ledger_count() == 3
    await stage.wait_events("succeeded", 3)
    await stage.quiet()
    assert len(await stage.events("succeeded")) == 3


async def test_reconciliation_expires_a_payment_never_made(stage):
    payment = await stage.start()  # the citizen never opens the page: VNPay has never heard of it
    report = await stage.reconcile(payment, 20 * MINUTES)
    assert report.steps == {"expire": 1}
    assert (await stage.payment(payment["payment_id"]))["state"] == "expired"
    [failed] = await stage.wait_events("failed", 1)
    assert failed.status == "expired"
    assert (await stage.start())["attempt"] == 2


async def test_a_payment_stuck_past_30_minutes_raises_the_alert_once(store):
    async with staged(store, payment_ttl_seconds=3600) as stage:  # the citizen has an hour to pay
        payment = await stage.start()
        assert (await stage.http.get(payment["checkout_url"])).status_code == 200  # pending at VNPay
        report = await stage.reconcile(payment, 20 * MINUTES)
        assert (report.checked, report.steps, report.alerts) == (1, {}, 0)
        assert (await stage.reconcile(payment, 31 * MINUTES)).alerts == 1
        assert (await stage.reconcile(payment, 46 * MINUTES)).alerts == 0
        [alert] = await stage.wait_events("unsettled", 1)
        assert alert.payment_id == payment["payment_id"] and alert.item_id == ITEM
        # The daily sweep, after the hour: VNPay still has it pending, so it expires; no second alert.
        report = await stage.reconcile(payment, 2 * 60 * MINUTES, sweep=True)
        assert (report.steps, report.alerts) == ({"expire": 1}, 0)
        await stage.quiet()
        assert len(await stage.events("unsettled")) == 1


# -- refunds through VNPay ------------------------------------------------------------------------------------------------


async def test_refunds_go_to_vnpay_and_never_exceed_what_was_paid(stage):
    payment = await stage.start(f"{CODE}/fees-7")
    pid = payment["payment_id"]
    await stage.pay(payment)
    r = await stage.client.post(f"/payments/{pid}/refunds", json={"amount": 20_000, "reason": "Thu thừa"},
                                headers=CASHIER)
    assert r.status_code == 201, r.text
    assert r.json()["refund"]["provider_reference"]
    async with replica(stage, **stage.changes) as other:
        answers = await asyncio.gather(*(
            c.post(f"/payments/{pid}/refunds", json={"amount": 60_000, "reason": "Hồ sơ bị từ chối"}, headers=ADMIN)
            for c in (stage.client, other, stage.client)))
    assert sorted(a.status_code for a in answers) == [201, 409, 409], [a.text for a in answers]
    [txn] = [t for t in (await stage.http.get(f"{stage.sandbox}/_sandbox/transactions")).json()
             if t["txn_ref"] == pid]
    assert txn["refunded"] == 80_000 and len(txn["refunds"]) == 2  # what VNPay gave back
    after = await stage.payment(pid)
    assert (after["state"], after["refunded_total"], after["refundable"]) == ("partially_refunded", 80_000, 40_000)
    ledger = (await stage.client.get(f"/payments/dossiers/{CODE}/ledger", headers=ADMIN)).json()
    assert (ledger["received"], ledger["refunded"], ledger["net"]) == (REQUESTED_FEE, 80_000, 40_000)
    await stage.wait_events("refunded", 2)


# -- secrets stay out of the logs ------------------------------------------------------------------------------------------


async def test_no_secret_nor_signed_callback_is_logged(stage, caplog):
    caplog.set_level("INFO")  # the services' level (a library's DEBUG output, e.g. aiosqlite's SQL, is not)
    stage.ipn(on=False)
    payment = await stage.start()
    paid = await stage.pay(payment)
    stage.ipn(on=True)
    await stage.redeliver(payment["payment_id"], tamper="signature")
    await stage.redeliver(payment["payment_id"])
    await stage.back(paid)
    await stage.reconcile(payment, 20 * MINUTES)
    await stage.client.post(f"/payments/{payment['payment_id']}/refunds", json={"reason": "Thu thừa"},
                            headers=CASHIER)
    secret = stage.deps.settings.vnpay_hash_secret.get_secret_value()
    signatures = {v for v in (paid.headers["location"] + payment["checkout_url"]).split("vnp_SecureHash=")[1:]}
    # Not the service's log: VNPay's side (the sandbox and its HTTP client), and uvicorn's access log of the
    # test servers (the service runs with it off and at WARNING: kit.http.server, kit.telemetry).
    ours = [r for r in caplog.records if not r.name.startswith(("motcua.sandbox", "uvicorn.access"))
            and not (r.name.startswith("httpx") and IPN_PATH in r.getMessage())]
    assert ours, "the flow logs something"
    for record in ours:
        text = record.getMessage() + str(record.__dict__.get("extra", ""))
        assert secret not in text and "vnp_SecureHash" not in text, (record.name, text)
        assert not any(s.split("&")[0] in text for s in signatures), (record.name, text)
        assert SECURITY_CODE not in text


async def test_a_refund_vnpay_never_got_is_released_and_one_it_may_have_got_holds_its_amount(stage):
    payment = await stage.start(f"{CODE}/fees-7")
    pid = payment["payment_id"]
    await stage.pay(payment)
    body = {"amount": 100_000, "reason": "Hồ sơ bị từ chối"}
    refused = bound_socket()  # bound, not listening: the connection is refused, nothing reached VNPay
    down = f"http://127.0.0.1:{refused.getsockname()[1]}/merchant_webapi/api/transaction"
    async with replica(stage, **{**stage.changes, "vnpay_api_url": down}) as other:
        r = await other.post(f"/payments/{pid}/refunds", json=body, headers=CASHIER)
    refused.close()
    assert r.status_code == 503 and r.json()["type"] == "/problems/provider-unavailable" and "Retry-After" in r.headers
    after = await stage.payment(pid)
    assert [x["state"] for x in after["refunds"]] == ["released"] and after["refundable"] == REQUESTED_FEE

    slow = FastAPI()

    @slow.post("/merchant_webapi/api/transaction")
    async def never_in_time():
        await asyncio.sleep(3)
        return {}

    async with running_server(slow) as slow_url:
        changes = {**stage.changes, "vnpay_api_url": f"{slow_url}/merchant_webapi/api/transaction",
                   "vnpay_timeout_seconds": 0.3}
        async with replica(stage, **changes) as other:
            r = await other.post(f"/payments/{pid}/refunds", json=body, headers=CASHIER)
    assert r.status_code == 502 and r.json()["type"] == "/problems/refund-outcome-unknown", r.text
    after = await stage.payment(pid)
    assert [x["state"] for x in after["refunds"]] == ["released", "pending"]
    assert after["refundable"] == REQUESTED_FEE - 100_000, "the refund that may have been made holds its amount"
    r = await stage.client.post(f"/payments/{pid}/refunds", json=body, headers=CASHIER)
    assert r.status_code == 409 and r.json()["refundable"] == 20_000
    assert await stage.events("refunded") == [] and (await stage.client.get(
        f"/payments/dossiers/{CODE}/ledger", headers=ADMIN)).json()["refunded"] == 0
    # An admin looks at VNPay's merchant portal and records what happened: the refund was made after all.
    outcome = {"made": True, "provider_reference": "14999999", "note": "Cổng VNPAY: đã hoàn"}
    r = await stage.client.post(f"/payments/{pid}/refunds/2/outcome", json=outcome, headers=CASHIER)
    assert r.status_code == 403
    r = await stage.client.post(f"/payments/{pid}/refunds/2/outcome", json=outcome, headers=ADMIN)
    assert r.status_code == 200 and r.json()["state"] == "partially_refunded" and r.json()["refunded_total"] == 100_000
    r = await stage.client.post(f"/payments/{pid}/refunds/2/outcome", json=outcome, headers=ADMIN)
    assert r.status_code == 422  # decided once
    [refunded] = await stage.wait_events("refunded", 1)
    assert (refunded.refunded, refunded.full) == (100_000, False)
