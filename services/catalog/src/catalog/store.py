"""Procedures as documents, with their outbox."""

from kit.outbox import outbox_entry
from kit.runtime import Runtime
from kit.store import DuplicateKey

from catalog.domain import Procedure
from contracts import EventData, build

COLLECTION = "procedures"


class ProcedureStore:
    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.coll = runtime.store.collection(COLLECTION)

    async def get(self, code: str) -> tuple[Procedure, int] | None:
        doc = await self.coll.get(code)
        if doc is None:
            return None
        return Procedure.model_validate(doc), doc["version"]

    async def page(self, *, after: str | None, limit: int) -> list[Procedure]:
        flt = {"_id": {"$gt": after}} if after else {}
        docs = await self.coll.find(flt, sort=[("_id", 1)], limit=limit)
        return [Procedure.model_validate(d) for d in docs]

    async def add(self, procedure: Procedure, event: EventData) -> None:
        """Insert a new procedure; DuplicateKey if the code exists."""
        doc = {"_id": procedure.code, **procedure.model_dump(mode="json")}
        await self.coll.insert(doc, [self._entry(procedure.code, event)])
        self.runtime.notify_outbox()

    async def replace(self, procedure: Procedure, expected_version: int, event: EventData) -> None:
        doc = {"_id": procedure.code, **procedure.model_dump(mode="json")}
        await self.coll.save(doc, expected_version, [self._entry(procedure.code, event)])
        self.runtime.notify_outbox()

    def _entry(self, code: str, event: EventData) -> dict:
        return outbox_entry(event.topic, build(event, source="/catalog", subject=code), code)


__all__ = ["ProcedureStore", "DuplicateKey"]
