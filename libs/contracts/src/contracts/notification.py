"""Events of the notification service."""

from datetime import datetime

from contracts.base import EventData, contract

TOPIC = "notification.events"


@contract("vn.motcua.notification.recorded.v1", TOPIC, "An outbound message was recorded for delivery.")
class NotificationRecorded(EventData):
    message_id: str
    cause_event_id: str
    cause_event_type: str
    channel: str
    dossier_code: str | None = None
    recorded_at: datetime


class MessageChange(EventData):
    message_id: str
    cause_event_id: str
    channel: str
    dossier_code: str | None = None
    occurred_at: datetime


@contract("vn.motcua.notification.sent.v1", TOPIC, "A message was accepted by its channel (SMTP relay, SMS gateway).")
class NotificationSent(MessageChange):
    provider: str | None = None
    attempts: int


@contract("vn.motcua.notification.delivered.v1", TOPIC,
          "A message reached the recipient (SMS delivery report, or an in-app message recorded).")
class NotificationDelivered(MessageChange):
    pass


@contract("vn.motcua.notification.failed.v1", TOPIC,
          "A message failed for good on its channel (refused, or retries ran out); the next channel is tried.")
class NotificationFailed(MessageChange):
    failure: str  # temporary (retries ran out) / permanent (refused)
    error: str | None = None
    attempts: int
