"""Business calendar: legal due dates for dossiers (DOMAIN.md section 2).

Pure module: no I/O, no framework imports. All results are timezone-aware
datetimes in ``Asia/Ho_Chi_Minh``; naive datetimes are rejected.

Conventions (decided here, see DOMAIN.md section 2 and TH ``CaculateTime.cs``):

* **Start of counting** (all units). The receipt time is moved to the first
  working instant at or after it:
  before the morning session -> morning start; during lunch -> afternoon start;
  at/after the afternoon end -> next working day's morning start; on a day off
  (weekend, holiday, operator day off) -> next working day's morning start.
  A time exactly at a session end belongs to what follows (11:30 -> 13:30,
  17:00 -> next morning).
* **hours / working_days**: working time is counted only inside the sessions
  (default 07:00-11:30 and 13:30-17:00 = 8 h). ``1 working day`` is exactly
  ``WorkingHours.day_hours`` (8 h) of working time, ``0.5`` is 4 h. So a dossier
  received Monday 09:00 with 1 working day is due Tuesday 09:00. When the time
  runs out exactly at a session end the due time is that session end
  (Monday 07:00 + 1 working day -> Monday 17:00, not Tuesday 07:00).
* **days / months** (calendar time): the day of (effective) receipt is not
  counted [Civil Code 147.2], so the deadline is the day ``receipt date + N``
  days (or ``+ N`` months, clamped to the month end: 31 Jan + 1 month ->
  28/29 Feb). If that day is not a working day it moves to the next working
  day [Civil Code 148.5]. The due time is the end of that day's afternoon
  session (17:00 by default). The receipt date used is the date of the start
  of counting above, so a dossier received on Saturday or after 17:00 is
  treated as received on the next working day.
* **Working day**: operator ``extra_days_off`` always wins; operator
  ``extra_working_days`` (swapped Saturdays) beat the weekend and the package
  holidays; otherwise a day is off when its weekday is in ``weekend`` or it
  is a Vietnamese public holiday (including observed/compensation days) from
  the ``holidays`` package. The package knows the statutory days and a few
  announced swap days off, but NOT the make-up working Saturdays, which must
  be supplied by operators via ``extra_working_days``.
* **Classification** compares local (Asia/Ho_Chi_Minh) dates: completion date
  < due date -> early, same date -> on_time, later -> late. For consistency,
  an open dossier is ``overdue`` only once the local date of ``now`` is after
  the due date, i.e. exactly when completing it now would be ``late``.
"""

from __future__ import annotations

import calendar as _cal
from collections.abc import Collection, Container
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import holidays as _holidays

__all__ = [
    "TZ",
    "Unit",
    "WorkingHours",
    "BusinessCalendar",
    "add_months",
    "classify",
    "open_status",
]

TZ = ZoneInfo("Asia/Ho_Chi_Minh")

Unit = Literal["hours", "days", "working_days", "months"]
UNITS: tuple[str, ...] = ("hours", "days", "working_days", "months")

# Safety bound for scanning forward to the next working day.
_MAX_SCAN_DAYS = 366


def _local(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("datetime must be timezone-aware")
    return dt.astimezone(TZ)


def _at(d: date, t: time) -> datetime:
    return datetime.combine(d, t, tzinfo=TZ)


def add_months(d: date, months: int) -> date:
    """``d`` plus ``months`` calendar months, clamped to the end of the month."""
    index = d.year * 12 + (d.month - 1) + months
    year, month0 = divmod(index, 12)
    last = _cal.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(d.day, last))


@dataclass(frozen=True)
class WorkingHours:
    """Morning and afternoon sessions of a working day (local time)."""

    morning_start: time = time(7, 0)
    morning_end: time = time(11, 30)
    afternoon_start: time = time(13, 30)
    afternoon_end: time = time(17, 0)

    def __post_init__(self) -> None:
        if not (
            self.morning_start < self.morning_end
            <= self.afternoon_start < self.afternoon_end
        ):
            raise ValueError("sessions must be ordered: morning before afternoon")

    @property
    def sessions(self) -> tuple[tuple[time, time], tuple[time, time]]:
        return (
            (self.morning_start, self.morning_end),
            (self.afternoon_start, self.afternoon_end),
        )

    @property
    def day_length(self) -> timedelta:
        """Working time in one day (8 h by default)."""
        total = timedelta()
        for start, end in self.sessions:
            total += _at(date(2000, 1, 3), end) - _at(date(2000, 1, 3), start)
        return total

    @property
    def day_hours(self) -> float:
        return self.day_length / timedelta(hours=1)


