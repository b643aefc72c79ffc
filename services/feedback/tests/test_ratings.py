"""Satisfaction ratings through HTTP, on both stores: a returned dossier (a real `DossierReturned` on the
bus) is invited to rate once, however often the event comes; the invitation's link rates in one step and
only once; bad links and bad ratings are refused with a problem and store nothing; leaders read the
shares per agency and local period; the applicant's phone and e-mail appear in no log and no answer."""

import logging
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from kit.bus.memory import MemoryBus
from kit.events import CloudEvent
from kit.http import create_service_app
from kit.runtime import Runtime
from kit.store import DocumentStore
from kit.telemetry import QUIET_LOGGERS
from kit.testing import as_user, eventually, serving

from contracts import build
from contracts.dossier import ApplicantContact, DossierReturned
from feedback.api_ratings import router
from feedback.rating_settings import RatingSettings
from feedback.ratings import INVITATIONS, RATINGS, REASONS, Ratings, invitation_token
from feedback.settings import FeedbackSettings

A, B = "000.00.21.H49", "000.00.13.H49"
NAME, PHONE, EMAIL = "Nguyễn Thị Thanh Hương", "0912345678", "huong.nguyen@example.vn"
SECRET = "test-rating-secret-0123456789abcdef"
URL_TEMPLATE = "https://dichvucong.quangninh.gov.vn/danh-gia?t={token}"
LEADER = as_user("leader1", "leader", agency=A)
PROBLEM_JSON = "application/problem+json"


def returned(code: str, agency: str = A, at: datetime = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)) -> CloudEvent:
    """What the dossier service publishes when the result is handed over."""
    data = DossierReturned(code=code, sequence=9, action="return", state="returned", status_code=10,
                           procedure_code="1.000894", procedure_name="Đăng ký kết hôn", agency_code=agency,
                           current_agency=agency, channel="online", occurred_at=at, method="counter",
                           applicant=ApplicantContact(name=NAME, phone=PHONE, email=EMAIL, account="citizen-7"))
    return build(data, source="/dossier", subject=code)


