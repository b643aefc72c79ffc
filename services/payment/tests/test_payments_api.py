"""Fee items, payments at the counter, online starts, refunds and the ledger, through HTTP on the real store
(both adapters). Concurrency is proven across two replicas of the service (two store adapters on one
database, as two processes would have): only inserts are atomic there, and only inserts are relied on."""

import asyncio

import pypdfium2 as pdfium
import pytest

from kit.testing import eventually
from payment import handlers
from payment.domain import Outcome, State

from .conftest import (ADMIN, CASHIER, CITIZEN, CODE, ONLINE_FEE, OTHER_CITIZEN, RECEPTION, REQUESTED_FEE,
                       SECURITY_CODE, fees_requested, received, replica)

ITEM = f"{CODE}/1"
REQUESTED = f"{CODE}/fees-7"


def is_problem(r, status: int, slug: str | None = None) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers["content-type"]
    body = r.json()
    if slug:
        assert body["type"] == f"/problems/{slug}", body
    return body


async def fees(service, headers=CASHIER, **params) -> dict:
    r = await service.client.get(f"/payments/dossiers/{CODE}", headers=headers, params=params)
    assert r.status_code == 200, r.text
    return r.json()


async def pay_cash(service, item=ITEM, **extra):
    return await service.client.post("/payments/counter", json={"item_id": item, **extra}, headers=CASHIER)


# -- fee items ------------------------------------------------------------------------------------------------


async def test_a_dossier_owes_its_channel_s_catalogue_fees_and_the_fees_an_officer_asked_for(service):
    owed = await fees(service)
    assert owed["status"] == "unpaid" and owed["total"] == ONLINE_FEE + 10_000 + REQUESTED_FEE and owed["paid"] == 0
    assert [(i["item_id"], i["amount"], i["source"], i["status"]) for i in owed["items"]] == [
        (f"{CODE}/1", ONLINE_FEE, "catalogue", "due"), (f"{CODE}/2", 10_000, "catalogue", "due"),
        (REQUESTED, REQUESTED_FEE, "requested", "due")]
    # Redelivered events change nothing (insert-only, deterministic ids).
    for data in (received(), fees_requested()):
        await service.publish_dossier(data)
    await asyncio.sleep(0.2)
    assert len((await fees(service))["items"]) == 3


async def test_a_citizen_sees_a_dossier_s_fees_with_its_security_code_only(service):
    assert (await fees(service, CITIZEN, security_code=SECURITY_CODE.lower()))["status"] == "unpaid"
    c = service.client
    for params in ({}, {"security_code": "ZZZZZZZZ"}):
        is_problem(await c.get(f"/payments/dossiers/{CODE}", headers=CITIZEN, params=params), 404, "dossier-not-found")
    # An unknown dossier looks the same as a wrong code.
    is_problem(await c.get("/payments/dossiers/000.00.21.H49-261123-9999", headers=CITIZEN,
                           params={"security_code": SECURITY_CODE}), 404, "dossier-not-found")
    is_problem(await c.get(f"/payments/dossiers/{CODE}"), 401, "unauthenticated")
    is_problem(await c.get(f"/payments/dossiers/{CODE}", headers={"X-User-Id": "s", "X-User-Roles": "specialist"}),
               403, "forbidden-role")


# -- cash at the counter ----------------------------------------------------------------------------------------


async def test_cash_at_the_counter_settles_once_with_a_ledger_entry_an_event_and_an_e_receipt(service):
    r = await pay_cash(service, payer_name="Trần Thị Bình")
    assert r.status_code == 201, r.text
    paid = r.json()
    assert paid["state"] == "succeeded" and paid["method"] == "counter" and paid["amount"] == ONLINE_FEE
    assert paid["state_label_vi"] == "Đã thanh toán"
    item = (await fees(service))["items"][0]
    assert (item["status"], item["payment_id"]) == ("paid", paid["payment_id"])

    is_problem(await pay_cash(service), 409, "fee-item-paid")
    is_problem(await service.client.post("/payments", json={"item_id": ITEM, "security_code": SECURITY_CODE},
                                         headers=CITIZEN), 409, "fee-item-paid")

    succeeded = await eventually(lambda: service.events("succeeded"))
    assert [(e.payment_id, e.item_id, e.amount, e.method) for e in succeeded] == [
        (paid["payment_id"], ITEM, ONLINE_FEE, "counter")]
    r = await service.client.get(f"/payments/dossiers/{CODE}/ledger", headers=CASHIER)
    ledger = r.json()
    assert (ledger["received"], ledger["refunded"], ledger["net"]) == (ONLINE_FEE, 0, ONLINE_FEE)
    assert [(e["kind"], e["amount"], e["payment_id"]) for e in ledger["entries"]] == [
        ("payment", ONLINE_FEE, paid["payment_id"])]

    r = await service.client.get(f"/payments/{paid['payment_id']}/receipt", headers=CASHIER)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    text = " ".join(pdfium.PdfDocument(r.content)[0].get_textpage().get_text_bounded().split())
    for expected in ("BIÊN LAI THU PHÍ, LỆ PHÍ", "Trần Thị Bình", CODE, "Lệ phí cấp giấy phép xây dựng", "75.000 đồng",
                     "Bảy mươi lăm nghìn đồng", "Nộp tiền mặt tại Bộ phận Một cửa", paid["payment_id"], "cashier1"):
        assert expected in text, expected


