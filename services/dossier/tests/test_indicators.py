"""The periodic report's counts (Biểu II.06a) over dossiers placed on known dates, on both stores.

Every dossier takes 3 working days (sessions 07:00-11:30, 13:30-17:00). No holiday falls between
10 Feb and 6 Apr 2025. Agency X (000.00.21.H49):

  D1  in person  rec Wed 26 Feb 09:00  due Mon 3 Mar 09:00   resolved Tue 4 Mar   late
  D2  online     rec Mon 3 Mar 09:00   due Thu 6 Mar 09:00   resolved Wed 5 Mar   early
  D3  in person  rec Mon 10 Mar 08:00  due Thu 13 Mar 08:00  resolved Thu 13 Mar  on time
  D4  post       rec Mon 17 Mar 09:00  due Thu 20 Mar 09:00  open
  D5  in person  rec Mon 31 Mar 09:00  due Thu 3 Apr 09:00   open
  D6  in person  rec Tue 25 Mar 09:00  due Fri 28 Mar 09:00  resolved Wed 2 Apr   late (after March)
  D7  in person  rec Mon 10 Feb 09:00  due Thu 13 Feb 09:00  resolved Wed 12 Feb  early (before March)
  D8  in person  rec Tue 1 Apr 09:00   due Fri 4 Apr 09:00   open
  D9  online     submitted 5 Mar, refused at intake 6 Mar: never received, in no count
  D10 in person  rec Thu 20 Feb 09:00  due Tue 25 Feb 09:00  open

Agency Y (000.00.13.H49): Y1 online, rec Wed 12 Mar 09:00, due Mon 17 Mar 09:00, resolved Thu 13 Mar, early.
Agency Z: received 5 May 2025 only, so not in a March or April report. Agency W: never received anything.

March 2025 for X: carried over D1, D10 = 2; online D2 = 1; in person or post D3, D4, D5, D6 = 4;
resolved early D2, on time D3, late D1; pending at 31 Mar: D5 within time (due 3 Apr), D4, D6 (done
only on 2 Apr) and D10 overdue. On time rate 2/3. Received (7) = resolved (3) + pending (4).
April 2025 for X: carried over D4, D5, D6, D10 = 4; received D8; resolved D6 late; pending at 30 Apr:
D4, D5, D8, D10, all overdue. On time rate 0."""

from datetime import datetime, timedelta

import pytest

from kit.testing import as_user

from kit.calendar import TZ

from .planted import AGENCY as X, OTHER_AGENCY as Y, RECEPTION, received, running, submitted

Z, W = "000.00.30.H49", "000.00.31.H49"
LEADER = as_user("leader1", "leader", agency=X)
MARCH = {"from": "2025-03-01", "to": "2025-03-31"}
APRIL = {"from": "2025-04-01", "to": "2025-04-30"}


def at(month: int, day: int, hour: int = 9) -> datetime:
    return datetime(2025, month, day, hour, 0, tzinfo=TZ)


@pytest.fixture
async def service(store, tmp_path):
    async with running(store, tmp_path) as service:
        policy = await service.deps.policy.current()
        n = iter(range(1, 100))

        def code(agency: str) -> str:
            return f"{agency}-250301-{next(n):04d}"

        d = {
            "D1": received(code(X), at(2, 26), policy).resolve(at(3, 4, 10)),
            "D2": received(code(X), at(3, 3), policy, channel="online").resolve(at(3, 5, 10)),
            "D3": received(code(X), at(3, 10, 8), policy).resolve(at(3, 13, 15)),
            "D4": received(code(X), at(3, 17), policy, channel="post").to_agency(at(3, 17)).assign(at(3, 18)),
            "D5": received(code(X), at(3, 31), policy).to_agency(at(3, 31)),
            "D6": received(code(X), at(3, 25), policy).resolve(at(4, 2, 10)),
            "D7": received(code(X), at(2, 10), policy).resolve(at(2, 12, 10)),
            "D8": received(code(X), at(4, 1), policy),
            "D10": received(code(X), at(2, 20), policy).to_agency(at(2, 20)),
            "Y1": received(code(Y), at(3, 12), policy, channel="online", agency=Y).resolve(at(3, 13, 10)),
            "Z1": received(code(Z), at(5, 5), policy, agency=Z),
        }
        never = submitted(code(X), at(3, 5), policy)
        never.events += never.dossier.refuse_intake(actor=RECEPTION, at=at(3, 6), policy=policy, reason="Sai mẫu")
        d["D9"] = never
        d["W1"] = submitted(code(W), at(3, 5), policy, agency=W)
        for planted in d.values():
            await planted.store(service.deps)

        due = {k: p.dossier.due_at for k, p in d.items()}
        assert due["D1"] == at(3, 3) and due["D2"] == at(3, 6) and due["D3"] == at(3, 13, 8)
        assert due["D4"] == at(3, 20) and due["D5"] == at(4, 3) and due["D6"] == at(3, 28)
        assert due["D7"] == at(2, 13) and due["D8"] == at(4, 4) and due["D10"] == at(2, 25)
        assert [d[k].dossier.classification for k in ("D1", "D2", "D3", "D6", "D7", "Y1")] == \
            ["late", "early", "on_time", "late", "early", "early"]
        assert d["D9"].dossier.classification is None and d["D9"].dossier.completed_at is not None
        yield service


