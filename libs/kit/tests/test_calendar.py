"""Business calendar (DOMAIN.md section 2). Every expected value is worked by hand.

Sessions 07:00-11:30 (4.5 h) and 13:30-17:00 (3.5 h) = 8 h per working day.
Vietnamese holidays used below, as given by the `holidays` package (v0.109):
  2026: Tết Mon 16 - Fri 20 Feb; Hùng Kings Sun 26 Apr -> observed Mon 27 Apr;
        Thu 30 Apr; Fri 1 May; National Day Mon 31 Aug (swap, worked back on
        Sat 22 Aug - the package does NOT mark 22 Aug as a working day),
        Tue 1 Sep, Wed 2 Sep; Vietnam Cultural Day Tue 24 Nov.
  2027: Tết Thu 4 - Wed 10 Feb (eve Fri 5, New Year Sat 6; the Sat/Sun days are
        compensated by Thu 4 "29 Tết" and Wed 10 "mùng 5"). The package lists no
        official 2027 swap notice, so these are the package's days.
"""

from datetime import date, datetime, time, timedelta, timezone

import pytest

from kit.calendar import (
    TZ,
    BusinessCalendar,
    WorkingHours,
    add_months,
    classify,
    open_status,
)

CAL = BusinessCalendar()


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


# --------------------------------------------------------------------------- days


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 3, 2), True),  # plain Monday
        (date(2026, 3, 7), False),  # Saturday
        (date(2026, 3, 8), False),  # Sunday
        (date(2026, 1, 1), False),  # New Year's Day (Thu)
        (date(2026, 2, 16), False),  # Tết 2026: Lunar New Year's Eve (Mon)
        (date(2026, 2, 20), False),  # Tết 2026: mùng 4 (Fri)
        (date(2026, 2, 23), True),  # first Monday after Tết 2026
        (date(2026, 4, 27), False),  # Hùng Kings 26/4 is a Sunday -> observed Mon 27/4
        (date(2026, 4, 30), False),  # 30/4 (Thu)
        (date(2026, 5, 1), False),  # 1/5 (Fri)
        (date(2026, 8, 31), False),  # swap day off for National Day 2026 (Mon)
        (date(2026, 9, 1), False),  # National Day extra day (Tue)
        (date(2026, 9, 2), False),  # National Day (Wed)
        (date(2026, 9, 3), True),  # Thu after National Day
        (date(2026, 8, 22), False),  # make-up Saturday is unknown to the package
        (date(2027, 2, 4), False),  # Tết 2027: "29 Tết" compensation (Thu)
        (date(2027, 2, 10), False),  # Tết 2027: "mùng 5" compensation (Wed)
        (date(2027, 2, 11), True),  # first working day after Tết 2027 (Thu)
        (date(2027, 5, 3), False),  # 1/5/2027 is a Saturday -> observed Mon 3/5
        (date(2027, 9, 3), False),  # National Day 2027: Thu 2/9 + Fri 3/9
    ],
)
def test_is_working_day_default_vietnam(day, working):
    assert CAL.is_working_day(day) is working


@pytest.mark.parametrize(
    ("calendar", "day", "working"),
    [
        # operator day off on an ordinary Tuesday
        (BusinessCalendar(extra_days_off={date(2026, 3, 3)}), date(2026, 3, 3), False),
        # swapped working Saturday
        (BusinessCalendar(extra_working_days={date(2026, 8, 22)}), date(2026, 8, 22), True),
        # operator may also open on a package holiday
        (BusinessCalendar(extra_working_days={date(2026, 11, 24)}), date(2026, 11, 24), True),
        # both lists name the day: the day off wins
        (
            BusinessCalendar(extra_days_off={date(2026, 8, 22)}, extra_working_days={date(2026, 8, 22)}),
            date(2026, 8, 22),
            False,
        ),
        # Saturday-service centre: only Sunday is weekend
        (BusinessCalendar(weekend=(6,)), date(2026, 3, 7), True),
        # injected holiday table replaces the package entirely: 30/4 becomes working
        (BusinessCalendar(country_holidays=set()), date(2026, 4, 30), True),
    ],
)
def test_is_working_day_operator_overlay(calendar, day, working):
    assert calendar.is_working_day(day) is working


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 3, 6), date(2026, 3, 9)),  # Fri -> Mon (weekend)
        (date(2026, 2, 13), date(2026, 2, 23)),  # Fri before Tết: Sat14..Sun22 all off -> Mon 23
        (date(2027, 2, 3), date(2027, 2, 11)),  # Wed before Tết 2027: Thu4..Wed10 off -> Thu 11
        (date(2026, 4, 29), date(2026, 5, 4)),  # Wed: Thu 30/4, Fri 1/5, Sat, Sun off -> Mon 4/5
        (date(2026, 3, 2), date(2026, 3, 3)),  # strictly after: Mon -> Tue
    ],
)
def test_next_working_day(day, expected):
    assert CAL.next_working_day(day) == expected


