"""The business calendar as the dossier service keeps it: the operator's overlay arrives as
`calendar.changed` events, so petition deadlines skip the same days as dossier deadlines."""

import time
from datetime import date
from datetime import time as clock

from kit.calendar import BusinessCalendar, WorkingHours
from kit.events import CloudEvent
from kit.replica import keep_latest
from kit.store import DocumentStore

from contracts import data_of
from contracts.calendar import CalendarChanged
from feedback.settings import FeedbackSettings

COLLECTION, OVERLAY_ID = "calendar_copy", "overlay"


class CalendarCopy:
    def __init__(self, store: DocumentStore, settings: FeedbackSettings, *, ttl: float = 5.0):
        self.coll = store.collection(COLLECTION)
        self.hours = WorkingHours(*(clock.fromisoformat(t) for t in (
            settings.morning_start, settings.morning_end, settings.afternoon_start, settings.afternoon_end)))
        self.ttl = ttl
        self._cached: tuple[float, BusinessCalendar] | None = None

    async def on_calendar_event(self, event: CloudEvent) -> None:
        change = data_of(event, CalendarChanged)
        await keep_latest(self.coll, OVERLAY_ID, {"days_off": [d.isoformat() for d in change.days_off],
                                                  "working_days": [d.isoformat() for d in change.working_days],
                                                  "changed_at": change.occurred_at.isoformat()},
                          order="changed_at")
        self._cached = None

    async def current(self) -> BusinessCalendar:
        if self._cached and time.monotonic() - self._cached[0] < self.ttl:
            return self._cached[1]
        doc = await self.coll.get(OVERLAY_ID) or {}
        calendar = BusinessCalendar(self.hours,
                                    extra_days_off=[date.fromisoformat(d) for d in doc.get("days_off", [])],
                                    extra_working_days=[date.fromisoformat(d) for d in doc.get("working_days", [])])
        self._cached = (time.monotonic(), calendar)
        return calendar