def code_of(n: int, agency: str = A) -> str:
    return f"{agency}-260302-{n:04d}"


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime(2026, 3, 2, 4, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Platform:
    client: httpx.AsyncClient
    bus: MemoryBus
    store: DocumentStore
    ratings: Ratings
    clock: Clock

    async def publish(self, event: CloudEvent) -> None:
        await self.bus.publish("dossier.events", event, event.subject)

    async def events(self, event_type: str) -> list[CloudEvent]:
        return [e async for e in self.bus.read_all("feedback.events") if e.type == event_type]

    def consumed(self) -> bool:
        """The ratings' consumer group has committed every dossier event published so far."""
        broker = self.bus.broker
        return all(broker.committed.get(("feedback-ratings", "dossier.events", i), 0) >= len(part.records)
                   for i, part in enumerate(broker.topics.get("dossier.events", [])))

    async def settled(self) -> bool:
        """Every dossier event applied and every outbox emptied by the relay."""
        return self.consumed() and not await self.store.collection(INVITATIONS).with_outbox() \
            and not await self.store.collection(RATINGS).with_outbox()

    async def invite(self, code: str, agency: str = A) -> str:
        """Return a dossier and wait for its invitation; the token of the link the citizen gets."""
        await self.publish(returned(code, agency))
        invited = await eventually(lambda: self._invitation_of(code))
        return parse_qs(urlsplit(invited.data["rate_url"]).query)["t"][0]

    async def _invitation_of(self, code: str) -> CloudEvent | None:
        found = [e for e in await self.events("vn.motcua.rating.invited.v1") if e.data["dossier_code"] == code]
        return found[0] if found else None


@pytest.fixture
async def platform(store):
    bus = MemoryBus()
    runtime = Runtime(FeedbackSettings(outbox_poll_seconds=0.05), bus=bus, store=store)
    clock = Clock()
    ratings = Ratings(runtime, RatingSettings(rating_secret=SecretStr(SECRET), rating_url_template=URL_TEMPLATE),
                      clock=clock)
    runtime.outbox(INVITATIONS, RATINGS)
    runtime.subscribe("dossier.events", "feedback-ratings", ratings.on_dossier_event)
    app = create_service_app(runtime, title="Một Cửa — feedback (ratings under test)",
                             description="The satisfaction ratings alone.", routers=[router],
                             on_startup=ratings.ensure_indexes)
    app.state.ratings = ratings
    async with serving(app) as client:
        yield Platform(client, bus, store, ratings, clock)
    await bus.stop()


# --- one invitation per returned dossier -------------------------------------------------------------

async def test_a_returned_dossier_is_invited_once_however_often_the_event_comes(platform):
    code = code_of(1)
    event = returned(code)
    for _ in range(3):  # the same event, delivered again (a producer retry, a replay)
        await platform.publish(event)
    await eventually(platform.settled)
    # Returned a second time (a corrected result handed over again): a new event, still no second invitation.
    await platform.publish(returned(code, at=datetime(2026, 3, 5, 3, 0, tzinfo=UTC)))
    await eventually(platform.settled)
    await platform.ratings.on_dossier_event(event)  # straight to the handler, past the consumer's dedup

    invited = await platform.events("vn.motcua.rating.invited.v1")
    assert len(invited) == 1 and await platform.store.collection(INVITATIONS).count() == 1
    data = invited[0].data
    assert (data["dossier_code"], data["agency_code"], data["procedure_name"]) == (code, A, "Đăng ký kết hôn")
    assert data["applicant"] == {"name": NAME, "phone": PHONE, "email": EMAIL, "account": "citizen-7"}
    assert data["rate_url"] == URL_TEMPLATE.format(token=invitation_token(SECRET, code))
    assert invited[0].subject == code
    stored = await platform.store.collection(INVITATIONS).get(code)
    assert PHONE not in str(stored) and EMAIL not in str(stored)  # the contact travels in the event only


async def test_other_dossier_events_invite_nobody(platform):
    event = returned(code_of(2))
    other = CloudEvent(**{**event.model_dump(), "id": "other-1", "type": "vn.motcua.dossier.resolved.v1"})
    await platform.publish(other)
    await platform.publish(CloudEvent(source="/x", type="vn.motcua.unknown.v1", subject="x", data={}))
    await eventually(platform.settled)
    assert await platform.store.collection(INVITATIONS).count() == 0


# --- the link rates in one step, once ----------------------------------------------------------------

async def test_the_invitation_link_rates_in_one_step_and_only_once(platform):
    code = code_of(3)
    token = await platform.invite(code)

    page = await platform.client.get(f"/ratings/invitations/{token}")
    assert page.status_code == 200, page.text
    body = page.json()
    assert (body["dossier_code"], body["procedure_name"], body["agency_code"], body["rated"]) == (
        code, "Đăng ký kết hôn", A, False)
    assert body["scores"] == [1, 2, 3, 4, 5]
    assert [r["code"] for r in body["reasons"]] == list(REASONS)
    slow = next(r for r in body["reasons"] if r["code"] == "slow")
    assert slow["label_vi"] == "Giải quyết chậm, trễ hẹn" and slow["label_en"]

    r = await platform.client.post(f"/ratings/invitations/{token}",
                                   json={"score": 2, "reasons": ["slow", "many_trips", "slow"],
                                         "comment": "  Phải đi lại ba lần mới nhận được kết quả.  "})
    assert r.status_code == 201, r.text
    rating = r.json()
    assert (rating["dossier_code"], rating["score"], rating["reasons"], rating["satisfied"]) == (
        code, 2, ["slow", "many_trips"], False)
    stored = await platform.store.collection(RATINGS).get(code)
    assert stored["comment"] == "Phải đi lại ba lần mới nhận được kết quả."
    submitted = await eventually(lambda: platform.events("vn.motcua.rating.submitted.v1"))
    assert submitted[0].data | {"rated_at": None} == {"dossier_code": code, "agency_code": A, "score": 2,
                                                      "reasons": ["slow", "many_trips"], "satisfied": False,
                                                      "rated_at": None}
    assert "comment" not in submitted[0].data  # free text stays in the feedback service

    assert (await platform.client.get(f"/ratings/invitations/{token}")).json()["rated"] is True
    again = await platform.client.post(f"/ratings/invitations/{token}", json={"score": 5})
    assert again.status_code == 409 and again.headers["content-type"] == PROBLEM_JSON
    assert again.json()["type"] == "/problems/already-rated" and again.json()["dossier_code"] == code
    assert code in again.json()["detail"]
    await eventually(platform.settled)
    assert await platform.store.collection(RATINGS).count() == 1
    assert len(await platform.events("vn.motcua.rating.submitted.v1")) == 1


async def test_a_score_of_four_is_satisfied_and_a_long_comment_counts_composed_characters(platform):
    token = await platform.invite(code_of(4))
    decomposed = unicodedata.normalize("NFD", "ệ") * 1000  # 3,000 code points, 1,000 characters once composed
    r = await platform.client.post(f"/ratings/invitations/{token}", json={"score": 4, "comment": decomposed})
    assert r.status_code == 201, r.text
    assert r.json()["satisfied"] is True and r.json()["reasons"] == []
    assert (await platform.store.collection(RATINGS).get(code_of(4)))["comment"] == "ệ" * 1000


# --- refusals: a problem, and nothing stored ---------------------------------------------------------

@pytest.mark.parametrize(("body", "problem", "field"), [
    ({"score": 0}, "validation-error", "body.score"),
    ({"score": 6}, "validation-error", "body.score"),
    ({"score": "5"}, "validation-error", "body.score"),
    ({"score": 4.5}, "validation-error", "body.score"),
    ({"score": True}, "validation-error", "body.score"),
    ({}, "validation-error", "body.score"),
    ({"score": 3, "reasons": ["slow", "rude"]}, "unknown-reason", "reasons"),
    ({"score": 3, "reasons": "slow"}, "validation-error", "body.reasons"),
    ({"score": 3, "reasons": ["slow"] * 8}, "validation-error", "body.reasons"),
    ({"score": 3, "phone": PHONE}, "validation-error", "body.phone"),
    ({"score": 3, "comment": "x" * 1001}, "comment-too-long", "comment"),
])
async def test_a_bad_rating_is_a_422_problem_naming_what_is_wrong_and_nothing_is_stored(platform, body, problem,
                                                                                      field):
    token = await platform.invite(code_of(5))
    r = await platform.client.post(f"/ratings/invitations/{token}", json=body)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM_JSON, r.text
    answer = r.json()
    assert answer["type"] == f"/problems/{problem}"
    named = answer.get("field") or answer["errors"][0]["field"]
    assert named == field
    if problem == "unknown-reason":
        assert answer["reasons"] == ["rude"] and "'rude'" in answer["detail"] and "slow" in answer["known"]
    assert await platform.store.collection(RATINGS).count() == 0
    assert (await platform.client.get(f"/ratings/invitations/{token}")).json()["rated"] is False


async def test_a_link_that_does_not_verify_gets_the_same_404_and_rates_nothing(platform):
    code = code_of(6)
    token = await platform.invite(code)
    never_returned = invitation_token(SECRET, code_of(7))  # a valid signature, but no invitation
    forged = invitation_token("another-secret-of-at-least-32-chars!", code)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    other_dossier = token.split(".")[0][:-2] + "xx." + token.split(".")[1]
    answers = []
    for bad in ("abc", "a.b", "a..b", "%00", "é.é", "x" * 300, never_returned, forged, tampered, other_dossier):
        got = await platform.client.get(f"/ratings/invitations/{bad}")
        posted = await platform.client.post(f"/ratings/invitations/{bad}", json={"score": 1})
        for r in (got, posted):
            assert r.status_code == 404 and r.headers["content-type"] == PROBLEM_JSON, (bad, r.text)
            answers.append({k: v for k, v in r.json().items() if k != "instance"})
    assert all(a == answers[0] for a in answers) and answers[0]["type"] == "/problems/invitation-not-found"
    assert code not in str(answers)
    assert await platform.store.collection(RATINGS).count() == 0


# --- the summary -------------------------------------------------------------------------------------

async def rate_at(platform: Platform, code: str, agency: str, at: datetime, score: int, reasons=()) -> None:
    token = await platform.invite(code, agency)
    platform.clock.now = at
    r = await platform.client.post(f"/ratings/invitations/{token}", json={"score": score, "reasons": list(reasons)})
    assert r.status_code == 201, r.text


def figures(agency, distribution: dict[int, int], average, satisfied, share, reasons: dict[str, int]) -> dict:
    count = sum(distribution.values())
    return {"agency": agency, "count": count, "average": average, "satisfied": satisfied, "satisfied_share": share,
            "distribution": {str(s): distribution.get(s, 0) for s in range(1, 6)},
            "reasons": {code: reasons.get(code, 0) for code in REASONS}}


def shaped(row: dict) -> dict:
    return {**row, "reasons": {r["code"]: r["count"] for r in row["reasons"]}}


MARCH = {"from": "2026-03-01", "to": "2026-03-31"}


async def test_the_summary_counts_ratings_per_agency_and_local_period(platform):
    def utc(month, day, hour, minute=0):
        return datetime(2026, month, day, hour, minute, tzinfo=UTC)

    await rate_at(platform, code_of(11), A, utc(3, 3, 2), 5)
    await rate_at(platform, code_of(12), A, utc(3, 10, 2), 4)
    await rate_at(platform, code_of(13), A, utc(3, 12, 2), 2, ["slow", "many_trips"])
    await rate_at(platform, code_of(14), A, utc(3, 20, 9), 1, ["slow", "staff_attitude"])
    await rate_at(platform, code_of(15), A, utc(2, 28, 17), 4)  # 00:00 on 1 March in Hà Nội: in March
    await rate_at(platform, code_of(16), A, utc(3, 31, 17, 30), 1, ["fees"])  # 00:30 on 1 April: not in March
    await rate_at(platform, code_of(21, B), B, utc(3, 5, 2), 3, ["unclear_guidance"])
    await rate_at(platform, code_of(22, B), B, utc(3, 6, 2), 5)

    r = await platform.client.get("/ratings/summary", params=MARCH, headers=LEADER)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["from"], body["to"]) == ("2026-03-01", "2026-03-31")
    a = figures(A, {1: 1, 2: 1, 4: 2, 5: 1}, 3.2, 3, 0.6, {"slow": 2, "many_trips": 1, "staff_attitude": 1})
    b = figures(B, {3: 1, 5: 1}, 4.0, 1, 0.5, {"unclear_guidance": 1})
    assert [shaped(row) for row in body["rows"]] == [b, a]  # by agency code
    assert shaped(body["total"]) == figures(None, {1: 1, 2: 1, 3: 1, 4: 2, 5: 2}, 3.43, 4, 0.5714,
                                            {"slow": 2, "many_trips": 1, "staff_attitude": 1, "unclear_guidance": 1})
    assert body["rows"][0]["reasons"][0] == {"code": "slow", "label_vi": "Giải quyết chậm, trễ hẹn",
                                             "label_en": "Slow, or later than the appointment", "count": 0}

    one = (await platform.client.get("/ratings/summary", params={**MARCH, "agency": A},
                                     headers=as_user("fb1", "feedback_officer"))).json()
    assert [shaped(row) for row in one["rows"]] == [a] and shaped(one["total"]) == {**a, "agency": None}
    april = (await platform.client.get("/ratings/summary", params={"from": "2026-04-01", "to": "2026-04-30"},
                                       headers=as_user("admin1", "admin"))).json()
    assert shaped(april["total"]) == figures(None, {1: 1}, 1.0, 0, 0.0, {"fees": 1})
    empty = (await platform.client.get("/ratings/summary", params={"from": "2025-01-01", "to": "2025-12-31"},
                                       headers=LEADER)).json()
    assert empty["rows"] == [] and empty["total"]["count"] == 0 and empty["total"]["average"] is None