# ------------------------------------------------------------------ start rules


@pytest.mark.parametrize(
    ("received", "start"),
    [
        (at(2026, 3, 2, 9, 0), at(2026, 3, 2, 9, 0)),  # mid-morning: counts from now
        (at(2026, 3, 2, 6, 15), at(2026, 3, 2, 7, 0)),  # before 07:00 -> 07:00
        (at(2026, 3, 2, 11, 30), at(2026, 3, 2, 13, 30)),  # exactly 11:30 is lunch -> 13:30
        (at(2026, 3, 2, 12, 15), at(2026, 3, 2, 13, 30)),  # lunch -> 13:30
        (at(2026, 3, 2, 16, 59), at(2026, 3, 2, 16, 59)),  # still in afternoon session
        (at(2026, 3, 2, 17, 0), at(2026, 3, 3, 7, 0)),  # exactly 17:00 -> next morning
        (at(2026, 3, 6, 18, 0), at(2026, 3, 9, 7, 0)),  # Fri evening -> Mon 07:00
        (at(2026, 3, 7, 10, 0), at(2026, 3, 9, 7, 0)),  # Saturday -> Mon 07:00
        (at(2026, 4, 30, 9, 0), at(2026, 5, 4, 7, 0)),  # 30/4 Thu; 1/5 Fri; weekend -> Mon 4/5
        # 02:30 UTC = 09:30 in Hanoi time, mid-morning
        (datetime(2026, 3, 2, 2, 30, tzinfo=timezone.utc), at(2026, 3, 2, 9, 30)),
    ],
)
def test_start_of_counting(received, start):
    got = CAL.start_of_counting(received)
    assert got == start
    assert got.tzinfo == TZ


# --------------------------------------------------------- working time (hours / working_days)


