"""Use cases of the feedback service: petitions received, handled step by step on their deadlines, found,
published and searched; overdue steps announced once."""

import logging
import secrets
from datetime import datetime

from kit.blobs import BlobStore
from kit.calendar import TZ
from kit.events import CloudEvent, utcnow
from kit.outbox import outbox_entry
from kit.problems import NotFound, Problem
from kit.replica import keep_latest
from kit.request_keys import time_key
from kit.runtime import Runtime
from kit.sniff import sniff_document
from kit.store import VersionConflict
from kit.text import fold

from contracts import UnknownEventType, build, parse
from contracts.dossier import DossierChange
from feedback.calendar_copy import CalendarCopy
from feedback.petitions import (Actor, Attachment, Channel, Limits, Petition, PetitionDraft, State, act, overdue,
                                receive)
from feedback.settings import FeedbackSettings

log = logging.getLogger("feedback")
PETITIONS = "petitions"
DOSSIERS = "dossier_states"
INDEXES = [["state", "received_key"], ["timer_key"], ["agency_code", "state"], ["dossier_code"], ["received_key"]]


class Feedback:
    def __init__(self, runtime: Runtime, settings: FeedbackSettings, calendar: CalendarCopy, blobs: BlobStore):
        self.runtime = runtime
        self.settings = settings
        self.calendar = calendar
        self.blobs = blobs
        self.petitions = runtime.store.collection(PETITIONS)
        self.dossiers = runtime.store.collection(DOSSIERS)
        self.limits = Limits(decision=settings.decision_working_days, information=settings.information_working_days,
                             answer=settings.answer_working_days, publication=settings.publication_working_days)

    # --- receiving ---------------------------------------------------------------------------------

    async def submit(self, draft: PetitionDraft, *, channel: Channel, owner: str | None = None,
                     received_at: datetime | None = None, recorded_by: str | None = None,
                     files: list[tuple[str, bytes]] = ()) -> Petition:
        """A petition from the public (online, Open311) or recorded by a feedback officer from the counter,
        the hotline or the comment box (then `received_at` may be earlier: the day it was received)."""
        now = utcnow()
        received_at = received_at or now
        if received_at > now:
            raise Problem(422, "received-in-the-future", "Received in the future",
                          "received_at cannot be later than now", field="received_at")
        petition_id = f"PAKN-{received_at.astimezone(TZ):%y%m%d}-{secrets.token_hex(4).upper()}"
        attachments = await self._store_files(petition_id, files)
        petition, events = receive(petition_id, draft, channel=channel, received_at=received_at, now=now, owner=owner,
                                   recorded_by=recorded_by, calendar=await self.calendar.current(), limits=self.limits)
        petition.attachments = attachments
        try:
            await self.petitions.insert(self._doc(petition), self._entries(petition, events))
        except Exception:
            for a in attachments:  # no orphan files without their petition
                await self.blobs.delete(a.blob_id)
            raise
        self.runtime.notify_outbox()
        log.info("petition received", extra={"petition_id": petition.id, "channel": channel,
                                             "attachments": len(attachments)})
        return petition

    async def _store_files(self, petition_id: str, files: list[tuple[str, bytes]]) -> list[Attachment]:
        s = self.settings
        if len(files) > s.max_attachments:
            raise Problem(422, "too-many-attachments", "Too many attachments",
                          f"at most {s.max_attachments} files per petition", field="files")
        checked = []
        for name, data in files:
            kind = sniff_document(data)
            if kind is None:
                raise Problem(415, "unsupported-attachment", "Unsupported file",
                              f"{name!r} is not a PDF, JPEG or PNG file (judged by its content)", field="files")
            if len(data) > s.max_attachment_bytes:
                raise Problem(413, "attachment-too-large", "File too large",
                              f"{name!r} is larger than {s.max_attachment_bytes} bytes", field="files")
            checked.append((name, data, kind))
        stored = []
        try:
            for i, (name, data, kind) in enumerate(checked, 1):
                blob = await self.blobs.put(f"{petition_id}-{i}", data, filename=name, content_type=kind)
                stored.append(Attachment(blob_id=blob.id, filename=name, content_type=kind, size=blob.size,
                                         sha256=blob.sha256))
        except Exception:
            for a in stored:
                await self.blobs.delete(a.blob_id)
            raise
        return stored

    # --- handling ----------------------------------------------------------------------------------

    async def act(self, petition_id: str, action: str, actor: Actor, **given) -> Petition:
        for _ in range(5):
            doc = await self._doc_of(petition_id)
            petition = Petition.model_validate(doc)
            changed, events = act(petition, action, actor, now=utcnow(), calendar=await self.calendar.current(),
                                  limits=self.limits, **given)
            try:
                await self.petitions.save(self._doc(changed), doc["version"], self._entries(changed, events))
            except VersionConflict:
                continue  # someone else moved it meanwhile: judge the action again on the new state
            self.runtime.notify_outbox()
            log.info("petition %s: %s", petition_id, action, extra={"petition_id": petition_id, "action": action,
                                                                    "state": changed.state.value})
            return changed.model_copy(update={"version": doc["version"] + 1})
        raise Problem(409, "concurrent-change", "Changed meanwhile", f"petition {petition_id} keeps changing; retry")

    async def fire_due_timers(self) -> int:
        """Publish `feedback.overdue` once for each step whose deadline passed (an index range, not a scan)."""
        now = utcnow()
        fired = 0
        for doc in await self.petitions.find({"timer_key": {"$lte": time_key(now)}}, sort=[("timer_key", 1)],
                                             limit=100):
            petition = Petition.model_validate(doc)
            changed, events = overdue(petition, now)
            if not events:
                continue
            try:
                await self.petitions.save(self._doc(changed), doc["version"], self._entries(changed, events))
                fired += 1
            except VersionConflict:
                continue  # handled meanwhile; the next round looks again
        if fired:
            self.runtime.notify_outbox()
        return fired

    # --- reading -----------------------------------------------------------------------------------

    async def get(self, petition_id: str) -> Petition:
        doc = await self._doc_of(petition_id)
        return Petition.model_validate(doc)

    async def find(self, *, ids: list[str] | None = None, categories: list[str] | None = None,
                   states: list[str] | None = None, agency: str | None = None, start: datetime | None = None,
                   end: datetime | None = None, before_key: str | None = None, limit: int = 1000) -> list[Petition]:
        """Newest first, by the time received."""
        flt: dict = {}
        if ids is not None:
            flt["_id"] = {"$in": ids}
        if categories:
            flt["category"] = {"$in": categories}
        if states:
            flt["state"] = {"$in": states}
        if agency:
            flt["agency_code"] = agency
        key: dict = {}
        if start:
            key["$gte"] = time_key(start)
        if end:
            key["$lte"] = time_key(end)
        if before_key:
            key["$lt"] = before_key
        if key:
            flt["received_key"] = key
        docs = await self.petitions.find(flt, sort=[("received_key", -1), ("_id", -1)], limit=limit)
        return [Petition.model_validate(d) for d in docs]

    async def search_published(self, query: str | None, limit: int, offset: int) -> tuple[list[Petition], int]:
        """Published questions and answers; every word of the query found, diacritics and case ignored."""
        words = fold(query or "").split()
        docs = await self.petitions.find({"state": State.PUBLISHED.value}, sort=[("received_key", -1)])
        found = [d for d in docs if all(w in (d.get("search_text") or "") for w in words)]
        return [Petition.model_validate(d) for d in found[offset:offset + limit]], len(found)

    async def attachment(self, petition_id: str, number: int):
        petition = await self.get(petition_id)
        if not 1 <= number <= len(petition.attachments):
            raise NotFound("attachment", f"{petition_id}/{number}")
        return await self.blobs.open(petition.attachments[number - 1].blob_id)

    # --- dossiers (a returned dossier can be rated; a petition may name one) ------------------------

    async def on_dossier_event(self, event: CloudEvent) -> None:
        try:
            data = parse(event)
        except UnknownEventType:
            return
        if isinstance(data, DossierChange):
            await keep_latest(self.dossiers, data.code,
                              {"state": data.state, "sequence": data.sequence, "agency_code": data.agency_code},
                              order="sequence")

    # --- storage -----------------------------------------------------------------------------------

    async def _doc_of(self, petition_id: str) -> dict:
        doc = await self.petitions.get(petition_id)
        if doc is None:
            raise NotFound("petition", petition_id)
        return doc

    @staticmethod
    def _doc(petition: Petition) -> dict:
        body = petition.model_dump(mode="json", exclude={"version"})
        return {"_id": petition.id, **body}

    @staticmethod
    def _entries(petition: Petition, events) -> list[dict]:
        return [outbox_entry(e.topic, build(e, source="/feedback", subject=petition.id), petition.id) for e in events]

