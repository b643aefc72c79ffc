"""The walking skeleton through the gateway, in both modes: list and read a procedure, submit a
dossier, receive it, and see dossier.received reach the lookup read model, the notification
service, the payment service; send a petition."""

import time

import pytest

from .helpers import SUBMISSION, ok as _ok, submission_form, token, until

pytestmark = pytest.mark.e2e


def test_a_citizen_finds_the_procedure(platform):
    listing = until(lambda: _ok(platform.get("/api/v1/procedures", params={"limit": 50})), timeout=30)
    assert "1.000894" in [p["code"] for p in listing["items"]]
    procedure = platform.get("/api/v1/procedures/1.000894").json()
    assert procedure["name_vi"] == "Đăng ký kết hôn"


def test_a_dossier_goes_from_submission_to_received_and_every_service_hears_of_it(platform):
    citizen, reception, admin = (token(platform, u) for u in ("citizen1", "reception1", "admin1"))
    # The dossier service learns the procedure from catalog.events or, on a miss, by asking the catalogue.
    r = until(lambda: (lambda a: a if a.status_code == 201 else None)(
        platform.post("/api/v1/dossiers", **submission_form(), headers=citizen)), timeout=30)
    receipt = r.json()
    code, security_code = receipt["code"], receipt["security_code"]
    assert receipt["state"] == "submitted"
    ask = {"code": code, "security_code": security_code}

    def lookup_state():
        answer = platform.post("/api/v1/lookup", json=ask)
        return answer.json()["state"] if answer.status_code == 200 else None

    assert until(lambda: lookup_state() == "submitted", timeout=15)
    received = platform.post(f"/api/v1/dossiers/{code}/receive", headers=reception)
    assert received.status_code == 200, received.text
    started = time.monotonic()
    until(lambda: lookup_state() == "received", timeout=15)
    assert time.monotonic() - started < 5

    # The QR-code form of the lookup, and a wrong code told apart from nothing.
    assert platform.get(f"/api/v1/lookup/{code}", params={"security_code": security_code}).json()["state"] == "received"
    assert platform.post("/api/v1/lookup", json={**ask, "security_code": "ZZZZZZZZ"}).status_code == 404

    def messages():
        answer = platform.get("/api/v1/messages", params={"dossier_code": code}, headers=admin)
        return answer.json()["items"] if answer.status_code == 200 else []

    until(lambda: len(messages()) == 6, timeout=15)
    by_cause = {}
    for m in messages():
        by_cause.setdefault(m["cause_event_type"], set()).add(m["channel"])
    assert by_cause == {"vn.motcua.dossier.submitted.v1": {"in_app", "email", "sms"},
                        "vn.motcua.dossier.received.v1": {"in_app", "email", "sms"}}
    fees = until(lambda: _ok(platform.get(f"/api/v1/payments/dossiers/{code}", headers=admin)), timeout=15)
    assert fees["status"] == "no_fee"


def test_a_petition_is_accepted_without_signing_in(platform):
    r = platform.post("/api/v1/petitions", json={
        "category": "procedure", "title": "Hướng dẫn chưa rõ ràng",
        "content": "Trang hướng dẫn thủ tục đăng ký kết hôn chưa ghi rõ thời gian trả kết quả.",
        "submitter": {"name": "Lê Văn Tâm", "phone": "0987000222"}})
    assert r.status_code == 201 and r.json()["state"] == "received"


def test_bad_input_gets_a_problem_never_a_500(platform):
    citizen = token(platform, "citizen1")
    cases = [
        platform.post("/api/v1/dossiers", json={**SUBMISSION, "procedure_code": "9.999999"}, headers=citizen),
        platform.post("/api/v1/dossiers", json={"procedure_code": "1.000894"}, headers=citizen),
        platform.post("/api/v1/dossiers", content=b"{broken", headers={**citizen, "content-type": "application/json"}),
        platform.post("/api/v1/dossiers", json=SUBMISSION),
        platform.post("/api/v1/dossiers", json=SUBMISSION, headers={"Authorization": "Bearer forged.token.here"}),
        platform.post("/api/v1/lookup", json={"code": "x"}),
        platform.get("/api/v1/nowhere"),
    ]
    assert [c.status_code for c in cases] == [422, 422, 400, 401, 401, 422, 404]
    assert all(c.headers["content-type"] == "application/problem+json" for c in cases)