@pytest.mark.parametrize(
    ("received", "value", "unit", "due"),
    [
        # Mon 09:00 +1 wd: 09:00-11:30 2.5h + 13:30-17:00 3.5h = 6h; Tue 07:00-09:00 2h -> 8h
        (at(2026, 3, 2, 9, 0), 1, "working_days", at(2026, 3, 3, 9, 0)),
        # 3 wd = 24h = same clock time three working days later: Mon 09:00 -> Thu 09:00
        (at(2026, 3, 2, 9, 0), 3, "working_days", at(2026, 3, 5, 9, 0)),
        # 0.5 wd = 4h: Mon 10:00-11:30 1.5h, 13:30 + 2.5h = 16:00
        (at(2026, 3, 2, 10, 0), 0.5, "working_days", at(2026, 3, 2, 16, 0)),
        # 4 h from lunch: start 13:30, 13:30-17:00 3.5h, Tue 07:00 + 0.5h = 07:30
        (at(2026, 3, 2, 12, 15), 4, "hours", at(2026, 3, 3, 7, 30)),
        # 4 h mid-morning: 10:00-11:30 1.5h, 13:30 + 2.5h -> 16:00 (same as 0.5 wd)
        (at(2026, 3, 2, 10, 0), 4, "hours", at(2026, 3, 2, 16, 0)),
        # 16 h: Wed 14:00-17:00 3h; Thu 8h (11h); Fri 07:00-11:30 4.5h (15.5h); 13:30 + 0.5h = 14:00
        (at(2026, 3, 4, 14, 0), 16, "hours", at(2026, 3, 6, 14, 0)),
        # after 17:00: start Tue 07:00, 0.5 wd = 4h -> Tue 11:00
        (at(2026, 3, 2, 18, 0), 0.5, "working_days", at(2026, 3, 3, 11, 0)),
        # before 07:00: start 07:00; 4.5h + 3.5h = 8h ends exactly at 17:00 the same day
        (at(2026, 3, 2, 6, 0), 1, "working_days", at(2026, 3, 2, 17, 0)),
        # on a Saturday: start Mon 07:00 -> whole Monday -> Mon 17:00
        (at(2026, 3, 7, 10, 0), 1, "working_days", at(2026, 3, 9, 17, 0)),
        # on a holiday (30/4 Thu) crossing 30/4-1/5: start Mon 4/5 07:00 -> Mon 4/5 17:00
        (at(2026, 4, 30, 9, 0), 1, "working_days", at(2026, 5, 4, 17, 0)),
        # crossing 30/4-1/5: Wed 29/4 15:00-17:00 2h; Thu, Fri, Sat, Sun off; Mon 07:00 + 6h:
        # 4.5h to 11:30, 13:30 + 1.5h = 15:00
        (at(2026, 4, 29, 15, 0), 1, "working_days", at(2026, 5, 4, 15, 0)),
        # crossing a weekend: Fri 10:00-11:30 1.5h + 3.5h = 5h; Mon 07:00 + 3h = 10:00
        (at(2026, 3, 6, 10, 0), 1, "working_days", at(2026, 3, 9, 10, 0)),
        # crossing Tết 2026: Fri 13/2 09:00-17:00 6h; 14/2..22/2 off; Mon 23 8h (14h);
        # Tue 24 8h (22h); Wed 25 07:00 + 2h = 09:00
        (at(2026, 2, 13, 9, 0), 3, "working_days", at(2026, 2, 25, 9, 0)),
        # crossing Tết 2027 (package days Thu 4 - Wed 10 Feb): Wed 3/2 15:00-17:00 2h;
        # Thu 11/2 07:00 + 6h: 4.5h to 11:30, 13:30 + 1.5h = 15:00
        (at(2027, 2, 3, 15, 0), 1, "working_days", at(2027, 2, 11, 15, 0)),
        # crossing 2/9/2026: Fri 28/8 09:00-17:00 6h; Sat, Sun, Mon 31/8 (swap), Tue 1/9,
        # Wed 2/9 off; Thu 3/9 07:00 + 2h = 09:00
        (at(2026, 8, 28, 9, 0), 1, "working_days", at(2026, 9, 3, 9, 0)),
        # crossing Vietnam Cultural Day Tue 24/11/2026: Mon 23 09:00 6h; Wed 25 07:00 + 2h
        (at(2026, 11, 23, 9, 0), 1, "working_days", at(2026, 11, 25, 9, 0)),
        # zero: due at the start of counting (lunch -> 13:30)
        (at(2026, 3, 2, 12, 0), 0, "hours", at(2026, 3, 2, 13, 30)),
    ],
)
def test_due_date_working_time(received, value, unit, due):
    got = CAL.due_date(received, value, unit)
    assert got == due
    assert got.tzinfo == TZ


