"""HTTP routes for the business calendar: read a year, edit the operator's days, preview a due date."""

import logging
from datetime import date, datetime, timedelta
from typing import Annotated

import holidays
from fastapi import APIRouter, Query
from pydantic import BaseModel

from kit.events import utcnow
from kit.identity import CurrentCaller
from kit.problems import Conflict, Problem
from kit.store import DuplicateKey, VersionConflict

from dossier.api import OFFICERS, DepsDep
from kit.calendar import TZ, BusinessCalendar, Unit
from dossier.policy import CalendarOverlay

log = logging.getLogger("dossier.calendar")
router = APIRouter(tags=["calendar"])

# The years the calendar answers for. Far dates would overflow the day arithmetic, and nothing the
# centre handles lies outside them.
FIRST_YEAR, LAST_YEAR = 2000, 2100
# An overlay that leaves a longer run of days off is a typing error (Tết with its weekends is about
# ten days), and beyond a year the calendar cannot find a next working day at all.
MAX_BREAK_DAYS = 31
# Above these a preview would mean walking the calendar for years: no procedure takes that long.
MAX_VALUE: dict[str, float] = {"hours": 2000, "working_days": 250, "days": 730, "months": 24}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class WorkingHoursRead(BaseModel):
    morning_start: str
    morning_end: str
    afternoon_start: str
    afternoon_end: str
    day_hours: float


class Holiday(BaseModel):
    date: date
    name_vi: str | None
    name_en: str | None


class CalendarRead(BaseModel):
    year: int
    timezone: str
    working_hours: WorkingHoursRead
    weekend: list[str]
    holidays: list[Holiday]
    days_off: list[date] = []  # the operator's, this year
    working_days: list[date] = []  # the operator's (swapped Saturdays), this year


class DueDatePreview(BaseModel):
    received_at: datetime
    counting_starts_at: datetime
    value: float
    unit: Unit
    due_at: datetime
    due_on: date


def year_view(calendar: BusinessCalendar, overlay: CalendarOverlay, year: int) -> CalendarRead:
    """The statutory holidays come from the calendar in force; the names from the holidays package."""
    names_vi = holidays.country_holidays("VN", years=year, language="vi")
    names_en = holidays.country_holidays("VN", years=year, language="en_US")
    day, days = date(year, 1, 1), []
    while day.year == year:
        if day in calendar.country_holidays:
            days.append(Holiday(date=day, name_vi=names_vi.get(day), name_en=names_en.get(day)))
        day += timedelta(days=1)
    h = calendar.working_hours
    return CalendarRead(
        year=year, timezone=str(TZ),
        working_hours=WorkingHoursRead(morning_start=f"{h.morning_start:%H:%M}", morning_end=f"{h.morning_end:%H:%M}",
                                       afternoon_start=f"{h.afternoon_start:%H:%M}",
                                       afternoon_end=f"{h.afternoon_end:%H:%M}", day_hours=h.day_hours),
        weekend=[WEEKDAYS[d] for d in sorted(calendar.weekend)], holidays=days,
        days_off=[d for d in overlay.days_off if d.year == year],
        working_days=[d for d in overlay.working_days if d.year == year])


def check_overlay(overlay: CalendarOverlay, calendar: BusinessCalendar) -> None:
    """Refuse days outside the supported years, and a run of days off that would stall every deadline."""
    outside = [str(d) for d in (*overlay.days_off, *overlay.working_days) if not FIRST_YEAR <= d.year <= LAST_YEAR]
    if outside:
        raise Problem(422, "date-out-of-range", "A day is outside the calendar's years",
                      f"Days must fall in {FIRST_YEAR}-{LAST_YEAR}: {', '.join(outside[:10])}.", days=outside[:10])
    candidate = BusinessCalendar(calendar.working_hours, extra_days_off=overlay.days_off,
                                 extra_working_days=overlay.working_days, weekend=calendar.weekend,
                                 country_holidays=calendar.country_holidays)
    one = timedelta(days=1)
    covered = date.min
    for day in overlay.days_off:  # sorted by the model
        if day <= covered:
            continue
        first = last = day
        while not candidate.is_working_day(first - one) and (last - first).days <= MAX_BREAK_DAYS:
            first -= one
        while not candidate.is_working_day(last + one) and (last - first).days <= MAX_BREAK_DAYS:
            last += one
        if (last - first).days + 1 > MAX_BREAK_DAYS:
            raise Problem(422, "break-too-long", "Too many days off in a row",
                          f"The days off around {day} leave more than {MAX_BREAK_DAYS} days in a row without a "
                          "working day.", field="days_off", around=str(day), max_days=MAX_BREAK_DAYS)
        covered = last


