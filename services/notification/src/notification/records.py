"""How a message is stored (with the keys the worker queries) and the events its changes publish."""

from kit.events import utcnow
from kit.outbox import outbox_entry
from kit.request_keys import time_key

from contracts import EventData, build
from contracts.notification import (NotificationDelivered, NotificationFailed, NotificationRecorded,
                                    NotificationSent)
from notification.domain import OutboundMessage

MESSAGES = "messages"
INDEXES = [["dossier_code"], ["status", "due_key"], ["status", "lease_key"], ["recipient", "recorded_at"],
           ["cause_event_id"]]


# Stored beside the message, not part of it: where to turn if its channel fails ({channel, recipient}).
KEPT = ("fallback",)


def message_doc(message: OutboundMessage, previous: dict | None = None) -> dict:
    """The stored form: the message, plus fixed-width UTC keys for "due now" and "claim expired" queries,
    and what the previous stored form kept beside it."""
    kept = {k: previous[k] for k in KEPT if previous and k in previous}
    return {"_id": message.id, **message.model_dump(mode="json"), **kept,
            "due_key": time_key(message.next_attempt_at) if message.next_attempt_at else None,
            "lease_key": time_key(message.lease_until) if message.lease_until else None}


def _entry(data: EventData, message: OutboundMessage) -> dict:
    return outbox_entry(data.topic, build(data, source="/notification", subject=message.id), message.id)


def recorded_events(message: OutboundMessage) -> list[dict]:
    events = [_entry(NotificationRecorded(message_id=message.id, cause_event_id=message.cause_event_id,
                                          cause_event_type=message.cause_event_type, channel=message.channel,
                                          dossier_code=message.dossier_code, recorded_at=message.recorded_at),
                     message)]
    return events + status_events(None, message)


def status_events(before: OutboundMessage | None, after: OutboundMessage) -> list[dict]:
    """The events for what changed between two states of a message (none for a retry still pending)."""
    if before is not None and before.status == after.status:
        return []
    common = {"message_id": after.id, "cause_event_id": after.cause_event_id, "channel": after.channel,
              "dossier_code": after.dossier_code, "occurred_at": utcnow()}
    events: list[EventData] = []
    if after.status in ("sent", "delivered") and (before is None or before.status not in ("sent", "delivered")):
        events.append(NotificationSent(**common, provider=after.provider, attempts=len(after.attempts)))
    if after.status == "delivered":
        events.append(NotificationDelivered(**common))
    if after.status == "failed":
        events.append(NotificationFailed(**common, failure=after.failure or "permanent", error=after.error,
                                         attempts=len(after.attempts)))
    return [_entry(e, after) for e in events]