@pytest.mark.parametrize(("params", "problem"), [
    ({"from": "2026-03-31", "to": "2026-03-01"}, "invalid-period"),
    ({"from": "2024-01-01", "to": "2025-01-01"}, "period-too-long"),  # 367 days
    ({"from": "2026-02-30", "to": "2026-03-31"}, "validation-error"),
    ({"to": "2026-03-31"}, "validation-error"),
    ({**MARCH, "agency": "x'; drop"}, "validation-error"),
])
async def test_a_bad_period_is_a_422_problem(platform, params, problem):
    r = await platform.client.get("/ratings/summary", params=params, headers=LEADER)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM_JSON
    assert r.json()["type"] == f"/problems/{problem}"


async def test_a_leap_year_is_one_period(platform):
    r = await platform.client.get("/ratings/summary", params={"from": "2024-01-01", "to": "2024-12-31"},
                                  headers=LEADER)
    assert r.status_code == 200


@pytest.mark.parametrize(("headers", "status"), [
    (as_user("leader1", "leader", agency=A), 200),
    (as_user("admin1", "admin"), 200),
    (as_user("fb1", "feedback_officer"), 200),
    (as_user("specialist1", "specialist", agency=A), 403),
    (as_user("citizen1", "citizen"), 403),
    ({}, 401),
])
async def test_leaders_administrators_and_feedback_officers_read_the_summary(platform, headers, status):
    r = await platform.client.get("/ratings/summary", params=MARCH, headers=headers)
    assert r.status_code == status, r.text


