"""The periodic report's counts (Biểu II.06a/VPCP/KSTT, DOMAIN.md section 5) per agency and period.

Every figure is a `count` over indexed local-date strings (`received_on`, `completed_on`, `due_on`,
all `YYYY-MM-DD`, so they compare as dates), never a read of every dossier. The store has no `$or`,
so "not completed by day X" is counted as "open now" plus "completed after X": both are small sets
for a recent period, unlike "everything received up to X".

Figures use each dossier's current due date: an extension or a restarted clock moves it, and the
report is not a replay of history.

The satisfaction section (766/QĐ-TTg) counts the dossiers *received in the period* (not those carried
over): among them, the overdue ones, the rated ones (ratings and complaints come from `feedback.events`,
see satisfaction.py), and those rated unsatisfied or named by a petition. A rating or a petition given
after the period still counts for the period the dossier was received in."""

import asyncio
from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from kit.problems import Problem
from kit.store.base import Filter

from dossier.satisfaction import DossierFeedback
from dossier.store import DossierStore

COUNTER_CHANNELS = ["in_person", "post"]


class Received(BaseModel):
    carried_over: int = Field(description="received before the period and not completed before it")
    online: int
    in_person_or_post: int
    total: int


class Resolved(BaseModel):
    early: int
    on_time: int
    late: int
    total: int


class Pending(BaseModel):
    within_time: int
    overdue: int
    total: int


class IndicatorRow(BaseModel):
    agency: str | None = Field(description="the competent agency (the procedure's); null on the total row")
    received: Received
    resolved: Resolved
    pending: Pending = Field(description="at the end of the period; overdue as of `as_of`")
    on_time_rate: float | None = Field(description="(early + on time) / resolved; null when nothing was resolved")

    @classmethod
    def of(cls, agency: str | None, n: dict[str, int]) -> "IndicatorRow":
        carried = n["carried_open"] + n["carried_completed_later"]
        pending = n["pending_open"] + n["pending_completed_later"]
        overdue = n["overdue_open"] + n["overdue_completed_later"]
        resolved = n["early"] + n["on_time"] + n["late"]
        return cls(
            agency=agency,
            received=Received(carried_over=carried, online=n["online"], in_person_or_post=n["in_person_or_post"],
                              total=carried + n["online"] + n["in_person_or_post"]),
            resolved=Resolved(early=n["early"], on_time=n["on_time"], late=n["late"], total=resolved),
            pending=Pending(within_time=pending - overdue, overdue=overdue, total=pending),
            on_time_rate=round((n["early"] + n["on_time"]) / resolved, 4) if resolved else None)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


class SatisfactionRow(BaseModel):
    """766/QĐ-TTg's satisfaction. Every count is of dossiers received in the period (local days)."""

    agency: str | None = Field(description="the competent agency; null on the total row")
    received: int = Field(description="dossiers received in the period: the denominator of the shares below "
                                      "but `satisfied_share`")
    overdue: int = Field(description="of those, resolved late, or still open past their due date on `as_of`")
    complained_or_disliked: int = Field(description="of those, rated unsatisfied (score below 4) or named by a "
                                                    "petition (phản ánh, kiến nghị); each dossier once")
    ratings: int = Field(description="of those, rated by the citizen (a dossier is rated once)")
    satisfied_share: float | None = Field(description="ratings of 4 or 5 / ratings; null without ratings")
    overdue_share: float | None = Field(description="overdue / received")
    complaint_share: float | None = Field(description="complained_or_disliked / received")
    satisfaction: float | None = Field(description="1 − (overdue share + complaint share), as 766/QĐ-TTg adds "
                                                   "them (a dossier both late and complained about counts in "
                                                   "both), floored at 0; null when nothing was received. The "
                                                   "full score needs at least 0.9")

    @classmethod
    def of(cls, agency: str | None, n: dict[str, int]) -> "SatisfactionRow":
        received, overdue, flagged = n["received"], n["overdue"], n["flagged"]
        return cls(agency=agency, received=received, overdue=overdue, complained_or_disliked=flagged,
                   ratings=n["ratings"], satisfied_share=_share(n["satisfied"], n["ratings"]),
                   overdue_share=_share(overdue, received), complaint_share=_share(flagged, received),
                   satisfaction=round(max(0.0, 1 - (overdue + flagged) / received), 4) if received else None)


class Satisfaction(BaseModel):
    rows: list[SatisfactionRow] = Field(description="one per agency, as the indicator rows")
    total: SatisfactionRow


class IndicatorReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    period_from: date = Field(alias="from")
    period_to: date = Field(alias="to")
    as_of: date = Field(description="the day overdue is judged on: the period's end, or today if it ends later")
    rows: list[IndicatorRow]
    total: IndicatorRow
    satisfaction: Satisfaction


def check_period(start: date, end: date, *, max_days: int) -> None:
    if start > end:
        raise Problem(422, "invalid-period", "The period ends before it starts",
                      f"'from' ({start}) must be on or before 'to' ({end}).", field="from")
    if (end - start).days + 1 > max_days:
        raise Problem(422, "period-too-long", "The period is too long",
                      f"A report covers at most {max_days} days; ask for it in parts.", field="to",
                      max_days=max_days)


