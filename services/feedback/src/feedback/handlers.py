"""Use cases of the feedback service (the full workflow comes with the feedback issue)."""

import secrets

from kit.events import CloudEvent, utcnow
from kit.outbox import outbox_entry
from kit.runtime import Runtime
from kit.replica import keep_latest

from contracts import UnknownEventType, build, parse
from contracts.dossier import DossierChange
from contracts.feedback import FeedbackReceived
from feedback.domain import Petition, PetitionDraft

PETITIONS = "petitions"
DOSSIERS = "dossier_states"


class Feedback:
    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.petitions = runtime.store.collection(PETITIONS)
        self.dossiers = runtime.store.collection(DOSSIERS)

    async def submit(self, draft: PetitionDraft) -> Petition:
        now = utcnow()
        petition = Petition(**draft.model_dump(), id=f"PAKN-{now:%y%m%d}-{secrets.token_hex(4).upper()}", received_at=now)
        event = FeedbackReceived(petition_id=petition.id, category=petition.category,
                                 dossier_code=petition.dossier_code, received_at=now)
        await self.petitions.insert({"_id": petition.id, **petition.model_dump(mode="json")},
                                    [outbox_entry(event.topic, build(event, source="/feedback", subject=petition.id),
                                                  petition.id)])
        self.runtime.notify_outbox()
        return petition

    async def on_dossier_event(self, event: CloudEvent) -> None:
        """Track each dossier's state: a returned dossier can be rated (feedback issue)."""
        try:
            data = parse(event)
        except UnknownEventType:
            return
        if not isinstance(data, DossierChange):
            return
        await keep_latest(self.dossiers, data.code,
                          {"state": data.state, "sequence": data.sequence, "agency_code": data.agency_code},
                          order="sequence")