def row(carried, online, counter, early, on_time, late, within, overdue, rate, agency):
    return {"agency": agency,
            "received": {"carried_over": carried, "online": online, "in_person_or_post": counter,
                         "total": carried + online + counter},
            "resolved": {"early": early, "on_time": on_time, "late": late, "total": early + on_time + late},
            "pending": {"within_time": within, "overdue": overdue, "total": within + overdue},
            "on_time_rate": rate}


async def indicators(service, params, headers=LEADER):
    r = await service.client.get("/indicators", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def test_march_has_one_row_per_agency_that_received_and_the_total(service):
    body = await indicators(service, MARCH)
    assert (body["from"], body["to"], body["as_of"]) == ("2025-03-01", "2025-03-31", "2025-03-31")
    assert body["rows"] == [row(0, 1, 0, 1, 0, 0, 0, 0, 1.0, Y),
                            row(2, 1, 4, 1, 1, 1, 1, 3, 0.6667, X)]
    assert body["total"] == row(2, 2, 4, 2, 1, 1, 1, 3, 0.75, None)


async def test_april_carries_over_what_march_left_open(service):
    body = await indicators(service, APRIL)
    assert body["rows"] == [row(0, 0, 0, 0, 0, 0, 0, 0, None, Y),
                            row(4, 0, 1, 0, 0, 1, 0, 4, 0.0, X)]
    assert body["total"] == row(4, 0, 1, 0, 0, 1, 0, 4, 0.0, None)


async def test_one_agency_only(service):
    body = await indicators(service, {**MARCH, "agency": X})
    assert body["rows"] == [row(2, 1, 4, 1, 1, 1, 1, 3, 0.6667, X)]
    assert body["total"] == row(2, 1, 4, 1, 1, 1, 1, 3, 0.6667, None)
    nothing = await indicators(service, {**MARCH, "agency": Z})  # received only in May
    assert nothing["rows"] == [row(0, 0, 0, 0, 0, 0, 0, 0, None, Z)]


async def test_a_period_that_ends_later_than_today_judges_overdue_as_of_today(service):
    today = datetime.now(TZ).date()
    body = await indicators(service, {"from": str(today - timedelta(days=10)), "to": str(today + timedelta(days=10))})
    assert body["as_of"] == str(today)
    # Everything open was received in 2025 and is overdue today: D4, D5, D8, D10 and Z1.
    assert body["total"]["pending"] == {"within_time": 0, "overdue": 5, "total": 5}


async def test_a_whole_leap_year_is_allowed(service):
    body = await indicators(service, {"from": "2024-01-01", "to": "2024-12-31"})
    assert body["rows"] == [] and body["total"]["received"]["total"] == 0


@pytest.mark.parametrize(("params", "problem"), [
    ({"from": "2025-03-31", "to": "2025-03-01"}, "invalid-period"),
    ({"from": "2024-01-01", "to": "2025-01-01"}, "period-too-long"),  # 367 days
    ({"from": "2025-02-30", "to": "2025-03-31"}, "validation-error"),
    ({"from": "March", "to": "2025-03-31"}, "validation-error"),
    ({"to": "2025-03-31"}, "validation-error"),
    ({**MARCH, "agency": "x'; drop"}, "validation-error"),
])
async def test_a_bad_period_is_a_422_problem(service, params, problem):
    r = await service.client.get("/indicators", params=params, headers=LEADER)
    assert r.status_code == 422 and r.json()["type"] == f"/problems/{problem}"
    assert r.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(("headers", "status"), [
    (as_user("admin1", "admin"), 200),
    (as_user("specialist1", "specialist", agency=X), 403),
    (as_user("reception1", "reception_officer", agency=X), 403),
    ({}, 401),
])
async def test_leaders_and_administrators_read_the_indicators(service, headers, status):
    assert (await service.client.get("/indicators", params=MARCH, headers=headers)).status_code == status

