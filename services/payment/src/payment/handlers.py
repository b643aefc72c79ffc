"""Use cases of the payment service (fees; intents and providers come with the payment issue)."""

from kit.events import CloudEvent
from kit.problems import NotFound
from kit.replica import keep_latest
from kit.store import DocumentStore, DuplicateKey

from contracts import UnknownEventType, parse
from contracts.catalog import Fee, ProcedurePublished, ProcedureRevised
from contracts.dossier import DossierReceived
from payment.domain import DossierFees, fees_for

PROCEDURE_FEES = "procedure_fees"
DOSSIER_FEES = "dossier_fees"


class Fees:
    def __init__(self, store: DocumentStore):
        self.procedures = store.collection(PROCEDURE_FEES)
        self.dossiers = store.collection(DOSSIER_FEES)

    async def on_catalog_event(self, event: CloudEvent) -> None:
        try:
            data = parse(event)
        except UnknownEventType:
            return
        if not isinstance(data, (ProcedurePublished, ProcedureRevised)):
            return
        await keep_latest(self.procedures, data.code, {"procedure_version": data.version,
                                                       "fees": [f.model_dump() for f in data.fees]},
                          order="procedure_version")

    async def on_dossier_event(self, event: CloudEvent) -> None:
        try:
            data = parse(event)
        except UnknownEventType:
            return
        if not isinstance(data, DossierReceived):
            return
        procedure = await self.procedures.get(data.procedure_code)
        fees = [Fee.model_validate(f) for f in (procedure or {}).get("fees", [])]
        owed = fees_for(dossier_code=data.code, procedure_code=data.procedure_code, channel=data.channel, fees=fees)
        try:
            await self.dossiers.insert({"_id": data.code, **owed.model_dump(mode="json")})
        except DuplicateKey:
            pass

    async def for_dossier(self, code: str) -> DossierFees:
        doc = await self.dossiers.get(code)
        if doc is None:
            raise NotFound("Dossier fees", code)
        return DossierFees.model_validate(doc)
