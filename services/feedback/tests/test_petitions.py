"""Petitions through HTTP: received, decided, assigned, answered and published on working-day deadlines,
with the submitter kept from the public and from the agency that answers."""

import asyncio
import json
from datetime import UTC, date, datetime

import pytest

from contracts import build
from contracts.calendar import CalendarChanged
from kit.bus.memory import MemoryBus
from kit.calendar import TZ, BusinessCalendar
from kit.testing import as_user, eventually, serving
from feedback.app import create_app
from feedback.settings import FeedbackSettings

OFFICER = as_user("pakn1", "feedback_officer")
CITIZEN = as_user("citizen1", "citizen")
AGENCY = "000.00.21.H49"
LEADER = as_user("leader1", "leader", agency=AGENCY)
OTHER_LEADER = as_user("leader2", "leader", agency="000.00.03.H49")
SUBMITTER = {"name": "Lê Thị Hoa", "phone": "0912888777", "email": "hoa.le@example.vn"}
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def draft(**changes):
    body = {"category": "conduct", "title": "Cán bộ hẹn lại nhiều lần",
            "content": "Tôi đến nộp hồ sơ ba lần nhưng cán bộ tiếp nhận đều hẹn lại mà không ghi phiếu.",
            "dossier_code": "000.00.21.H49-261120-0004", "submitter": SUBMITTER}
    return {**body, **changes}


@pytest.fixture
async def service(store):
    bus = MemoryBus()
    settings = FeedbackSettings(timer_poll_seconds=0.05)
    async with serving(create_app(settings, bus=bus, store=store)) as client:
        client.bus = bus
        yield client
    await bus.stop()


def local(at: str) -> datetime:
    return datetime.fromisoformat(at).astimezone(TZ)


async def test_a_petition_sent_online_is_acknowledged_with_its_deadlines(service):
    r = await service.post("/petitions", json=draft(), headers=CITIZEN)
    assert r.status_code == 201, r.text
    receipt = r.json()
    assert receipt["id"].startswith("PAKN-") and receipt["state"] == "received"
    assert "Hoa" not in r.text and "0912888777" not in r.text  # nothing personal echoed
    received = local(receipt["received_at"])
    assert local(receipt["decision_due_at"]) > received and local(receipt["answer_due_at"]) > received


async def test_deadlines_skip_weekends_and_holidays(service):
    # Received Wednesday 29 April 2026, 09:00: 30 April and 1 May are holidays, then a weekend.
    body = {**draft(), "channel": "hotline", "received_at": "2026-04-29T09:00:00+07:00"}
    r = await service.post("/petitions/recorded", json=body, headers=OFFICER)
    assert r.status_code == 201, r.text
    deadlines = {k: local(v) for k, v in r.json()["deadlines"].items()}
    assert deadlines["decision"] == datetime(2026, 5, 5, 9, 0, tzinfo=TZ)  # Mon 4 (1), Tue 5 (2)
    assert deadlines["information"] == datetime(2026, 5, 8, 9, 0, tzinfo=TZ)  # 4, 5, 6, 7, 8
    assert deadlines["answer"] == datetime(2026, 5, 22, 9, 0, tzinfo=TZ)  # 15 working days
    # The operator makes Monday 4 May a day off (the dossier service announces it): deadlines move on.
    change = CalendarChanged(days_off=[date(2026, 5, 4)], working_days=[], occurred_at=datetime.now(UTC))
    await service.bus.publish("calendar.events", build(change, source="/dossier/calendar", subject="overlay"))

    async def moved():
        r = await service.post("/petitions/recorded", json=body, headers=OFFICER)
        return local(r.json()["deadlines"]["decision"]) == datetime(2026, 5, 6, 9, 0, tzinfo=TZ)

    await eventually(moved, timeout=10)


async def _recorded(service, **changes):
    r = await service.post("/petitions/recorded", json={**draft(), **changes}, headers=OFFICER)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _step(service, petition_id, action, who, status=200, **body):
    r = await service.post(f"/petitions/{petition_id}/{action}", json=body or None, headers=who)
    assert r.status_code == status, r.text
    return r.json()


