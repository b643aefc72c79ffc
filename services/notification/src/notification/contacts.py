"""Who to tell about a dossier, remembered from its events: payment events name only the dossier code.

The service's own projection of the dossier events it consumes (it never reads the dossier database);
the latest event wins, by the dossier's sequence."""

from kit.replica import keep_latest
from kit.store import DocumentStore

from contracts.dossier import ApplicantContact, DossierChange

CONTACTS = "dossier_contacts"


class DossierContacts:
    def __init__(self, store: DocumentStore):
        self.coll = store.collection(CONTACTS)

    async def remember(self, change: DossierChange) -> None:
        if change.applicant is None:
            return
        await keep_latest(self.coll, change.code, {"sequence": change.sequence,
                                                   "applicant": change.applicant.model_dump(),
                                                   "agency": change.current_agency or change.agency_code},
                          order="sequence")

    async def contact_for(self, code: str) -> ApplicantContact | None:
        stored = await self.coll.get(code)
        return ApplicantContact.model_validate(stored["applicant"]) if stored else None
