"""The operator's calendar over HTTP, on both stores: read a year, replace the overlay, preview due dates,
and a swapped working Saturday shortening the deadline of a dossier received after the change.

Hand-worked: Fri 6 Mar 2026 09:00 plus 1 working day (8 h of 07:00-11:30, 13:30-17:00) is Mon 9 Mar
09:00; once Sat 7 Mar is a working day it is Sat 7 Mar 09:00. Plus 1 calendar day it is Sat 7 Mar,
not a working day, so Mon 9 Mar 17:00; with Sat 7 Mar worked, Sat 7 Mar 17:00."""

from datetime import date, datetime, timedelta

import pytest

from kit.testing import as_user

from kit.calendar import TZ, BusinessCalendar

from .planted import AGENCY, running

ADMIN = as_user("admin1", "admin")
OFFICER = as_user("specialist1", "specialist", agency=AGENCY)
RECEPTION = as_user("reception1", "reception_officer", agency=AGENCY)
FRIDAY_9 = "2026-03-06T09:00:00+07:00"


@pytest.fixture
async def service(store, tmp_path):
    async with running(store, tmp_path) as service:
        yield service


async def preview(client, received_at=FRIDAY_9, value=1, unit="working_days", headers=OFFICER):
    return await client.get("/calendar/due-date", params={"received_at": received_at, "value": value, "unit": unit},
                            headers=headers)


async def test_a_year_lists_the_working_hours_and_the_statutory_holidays(service):
    r = await service.client.get("/calendar", params={"year": 2026}, headers=OFFICER)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["working_hours"] == {"morning_start": "07:00", "morning_end": "11:30", "afternoon_start": "13:30",
                                     "afternoon_end": "17:00", "day_hours": 8.0}
    assert body["weekend"] == ["saturday", "sunday"] and body["timezone"] == "Asia/Ho_Chi_Minh"
    holidays = {h["date"]: h for h in body["holidays"]}
    assert holidays["2026-02-17"]["name_vi"] == "Tết Nguyên Đán"
    assert holidays["2026-02-17"]["name_en"] == "Lunar New Year"
    assert {"2026-01-01", "2026-04-30", "2026-05-01", "2026-09-02"} <= set(holidays)
    assert all(d.startswith("2026-") for d in holidays)
    assert body["days_off"] == [] and body["working_days"] == []


async def test_an_administrator_replaces_the_overlay_and_each_year_shows_its_own_days(service):
    overlay = {"days_off": ["2027-01-02", "2026-12-31"], "working_days": ["2026-08-22"]}
    r = await service.client.put("/calendar", json=overlay, headers=ADMIN)
    assert r.status_code == 200, r.text
    assert r.json() == {"days_off": ["2026-12-31", "2027-01-02"], "working_days": ["2026-08-22"]}
    year = (await service.client.get("/calendar", params={"year": 2026}, headers=OFFICER)).json()
    assert (year["days_off"], year["working_days"]) == (["2026-12-31"], ["2026-08-22"])
    year = (await service.client.get("/calendar", params={"year": 2027}, headers=OFFICER)).json()
    assert (year["days_off"], year["working_days"]) == (["2027-01-02"], [])


async def test_a_working_saturday_shortens_the_due_date_preview(service):
    client = service.client
    before = (await preview(client)).json()
    assert before["due_at"] == "2026-03-09T09:00:00+07:00" and before["due_on"] == "2026-03-09"
    assert before["counting_starts_at"] == FRIDAY_9
    assert (await preview(client, value=1, unit="days")).json()["due_at"] == "2026-03-09T17:00:00+07:00"

    assert (await client.put("/calendar", json={"working_days": ["2026-03-07"]}, headers=ADMIN)).status_code == 200
    assert (await preview(client)).json()["due_at"] == "2026-03-07T09:00:00+07:00"
    assert (await preview(client, value=1, unit="days")).json()["due_at"] == "2026-03-07T17:00:00+07:00"