@pytest.mark.parametrize(
    ("calendar", "received", "value", "unit", "due"),
    [
        # operator day off Tue 3/3: Mon 09:00-17:00 6h; Tue skipped; Wed 07:00 + 2h = 09:00
        (
            BusinessCalendar(extra_days_off={date(2026, 3, 3)}),
            at(2026, 3, 2, 9, 0), 1, "working_days", at(2026, 3, 4, 9, 0),
        ),
        # received on the operator day off: start Wed 4/3 07:00; 4h -> 11:00
        (
            BusinessCalendar(extra_days_off={date(2026, 3, 3)}),
            at(2026, 3, 3, 9, 0), 4, "hours", at(2026, 3, 4, 11, 0),
        ),
        # swapped working Sat 22/8/2026: Fri 21 09:00-17:00 6h; Sat 07:00 + 2h = 09:00
        (
            BusinessCalendar(extra_working_days={date(2026, 8, 22)}),
            at(2026, 8, 21, 9, 0), 1, "working_days", at(2026, 8, 22, 9, 0),
        ),
        # same dossier without the swap table: Sat/Sun off -> Mon 24/8 09:00
        (BusinessCalendar(), at(2026, 8, 21, 9, 0), 1, "working_days", at(2026, 8, 24, 9, 0)),
        # configurable hours 08:00-12:00 / 13:00-17:00 (8h): Mon 09:00-12:00 3h, 13:00 + 1h = 14:00
        (
            BusinessCalendar(WorkingHours(time(8), time(12), time(13), time(17))),
            at(2026, 3, 2, 9, 0), 0.5, "working_days", at(2026, 3, 2, 14, 0),
        ),
        # Saturday service (weekend = Sunday only): Fri 10:00 5h; Sat 07:00 + 3h = 10:00
        (
            BusinessCalendar(weekend=(6,)),
            at(2026, 3, 6, 10, 0), 1, "working_days", at(2026, 3, 7, 10, 0),
        ),
    ],
)
def test_due_date_with_operator_table(calendar, received, value, unit, due):
    assert calendar.due_date(received, value, unit) == due


def test_working_day_is_eight_hours():
    # 4.5h + 3.5h; custom 4h + 4h
    assert WorkingHours().day_hours == 8.0
    assert WorkingHours(time(8), time(12), time(13), time(17)).day_hours == 8.0


# ------------------------------------------------------------- calendar days / months


@pytest.mark.parametrize(
    ("calendar", "received", "value", "unit", "due"),
    [
        # 15 days, first day not counted: Mon 2/3 + 15 = Tue 17/3 (working) -> 17:00
        (CAL, at(2026, 3, 2, 9, 0), 15, "days", at(2026, 3, 17, 17, 0)),
        # 15 days landing on Sunday: received on the swapped working Sat 22/8/2026;
        # 22/8 + 15 = Sun 6/9 -> next working day Mon 7/9, 17:00
        (
            BusinessCalendar(extra_working_days={date(2026, 8, 22)}),
            at(2026, 8, 22, 10, 0), 15, "days", at(2026, 9, 7, 17, 0),
        ),
        # 15 days landing on Saturday: Fri 6/3 + 15 = Sat 21/3 -> Mon 23/3, 17:00
        (CAL, at(2026, 3, 6, 10, 0), 15, "days", at(2026, 3, 23, 17, 0)),
        # received on an ordinary Saturday: deemed received Mon 9/3; 9/3 + 15 = Tue 24/3
        (CAL, at(2026, 3, 7, 10, 0), 15, "days", at(2026, 3, 24, 17, 0)),
        # after 17:00: deemed received Tue 3/3; + 1 day = Wed 4/3
        (CAL, at(2026, 3, 2, 17, 30), 1, "days", at(2026, 3, 4, 17, 0)),
        # landing inside Tết 2027: Thu 28/1 + 10 = Sun 7/2; Thu 4..Wed 10 off -> Thu 11/2
        (CAL, at(2027, 1, 28, 9, 0), 10, "days", at(2027, 2, 11, 17, 0)),
        # landing on 2/9/2026: Mon 24/8 + 9 = Wed 2/9 (holiday) -> Thu 3/9
        (CAL, at(2026, 8, 24, 9, 0), 9, "days", at(2026, 9, 3, 17, 0)),
        # 1 month from 31 Jan (non-leap): Wed 31/1/2029 -> 28/2/2029 (Wed, working)
        (CAL, at(2029, 1, 31, 9, 0), 1, "months", at(2029, 2, 28, 17, 0)),
        # 1 month from 31 Jan (leap): Mon 31/1/2028 -> 29/2/2028 (Tue, working)
        (CAL, at(2028, 1, 31, 9, 0), 1, "months", at(2028, 2, 29, 17, 0)),
        # 1 month from Tue 31/3/2026 -> clamped 30/4 (holiday), Fri 1/5 holiday, Sat, Sun
        # -> Mon 4/5, 17:00
        (CAL, at(2026, 3, 31, 10, 0), 1, "months", at(2026, 5, 4, 17, 0)),
    ],
)
def test_due_date_calendar_time(calendar, received, value, unit, due):
    assert calendar.due_date(received, value, unit) == due


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),  # clamp, 2026 not leap
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # clamp, 2028 leap
        (date(2026, 11, 30), 3, date(2027, 2, 28)),  # year rollover + clamp
        (date(2026, 3, 15), 12, date(2027, 3, 15)),  # whole year
    ],
)
def test_add_months(day, months, expected):
    assert add_months(day, months) == expected


