"""The dossier service's copy of the catalogue: filled from catalog.events, and on a miss by one
HTTP call to the catalogue (a citizen is waiting on the answer)."""

import logging

import httpx

from kit.events import CloudEvent
from kit.problems import Problem, Unavailable
from kit.replica import keep_latest
from kit.store import DocumentStore

from contracts import UnknownEventType, parse
from contracts.catalog import ProcedurePublished, ProcedureRevised, ProcedureWithdrawn
from dossier.domain import ProcedureRef

log = logging.getLogger("dossier.procedures")
COLLECTION = "procedures"


def _copy_of(procedure: dict) -> dict:
    """The part of a procedure (event data or the catalogue's JSON) a dossier needs."""
    keep = ("code", "version", "name_vi", "agency_code", "required_documents", "processing_times", "immediate_result",
            "cases")
    return {**{k: procedure[k] for k in keep if k in procedure}, "withdrawn": False}


class ProcedureCopy:
    def __init__(self, store: DocumentStore, catalog_url: str, client: httpx.AsyncClient | None = None):
        self.coll = store.collection(COLLECTION)
        self.catalog_url = catalog_url.rstrip("/")
        self.client = client or httpx.AsyncClient(timeout=5.0)

    async def on_catalog_event(self, event: CloudEvent) -> None:
        try:
            data = parse(event)
        except UnknownEventType:
            return  # a newer catalogue event type: nothing this version keeps
        if isinstance(data, (ProcedurePublished, ProcedureRevised)):
            await self._keep(_copy_of(data.model_dump(mode="json")))
        elif isinstance(data, ProcedureWithdrawn):
            current = await self.coll.get(data.code)
            if current and current["procedure_version"] <= data.version:
                await self._keep({**current, "withdrawn": True, "version": data.version})

    async def _keep(self, doc: dict) -> None:
        fields = {**{k: v for k, v in doc.items() if k not in ("version", "_id", "outbox", "procedure_version")},
                  "procedure_version": doc.get("version", doc.get("procedure_version"))}
        await keep_latest(self.coll, doc["code"], fields, order="procedure_version")

    async def get(self, code: str) -> ProcedureRef:
        doc = await self.coll.get(code)
        if doc is None:
            doc = await self._fetch(code)
        if doc.get("withdrawn"):
            raise Problem(422, "procedure-withdrawn", "Procedure withdrawn",
                          f"Procedure {code} no longer accepts dossiers.", field="procedure_code")
        return ProcedureRef.model_validate({**doc, "version": doc["procedure_version"]})

    async def _fetch(self, code: str) -> dict:
        try:
            response = await self.client.get(f"{self.catalog_url}/procedures/{code}")
        except httpx.HTTPError as exc:
            log.warning("catalogue unreachable: %s", type(exc).__name__)
            raise Unavailable("The procedure catalogue cannot be reached.") from exc
        if response.status_code == 404:
            raise Problem(422, "unknown-procedure", "Unknown procedure",
                          f"There is no procedure with code '{code}'.", field="procedure_code")
        if response.status_code != 200:
            raise Unavailable("The procedure catalogue answered with an error.")
        body = response.json()
        doc = _copy_of(body)
        await self._keep(doc)
        return {**doc, "procedure_version": doc["version"]}