async def test_the_same_idempotency_key_gets_the_first_answer_and_another_body_a_422(service):
    key = {"Idempotency-Key": "counter-0001-abcdef"}
    first = await service.client.post("/payments/counter", json={"item_id": ITEM}, headers={**CASHIER, **key})
    again = await service.client.post("/payments/counter", json={"item_id": ITEM}, headers={**CASHIER, **key})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    is_problem(await service.client.post("/payments/counter", json={"item_id": f"{CODE}/2"},
                                         headers={**CASHIER, **key}), 422, "idempotency-key-reused")
    # Another caller's key is another key.
    other = await service.client.post("/payments/counter", json={"item_id": ITEM},
                                      headers={"X-User-Id": "cashier2", "X-User-Roles": "cashier", **key})
    is_problem(other, 409, "fee-item-paid")
    assert await service.ledger_count() == 1


# -- online: one live attempt per item ---------------------------------------------------------------------------


async def start(client, item=ITEM, headers=CITIZEN, **extra):
    return await client.post("/payments", json={"item_id": item, "security_code": SECURITY_CODE, **extra},
                             headers=headers)


async def test_a_second_start_returns_the_open_payment(service):
    first = await start(service.client)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["state"] == "started" and body["method"] == "vnpay" and body["checkout_url"].startswith("http")
    again = await start(service.client, headers=OTHER_CITIZEN)  # anyone with the security code
    assert again.status_code == 200 and again.json()["payment_id"] == body["payment_id"]
    assert (await fees(service))["items"][0]["status"] == "in_progress"
    # The cashier cannot take cash while it is open; after a cancel, cash is a new attempt.
    is_problem(await pay_cash(service), 409, "payment-in-progress")
    r = await service.client.post(f"/payments/{body['payment_id']}/cancel", json={"reason": "đổi ý"}, headers=CITIZEN)
    assert r.json()["state"] == "cancelled" and r.json()["checkout_url"] is None
    cash = await pay_cash(service)
    assert cash.status_code == 201 and cash.json()["attempt"] == 2
    failed = await eventually(lambda: service.events("failed"))
    assert [(e.payment_id, e.status) for e in failed] == [(body["payment_id"], "cancelled")]


