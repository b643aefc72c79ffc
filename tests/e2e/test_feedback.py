"""Petitions end to end through the gateway, in both modes: sent by a citizen, decided and assigned by the
centre, answered by the agency (which never learns who sent it), published and found by anyone, on
deadlines counted in working days across weekends and holidays, and an overdue step announced once."""

import asyncio
import re
import time
from datetime import datetime
from xml.etree import ElementTree

import pytest

from kit.bus.kafka import KafkaBus
from kit.calendar import TZ, BusinessCalendar
from kit.testing import KAFKA

from .helpers import ok, submit, token, until

pytestmark = pytest.mark.e2e
AGENCY = "000.00.21.H49"
SUBMITTER = {"name": "Phạm Văn Tùng", "phone": "0977123456", "email": "tung.pham@example.vn"}
PETITION = {"category": "procedure", "title": "Thủ tục đăng ký kết hôn yêu cầu giấy tờ không có trong quy định",
            "content": "Cán bộ yêu cầu tôi nộp thêm bản sao sổ hộ khẩu, trong khi thủ tục công bố không yêu cầu.",
            "procedure_code": "1.000894", "submitter": SUBMITTER}


def local(at: str) -> datetime:
    return datetime.fromisoformat(at).astimezone(TZ)


def test_a_petition_from_sending_to_a_published_answer(platform):
    gw = platform
    citizen, officer, leader, specialist = (token(gw, u) for u in ("citizen1", "feedback1", "leader1", "specialist1"))
    sent = gw.post("/api/v1/petitions", json=PETITION, headers=citizen)
    assert sent.status_code == 201, sent.text
    receipt = sent.json()
    pid, received = receipt["id"], local(receipt["received_at"])
    calendar = BusinessCalendar()  # the platform's, with no operator days set in this run
    assert local(receipt["decision_due_at"]) == calendar.due_date(received, 2, "working_days")
    assert local(receipt["answer_due_at"]) == calendar.due_date(received, 15, "working_days")

    def step(action, who, **body):
        r = gw.post(f"/api/v1/petitions/{pid}/{action}", json=body or None, headers=who)
        assert r.status_code == 200, (action, r.text)
        return r.json()

    step("accept", officer)
    step("assign", officer, to_agency=AGENCY)
    seen = gw.get(f"/api/v1/petitions/{pid}", headers=specialist)
    assert seen.status_code == 200 and seen.json()["submitter"] is None
    for secret in SUBMITTER.values():
        assert secret not in seen.text  # the answering agency never learns who sent it
    step("answer", leader, text="Sở Tư pháp xác nhận: không yêu cầu sổ hộ khẩu; đã nhắc nhở cán bộ tiếp nhận.")
    step("publish", officer, public_question="Đăng ký kết hôn có phải nộp bản sao sổ hộ khẩu không?")

    found = until(lambda: (ok(gw.get("/api/v1/petitions/published", params={"q": "dang ky ket hon so ho khau"}))
                           or {"items": []})["items"], timeout=10)
    assert any(item["id"] == pid for item in found)
    public = gw.get(f"/api/v1/petitions/published/{pid}")
    assert public.status_code == 200 and "sổ hộ khẩu" in public.json()["question"]
    for secret in SUBMITTER.values():
        assert secret not in public.text
    full = gw.get(f"/api/v1/petitions/{pid}", headers=officer).json()
    assert full["submitter"]["name"] == SUBMITTER["name"] and full["state"] == "published"
    assert [t["action"] for t in full["trail"]] == ["receive", "accept", "assign", "answer", "publish"]


def test_deadlines_of_a_petition_received_before_a_holiday_and_a_weekend(platform):
    gw = platform
    officer = token(gw, "feedback1")
    # Received Wednesday 29 April 2026: 30 April and 1 May are public holidays, 2-3 May a weekend.
    r = gw.post("/api/v1/petitions/recorded", headers=officer,
                json={**PETITION, "channel": "hotline", "received_at": "2026-04-29T09:00:00+07:00"})
    assert r.status_code == 201, r.text
    deadlines = {k: local(v) for k, v in r.json()["deadlines"].items()}
    assert deadlines["decision"] == datetime(2026, 5, 5, 9, 0, tzinfo=TZ)
    assert deadlines["answer"] == datetime(2026, 5, 22, 9, 0, tzinfo=TZ)


