"""A dossier's fee paid online through the VNPay sandbox, in both modes: the agency asks
for the fee, the citizen is redirected to the sandbox, pays, the sandbox's signed IPN reaches the
payment service through the gateway, and the dossier (and its public lookup) moves on."""

import httpx
import pytest

from .helpers import ok, submission_form, token, until

pytestmark = pytest.mark.e2e

AGENCY = "000.00.21.H49"


def test_a_fee_paid_through_the_sandbox_moves_the_dossier_on(platform):
    gw = platform
    citizen, reception, specialist, leader, cashier = (
        token(gw, u) for u in ("citizen1", "reception1", "specialist1", "leader1", "cashier1"))
    r = until(lambda: (lambda a: a if a.status_code == 201 else None)(
        gw.post("/api/v1/dossiers", **submission_form(), headers=citizen)), timeout=30)
    code, security_code = r.json()["code"], r.json()["security_code"]
    for action, who, body in [("receive", reception, None), ("transfer", reception, {"to_agency": AGENCY}),
                              ("assign", leader, {"specialist": "specialist1"}),
                              ("appraise", specialist, {"proposal": "approve", "reason": "Đủ điều kiện"}),
                              ("approve", leader, None),
                              ("request-fees", leader, {"amount": 75_000, "description": "Lệ phí đăng ký"})]:
        answer = gw.post(f"/api/v1/dossiers/{code}/{action}", json=body, headers=who)
        assert answer.status_code == 200, (action, answer.text)
    assert answer.json()["state"] == "awaiting_fees"

    def lookup_state():
        return (ok(gw.get(f"/api/v1/lookup/{code}", params={"security_code": security_code})) or {}).get("state")

    until(lambda: lookup_state() == "awaiting_fees", timeout=10)

    # The payment service heard of the fee request and bills it as a fee item.
    def requested_item():
        fees = ok(gw.get(f"/api/v1/payments/dossiers/{code}", headers=cashier)) or {"items": []}
        return next((i for i in fees["items"] if i["source"] == "requested"), None)

    item = until(requested_item, timeout=15)
    assert item["amount"] == 75_000 and item["status"] == "due"

    started = gw.post("/api/v1/payments", json={"item_id": item["item_id"], "security_code": security_code},
                      headers=citizen)
    assert started.status_code == 201, started.text
    payment = started.json()
    assert payment["checkout_url"].startswith(gw.stack.urls["sandbox"])

    # The citizen's browser at the sandbox: the page, then "pay" (the automated form of the button).
    with httpx.Client(timeout=15) as browser:
        page = browser.get(payment["checkout_url"])
        assert page.status_code == 200 and "75.000" in page.text
        back = browser.post(payment["checkout_url"] + "&auto=success", follow_redirects=False)
        assert back.status_code == 303 and back.headers["location"].startswith(
            f"{gw.stack.gateway}/api/v1/payments/providers/vnpay/return")

    # The IPN settled it (the return page only displays): paid once, and the dossier moves on.
    until(lambda: (ok(gw.get(f"/api/v1/payments/{payment['payment_id']}", headers=citizen)) or {}).get("state")
          == "succeeded", timeout=15)
    until(lambda: lookup_state() == "approved", timeout=15)
    ledger = ok(gw.get(f"/api/v1/payments/dossiers/{code}/ledger", headers=cashier))
    assert ledger["received"] == 75_000 and len(ledger["entries"]) == 1
    receipt = gw.get(f"/api/v1/payments/{payment['payment_id']}/receipt", headers=citizen)
    assert receipt.status_code == 200 and receipt.headers["content-type"] == "application/pdf"
