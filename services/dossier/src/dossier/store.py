"""Dossiers as documents with their outbox; the daily code counters; the due timers."""

from datetime import datetime, timezone

from kit.outbox import outbox_entry
from kit.runtime import Runtime
from kit.store.base import Filter

from contracts import EventData, build
from dossier.domain import Dossier

DOSSIERS = "dossiers"
COUNTERS = "dossier_counters"
INDEXES = [
    ["state", "deadline_key"],  # the counter's intake queue, by deadline
    ["timer_at"],  # the durable timers: only due ones are read
    ["current_agency", "is_open", "deadline_key"],
    ["assignee", "is_open", "deadline_key"],
    ["procedure.agency_code", "received_on"],
    ["procedure.agency_code", "completed_on"],
    # The periodic report counts the open dossiers an agency received up to a day (see indicators.py).
    ["procedure.agency_code", "is_open", "received_on"],
]


class DossierStore:
    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.coll = runtime.store.collection(DOSSIERS)
        self.counters = runtime.store.collection(COUNTERS)

    async def ensure_indexes(self) -> None:
        for fields in INDEXES:
            await self.coll.ensure_index(fields)

    async def next_sequence(self, agency_code: str, yymmdd: str) -> int:
        """Per agency and day; atomic in the store, so unique across replicas."""
        return await self.counters.increment(f"{agency_code}-{yymmdd}")

    async def get(self, code: str) -> Dossier | None:
        doc = await self.coll.get(code)
        return Dossier.model_validate(doc) if doc else None

    async def find(self, flt: Filter, *, sort: list[tuple[str, int]] | None = None,
                   limit: int | None = None) -> list[Dossier]:
        return [Dossier.model_validate(d) for d in await self.coll.find(flt, sort=sort, limit=limit)]

    async def count(self, flt: Filter) -> int:
        return await self.coll.count(flt)

    async def agencies_receiving_by(self, day: str) -> list[str]:
        """The agencies (`procedure.agency_code`) with a dossier received on or before `day`.

        The store has no `distinct`, so this skips along an index that leads with the agency: one
        indexed seek per agency (the next code after the last found), never a scan of every dossier."""
        found: list[str] = []
        while True:
            after = found[-1] if found else ""
            docs = await self.coll.find({"procedure.agency_code": {"$gt": after}, "received_on": {"$lte": day}},
                                        sort=[("procedure.agency_code", 1)], limit=1)
            if not docs:
                return found
            found.append(docs[0]["procedure"]["agency_code"])

    async def due_timers(self, now: datetime, limit: int = 100) -> list[str]:
        """Codes of dossiers with a timer due at `now` (an index range, never a scan of every dossier)."""
        key = now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        docs = await self.coll.find({"timer_at": {"$lte": key}}, sort=[("timer_at", 1)], limit=limit)
        return [d["_id"] for d in docs]

    async def add(self, dossier: Dossier, events: list[EventData]) -> Dossier:
        doc = dossier.model_dump(mode="json", exclude={"version"})
        stored = await self.coll.insert({"_id": dossier.code, **doc}, self._entries(dossier.code, events))
        self.runtime.notify_outbox()
        return dossier.model_copy(update={"version": stored["version"]})

    async def save(self, dossier: Dossier, events: list[EventData]) -> Dossier:
        """Raises VersionConflict if another writer changed the dossier since it was read."""
        doc = dossier.model_dump(mode="json", exclude={"version"})
        stored = await self.coll.save({"_id": dossier.code, **doc}, dossier.version, self._entries(dossier.code, events))
        self.runtime.notify_outbox()
        return dossier.model_copy(update={"version": stored["version"]})

    def _entries(self, code: str, events: list[EventData]) -> list[dict]:
        return [outbox_entry(e.topic, build(e, source="/dossier", subject=code), code) for e in events]