async def test_a_dossier_received_after_the_change_gets_the_shorter_deadline(service):
    client = service.client
    intake = {"procedure_code": "3.000334", "channel": "in_person",  # 10 working days: spans two weekends
              "applicant": {"name": "Lê Văn Cường", "id_number": "022090009012", "phone": "0912345670",
                            "address": "Phường Cao Xanh, Hạ Long"},
              "documents": [{"code": "TK"}, {"code": "CCCD"}], "case_code": "TH1"}
    first = (await client.post("/dossiers/counter", json=intake, headers=RECEPTION)).json()
    due_before = datetime.fromisoformat(first["due_at"]).astimezone(TZ)
    # The first day off after today and before the due date becomes a working day (a swapped Saturday).
    today = datetime.now(TZ).date()
    swapped = next(today + timedelta(days=n) for n in range(1, 30)
                   if not BusinessCalendar().is_working_day(today + timedelta(days=n)))
    assert swapped < due_before.date()
    r = await client.put("/calendar", json={"working_days": [swapped.isoformat()]}, headers=ADMIN)
    assert r.status_code == 200, r.text

    second = (await client.post("/dossiers/counter", json=intake, headers=RECEPTION)).json()
    due_after = datetime.fromisoformat(second["due_at"]).astimezone(TZ)
    # Eight more working hours fall inside the span, so the deadline comes one working day earlier, at the
    # same time of day (sessions are alike every day); the two intakes are a moment apart.
    with_swap = BusinessCalendar(extra_working_days=[swapped])
    day_before = due_before.date() - timedelta(days=1)
    while not with_swap.is_working_day(day_before):
        day_before -= timedelta(days=1)
    assert due_after.date() == day_before
    same_time = datetime.combine(day_before, due_before.timetz())
    assert abs(due_after - same_time) < timedelta(seconds=5)
    # The dossier received before the change keeps its appointment.
    kept = (await client.get(f"/dossiers/{first['code']}", headers=OFFICER)).json()
    assert datetime.fromisoformat(kept["due_at"]) == due_before


@pytest.mark.parametrize(("body", "problem"), [
    ({"days_off": ["2026-03-07"], "working_days": ["2026-03-07"]}, "validation-error"),  # both off and working
    ({"days_off": ["2026-02-30"]}, "validation-error"),
    ({"days_off": "2026-03-07"}, "validation-error"),
    ({"working_days": ["1999-12-31"]}, "date-out-of-range"),
    ({"days_off": [str(date(2026, 3, 2) + timedelta(days=n)) for n in range(40)]}, "break-too-long"),
])
async def test_a_bad_overlay_is_a_422_problem_and_changes_nothing(service, body, problem):
    client = service.client
    assert (await client.put("/calendar", json={"days_off": ["2026-12-31"]}, headers=ADMIN)).status_code == 200
    r = await client.put("/calendar", json=body, headers=ADMIN)
    assert r.status_code == 422 and r.json()["type"] == f"/problems/{problem}", r.text
    assert r.headers["content-type"] == "application/problem+json"
    year = (await client.get("/calendar", params={"year": 2026}, headers=OFFICER)).json()
    assert (year["days_off"], year["working_days"]) == (["2026-12-31"], [])


async def test_malformed_json_is_a_400(service):
    r = await service.client.put("/calendar", content=b"{", headers={**ADMIN, "content-type": "application/json"})
    assert r.status_code == 400 and r.json()["type"] == "/problems/malformed-json"


@pytest.mark.parametrize(("method", "path", "headers", "status"), [
    ("PUT", "/calendar", OFFICER, 403),
    ("PUT", "/calendar", as_user("leader1", "leader", agency=AGENCY), 403),
    ("PUT", "/calendar", {}, 401),
    ("GET", "/calendar", as_user("citizen1", "citizen"), 403),
    ("GET", "/calendar", {}, 401),
    ("GET", "/calendar", ADMIN, 200),
    ("GET", "/calendar/due-date", as_user("citizen1", "citizen"), 403),
])
async def test_who_may_read_and_edit_the_calendar(service, method, path, headers, status):
    params = {"received_at": FRIDAY_9, "value": 1, "unit": "days"} if path.endswith("due-date") else None
    r = await service.client.request(method, path, params=params, json={"days_off": []} if method == "PUT" else None,
                                     headers=headers)
    assert r.status_code == status, r.text


@pytest.mark.parametrize(("params", "problem"), [
    ({"received_at": "2026-03-06T09:00:00"}, "timezone-required"),
    ({"received_at": "1900-03-06T09:00:00+07:00"}, "date-out-of-range"),
    ({"received_at": "9999-12-31T23:59:00+07:00", "unit": "months"}, "date-out-of-range"),
    ({"received_at": "yesterday"}, "validation-error"),
    ({"unit": "weeks"}, "validation-error"),
    ({"value": -1}, "validation-error"),
    ({"value": "nan"}, "validation-error"),
    ({"value": "inf"}, "value-too-large"),
    ({"value": 1_000_000, "unit": "hours"}, "value-too-large"),
    ({"value": 1.5, "unit": "days"}, "invalid-processing-time"),
])
async def test_a_bad_preview_query_is_a_422_problem(service, params, problem):
    query = {"received_at": FRIDAY_9, "value": 1, "unit": "working_days", **params}
    r = await service.client.get("/calendar/due-date", params=query, headers=OFFICER)
    assert r.status_code == 422 and r.json()["type"] == f"/problems/{problem}", r.text


@pytest.mark.parametrize("year", [1999, 2101, "twenty"])
async def test_a_year_out_of_range_is_a_422(service, year):
    r = await service.client.get("/calendar", params={"year": year}, headers=OFFICER)
    assert r.status_code == 422
