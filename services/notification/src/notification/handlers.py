"""Use cases of the notification service: an event becomes messages (by the operator's rule and template,
in the citizen's language, on the channels they allow), a delivery report settles an SMS, and a message
that failed for good is handed to the next channel."""

import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from kit.events import CloudEvent, utcnow
from kit.problems import NotFound, Problem
from kit.store import DocumentStore, DuplicateKey, VersionConflict

from contracts import EventData, UnknownEventType, parse
from contracts.dossier import ApplicantContact, DossierChange
from notification.contacts import DossierContacts
from notification.delivery import DeliveryWorker
from notification.domain import FALLBACK, Channel, Language, OutboundMessage, after_report, fails_over, message_id
from notification.library import Library
from notification.placeholders import Links, values_for
from notification.preferences import PreferenceStore
from notification.records import MESSAGES, message_doc, recorded_events, status_events
from notification.rules import Rule
from notification.sms import FailoverSender
from notification.templates import MissingValues, Rendered, TemplateVersion, render

log = logging.getLogger("notification")


@dataclass(frozen=True)
class Target:
    channel: Channel
    recipient: str
    language: Language
    fallback: tuple[Channel, str] | None = None  # where to go if this channel fails for good


class Notifications:
    def __init__(self, store: DocumentStore, *, library: Library, preferences: PreferenceStore,
                 contacts: DossierContacts, worker: DeliveryWorker, sms: FailoverSender | None, tz: ZoneInfo,
                 links: Links, notify_outbox):
        self.coll = store.collection(MESSAGES)
        self.library = library
        self.preferences = preferences
        self.contacts = contacts
        self.worker = worker
        self.sms = sms
        self.tz = tz
        self.links = links
        self.notify_outbox = notify_outbox

    # --- events → messages -----------------------------------------------------------------------

    async def on_event(self, event: CloudEvent) -> None:
        try:
            data = parse(event)
        except UnknownEventType:
            return
        if isinstance(data, DossierChange):
            await self.contacts.remember(data)
        await self.library.ensure_started()
        rule = await self.library.rule_for(event.type)
        if rule is None or not rule.enabled:
            return
        template = await self.library.template(rule.template)
        if template is None:
            log.error("rule for %s names template %s, which does not exist: nothing sent", event.type, rule.template)
            return
        targets = await self._targets(rule, data)
        now = utcnow()
        for language in {t.language for t in targets}:
            rendered, error = self._render(template, language, data)
            for target in (t for t in targets if t.language == language):
                await self._record(self._message(event, data, template, target, rendered, error, now))
        self.notify_outbox()
        self.worker.wake()

    async def _targets(self, rule: Rule, data: EventData) -> list[Target]:
        if rule.audience == "agency":
            agency = getattr(data, "current_agency", None) or getattr(data, "agency_code", None)
            return [Target("in_app", f"agency:{agency}", "vi")] if agency else []
        code = _dossier_code(data)
        # Dossier events and rating invitations carry the applicant, petition events the submitter; payment
        # events only the dossier code (its applicant is remembered from the dossier's events).
        contact = getattr(data, "applicant", None) or getattr(data, "submitter", None)
        if contact is None and not isinstance(data, DossierChange) and code:
            contact = await self.contacts.contact_for(code)
        if contact is None:
            return []
        code = code or getattr(data, "petition_id", None)  # the in-app key of a petition without a dossier
        prefs = await self.preferences.get(contact.account)
        chosen = [c for c in rule.channels if prefs.allows(c)]
        targets = []
        for channel in chosen:
            recipient = _address(channel, contact, code)
            if recipient is None:
                continue
            backup = FALLBACK.get(channel)
            fallback = None
            if backup and backup not in chosen and prefs.allows(backup) and _address(backup, contact, code):
                fallback = (backup, _address(backup, contact, code))
            targets.append(Target(channel, recipient, prefs.language, fallback))
        return targets

    def _render(self, template: TemplateVersion, language: Language,
                data: EventData) -> tuple[Rendered | None, str | None]:
        try:
            return render(template, language, values_for(data, lang=language, tz=self.tz, links=self.links)), None
        except MissingValues as exc:
            # Loud: an error in the log and a failed message an officer sees, never a text with a blank.
            error = (f"template {template.key}@{template.version} needs values the event did not carry: "
                     f"{', '.join(sorted(exc.names))}")
            log.error("%s (%s %s)", error, data.event_type, _dossier_code(data))
            return None, error

    def _message(self, event: CloudEvent, data: EventData, template: TemplateVersion, target: Target,
                 rendered: Rendered | None, error: str | None, now) -> tuple[OutboundMessage, tuple | None]:
        base = {"id": message_id(event.id, target.channel, target.recipient), "cause_event_id": event.id,
                "cause_event_type": event.type, "dossier_code": _dossier_code(data), "channel": target.channel,
                "recipient": target.recipient, "language": target.language,
                "template": f"{template.key}@{template.version}", "recorded_at": now}
        if rendered is None:
            message = OutboundMessage(**base, subject="", body="", status="failed", failure="permanent", error=error)
        else:
            body = rendered.sms if target.channel == "sms" else rendered.body
            message = OutboundMessage(**base, subject=rendered.subject, body=body)
            if target.channel == "in_app":  # the inbox is ours: recording it is delivering it
                message = message.model_copy(update={"status": "delivered", "sent_at": now, "delivered_at": now})
            else:
                message = message.model_copy(update={"next_attempt_at": now})
        return message, target.fallback

    async def _record(self, item: tuple[OutboundMessage, tuple | None]) -> None:
        message, fallback = item
        doc = message_doc(message)
        if fallback:
            doc["fallback"] = {"channel": fallback[0], "recipient": fallback[1]}
        try:
            await self.coll.insert(doc, recorded_events(message))
        except DuplicateKey:
            return  # already recorded for this event, channel and recipient: never twice
        log.info("message recorded", extra={"event_type": message.cause_event_type, "event_id": message.cause_event_id,
                                            "message_id": message.id, "channel": message.channel})

    # --- a message that failed for good: the next channel ------------------------------------------

    async def on_final(self, message: OutboundMessage) -> None:
        channel = fails_over(message)
        if channel is None:
            return
        doc = await self.coll.get(message.id)
        fallback = (doc or {}).get("fallback")
        if not fallback or fallback["channel"] != channel:
            return
        replacement = message.model_copy(update={
            "id": message_id(message.cause_event_id, channel, fallback["recipient"]), "channel": channel,
            "recipient": fallback["recipient"], "status": "queued", "failure": None, "error": None, "attempts": [],
            "next_attempt_at": utcnow(), "lease_until": None, "provider": None, "provider_id": None,
            "fallback_of": message.id, "recorded_at": utcnow(), "sent_at": None, "delivered_at": None,
            # The SMS text is the short one; an e-mail replacing an SMS carries the SMS text, which is complete.
        })
        await self._record((replacement, None))
        log.info("message %s failed on %s; trying %s", message.id, message.channel, channel,
                 extra={"message_id": message.id, "next_message_id": replacement.id})
        self.notify_outbox()
        self.worker.wake()

    # --- SMS delivery reports ----------------------------------------------------------------------

    async def on_sms_report(self, provider_name: str, body: bytes, signature: str | None) -> OutboundMessage:
        provider = next((p for p in (self.sms.providers if self.sms else []) if p.name == provider_name), None)
        if provider is None:
            raise NotFound("SMS provider", provider_name)
        report = provider.verify_callback(body, signature)
        if report is None:
            raise Problem(401, "bad-signature", "Chữ ký không hợp lệ / Invalid signature",
                          "the report's X-Signature does not verify with this provider's callback secret, "
                          "or the body is not a delivery report")
        for _ in range(5):
            doc = await self.coll.get(report.message_id)
            if doc is None or doc.get("channel") != "sms":
                raise NotFound("SMS message", report.message_id)
            before = OutboundMessage.model_validate(doc)
            after = after_report(before, report.status == "delivered", report.error, utcnow())
            if after == before:
                return after
            try:
                await self.coll.save(message_doc(after, doc), doc["version"], status_events(before, after))
            except VersionConflict:
                continue
            self.notify_outbox()
            if after.status == "failed":
                await self.on_final(after)
            return after
        raise VersionConflict(report.message_id)

    # --- reading ---------------------------------------------------------------------------------

    async def for_dossier(self, code: str) -> list[OutboundMessage]:
        docs = await self.coll.find({"dossier_code": code}, sort=[("recorded_at", 1), ("_id", 1)])
        return [OutboundMessage.model_validate(d) for d in docs]

    async def inbox(self, recipient: str, limit: int, before: str | None) -> list[OutboundMessage]:
        """In-app messages of one inbox (`account:<subject>` or `agency:<code>`), newest first."""
        flt: dict = {"recipient": recipient, "channel": "in_app"}
        if before:
            flt["recorded_at"] = {"$lt": before}
        docs = await self.coll.find(flt, sort=[("recorded_at", -1), ("_id", -1)], limit=limit)
        return [OutboundMessage.model_validate(d) for d in docs]

    async def get(self, message_id_: str) -> OutboundMessage:
        doc = await self.coll.get(message_id_)
        if doc is None:
            raise NotFound("message", message_id_)
        return OutboundMessage.model_validate(doc)


def _dossier_code(data: EventData) -> str | None:
    return getattr(data, "code", None) or getattr(data, "dossier_code", None)


def _address(channel: Channel, contact: ApplicantContact, code: str | None) -> str | None:
    if channel == "email":
        return contact.email
    if channel == "sms":
        return contact.phone
    if contact.account:
        return f"account:{contact.account}"
    return f"dossier:{code}" if code else None
