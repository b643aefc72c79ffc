"""Officer work queues on both store adapters: who sees what, the deadline bounds, paging, bad input.

Sessions 07:00-11:30 and 13:30-17:00 (8 h a working day). The week of Mon 7 Oct 2030 has no
holiday. Planted dossiers take 3 working days (24 working hours); due dates worked by hand:
  received Thu 3 Oct 09:00 -> Thu 6 + Fri 8 + Mon 8 + Tue 2 h  -> due Tue 8 Oct 09:00
  received Fri 4 Oct 09:00 -> Fri 6 + Mon 8 + Tue 8 + Wed 2 h  -> due Wed 9 Oct 09:00
  received Tue 8 Oct 14:00 -> Tue 3 + Wed 8 + Thu 8 + Fri 5 h  -> due Fri 11 Oct 14:00
  received Tue 8 Oct 14:30 -> the same, half an hour later     -> due Fri 11 Oct 14:30
"Now" is Wed 9 Oct 2030 14:00; two working days later is Fri 11 Oct 14:00 (the nearing horizon)."""

from datetime import datetime

import pytest

from kit.identity import Caller
from kit.paging import encode_cursor
from kit.testing import as_user

from kit.calendar import TZ
from dossier.queues import queue_page

from .planted import AGENCY, OTHER_AGENCY, received, running

NOW = datetime(2030, 10, 9, 14, 0, tzinfo=TZ)
LEADER = as_user("leader1", "leader", agency=AGENCY)
RECEPTION = as_user("reception1", "reception_officer", agency=AGENCY)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2030, 10, day, hour, minute, tzinfo=TZ)


def code(n: int) -> str:
    return f"{AGENCY}-301003-{n:04d}"


@pytest.fixture
async def service(store, tmp_path):
    async with running(store, tmp_path) as service:
        yield service


async def plant_the_week(deps) -> dict[str, str]:
    """One dossier per case; the code says where it must (and must not) appear."""
    policy = await deps.policy.current()
    cases = {
        "overdue": received(code(1), at(3, 9), policy).to_agency(at(3, 10)),
        "paused": received(code(2), at(3, 9), policy).to_agency(at(3, 10)).assign(at(3, 11))
        .request_supplement(at(7, 10)),
        "due_earlier_today": received(code(3), at(4, 9), policy).to_agency(at(4, 10)),
        "due_at_horizon": received(code(4), at(8, 14), policy).to_agency(at(8, 15)).assign(at(8, 16)),
        "due_after_horizon": received(code(5), at(8, 14, 30), policy).to_agency(at(8, 15)),
        "other_agency": received(code(6), at(3, 9), policy).to_agency(at(3, 10), OTHER_AGENCY),
        "resolved": received(code(7), at(3, 9), policy).resolve(at(7, 9)),
        "not_transferred": received(code(8), at(3, 9), policy),
    }
    for planted in cases.values():
        await planted.store(deps)
    assert cases["overdue"].dossier.due_at == at(8, 9)
    assert cases["due_earlier_today"].dossier.due_at == at(9, 9)
    assert cases["due_at_horizon"].dossier.due_at == at(11, 14)
    assert cases["due_after_horizon"].dossier.due_at == at(11, 14, 30)
    return {name: p.dossier.code for name, p in cases.items()}


def leader_of(agency: str) -> Caller:
    return Caller(subject="leader1", roles=frozenset({"leader"}), agency=agency)


async def codes(deps, queue: str, caller: Caller) -> list[str]:
    page = await queue_page(deps, caller=caller, queue=queue, limit=100, cursor=None, now=NOW)
    return [item.code for item in page.items]


async def test_each_queue_takes_its_dossiers_in_deadline_order(service):
    c = await plant_the_week(service.deps)
    me = leader_of(AGENCY)
    assert await codes(service.deps, "overdue", me) == [c["overdue"]]
    # Due at 09:00 today is not overdue before tomorrow (by date, as the classification); the horizon is inclusive.
    assert await codes(service.deps, "nearing", me) == [c["due_earlier_today"], c["due_at_horizon"]]
    assert await codes(service.deps, "agency", me) == [c["overdue"], c["paused"], c["due_earlier_today"],
                                                       c["due_at_horizon"], c["due_after_horizon"]]
    assert await codes(service.deps, "overdue", leader_of(OTHER_AGENCY)) == [c["other_agency"]]
    specialist = Caller(subject="specialist1", roles=frozenset({"specialist"}), agency=AGENCY)
    assert await codes(service.deps, "mine", specialist) == [c["paused"], c["due_at_horizon"]]  # resolved: gone