@pytest.mark.integration
def test_an_overdue_petition_is_announced_once_and_bad_input_is_refused(distributed_platform):
    gw = distributed_platform
    officer = token(gw, "feedback1")
    late = gw.post("/api/v1/petitions/recorded", headers=officer,
                   json={**PETITION, "channel": "comment_box", "received_at": "2026-11-02T09:00:00+07:00"})
    pid = late.json()["id"]
    # The petition is past its decision deadline: the service's timer publishes feedback.overdue, once.
    overdue = until(lambda: _overdue_events(gw.stack, pid), timeout=30)
    assert [e.data["deadline"] for e in overdue] == ["decision"]
    time.sleep(1.0)
    assert len(_overdue_events(gw.stack, pid)) == 1
    for body, status in (({**PETITION, "category": "weather"}, 422), ({**PETITION, "submitter": {"name": "A"}}, 422),
                         ({**PETITION, "submitter": {**SUBMITTER, "phone": "123"}}, 422)):
        r = gw.post("/api/v1/petitions", json=body)
        assert r.status_code == status and r.headers["content-type"].startswith("application/problem+json")
    assert gw.post(f"/api/v1/petitions/{pid}/publish", headers=officer).status_code == 409
    assert gw.post(f"/api/v1/petitions/{pid}/accept").status_code == 401


def _overdue_events(stack, petition_id: str) -> list:
    async def read():
        bus = KafkaBus(KAFKA, client_id="e2e-reader", topic_prefix=f"{stack.run_id}.")
        await bus.start()
        try:
            return [e async for e in bus.read_all("feedback.events")
                    if e.type == "vn.motcua.feedback.overdue.v1" and e.data["petition_id"] == petition_id]
        finally:
            await bus.stop()

    return asyncio.run(read())


def test_a_returned_dossier_invites_one_rating_and_a_second_rating_is_refused(platform):
    gw = platform
    citizen, reception, specialist, leader, admin = (
        token(gw, u) for u in ("citizen1", "reception1", "specialist1", "leader1", "admin1"))
    code = submit(gw, citizen)["code"]
    for action, who, body in [("receive", reception, None), ("transfer", reception, {"to_agency": AGENCY}),
                              ("assign", leader, {"specialist": "specialist1"}),
                              ("appraise", specialist, {"proposal": "approve", "reason": "Đủ điều kiện"}),
                              ("approve", leader, None), ("resolve", leader, {"result_number": "45/GCNKH"}),
                              ("return-result", reception, {"method": "online"})]:
        answer = gw.post(f"/api/v1/dossiers/{code}/{action}", json=body, headers=who)
        assert answer.status_code == 200, (action, answer.text)

    def invitations():
        found = (ok(gw.get("/api/v1/messages", params={"dossier_code": code}, headers=admin)) or {"items": []})
        return [m for m in found["items"] if m["cause_event_type"] == "vn.motcua.rating.invited.v1"]

    invited = until(lambda: invitations() if len(invitations()) == 3 else None, timeout=20)
    assert sorted(m["channel"] for m in invited) == ["email", "in_app", "sms"]  # one invitation, on each channel
    link = re.search(r"[?&]t=([A-Za-z0-9_\-.]+)", next(m for m in invited if m["channel"] == "email")["body"])
    assert link, "the invitation carries the one-click link"
    rate_token = link.group(1)
    about = gw.get(f"/api/v1/ratings/invitations/{rate_token}")
    assert about.status_code == 200 and about.json()["dossier_code"] == code
    first = gw.post(f"/api/v1/ratings/invitations/{rate_token}", json={"score": 5, "reasons": []})
    assert first.status_code == 201, first.text
    second = gw.post(f"/api/v1/ratings/invitations/{rate_token}", json={"score": 1, "reasons": ["slow"]})
    assert second.status_code == 409 and second.headers["content-type"].startswith("application/problem+json")
    time.sleep(0.5)
    assert len(invitations()) == 3  # still one invitation


def test_an_open311_client_sends_and_follows_a_request_through_the_gateway(platform):
    gw = platform
    services = gw.get("/api/v1/open311/v2/services.json")
    assert services.status_code == 200 and {s["service_code"] for s in services.json()} == {"PAKN-TTHC", "PAKN-CB"}
    form = {"service_code": "PAKN-TTHC", "description": "Trang dịch vụ công báo lỗi khi nộp hồ sơ lúc 21 giờ.",
            "first_name": "Hà", "last_name": "Nguyễn Thu", "email": "thuha@example.vn", "phone": "0903111222",
            "address_string": "Phường Bãi Cháy, Hạ Long"}
    sent = gw.post("/api/v1/open311/v2/requests.xml", data=form)
    assert sent.status_code == 200 and sent.headers["content-type"].startswith("text/xml"), sent.text
    root = ElementTree.fromstring(sent.content)
    assert root.tag == "service_requests" and root[0].tag == "request"
    request_id = root[0].findtext("service_request_id")
    assert request_id.startswith("PAKN-")
    followed = gw.get(f"/api/v1/open311/v2/requests/{request_id}.json")
    assert followed.status_code == 200, followed.text
    [request] = followed.json()
    assert request["service_request_id"] == request_id and request["status"] == "open"
    for secret in ("Nguyễn Thu", "thuha@example.vn", "0903111222"):
        assert secret not in followed.text
    bad = gw.post("/api/v1/open311/v2/requests.json", data={**form, "service_code": "NOPE"})
    assert bad.status_code == 404 and bad.json()[0]["code"] == 404
