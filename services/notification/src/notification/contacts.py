"""Who to tell about a dossier, remembered from its events: payment events name only the dossier code.

The service's own projection of the dossier events it consumes (it never reads the dossier database);
the latest event wins, by the dossier's sequence."""

from kit.store import DocumentStore, DuplicateKey, VersionConflict

from contracts.dossier import ApplicantContact, DossierChange

CONTACTS = "dossier_contacts"


class DossierContacts:
    def __init__(self, store: DocumentStore):
        self.coll = store.collection(CONTACTS)

    async def remember(self, change: DossierChange) -> None:
        if change.applicant is None:
            return
        doc = {"_id": change.code, "sequence": change.sequence, "applicant": change.applicant.model_dump(),
               "agency": change.current_agency or change.agency_code}
        for _ in range(5):
            stored = await self.coll.get(change.code)
            try:
                if stored is None:
                    await self.coll.insert(doc)
                elif stored["sequence"] < change.sequence:
                    await self.coll.save(doc, stored["version"])
                return
            except (DuplicateKey, VersionConflict):
                continue

    async def contact_for(self, code: str) -> ApplicantContact | None:
        stored = await self.coll.get(code)
        return ApplicantContact.model_validate(stored["applicant"]) if stored else None