async def test_the_whole_workflow_to_a_published_answer(service):
    pid = await _recorded(service)
    await _step(service, pid, "accept", OFFICER)
    assigned = await _step(service, pid, "assign", OFFICER, to_agency=AGENCY)
    assert assigned["agency_code"] == AGENCY and assigned["state"] == "assigned"
    # The agency sees the petition, never who sent it.
    seen = (await service.get(f"/petitions/{pid}", headers=LEADER)).json()
    assert seen["submitter"] is None and seen["owner"] is None and "Hoa" not in str(seen)
    assert "answer" in seen["allowed_actions"]
    listed = (await service.get("/petitions", headers=LEADER)).json()["items"]
    assert [p["id"] for p in listed] == [pid] and "0912888777" not in str(listed)
    assert (await service.get(f"/petitions/{pid}", headers=OTHER_LEADER)).status_code == 404
    answered = await _step(service, pid, "answer", LEADER,
                           text="Đơn vị đã kiểm điểm cán bộ và chấn chỉnh việc ghi phiếu hẹn.")
    assert answered["state"] == "answered" and answered["deadlines"]["publication"]
    published = await _step(service, pid, "publish", OFFICER,
                            public_question="Cán bộ một cửa hẹn lại nhiều lần mà không ghi phiếu hẹn?")
    assert published["state"] == "published"
    # Moderation changes the public text; the trail keeps what it was.
    moderated = await _step(service, pid, "moderate", OFFICER,
                            public_question="Cán bộ tiếp nhận hẹn lại nhiều lần mà không ghi Phiếu hẹn?")
    last = moderated["trail"][-1]
    assert last["action"] == "moderate" and last["details"]["question_before"].startswith("Cán bộ một cửa")
    # Anyone finds it without diacritics; no trace of the submitter.
    r = await service.get("/petitions/published", params={"q": "HEN LAI phieu hen"})
    assert r.status_code == 200 and r.json()["total"] == 1
    [item] = r.json()["items"]
    assert item["question"].startswith("Cán bộ tiếp nhận") and item["answer"].startswith("Đơn vị đã kiểm điểm")
    for secret in SUBMITTER.values():
        assert secret not in r.text
    public_one = await service.get(f"/petitions/published/{pid}")
    assert public_one.status_code == 200 and "Lê Thị" not in public_one.text
    # The centre sees the submitter.
    full = (await service.get(f"/petitions/{pid}", headers=OFFICER)).json()
    assert full["submitter"]["name"] == "Lê Thị Hoa"
    expected = ["received", "accepted", "assigned", "answered", "published"]
    await eventually(lambda: _types(service, expected))


async def published_events(service):
    return [e async for e in service.bus.read_all("feedback.events")]


async def _types(service, expected):
    return [e.type.split(".")[3] for e in await published_events(service)] == expected


async def test_transfer_and_escalation_move_the_petition_between_agencies(service):
    pid = await _recorded(service)
    await _step(service, pid, "accept", OFFICER)
    await _step(service, pid, "assign", OFFICER, to_agency=AGENCY)
    await _step(service, pid, "transfer", LEADER, status=422)  # no agency named
    moved = await _step(service, pid, "transfer", LEADER, to_agency="000.00.03.H49", reason="Không thuộc thẩm quyền")
    assert moved["agency_code"] == "000.00.03.H49"  # the answer to the step; from now on the leader sees nothing
    assert (await service.get(f"/petitions/{pid}", headers=LEADER)).status_code == 404
    up = await _step(service, pid, "escalate", OTHER_LEADER, to_agency="000.00.00.H49", reason="Vượt thẩm quyền")
    assert up["trail"][-1]["details"] == {"from_agency": "000.00.03.H49", "to_agency": "000.00.00.H49"}
    full = (await service.get(f"/petitions/{pid}", headers=OFFICER)).json()
    assert full["agency_code"] == "000.00.00.H49"
    assert [t["action"] for t in full["trail"]] == ["receive", "accept", "assign", "transfer", "escalate"]


