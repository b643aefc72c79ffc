"""The policy commands are judged by: the business calendar (working hours from settings, the
operator's extra days off and swapped working days from the store) and the alarm thresholds."""

import time
from datetime import date, time as clock

from pydantic import BaseModel, Field, model_validator

from kit.events import utcnow
from kit.outbox import outbox_entry
from kit.store import DocumentStore

from contracts import build
from contracts.calendar import CalendarChanged

from kit.calendar import BusinessCalendar, WorkingHours
from dossier.domain import Policy
from dossier.settings import DossierSettings

COLLECTION, OVERLAY_ID = "calendar", "overlay"


class CalendarOverlay(BaseModel):
    """Operator-edited days (the TH "NgayNghi" table): lunar dates and swap notices change every year."""

    days_off: list[date] = Field(default=[], max_length=1000, description="extra days off (e.g. a swapped bridge day)")
    working_days: list[date] = Field(default=[], max_length=1000,
                                     description="weekend days worked to make up for a swap")

    @model_validator(mode="after")
    def _disjoint(self) -> "CalendarOverlay":
        both = sorted(set(self.days_off) & set(self.working_days))
        if both:
            raise ValueError(f"a day cannot be both off and a working day: {', '.join(map(str, both))}")
        self.days_off, self.working_days = sorted(set(self.days_off)), sorted(set(self.working_days))
        return self


def working_hours(settings: DossierSettings) -> WorkingHours:
    def parse(text: str) -> clock:
        return clock.fromisoformat(text)
    return WorkingHours(parse(settings.morning_start), parse(settings.morning_end),
                        parse(settings.afternoon_start), parse(settings.afternoon_end))


class PolicySource:
    """Reads the overlay at most every `ttl` seconds, so replicas see an operator's edit quickly."""

    def __init__(self, store: DocumentStore, settings: DossierSettings, *, ttl: float = 30.0):
        self.coll = store.collection(COLLECTION)
        self.settings = settings
        self.hours = working_hours(settings)
        self.ttl = ttl
        self._cached: tuple[float, Policy] | None = None

    async def overlay(self) -> CalendarOverlay:
        doc = await self.coll.get(OVERLAY_ID)
        return CalendarOverlay.model_validate(doc) if doc else CalendarOverlay()

    async def set_overlay(self, overlay: CalendarOverlay, actor: str | None = None) -> CalendarOverlay:
        """Saved with its `calendar.changed` event in the same write: every service counting working days
        (the feedback service's petition deadlines) applies the same days."""
        current = await self.coll.get(OVERLAY_ID)
        body = {"_id": OVERLAY_ID, **overlay.model_dump(mode="json")}
        change = CalendarChanged(days_off=overlay.days_off, working_days=overlay.working_days, occurred_at=utcnow(),
                                 actor=actor)
        events = [outbox_entry(change.topic, build(change, source="/dossier/calendar", subject=OVERLAY_ID), OVERLAY_ID)]
        if current is None:
            await self.coll.insert(body, events)
        else:
            await self.coll.save(body, current["version"], events)
        self._cached = None
        return overlay

    async def current(self) -> Policy:
        if self._cached and time.monotonic() - self._cached[0] < self.ttl:
            return self._cached[1]
        overlay = await self.overlay()
        calendar = BusinessCalendar(self.hours, extra_days_off=overlay.days_off,
                                    extra_working_days=overlay.working_days)
        policy = Policy(calendar=calendar, intake_response_hours=self.settings.intake_response_hours,
                        stall_working_days=self.settings.stall_working_days,
                        supplement_response_days=self.settings.supplement_response_days)
        self._cached = (time.monotonic(), policy)
        return policy
