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
