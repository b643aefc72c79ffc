"""Procedures (with their versions and outbox) and the reference data, as documents."""

from kit.outbox import outbox_entry
from kit.runtime import Runtime

from catalog.domain import Agency, Centre, Procedure, ProcedureField
from contracts import EventData, build

PROCEDURES = "procedures"
FIELDS = "fields"
AGENCIES = "agencies"
CENTRES = "centres"
COUNTERS = "catalog_counters"
GENERATION = "procedures-generation"  # bumped on every change, so each replica knows to refresh its search index


class CatalogStore:
    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        store = runtime.store
        self.procedures = store.collection(PROCEDURES)
        self.fields = store.collection(FIELDS)
        self.agencies = store.collection(AGENCIES)
        self.centres = store.collection(CENTRES)
        self.counters = store.collection(COUNTERS)

    # --- procedures --------------------------------------------------------------------

    async def get(self, code: str) -> Procedure | None:
        doc = await self.procedures.get(code)
        return Procedure.model_validate(doc) if doc else None

    async def all(self) -> list[Procedure]:
        return [Procedure.model_validate(d) for d in await self.procedures.find({}, sort=[("_id", 1)])]

    async def add(self, procedure: Procedure, events: list[EventData]) -> Procedure:
        stored = await self.procedures.insert({"_id": procedure.code, **procedure.model_dump(mode="json", exclude={"version"})},
                                              self._entries(procedure.code, events))
        await self._changed(events)
        return procedure.model_copy(update={"version": stored["version"]})

    async def save(self, procedure: Procedure, events: list[EventData]) -> Procedure:
        """Raises VersionConflict if another writer changed the procedure since it was read."""
        stored = await self.procedures.save({"_id": procedure.code, **procedure.model_dump(mode="json", exclude={"version"})},
                                            procedure.version, self._entries(procedure.code, events))
        await self._changed(events)
        return procedure.model_copy(update={"version": stored["version"]})

    async def generation(self) -> int:
        doc = await self.counters.get(GENERATION)
        return int(doc["value"]) if doc else 0

    async def _changed(self, events: list[EventData]) -> None:
        await self.counters.increment(GENERATION)
        if events:
            self.runtime.notify_outbox()

    def _entries(self, code: str, events: list[EventData]) -> list[dict]:
        return [outbox_entry(e.topic, build(e, source="/catalog", subject=code), code) for e in events]

    # --- reference data ----------------------------------------------------------------

    async def list_fields(self) -> list[ProcedureField]:
        return [ProcedureField.model_validate(d) for d in await self.fields.find({}, sort=[("_id", 1)])]

    async def list_agencies(self, level: str | None = None) -> list[Agency]:
        docs = await self.agencies.find({"level": level} if level else {}, sort=[("_id", 1)])
        return [Agency.model_validate(d) for d in docs]

    async def list_centres(self) -> list[Centre]:
        return [Centre.model_validate(d) for d in await self.centres.find({}, sort=[("order", 1)])]

    async def field(self, code: str) -> ProcedureField | None:
        doc = await self.fields.get(code)
        return ProcedureField.model_validate(doc) if doc else None

    async def agency(self, code: str) -> Agency | None:
        doc = await self.agencies.get(code)
        return Agency.model_validate(doc) if doc else None

    async def centre(self, code: str) -> Centre | None:
        doc = await self.centres.get(code)
        return Centre.model_validate(doc) if doc else None