# --- personal data -----------------------------------------------------------------------------------

@pytest.fixture
def quiet_drivers():
    levels = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


async def test_the_applicants_contact_is_in_no_log_and_no_public_answer(platform, caplog, quiet_drivers):
    for noisy in QUIET_LOGGERS:  # as in production (kit.telemetry.setup_logging): drivers log parameters
        logging.getLogger(noisy).setLevel(logging.WARNING)
    caplog.set_level(logging.DEBUG)  # everything of ours, even at DEBUG
    code = code_of(31)
    token = await platform.invite(code)
    answers = [await platform.client.get(f"/ratings/invitations/{token}"),
               await platform.client.post(f"/ratings/invitations/{token}", json={"score": 3, "reasons": ["other"]}),
               await platform.client.post(f"/ratings/invitations/{token}", json={"score": 3}),
               await platform.client.post(f"/ratings/invitations/{token}", json={"score": 9}),
               await platform.client.get("/ratings/summary", params=MARCH, headers=LEADER)]
    assert [r.status_code for r in answers] == [200, 201, 409, 422, 200]
    await eventually(platform.settled)
    assert any(r.getMessage() == "rating invitation recorded" for r in caplog.records)
    assert any(r.getMessage() == "rating recorded" for r in caplog.records)
    logged = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    for personal in (PHONE, EMAIL, NAME, "citizen-7"):
        assert personal not in logged
        assert all(personal not in r.text for r in answers)
