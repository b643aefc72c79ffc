"""The satisfaction figure of 766/QĐ-TTg in the indicators report, on both stores: the dossier service learns
ratings and petitions from real `feedback.events` on the bus (never the feedback service's database) and
counts, among the dossiers received in the period, the overdue ones and those rated unsatisfied or named
by a petition: satisfaction = 1 − (overdue share + complaint share).

Every dossier takes 3 working days. March 2025, agency X (000.00.21.H49):

  X1  rec Mon 3 Mar    resolved Wed 5 Mar   early     rated 5
  X2  rec Tue 4 Mar    resolved Wed 12 Mar  late      rated 2 (unsatisfied): overdue AND disliked
  X3  rec Mon 10 Mar   resolved Wed 12 Mar  early     two petitions name it (and one is delivered twice)
  X4  rec Mon 17 Mar   open, due Thu 20 Mar: overdue on 31 Mar
  X5  rec Mon 24 Mar   resolved Wed 26 Mar  early     rated 4 (satisfied), and a petition names it
  X7  submitted online Wed 5 Mar; a petition names it at intake; received Thu 6 Mar later on, open, due
      Tue 11 Mar: overdue
  X8..X11 rec in March, resolved early, no feedback
  X6  rec Thu 20 Feb   resolved Fri 21 Feb  (February) rated 1

  received 10; overdue X2, X4, X7 = 3; complained or disliked X2, X3, X5, X7 = 4; ratings X1, X2, X5 = 3,
  of which satisfied 2; satisfaction 1 − (3 + 4) / 10 = 0.3.

Agency Y (000.00.13.H49): Y1 rec Wed 12 Mar, resolved Thu 13 Mar, rated 3 (unsatisfied); Y2 rec Fri 14 Mar,
  resolved Mon 17 Mar,
no feedback: received 2, disliked 1, satisfaction 0.5.
Total: received 12, overdue 3, complained or disliked 5, ratings 4 (2 satisfied): 1 − 8/12 = 0.3333."""

from datetime import UTC, datetime

import pytest

from contracts import build
from contracts.feedback import FeedbackReceived, RatingSubmitted
from dossier.satisfaction import DOSSIER_FEEDBACK
from kit.calendar import TZ
from kit.events import CloudEvent
from kit.testing import as_user, eventually

from .planted import AGENCY as X, OTHER_AGENCY as Y, RECEPTION, received, running, submitted

LEADER = as_user("leader1", "leader", agency=X)
MARCH = {"from": "2025-03-01", "to": "2025-03-31"}
LATER = datetime(2025, 4, 15, 3, 0, tzinfo=UTC)  # feedback given after the period counts for it all the same


def at(month: int, day: int, hour: int = 9) -> datetime:
    return datetime(2025, month, day, hour, 0, tzinfo=TZ)


def rating(code: str, agency: str, score: int) -> CloudEvent:
    data = RatingSubmitted(dossier_code=code, agency_code=agency, score=score, reasons=["slow"] if score < 4 else [],
                           satisfied=score >= 4, rated_at=LATER)
    return build(data, source="/feedback", subject=code)


def petition(petition_id: str, code: str | None) -> CloudEvent:
    data = FeedbackReceived(petition_id=petition_id, state="received", category="conduct", dossier_code=code,
                            occurred_at=LATER, channel="online", received_at=LATER)
    return build(data, source="/feedback", subject=petition_id)


def consumed(bus) -> bool:
    """The satisfaction consumer has committed every feedback event published so far (memory broker)."""
    broker = bus.broker
    return all(broker.committed.get(("dossier-satisfaction", "feedback.events", i), 0) >= len(part.records)
               for i, part in enumerate(broker.topics.get("feedback.events", [])))


@pytest.fixture
async def service(store, tmp_path):
    async with running(store, tmp_path) as service:
        policy = await service.deps.policy.current()
        n = iter(range(1, 100))

        def code(agency: str = X) -> str:
            return f"{agency}-250301-{next(n):04d}"

        d = {
            "X1": received(code(), at(3, 3), policy).resolve(at(3, 5, 10)),
            "X2": received(code(), at(3, 4), policy).resolve(at(3, 12, 10)),
            "X3": received(code(), at(3, 10), policy).resolve(at(3, 12, 10)),
            "X4": received(code(), at(3, 17), policy),
            "X5": received(code(), at(3, 24), policy).resolve(at(3, 26, 10)),
            "X6": received(code(), at(2, 20), policy).resolve(at(2, 21, 10)),
            "X7": submitted(code(), at(3, 5), policy),
            "Y1": received(code(Y), at(3, 12), policy, agency=Y).resolve(at(3, 13, 10)),
            "Y2": received(code(Y), at(3, 14), policy, agency=Y).resolve(at(3, 17, 10)),
        }
        for k in range(8, 12):
            d[f"X{k}"] = received(code(), at(3, 18 + k - 8), policy).resolve(at(3, 19 + k - 8, 10))
        service.codes = {k: p.dossier.code for k, p in d.items()}
        service.stored = {k: await p.store(service.deps) for k, p in d.items()}
        service.policy = policy
        assert [service.stored[k].classification for k in ("X1", "X2", "X3", "X5")] == ["early", "late", "early",
                                                                                         "early"]
        yield service


