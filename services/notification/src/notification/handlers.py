"""Use cases of the notification service."""

import logging
from zoneinfo import ZoneInfo

from kit.events import CloudEvent, utcnow
from kit.outbox import outbox_entry
from kit.runtime import Runtime
from kit.store import DuplicateKey

from contracts import UnknownEventType, build, parse
from contracts.notification import NotificationRecorded
from notification.domain import OutboundMessage, messages_for

log = logging.getLogger("notification")
MESSAGES = "messages"


class Notifications:
    def __init__(self, runtime: Runtime, tz: ZoneInfo):
        self.runtime = runtime
        self.coll = runtime.store.collection(MESSAGES)
        self.tz = tz

    async def on_event(self, event: CloudEvent) -> None:
        try:
            data = parse(event)
        except UnknownEventType:
            return
        for message in messages_for(event.id, data, now=utcnow(), tz=self.tz):
            recorded = NotificationRecorded(message_id=message.id, cause_event_id=event.id,
                                            cause_event_type=event.type, channel=message.channel,
                                            dossier_code=message.dossier_code, recorded_at=message.recorded_at)
            try:
                await self.coll.insert({"_id": message.id, **message.model_dump(mode="json")},
                                       [outbox_entry(recorded.topic, build(recorded, source="/notification",
                                                                           subject=message.id), message.id)])
            except DuplicateKey:
                continue  # already recorded for this event and recipient: never twice
            log.info("message recorded", extra={"event_type": event.type, "event_id": event.id})
        self.runtime.notify_outbox()

    async def for_dossier(self, code: str) -> list[OutboundMessage]:
        docs = await self.coll.find({"dossier_code": code}, sort=[("recorded_at", 1), ("_id", 1)])
        return [OutboundMessage.model_validate(d) for d in docs]