# ----------------------------------------------------------------- classification


@pytest.mark.parametrize(
    ("completed", "due", "expected"),
    [
        # Wed 4/3 < Thu 5/3
        (at(2026, 3, 4, 16, 0), at(2026, 3, 5, 9, 0), "early"),
        # same date, even though 16:59 is after the 09:00 due time
        (at(2026, 3, 5, 16, 59), at(2026, 3, 5, 9, 0), "on_time"),
        # Fri 6/3 > Thu 5/3
        (at(2026, 3, 6, 7, 5), at(2026, 3, 5, 17, 0), "late"),
        # 18:30 UTC on 5/3 is 01:30 on 6/3 in Hanoi -> local date 6/3 > 5/3
        (datetime(2026, 3, 5, 18, 30, tzinfo=timezone.utc), at(2026, 3, 5, 17, 0), "late"),
        # 23:30 UTC on 4/3 is 06:30 on 5/3 in Hanoi -> same local date
        (datetime(2026, 3, 4, 23, 30, tzinfo=timezone.utc), at(2026, 3, 5, 17, 0), "on_time"),
    ],
)
def test_classify(completed, due, expected):
    assert classify(completed, due) == expected


@pytest.mark.parametrize(
    ("now", "due", "expected"),
    [
        (at(2026, 3, 4, 10, 0), at(2026, 3, 5, 17, 0), "within_time"),  # the day before
        (at(2026, 3, 5, 16, 0), at(2026, 3, 5, 17, 0), "within_time"),  # due day, before due time
        # due day, after the due time: finishing now would still be on_time (same date)
        (at(2026, 3, 5, 17, 30), at(2026, 3, 5, 17, 0), "within_time"),
        (at(2026, 3, 6, 7, 0), at(2026, 3, 5, 17, 0), "overdue"),  # next day
        # 17:05 UTC on 5/3 is 00:05 on 6/3 in Hanoi -> next local day
        (datetime(2026, 3, 5, 17, 5, tzinfo=timezone.utc), at(2026, 3, 5, 17, 0), "overdue"),
    ],
)
def test_open_status(now, due, expected):
    assert open_status(now, due) == expected


# --------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: CAL.due_date(datetime(2026, 3, 2, 9, 0), 1, "days"), "timezone-aware"),
        (lambda: CAL.due_date(at(2026, 3, 2, 9), 1, "weeks"), "unknown unit"),
        (lambda: CAL.due_date(at(2026, 3, 2, 9), -1, "hours"), ">= 0"),
        (lambda: CAL.due_date(at(2026, 3, 2, 9), 1.5, "days"), "whole number"),
        (lambda: CAL.due_date(at(2026, 3, 2, 9), 0.5, "months"), "whole number"),
        (lambda: classify(datetime(2026, 3, 2), at(2026, 3, 2)), "timezone-aware"),
        (lambda: WorkingHours(time(13, 30), time(17), time(7), time(11, 30)), "ordered"),
        (lambda: BusinessCalendar(weekend=range(7)).next_working_day(date(2026, 3, 2)), "no working day"),
    ],
)
def test_rejects_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_result_has_no_naive_arithmetic_drift():
    # 1000 working days from Mon 2/3/2026 09:00 still lands on a 09:00 (whole 8h days)
    got = CAL.add_working_days(at(2026, 3, 2, 9, 0), 1000)
    assert got.time() == time(9, 0) and got.tzinfo == TZ
    assert got - at(2026, 3, 2, 9, 0) > timedelta(days=1000)