async def test_items_say_how_much_time_is_left_or_how_late_it_is(service):
    c = await plant_the_week(service.deps)
    page = await queue_page(service.deps, caller=leader_of(AGENCY), queue="agency", limit=100, cursor=None, now=NOW)
    items = {i.code: i for i in page.items}
    overdue = items[c["overdue"]]
    assert (overdue.open_status, overdue.days_overdue, overdue.remaining_working_hours) == ("overdue", 1, None)
    assert overdue.state == "transferred" and overdue.state_label_vi == "Đã chuyển cơ quan giải quyết"
    assert overdue.applicant_name == "Nguyễn Văn An" and overdue.procedure_code == "1.000894"
    assert items[c["paused"]].open_status == "paused" and items[c["paused"]].days_overdue is None
    assert items[c["due_earlier_today"]].open_status == "within_time"
    assert items[c["due_earlier_today"]].remaining_working_hours == 0
    # Wed 14:00-17:00 (3 h) + Thu (8 h) + Fri 07:00-11:30 and 13:30-14:00 (5 h) = 16 h.
    assert items[c["due_at_horizon"]].remaining_working_hours == 16
    assert items[c["due_at_horizon"]].assignee == "specialist1"


async def test_pages_follow_the_cursor_in_deadline_order_without_repeats(service):
    c = await plant_the_week(service.deps)
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        r = await service.client.get("/queues/agency", params=params, headers=LEADER)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["queue"] == "agency" and len(body["items"]) <= 2
        seen += [i["code"] for i in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert pages == 3
    assert seen == [c["overdue"], c["paused"], c["due_earlier_today"], c["due_at_horizon"], c["due_after_horizon"]]


async def test_a_dossier_received_and_routed_over_http_is_in_the_right_queues(service):
    client = service.client
    intake = {"procedure_code": "1.000894", "channel": "in_person",
              "applicant": {"name": "Trần Thị Bình", "id_number": "022090005678", "phone": "0912345679",
                            "address": "Phường Bãi Cháy, Hạ Long"},
              "documents": [{"code": "TK"}, {"code": "XNTTHN"}]}
    r = await client.post("/dossiers/counter", json=intake, headers=RECEPTION)
    assert r.status_code == 201, r.text
    new = r.json()["code"]
    # Received at the counter and not yet routed: in the counter's intake queue, no agency's yet.
    assert new in [i["code"] for i in (await client.get("/queues/intake", headers=RECEPTION)).json()["items"]]
    assert (await client.post(f"/dossiers/{new}/transfer", json={"to_agency": AGENCY},
                              headers=RECEPTION)).status_code == 200
    assert new not in [i["code"] for i in (await client.get("/queues/intake", headers=RECEPTION)).json()["items"]]
    assert (await client.post(f"/dossiers/{new}/assign", json={"specialist": "specialist9"},
                              headers=LEADER)).status_code == 200

    specialist = as_user("specialist9", "specialist", agency=AGENCY)
    mine = (await client.get("/queues/mine", headers=specialist)).json()
    assert [i["code"] for i in mine["items"]] == [new] and mine["next_cursor"] is None
    item = mine["items"][0]
    assert item["state"] == "assigned" and item["open_status"] == "within_time"
    # One working day, received a moment ago: (almost) all of it is left.
    assert 7.9 <= item["remaining_working_hours"] <= 8
    nearing = (await client.get("/queues/nearing", headers=LEADER)).json()
    assert [i["code"] for i in nearing["items"]] == [new]
    assert (await client.get("/queues/overdue", headers=LEADER)).json()["items"] == []
    other = as_user("leader2", "leader", agency=OTHER_AGENCY)
    assert (await client.get("/queues/agency", headers=other)).json()["items"] == []


async def test_a_caller_without_an_agency_can_read_only_their_own_queue(service):
    no_agency = as_user("specialist1", "specialist")
    r = await service.client.get("/queues/agency", headers=no_agency)
    assert r.status_code == 403 and r.json()["type"] == "/problems/no-agency"
    assert r.headers["content-type"] == "application/problem+json"
    assert (await service.client.get("/queues/mine", headers=no_agency)).status_code == 200


@pytest.mark.parametrize(("headers", "status"), [
    ({}, 401),
    (as_user("citizen1", "citizen"), 403),
    (as_user("admin1", "admin", agency=AGENCY), 403),
])
async def test_only_officers_have_queues(service, headers, status):
    r = await service.client.get("/queues/agency", headers=headers)
    assert r.status_code == status and r.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("params", [
    {"limit": 0}, {"limit": 101}, {"limit": "ten"},
    {"cursor": "%%%"}, {"cursor": "bm90IGpzb24"},  # not base64 JSON / base64 of "not json"
    {"cursor": encode_cursor({"q": "mine", "k": "2030-10-08T02:00:00Z#X"})},  # another queue's cursor
    {"cursor": encode_cursor({"q": "agency", "k": 42})},
    {"cursor": encode_cursor(["agency"])},
    {"cursor": "x" * 500},
])
async def test_a_bad_limit_or_cursor_is_a_422_problem(service, params):
    r = await service.client.get("/queues/agency", params=params, headers=LEADER)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"


async def test_an_unknown_queue_is_a_422_problem(service):
    r = await service.client.get("/queues/everything", headers=LEADER)
    assert r.status_code == 422 and r.json()["type"] == "/problems/validation-error"