async def test_information_requested_then_provided_restarts_the_answer_clock(service):
    r = await service.post("/petitions", json=draft(), headers=CITIZEN)
    pid = r.json()["id"]
    asked = await _step(service, pid, "request-information", OFFICER, text="Đề nghị cho biết ngày đến nộp hồ sơ.")
    assert asked["state"] == "info_requested" and asked["due_at"] is None  # no clock runs while waiting
    mine = (await service.get(f"/petitions/{pid}", headers=CITIZEN)).json()
    assert mine["information_request"].startswith("Đề nghị") and "provide_information" in mine["allowed_actions"]
    back = await _step(service, pid, "provide-information", CITIZEN, text="Các ngày 10, 12 và 17/11/2026.")
    assert back["state"] == "accepted"
    # 15 working days from the information received, not from the petition received.
    expected = BusinessCalendar().due_date(local(back["updated_at"]), 15, "working_days")
    assert local(back["deadlines"]["answer"]) == expected >= local(asked["deadlines"]["answer"])
    assert (await service.get(f"/petitions/{pid}", headers=as_user("citizen2", "citizen"))).status_code == 404


async def test_an_overdue_step_is_announced_once(service):
    pid = await _recorded(service, received_at="2026-11-02T09:00:00+07:00", channel="comment_box")

    async def overdue_events():
        return [e for e in await published_events(service) if e.type.endswith(".overdue.v1")]

    [event] = await eventually(overdue_events)
    assert event.data["petition_id"] == pid and event.data["deadline"] == "decision"
    await asyncio.sleep(0.3)  # several more timer rounds
    assert len(await overdue_events()) == 1


async def test_attachments_are_checked_by_content(service):
    petition = draft()
    r = await service.post("/petitions", data={"petition": json.dumps(petition)},
                           files=[("files", ("phieu-hen.pdf", PDF, "application/pdf"))])
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    full = (await service.get(f"/petitions/{pid}", headers=OFFICER)).json()
    [attachment] = full["attachments"]
    assert attachment["content_type"] == "application/pdf" and len(attachment["sha256"]) == 64
    got = await service.get(f"/petitions/{pid}/attachments/1", headers=OFFICER)
    assert got.status_code == 200 and got.content == PDF
    r = await service.post("/petitions", data={"petition": json.dumps(petition)},
                           files=[("files", ("anh.png", b"not really a png", "image/png"))])
    assert r.status_code == 415 and r.json()["type"].endswith("unsupported-attachment")


@pytest.mark.parametrize(("body", "status", "kind"), [
    (draft(category="gossip"), 422, "validation-error"),
    (draft(title=""), 422, "validation-error"),
    (draft(content="ngắn"), 422, "validation-error"),
    (draft(submitter={**SUBMITTER, "phone": "12345"}), 422, "validation-error"),
    (draft(submitter={**SUBMITTER, "email": "not-an-email"}), 422, "validation-error"),
    (draft(dossier_code="x"), 422, "validation-error"),
    (draft(password="x"), 422, "validation-error"),
    ({"category": "procedure"}, 422, "validation-error"),
])
async def test_bad_petitions_are_refused_and_nothing_is_stored(service, body, status, kind):
    r = await service.post("/petitions", json=body)
    assert r.status_code == status and r.json()["type"].endswith(kind), r.text
    assert (await service.get("/petitions", headers=OFFICER)).json()["items"] == []


async def test_bad_bodies_are_refused(service):
    r = await service.post("/petitions", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    r = await service.post("/petitions", content=b"x", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    r = await service.post("/petitions", content="\xff".encode("latin-1"), headers={"Content-Type": "application/json"})
    assert r.status_code == 400


async def test_steps_out_of_turn_or_role_are_refused(service):
    pid = await _recorded(service)
    r = await service.post(f"/petitions/{pid}/publish", headers=OFFICER)
    assert r.status_code == 409 and r.json()["state"] == "received" and "accept" in r.json()["allowed_actions"]
    assert (await service.post(f"/petitions/{pid}/reject", headers=OFFICER)).status_code == 422  # no reason
    assert (await service.post(f"/petitions/{pid}/accept", headers=CITIZEN)).status_code == 404  # not theirs
    assert (await service.post(f"/petitions/{pid}/fly", headers=OFFICER)).status_code == 404
    r = await service.post(f"/petitions/{pid}/accept", json={"mood": "happy"}, headers=OFFICER)
    assert r.status_code == 422
    assert (await service.get("/petitions", headers=CITIZEN)).status_code == 403
    r = await service.post("/petitions/recorded", json={**draft(), "received_at": "2099-01-01T00:00:00Z"},
                           headers=OFFICER)
    assert r.status_code == 422
    full = (await service.get(f"/petitions/{pid}", headers=OFFICER)).json()
    assert full["state"] == "received" and len(full["trail"]) == 1