def count_filters(agency: str, start: str, end: str, as_of: str) -> dict[str, Filter]:
    """Named counts for one agency; days are `YYYY-MM-DD`. NULL matches no comparison, so a dossier never
    received has no `received_on` and falls out of every count by itself."""
    a: Filter = {"procedure.agency_code": agency}
    within = {"$gte": start, "$lte": end}
    return {
        # received before the period and not completed before it: open now, or completed since it started
        "carried_open": {**a, "is_open": True, "received_on": {"$lt": start}},
        "carried_completed_later": {**a, "completed_on": {"$gte": start}, "received_on": {"$lt": start}},
        "online": {**a, "received_on": within, "channel": "online"},
        "in_person_or_post": {**a, "received_on": within, "channel": {"$in": COUNTER_CHANNELS}},
        # a classification is set only on a dossier whose clock ran, i.e. one that was received
        "early": {**a, "completed_on": within, "classification": "early"},
        "on_time": {**a, "completed_on": within, "classification": "on_time"},
        "late": {**a, "completed_on": within, "classification": "late"},
        # received by the end and not completed by it: open now, or completed after the end
        "pending_open": {**a, "is_open": True, "received_on": {"$lte": end}},
        "pending_completed_later": {**a, "completed_on": {"$gt": end}, "received_on": {"$lte": end}},
        "overdue_open": {**a, "is_open": True, "received_on": {"$lte": end}, "due_on": {"$lt": as_of}},
        "overdue_completed_later": {**a, "completed_on": {"$gt": end}, "received_on": {"$lte": end},
                                    "due_on": {"$lt": as_of}},
    }


async def agency_row(dossiers: DossierStore, agency: str, *, start: date, end: date, as_of: date) -> IndicatorRow:
    filters = count_filters(agency, start.isoformat(), end.isoformat(), as_of.isoformat())
    counts = await asyncio.gather(*(dossiers.count(f) for f in filters.values()))
    return IndicatorRow.of(agency, dict(zip(filters, counts, strict=True)))


def total_row(rows: list[IndicatorRow]) -> IndicatorRow:
    """Every dossier has exactly one competent agency, so the agencies' rows add up to the total."""
    def add(part: str, name: str) -> int:
        return sum(getattr(getattr(r, part), name) for r in rows)

    early, on_time, resolved = add("resolved", "early"), add("resolved", "on_time"), add("resolved", "total")
    return IndicatorRow(
        agency=None,
        received=Received(**{k: add("received", k) for k in Received.model_fields}),
        resolved=Resolved(**{k: add("resolved", k) for k in Resolved.model_fields}),
        pending=Pending(**{k: add("pending", k) for k in Pending.model_fields}),
        on_time_rate=round((early + on_time) / resolved, 4) if resolved else None)


SATISFACTION_FIELDS = ("received", "overdue", "flagged", "ratings", "satisfied")


async def satisfaction_counts(dossiers: DossierStore, feedback: DossierFeedback, agency: str, *, start: date,
                              end: date, as_of: date) -> dict[str, int]:
    first, last = start.isoformat(), end.isoformat()
    a: Filter = {"procedure.agency_code": agency, "received_on": {"$gte": first, "$lte": last}}
    received, late, overdue_open, from_feedback = await asyncio.gather(
        dossiers.count(a),
        dossiers.count({**a, "classification": "late"}),
        dossiers.count({**a, "is_open": True, "due_on": {"$lt": as_of.isoformat()}}),
        feedback.counts(agency, first, last))
    return {"received": received, "overdue": late + overdue_open, **from_feedback}


async def report(dossiers: DossierStore, *, start: date, end: date, today: date, agency: str | None,
                 max_days: int, feedback: DossierFeedback | None = None) -> IndicatorReport:
    """One agency's row, or one row per agency that received anything by the period's end (agencies
    that received nothing have only zeros) plus the total; and the same rows of satisfaction."""
    check_period(start, end, max_days=max_days)
    as_of = min(end, today)
    feedback = feedback or DossierFeedback(dossiers.runtime.store)
    await feedback.place_pending()
    agencies = [agency] if agency else await dossiers.agencies_receiving_by(end.isoformat())
    rows = [await agency_row(dossiers, a, start=start, end=end, as_of=as_of) for a in agencies]
    counts = {a: await satisfaction_counts(dossiers, feedback, a, start=start, end=end, as_of=as_of)
              for a in agencies}
    # Every dossier has one competent agency, so the agencies' counts add up to the total's.
    total = {k: sum(n[k] for n in counts.values()) for k in SATISFACTION_FIELDS}
    satisfaction = Satisfaction(rows=[SatisfactionRow.of(a, n) for a, n in counts.items()],
                                total=SatisfactionRow.of(None, total))
    return IndicatorReport(period_from=start, period_to=end, as_of=as_of, rows=rows, total=total_row(rows),
                           satisfaction=satisfaction)