@router.get("/calendar", response_model=CalendarRead,
            summary="Working hours, holidays and the operator's days of a year")
async def get_calendar(deps: DepsDep, caller: CurrentCaller,
                       year: Annotated[int | None, Query(ge=FIRST_YEAR, le=LAST_YEAR)] = None) -> CalendarRead:
    caller.require(*OFFICERS)
    policy = await deps.policy.current()
    return year_view(policy.calendar, await deps.policy.overlay(), year or utcnow().astimezone(TZ).year)


@router.put("/calendar", response_model=CalendarOverlay,
            summary="Replace the operator's extra days off and swapped working days (every year)",
            responses={409: {"description": "another administrator changed it at the same time"},
                       422: {"description": "a day both off and working, out of range, or too long a break"}})
async def put_calendar(deps: DepsDep, caller: CurrentCaller, overlay: CalendarOverlay) -> CalendarOverlay:
    """Applies to due dates computed from now on; dossiers already received keep theirs."""
    caller.require("admin")
    check_overlay(overlay, (await deps.policy.current()).calendar)
    try:
        stored = await deps.policy.set_overlay(overlay, caller.subject)
        deps.dossiers.runtime.notify_outbox()
    except (VersionConflict, DuplicateKey):
        raise Conflict("calendar-conflict", "The calendar changed meanwhile",
                       "Another administrator saved the calendar at the same time; read it again and retry.") from None
    log.info("calendar overlay replaced", extra={"by": caller.subject, "days_off": len(overlay.days_off),
                                                 "working_days": len(overlay.working_days)})
    return stored


@router.get("/calendar/due-date", response_model=DueDatePreview,
            summary="Preview the due date of a dossier received at a given time",
            responses={422: {"description": "a time without its offset, out of range, or a bad value or unit"}})
async def preview_due_date(deps: DepsDep, caller: CurrentCaller,
                           received_at: Annotated[datetime, Query(description="with its UTC offset, e.g. +07:00")],
                           value: Annotated[float, Query(ge=0)], unit: Unit) -> DueDatePreview:
    caller.require(*OFFICERS)
    if received_at.tzinfo is None or received_at.utcoffset() is None:
        raise Problem(422, "timezone-required", "The time has no UTC offset",
                      "Give received_at with its offset, e.g. 2026-03-06T09:00:00+07:00.", field="received_at")
    if not FIRST_YEAR <= received_at.astimezone(TZ).year <= LAST_YEAR:
        raise Problem(422, "date-out-of-range", "The time is outside the calendar's years",
                      f"received_at must fall in {FIRST_YEAR}-{LAST_YEAR}.", field="received_at")
    if value > MAX_VALUE[unit]:
        raise Problem(422, "value-too-large", "The processing time is too long",
                      f"At most {MAX_VALUE[unit]:g} {unit}.", field="value", max_value=MAX_VALUE[unit])
    calendar = (await deps.policy.current()).calendar
    try:
        due = calendar.due_date(received_at, value, unit)
    except ValueError as exc:  # e.g. a fraction of a calendar day or month
        raise Problem(422, "invalid-processing-time", "The processing time is not valid", str(exc),
                      field="value") from None
    return DueDatePreview(received_at=received_at, counting_starts_at=calendar.start_of_counting(received_at),
                          value=value, unit=unit, due_at=due, due_on=due.astimezone(TZ).date())