@pytest.mark.parametrize("n", [2, 6])
async def test_concurrent_starts_on_two_replicas_open_one_payment(service, n):
    async with replica(service) as other:
        clients = [service.client, other] * (n // 2)
        answers = await asyncio.gather(*(start(c) for c in clients))
    assert sorted(a.status_code for a in answers) == [200] * (n - 1) + [201], [a.text for a in answers]
    assert len({a.json()["payment_id"] for a in answers}) == 1
    assert await service.store.collection("payment_attempts").count() == 1
    assert await service.store.collection("payments").count() == 1  # the losers' drafts are gone


@pytest.mark.parametrize("cashiers", [["cashier1"] * 4, ["cashier1", "cashier2", "cashier3", "cashier4"]],
                         ids=["one cashier clicking four times", "four cashiers"])
async def test_concurrent_cash_payments_on_two_replicas_settle_one(service, cashiers):
    async with replica(service) as other:
        answers = await asyncio.gather(*(
            c.post("/payments/counter", json={"item_id": ITEM}, headers={"X-User-Id": who, "X-User-Roles": "cashier"})
            for c, who in zip([service.client, other] * 2, cashiers)))
    codes = sorted(a.status_code for a in answers)
    assert codes.count(201) == 1, [a.text for a in answers]
    # The same cashier's double click sees their own payment (200); another cashier never gets a success.
    assert set(codes) <= ({200, 201, 409} if len(set(cashiers)) == 1 else {201, 409}), [a.text for a in answers]
    assert len({a.json()["payment_id"] for a in answers if a.status_code < 300}) == 1
    assert await service.ledger_count() == 1
    await service.wait_events("succeeded", 1)
    await asyncio.sleep(0.3)
    assert len(await service.events("succeeded")) == 1


# -- refunds -------------------------------------------------------------------------------------------------------


async def refund(client, payment_id, headers=CASHIER, **body):
    return await client.post(f"/payments/{payment_id}/refunds", json={"reason": "Hồ sơ bị từ chối", **body},
                             headers=headers)


async def test_partial_then_full_refunds_never_above_what_is_left(service):
    paid = (await pay_cash(service, item=REQUESTED)).json()
    pid = paid["payment_id"]
    r = await refund(service.client, pid, amount=20_000)
    assert r.status_code == 201, r.text
    assert r.json()["refund"]["amount"] == 20_000 and r.json()["payment"]["state"] == "partially_refunded"
    body = is_problem(await refund(service.client, pid, amount=100_001), 409, "refund-exceeds-paid")
    assert body["refundable"] == 100_000
    r = await refund(service.client, pid, headers=ADMIN)  # the rest
    assert r.status_code == 201 and r.json()["refund"]["amount"] == 100_000
    assert r.json()["payment"]["state"] == "refunded" and r.json()["payment"]["refundable"] == 0
    is_problem(await refund(service.client, pid, amount=1), 409)
    ledger = (await service.client.get(f"/payments/dossiers/{CODE}/ledger", headers=ADMIN)).json()
    assert (ledger["received"], ledger["refunded"], ledger["net"]) == (REQUESTED_FEE, REQUESTED_FEE, 0)
    refunds = await service.wait_events("refunded", 2)
    assert sorted((e.refunded, e.refunded_total, e.full) for e in refunds) == [
        (20_000, 20_000, False), (100_000, REQUESTED_FEE, True)]
    assert (await fees(service))["items"][2]["status"] == "refunded"
    # The e-receipt shows what was given back.
    pdf = (await service.client.get(f"/payments/{pid}/receipt", headers=CASHIER)).content
    text = " ".join(pdfium.PdfDocument(pdf)[0].get_textpage().get_text_bounded().split())
    assert "Đã hoàn trả: 120.000 đồng" in text


@pytest.mark.parametrize(("amounts", "granted"), [([70_000, 70_000], 1), ([40_000] * 4, 3), ([None, None], 1)])
async def test_concurrent_refunds_on_two_replicas_cannot_exceed_the_amount_paid(service, amounts, granted):
    pid = (await pay_cash(service, item=REQUESTED)).json()["payment_id"]
    async with replica(service) as other:
        clients = [service.client, other] * len(amounts)
        answers = await asyncio.gather(*(refund(c, pid, **({} if a is None else {"amount": a}))
                                         for c, a in zip(clients, amounts)))
    assert sorted(a.status_code for a in answers) == sorted([201] * granted + [409] * (len(amounts) - granted)), \
        [a.text for a in answers]
    payment = (await service.client.get(f"/payments/{pid}", headers=CASHIER)).json()
    total = sum(a.json()["refund"]["amount"] for a in answers if a.status_code == 201)
    assert payment["refunded_total"] == total <= REQUESTED_FEE
    ledger = (await service.client.get(f"/payments/dossiers/{CODE}/ledger", headers=ADMIN)).json()
    assert ledger["refunded"] == total and ledger["net"] == REQUESTED_FEE - total
    await service.wait_events("refunded", granted)


async def test_only_cashiers_and_admins_refund_and_only_paid_payments(service):
    started = (await start(service.client)).json()
    for headers in (CITIZEN, RECEPTION):
        is_problem(await refund(service.client, started["payment_id"], headers=headers), 403, "forbidden-role")
    is_problem(await refund(service.client, started["payment_id"]), 409, "illegal-transition")
    is_problem(await refund(service.client, "NOPE"), 404)


# -- reading payments ------------------------------------------------------------------------------------------------


async def test_a_payment_is_seen_by_its_payer_and_staff_only(service):
    pid = (await start(service.client)).json()["payment_id"]
    for headers in (CITIZEN, CASHIER, RECEPTION, ADMIN):
        assert (await service.client.get(f"/payments/{pid}", headers=headers)).status_code == 200
    is_problem(await service.client.get(f"/payments/{pid}", headers=OTHER_CITIZEN), 404)
    is_problem(await service.client.get(f"/payments/{pid}/receipt", headers=CITIZEN), 409, "not-paid")
    is_problem(await service.client.post(f"/payments/{pid}/cancel", headers=OTHER_CITIZEN), 404)
    is_problem(await service.client.post(f"/payments/{pid}/cancel", headers=RECEPTION), 403)


async def test_a_review_decides_a_flagged_payment(service):
    pid = (await start(service.client)).json()["payment_id"]
    # What the provider's IPN says of a suspicious payment (the sandbox's own test does it over HTTP).
    await handlers.settle(service.deps, payment_id=pid, outcome=Outcome(kind="suspicious", amount=ONLINE_FEE, code="07"),
                          source="ipn")
    assert (await fees(service))["items"][0]["status"] == "under_review"
    is_problem(await start(service.client), 409, "payment-under-review")
    is_problem(await service.client.post(f"/payments/{pid}/review", json={"decision": "accept", "reason": "okay"},
                                         headers=CASHIER), 403)
    r = await service.client.post(f"/payments/{pid}/review", json={"decision": "accept", "reason": "Đã đối soát"},
                                  headers=ADMIN)
    assert r.json()["state"] == State.SUCCEEDED.value
    assert await service.ledger_count() == 1
    await eventually(lambda: service.events("succeeded"))


# -- bad input ---------------------------------------------------------------------------------------------------------

BAD = [
    ("POST", "/payments", CITIZEN, {"item_id": ITEM}, 422, "validation-error"),  # no security code
    ("POST", "/payments", CITIZEN, {"item_id": "no-slash", "security_code": SECURITY_CODE}, 422, "validation-error"),
    ("POST", "/payments", CITIZEN, {"item_id": ITEM, "security_code": "ZZZZZZZZ"}, 404, "dossier-not-found"),
    ("POST", "/payments", CITIZEN, {"item_id": f"{CODE}/99", "security_code": SECURITY_CODE}, 404, "not-found"),
    ("POST", "/payments", CITIZEN, {"item_id": ITEM, "security_code": SECURITY_CODE, "method": "momo"}, 422,
     "unknown-method"),
    ("POST", "/payments", CITIZEN, {"item_id": ITEM, "security_code": SECURITY_CODE, "method": "counter"}, 422,
     "unknown-method"),
    ("POST", "/payments", CASHIER, {"item_id": ITEM, "security_code": SECURITY_CODE}, 403, "forbidden-role"),
    ("POST", "/payments", {}, {"item_id": ITEM, "security_code": SECURITY_CODE}, 401, "unauthenticated"),
    ("POST", "/payments/counter", CASHIER, {"item_id": f"{CODE}/99"}, 404, "not-found"),
    ("POST", "/payments/counter", CASHIER, {"item_id": ITEM, "payer_name": ""}, 422, "validation-error"),
    ("POST", "/payments/counter", CITIZEN, {"item_id": ITEM}, 403, "forbidden-role"),
    ("POST", "/payments/counter", {**CASHIER, "Idempotency-Key": "short"}, {"item_id": ITEM}, 400,
     "invalid-idempotency-key"),
    ("POST", "/payments/counter", CASHIER, "not json", 400, "malformed-json"),
    ("POST", "/payments/NOPE/refunds", CASHIER, {"reason": "r"}, 422, "validation-error"),  # reason too short
    ("POST", "/payments/NOPE/refunds", CASHIER, {"reason": "valid", "amount": 0}, 422, "validation-error"),
    ("POST", "/payments/NOPE/refunds", CASHIER, {"reason": "valid", "amount": "many"}, 422, "validation-error"),
    ("POST", "/payments/NOPE/review", ADMIN, {"decision": "maybe", "reason": "valid"}, 422, "validation-error"),
    ("GET", "/payments/NOPE", CASHIER, None, 404, "not-found"),
    ("GET", "/payments/dossiers/nope", CASHIER, None, 404, "not-found"),
    ("GET", f"/payments/dossiers/{CODE}", CITIZEN, {"security_code": "x"}, 422, "validation-error"),
    ("GET", f"/payments/dossiers/{CODE}/ledger", RECEPTION, None, 403, "forbidden-role"),
    ("GET", "/payments/providers/vnpay/return", {}, {"vnp_TxnRef": "X", "vnp_SecureHash": "00"}, 400,
     "invalid-callback"),
    ("GET", "/payments/providers/momo/return", {}, None, 404, "not-found"),
]


@pytest.mark.parametrize(("method", "path", "headers", "body", "status", "slug"), BAD,
                         ids=[f"{m} {p} {s} {slug}" for m, p, _, _, s, slug in BAD])
async def test_bad_input_gets_a_clear_problem(service, method, path, headers, body, status, slug):
    if method == "GET":
        r = await service.client.get(path, headers=headers, params=body)
    elif isinstance(body, str):
        r = await service.client.post(path, content=body, headers={**headers, "Content-Type": "application/json"})
    else:
        r = await service.client.post(path, json=body, headers=headers)
    problem = is_problem(r, status, slug)
    assert problem["title"] and problem["status"] == status
    assert await service.ledger_count() == 0