class BusinessCalendar:
    """Working-day calendar for Vietnam with an operator-editable overlay.

    ``country_holidays`` defaults to ``holidays.country_holidays("VN")``
    (public holidays incl. observed days, years expanded on demand); any
    container of dates can be injected instead.
    """

    def __init__(
        self,
        working_hours: WorkingHours | None = None,
        extra_days_off: Collection[date] = (),
        extra_working_days: Collection[date] = (),
        weekend: Collection[int] = (5, 6),
        country_holidays: Container[date] | None = None,
    ) -> None:
        self.working_hours = working_hours or WorkingHours()
        self.extra_days_off = frozenset(extra_days_off)
        self.extra_working_days = frozenset(extra_working_days)
        self.weekend = frozenset(weekend)  # date.weekday(): 5 = Sat, 6 = Sun
        self.country_holidays = (
            country_holidays
            if country_holidays is not None
            else _holidays.country_holidays("VN")
        )

    # -- days ---------------------------------------------------------------

    def is_working_day(self, d: date) -> bool:
        if d in self.extra_days_off:
            return False
        if d in self.extra_working_days:
            return True
        if d.weekday() in self.weekend:
            return False
        return d not in self.country_holidays

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after ``d``."""
        for i in range(1, _MAX_SCAN_DAYS + 1):
            candidate = d + timedelta(days=i)
            if self.is_working_day(candidate):
                return candidate
        raise ValueError(f"no working day within {_MAX_SCAN_DAYS} days after {d}")

    def working_day_on_or_after(self, d: date) -> date:
        return d if self.is_working_day(d) else self.next_working_day(d)

    # -- instants -----------------------------------------------------------

    def start_of_counting(self, received_at: datetime) -> datetime:
        """First working instant at or after ``received_at`` (see module doc)."""
        local = _local(received_at)
        d = local.date()
        if self.is_working_day(d):
            for start, end in self.working_hours.sessions:
                if local < _at(d, start):
                    return _at(d, start)
                if local < _at(d, end):
                    return local
        return _at(self.next_working_day(d), self.working_hours.morning_start)

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """Add ``hours`` of working time, counted only inside the sessions."""
        if hours < 0:
            raise ValueError("hours must be >= 0")
        remaining = timedelta(hours=hours)
        cur = self.start_of_counting(start)
        while True:
            d = cur.date()
            for s, e in self.working_hours.sessions:
                s_dt, e_dt = _at(d, s), _at(d, e)
                if cur >= e_dt:
                    continue
                begin = max(cur, s_dt)
                available = e_dt - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
                cur = e_dt
            cur = _at(self.next_working_day(d), self.working_hours.morning_start)

    def add_working_days(self, start: datetime, days: float) -> datetime:
        """Add ``days`` working days; one working day = ``day_hours`` (8 h)."""
        if days < 0:
            raise ValueError("days must be >= 0")
        return self.add_working_hours(start, days * self.working_hours.day_hours)

    def end_of_day(self, d: date) -> datetime:
        return _at(d, self.working_hours.afternoon_end)

    # -- due date -----------------------------------------------------------

    def due_date(self, received_at: datetime, value: float, unit: Unit) -> datetime:
        """Legal due date of a dossier received at ``received_at``."""
        if unit not in UNITS:
            raise ValueError(f"unknown unit {unit!r}; expected one of {UNITS}")
        if value < 0:
            raise ValueError("value must be >= 0")
        if unit == "hours":
            return self.add_working_hours(received_at, value)
        if unit == "working_days":
            return self.add_working_days(received_at, value)
        if value != int(value):
            raise ValueError(f"{unit} must be a whole number, got {value!r}")
        receipt_date = self.start_of_counting(received_at).date()
        if unit == "days":
            target = receipt_date + timedelta(days=int(value))
        else:
            target = add_months(receipt_date, int(value))
        return self.end_of_day(self.working_day_on_or_after(target))


# -- classification -----------------------------------------------------------

Classification = Literal["early", "on_time", "late"]
OpenStatus = Literal["within_time", "overdue"]


def classify(completed_at: datetime, due_at: datetime) -> Classification:
    """early / on_time / late by local date (DOMAIN.md section 2)."""
    done, due = _local(completed_at).date(), _local(due_at).date()
    if done < due:
        return "early"
    if done == due:
        return "on_time"
    return "late"


def open_status(now: datetime, due_at: datetime) -> OpenStatus:
    """within_time / overdue for an open dossier, by local date (see module doc)."""
    return "overdue" if _local(now).date() > _local(due_at).date() else "within_time"
