"""A dossier's whole life on the distributed stack, through the gateway: submitted online, received,
transferred, assigned, appraised, approved, resolved and returned. After each step the public lookup
(its own process, over Redis, fed by Kafka) shows the new state within a second, and the
notification service hears every event exactly once."""

import time

import pytest

from .helpers import ok, submission_form, token, until

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

AGENCY = "000.00.21.H49"


def test_submit_receive_transfer_approve_resolve_return(distributed_platform):
    gw = distributed_platform
    citizen, reception, specialist, leader, admin = (
        token(gw, u) for u in ("citizen1", "reception1", "specialist1", "leader1", "admin1"))
    r = until(lambda: (lambda a: a if a.status_code == 201 else None)(
        gw.post("/api/v1/dossiers", **submission_form(), headers=citizen)), timeout=30)
    code, security_code = r.json()["code"], r.json()["security_code"]

    def lookup():
        return ok(gw.get(f"/api/v1/lookup/{code}", params={"security_code": security_code}))

    until(lambda: (lookup() or {}).get("state") == "submitted", timeout=15)

    steps = [
        ("receive", reception, None, "received"),
        ("transfer", reception, {"to_agency": AGENCY}, "transferred"),
        ("assign", leader, {"specialist": "specialist1"}, "assigned"),
        ("appraise", specialist, {"proposal": "approve", "reason": "Hồ sơ hợp lệ, đủ điều kiện."}, "appraised"),
        ("approve", leader, None, "approved"),
        ("resolve", leader, {"result_number": "123/GCNKH"}, "resolved"),
        ("return-result", reception, {"method": "online"}, "returned"),
    ]
    delays = {}
    for action, who, body, state in steps:
        answer = gw.post(f"/api/v1/dossiers/{code}/{action}", json=body, headers=who)
        assert answer.status_code == 200, (action, answer.text)
        assert answer.json()["state"] == state
        started = time.monotonic()
        until(lambda: (lookup() or {}).get("state") == state, timeout=10, interval=0.02)
        delays[state] = time.monotonic() - started
    print("lookup caught up after (s):", {k: round(v, 3) for k, v in delays.items()})
    assert max(delays.values()) < 1.0, delays

    final = lookup()
    assert final["status_code"] == 10 and final["state_label_vi"] == "Đã trả kết quả"
    detail = gw.get(f"/api/v1/dossiers/{code}", headers=leader).json()
    assert [line["action"] for line in detail["history"]] == [
        "submit_online", "receive", "transfer", "assign", "appraise", "approve", "resolve", "return_result"]
    assert detail["classification"] == "early"  # resolved the day it was received, long before the due date

    # The notification service heard each event once: one message per event and channel, none twice.
    # The last is the feedback service's invitation to rate the returned dossier.
    citizen_events = {"dossier.submitted", "dossier.received", "dossier.resolved", "dossier.returned",
                      "rating.invited"}

    def messages():
        answer = gw.get("/api/v1/messages", params={"dossier_code": code, "limit": 100}, headers=admin)
        return answer.json()["items"] if answer.status_code == 200 else []

    until(lambda: len(messages()) == 3 * len(citizen_events), timeout=15)
    time.sleep(0.5)  # a duplicate delivery would show up as an extra message
    seen = [(m["cause_event_type"], m["channel"]) for m in messages()]
    assert len(seen) == len(set(seen)) == 3 * len(citizen_events)
    assert {".".join(t.split(".")[2:4]) for t, _ in seen} == citizen_events


def test_a_wrong_role_and_an_illegal_step_change_nothing(distributed_platform):
    gw = distributed_platform
    citizen, reception, leader = (token(gw, u) for u in ("citizen1", "reception1", "leader1"))
    r = until(lambda: (lambda a: a if a.status_code == 201 else None)(
        gw.post("/api/v1/dossiers", **submission_form(), headers=citizen)), timeout=30)
    code = r.json()["code"]
    wrong_role = gw.post(f"/api/v1/dossiers/{code}/receive", headers=leader)  # refused at the gateway already
    assert wrong_role.status_code == 403 and wrong_role.json()["type"].endswith("forbidden-role")
    too_early = gw.post(f"/api/v1/dossiers/{code}/approve", headers=leader)
    assert too_early.status_code == 409
    assert too_early.json()["state"] == "submitted"
    assert "receive" in too_early.json()["allowed_actions"]
    no_reason = gw.post(f"/api/v1/dossiers/{code}/refuse-intake", json={"reason": ""}, headers=reception)
    assert no_reason.status_code == 422
    detail = gw.get(f"/api/v1/dossiers/{code}", headers=reception).json()
    assert detail["state"] == "submitted" and len(detail["history"]) == 1
