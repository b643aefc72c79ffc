"""The dossier gauges on `/metrics`: how many dossiers are in each state, and how many open ones are
overdue. Counted from the store (indexed on `state` and `deadline_key`), not kept in memory, so every
replica reports the same figures; dashboards take one replica's value (max), not the sum."""

from datetime import datetime

from kit import metrics
from kit.events import utcnow

from dossier.domain import State
from dossier.queues import overdue_filter
from dossier.store import DossierStore


async def refresh(dossiers: DossierStore, now: datetime | None = None) -> None:
    meter = metrics.instruments()
    by_state = await dossiers.coll.count_by("state")  # one pass, not one count per state
    for state in State:
        meter.dossiers.set(by_state.get(state.value, 0), {"state": state.value})
    meter.overdue.set(await dossiers.count(overdue_filter(now or utcnow())))