async def publish(service, *events: CloudEvent) -> None:
    bus = service.deps.dossiers.runtime.bus
    for event in events:
        await bus.publish("feedback.events", event, event.subject)
    await eventually(lambda: consumed(bus))


def row(agency, received, overdue, flagged, ratings, satisfied_share, satisfaction):
    return {"agency": agency, "received": received, "overdue": overdue, "complained_or_disliked": flagged,
            "ratings": ratings, "satisfied_share": satisfied_share,
            "overdue_share": round(overdue / received, 4) if received else None,
            "complaint_share": round(flagged / received, 4) if received else None, "satisfaction": satisfaction}


async def indicators(service, params, headers=LEADER) -> dict:
    r = await service.client.get("/indicators", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def test_ratings_and_petitions_from_feedback_events_make_the_satisfaction_figure(service):
    c = service.codes
    seen_twice = petition("PAKN-250401-00000003", c["X3"])
    await publish(service,
                  rating(c["X1"], X, 5), rating(c["X2"], X, 2), rating(c["X5"], X, 4), rating(c["X6"], X, 1),
                  rating(c["Y1"], Y, 3),
                  seen_twice, seen_twice, petition("PAKN-250402-00000004", c["X3"]),
                  petition("PAKN-250403-00000005", c["X5"]),
                  petition("PAKN-250404-00000007", c["X7"]),  # still at intake: counted once received
                  petition("PAKN-250405-00000009", f"{X}-250301-9999"),  # no such dossier: in no count
                  petition("PAKN-250406-00000010", None))  # names no dossier
    feedback = service.deps.dossiers.runtime.store.collection(DOSSIER_FEEDBACK)
    x3 = await feedback.get(c["X3"])
    assert x3["petitions"] == ["PAKN-250401-00000003", "PAKN-250402-00000004"] and x3["flagged"] is True
    assert (await feedback.get(c["X7"]))["placed"] is False

    # The counter receives X7 (filed online on 5 March) on 6 March.
    x7 = service.stored["X7"]
    await service.deps.dossiers.save(x7, x7.receive(actor=RECEPTION, at=at(3, 6), policy=service.policy))

    body = await indicators(service, MARCH)
    satisfaction = body["satisfaction"]
    assert satisfaction["rows"] == [row(Y, 2, 0, 1, 1, 0.0, 0.5), row(X, 10, 3, 4, 3, 0.6667, 0.3)]
    assert satisfaction["total"] == row(None, 12, 3, 5, 4, 0.5, 0.3333)
    # The Biểu II.06a rows are the same as before.
    assert [r["agency"] for r in body["rows"]] == [Y, X] and body["total"]["received"]["total"] == 12

    february = await indicators(service, {"from": "2025-02-01", "to": "2025-02-28", "agency": X})
    assert february["satisfaction"]["rows"] == [row(X, 1, 0, 1, 1, 0.0, 0.0)]

    # Delivered again (a replay of the topic): nothing changes.
    await publish(service, rating(c["X2"], X, 2), petition("PAKN-250401-00000003", c["X3"]))
    assert (await indicators(service, MARCH))["satisfaction"] == satisfaction


async def test_without_feedback_satisfaction_is_what_is_not_overdue(service):
    body = await indicators(service, {**MARCH, "agency": X})
    # X7 is still at intake: received are X1-X5 and X8-X11.
    assert body["satisfaction"]["rows"] == [row(X, 9, 2, 0, 0, None, 0.7778)]
    assert body["satisfaction"]["total"] == row(None, 9, 2, 0, 0, None, 0.7778)
    nothing = await indicators(service, {"from": "2024-01-01", "to": "2024-12-31"})
    assert nothing["satisfaction"] == {"rows": [], "total": row(None, 0, 0, 0, 0, None, None)}
