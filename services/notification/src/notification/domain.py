"""Which messages an event causes, and their text. Pure.

(Rules and templates become operator-editable data in the notification issue; these are the first.)"""

import hashlib
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from contracts import EventData
from contracts.dossier import DossierReceived, DossierSubmitted

Channel = Literal["in_app", "email", "sms"]


class OutboundMessage(BaseModel):
    id: str
    cause_event_id: str
    cause_event_type: str
    dossier_code: str | None
    channel: Channel
    recipient: str  # personal data: stored for delivery, never logged
    subject: str
    body: str
    status: Literal["queued", "sent", "delivered", "failed"] = "queued"
    recorded_at: datetime


def message_id(event_id: str, channel: str, recipient: str) -> str:
    """Exactly one message per event, recipient and channel, whatever the redeliveries."""
    digest = hashlib.sha256(f"{event_id}|{channel}|{recipient}".encode()).hexdigest()[:32]
    return f"msg-{digest}"


def _local(at: datetime | None, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%H:%M ngày %d/%m/%Y") if at else "chưa xác định"


def messages_for(event_id: str, data: EventData, *, now: datetime, tz: ZoneInfo) -> list[OutboundMessage]:
    if isinstance(data, DossierReceived):
        subject = f"Hồ sơ {data.code} đã được tiếp nhận"
        body = (f"Hồ sơ {data.code} ({data.procedure_name}) đã được tiếp nhận lúc {_local(data.received_at, tz)}. "
                f"Hẹn trả kết quả: {_local(data.due_at, tz)}.")
    elif isinstance(data, DossierSubmitted):
        subject = f"Đã nhận hồ sơ trực tuyến {data.code}"
        body = (f"Hồ sơ {data.code} ({data.procedure_name}) đã được nộp trực tuyến lúc {_local(data.occurred_at, tz)} "
                "và đang chờ cán bộ tiếp nhận kiểm tra.")
    else:
        return []
    contact = data.applicant
    targets: list[tuple[Channel, str]] = [("in_app", data.code)]
    if contact.email:
        targets.append(("email", contact.email))
    if contact.phone:
        targets.append(("sms", contact.phone))
    return [OutboundMessage(id=message_id(event_id, channel, recipient), cause_event_id=event_id,
                            cause_event_type=data.event_type, dossier_code=data.code, channel=channel,
                            recipient=recipient, subject=subject, body=body, recorded_at=now)
            for channel, recipient in targets]
