"""What the dossier service knows of citizens' ratings and petitions, for the satisfaction indicator
(766/QĐ-TTg, DOMAIN.md section 5: satisfaction = 100% − (overdue % + % of dossiers with complaints or
dislikes)). Learnt from `feedback.events` only: the feedback service's database is never read.

One document per dossier that feedback named (collection `dossier_feedback`, `_id` = the dossier code):
- `rated`, `score`, `satisfied`, `unsatisfied`: from `RatingSubmitted` (one rating per dossier);
- `petitions`, `complained`: from `FeedbackReceived` naming the dossier (`dossier_code`);
- `flagged` = unsatisfied or complained: "a dossier with complaints or dislikes", counted once however
  many petitions or whichever came first;
- `agency_code` and `received_on`, copied from the dossier (this service's own collection) so the report
  counts by agency and day of receipt, like the other indicators. A dossier named while still at intake is
  `placed: False` until it is received (`place_pending`, run before each report); an unknown code or a
  dossier that ended before receipt keeps no `received_on` and falls out of every count.

Applying an event twice changes nothing (the flags are set, the petition ids are a set), so a redelivery
after a crash between the write and the consumer's record is harmless."""

import asyncio
import logging

from kit.events import CloudEvent
from kit.store import DocumentStore, DuplicateKey, VersionConflict
from kit.store.base import Doc, state_fields

from contracts import UnknownEventType, parse
from contracts.feedback import TOPIC as FEEDBACK_TOPIC
from contracts.feedback import FeedbackReceived, RatingSubmitted
from dossier.store import DOSSIERS

log = logging.getLogger("dossier.satisfaction")

__all__ = ["DOSSIER_FEEDBACK", "FEEDBACK_TOPIC", "DossierFeedback"]

DOSSIER_FEEDBACK = "dossier_feedback"
INDEXES = [["agency_code", "received_on", "flagged"], ["agency_code", "received_on", "rated"], ["placed"]]
MAX_PETITION_IDS = 50  # enough to recognise a redelivery; the flag is what counts


class DossierFeedback:
    def __init__(self, store: DocumentStore):
        self.coll = store.collection(DOSSIER_FEEDBACK)
        self.dossiers = store.collection(DOSSIERS)
        self._indexed = False

    async def ensure_indexes(self) -> None:
        for fields in INDEXES:
            await self.coll.ensure_index(fields)
        self._indexed = True

    # --- from events ----------------------------------------------------------------------------------

    async def on_feedback_event(self, event: CloudEvent) -> None:
        try:
            data = parse(event)
        except UnknownEventType:
            return
        if isinstance(data, RatingSubmitted):
            await self._note(data.dossier_code, data.agency_code, score=data.score, satisfied=data.satisfied)
        elif isinstance(data, FeedbackReceived) and data.dossier_code:
            await self._note(data.dossier_code, data.agency_code, petition=data.petition_id)

    async def _note(self, code: str, agency: str | None, *, score: int | None = None, satisfied: bool | None = None,
                    petition: str | None = None, attempts: int = 10) -> None:
        if not self._indexed:
            await self.ensure_indexes()
        for _ in range(attempts):
            current = await self.coll.get(code)
            doc: Doc = state_fields(current) if current else {
                "rated": False, "score": None, "satisfied": None, "unsatisfied": False, "petitions": [],
                "complained": False, "placed": False, "agency_code": agency, "received_on": None}
            if score is not None:
                doc.update(rated=True, score=score, satisfied=satisfied, unsatisfied=not satisfied)
            if petition is not None and petition not in doc["petitions"]:
                # Sorted: events of different petitions arrive in any order (other keys, other partitions).
                doc["petitions"] = sorted([*doc["petitions"], petition])[-MAX_PETITION_IDS:]
                doc["complained"] = True
            doc["flagged"] = doc["unsatisfied"] or doc["complained"]
            if not doc["placed"]:
                doc.update(await self._placement(code, doc["agency_code"]))
            try:
                if current is None:
                    await self.coll.insert({"_id": code, **doc})
                else:
                    await self.coll.save({"_id": code, **doc}, current["version"])
                return
            except (DuplicateKey, VersionConflict):
                continue  # another event about this dossier got there first: apply ours to what it wrote
        raise VersionConflict(f"{DOSSIER_FEEDBACK}/{code}: too much contention")

    async def _placement(self, code: str, agency: str | None) -> Doc:
        """Where the dossier counts: its competent agency and local day of receipt, once it has one."""
        dossier = await self.dossiers.get(code)
        if dossier is None:  # a code the citizen mistyped, or another system's dossier: never counted
            return {"placed": True, "agency_code": agency, "received_on": None}
        agency = dossier["procedure"]["agency_code"]
        if dossier.get("received_on"):
            return {"placed": True, "agency_code": agency, "received_on": dossier["received_on"]}
        if not dossier.get("is_open", True):  # refused at intake or withdrawn before receipt: never received
            return {"placed": True, "agency_code": agency, "received_on": None}
        return {"placed": False, "agency_code": agency, "received_on": None}  # still at intake

    async def place_pending(self, limit: int = 500) -> int:
        """Place the dossiers that were at intake when feedback named them and have been received since.
        The set is small and clears itself: a dossier leaves it once received or ended."""
        placed = 0
        for doc in await self.coll.find({"placed": False}, limit=limit):
            placement = await self._placement(doc["_id"], doc.get("agency_code"))
            if not placement["placed"]:
                continue
            try:
                await self.coll.save({"_id": doc["_id"], **state_fields(doc), **placement}, doc["version"])
                placed += 1
            except VersionConflict:
                pass  # an event about it was applied meanwhile, and placed it
        return placed

    # --- for the report -------------------------------------------------------------------------------

    async def counts(self, agency: str, first: str, last: str) -> dict[str, int]:
        """Among the agency's dossiers received on local days `first` to `last` (`YYYY-MM-DD`): how many
        were rated, rated satisfied, and rated unsatisfied or named by a petition."""
        base = {"agency_code": agency, "received_on": {"$gte": first, "$lte": last}}
        rated, satisfied, flagged = await asyncio.gather(
            self.coll.count({**base, "rated": True}),
            self.coll.count({**base, "rated": True, "satisfied": True}),
            self.coll.count({**base, "flagged": True}))
        return {"ratings": rated, "satisfied": satisfied, "flagged": flagged}
