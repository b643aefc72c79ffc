"""Dossiers as documents with their outbox; the daily code counters."""

from kit.outbox import outbox_entry
from kit.runtime import Runtime

from contracts import EventData, build
from dossier.domain import Dossier

DOSSIERS = "dossiers"
COUNTERS = "dossier_counters"


class DossierStore:
    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.coll = runtime.store.collection(DOSSIERS)
        self.counters = runtime.store.collection(COUNTERS)

    async def next_sequence(self, agency_code: str, yymmdd: str) -> int:
        """Per agency and day; atomic in the store, so unique across replicas."""
        return await self.counters.increment(f"{agency_code}-{yymmdd}")

    async def get(self, code: str) -> Dossier | None:
        doc = await self.coll.get(code)
        return Dossier.model_validate(doc) if doc else None

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
