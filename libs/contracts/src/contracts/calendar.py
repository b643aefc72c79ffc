"""Events of the business calendar: the operator's days off and make-up working days (the dossier service
keeps them; every service counting working days keeps a copy from these events)."""

from datetime import date, datetime

from contracts.base import EventData, contract

TOPIC = "calendar.events"


@contract("vn.motcua.calendar.changed.v1", TOPIC,
          "The operator changed the days off or make-up working days; the whole overlay, as it now is.")
class CalendarChanged(EventData):
    days_off: list[date]
    working_days: list[date]
    occurred_at: datetime
    actor: str | None = None
