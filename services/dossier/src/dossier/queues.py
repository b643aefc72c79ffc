"""Officer work queues: my dossiers, my agency's, those nearing their deadline, those overdue.

Every queue is one indexed range over `deadline_key` (`<due UTC>#<code>`, unique and sortable), read
in deadline order; the cursor is the last key served, so a page never repeats or skips a dossier
even while others are added."""

from datetime import datetime, time, timedelta
from typing import Literal

from pydantic import BaseModel

from kit.events import utcnow
from kit.identity import Caller
from kit.paging import decode_cursor, encode_cursor
from kit.problems import Problem
from kit.store.base import Filter

from kit.calendar import TZ, BusinessCalendar, open_status
from dossier.domain import LABELS, STATUS_CODE, Dossier, State, utc_key
from dossier.handlers import Deps

Queue = Literal["intake", "mine", "agency", "nearing", "overdue"]
# The counter's work: filed online and waiting to be checked, or received and waiting to be routed.
AT_THE_COUNTER = [State.SUBMITTED.value, State.RECEIVED.value]
QUEUE_ROLES = ("reception_officer", "specialist", "leader")
# Waiting on the citizen's supplement: the clock restarts when it comes (Decree 118 Art 19.5), so such a
# dossier is neither nearing nor overdue. The domain's overdue timer makes the same exception.
PAUSED = State.SUPPLEMENT_REQUESTED
KEY_MAX_SUFFIX = "#~"  # sorts after "#<any dossier code>": `<= key + this` takes every code at that instant


class QueueItem(BaseModel):
    code: str
    state: State
    status_code: int
    state_label_vi: str
    state_label_en: str
    procedure_code: str
    procedure_name: str
    agency_code: str
    applicant_name: str
    current_agency: str | None
    assignee: str | None
    received_at: datetime | None
    due_at: datetime | None
    open_status: Literal["within_time", "overdue", "paused"] | None
    remaining_working_hours: float | None  # within time: working hours left until the due instant
    days_overdue: int | None  # overdue: calendar days since the due date

    @classmethod
    def of(cls, d: Dossier, *, now: datetime, calendar: BusinessCalendar) -> "QueueItem":
        vi, en = LABELS[d.state]
        status, remaining, late_by = None, None, None
        if d.due_at is not None:
            status = "paused" if d.state is PAUSED else open_status(now, d.due_at)
            if status == "within_time":
                remaining = working_hours_between(calendar, now, d.due_at)
            elif status == "overdue":
                late_by = (now.astimezone(TZ).date() - d.due_at.astimezone(TZ).date()).days
        return cls(code=d.code, state=d.state, status_code=STATUS_CODE[d.state], state_label_vi=vi,
                   state_label_en=en, procedure_code=d.procedure.code, procedure_name=d.procedure.name_vi,
                   agency_code=d.procedure.agency_code, applicant_name=d.applicant.name,
                   current_agency=d.current_agency, assignee=d.assignee, received_at=d.received_at, due_at=d.due_at,
                   open_status=status, remaining_working_hours=remaining, days_overdue=late_by)


class QueuePage(BaseModel):
    queue: Queue
    items: list[QueueItem]
    next_cursor: str | None


def working_hours_between(calendar: BusinessCalendar, start: datetime, end: datetime) -> float:
    """Working time (inside the sessions, on working days) from `start` to `end`, in hours."""
    if end <= start:
        return 0.0
    total = timedelta()
    day, last = start.astimezone(TZ).date(), end.astimezone(TZ).date()
    while day <= last:
        if calendar.is_working_day(day):
            for session_start, session_end in calendar.working_hours.sessions:
                lo = max(start, datetime.combine(day, session_start, tzinfo=TZ))
                hi = min(end, datetime.combine(day, session_end, tzinfo=TZ))
                if hi > lo:
                    total += hi - lo
        day += timedelta(days=1)
    return round(total / timedelta(hours=1), 2)


def start_of_local_day(at: datetime) -> datetime:
    return datetime.combine(at.astimezone(TZ).date(), time(0, 0), tzinfo=TZ)


def overdue_filter(now: datetime) -> Filter:
    """Open, not paused, and overdue by local date (calendar.open_status): due before today's first instant."""
    return {"is_open": True, "state": {"$ne": PAUSED.value}, "deadline_key": {"$lt": utc_key(start_of_local_day(now))}}


def queue_filter(queue: Queue, caller: Caller, *, now: datetime, calendar: BusinessCalendar,
                 nearing_working_days: float) -> Filter:
    if queue == "mine":
        return {"assignee": caller.subject, "is_open": True}
    if queue == "intake":
        return {"state": {"$in": AT_THE_COUNTER}}
    if not caller.agency:
        raise Problem(403, "no-agency", "No agency on your account",
                      f"The '{queue}' queue lists your agency's dossiers, and your account is attached to none; "
                      "ask an administrator to set it, or use the 'mine' queue.")
    agency: Filter = {"current_agency": caller.agency, "is_open": True}
    if queue == "agency":
        return agency
    if queue == "overdue":
        return {**agency, **overdue_filter(now)}
    today = utc_key(start_of_local_day(now))
    horizon = calendar.add_working_days(now, nearing_working_days)
    return {**agency, "state": {"$ne": PAUSED.value},
            "deadline_key": {"$gte": today, "$lte": utc_key(horizon) + KEY_MAX_SUFFIX}}


def read_cursor(cursor: str | None, queue: Queue) -> str | None:
    """The last deadline key served, from a cursor this API returned for the same queue."""
    invalid = Problem(422, "invalid-cursor", "Invalid cursor",
                      "The cursor is not one this queue returned; start again without it.", field="cursor")
    position = decode_cursor(cursor)
    if position is None:
        return None
    key = position.get("k")
    if position.get("q") != queue or not isinstance(key, str) or not 0 < len(key) <= 200:
        raise invalid
    return key


async def queue_page(deps: Deps, *, caller: Caller, queue: Queue, limit: int, cursor: str | None,
                     now: datetime | None = None) -> QueuePage:
    caller.require(*QUEUE_ROLES)
    after = read_cursor(cursor, queue)
    now = now or utcnow()
    calendar = (await deps.policy.current()).calendar
    flt = queue_filter(queue, caller, now=now, calendar=calendar,
                       nearing_working_days=deps.settings.nearing_working_days)
    if after is not None:
        flt["deadline_key"] = {**flt.get("deadline_key", {}), "$gt": after}
    found = await deps.dossiers.find(flt, sort=[("deadline_key", 1)], limit=limit + 1)  # one more: is there a next?
    page = found[:limit]
    more = len(found) > limit
    return QueuePage(queue=queue, items=[QueueItem.of(d, now=now, calendar=calendar) for d in page],
                     next_cursor=encode_cursor({"q": queue, "k": page[-1].deadline_key}) if more else None)

