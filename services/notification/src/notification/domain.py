"""Which messages an event causes, and their text. Pure.

(Rules and templates become operator-editable data in the notification issue; these are the first.)"""

import hashlib
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from contracts import EventData
from contracts import dossier as ev
from contracts.dossier import DossierChange

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


# What the citizen is told for each change of their dossier: (subject, body). Officer-facing changes
# (assigned, appraised, overdue, stalled…) go to the agency's in-app inbox instead.
CITIZEN_TEXTS: dict[type[DossierChange], tuple[str, str]] = {
    ev.DossierSubmitted: ("Đã nhận hồ sơ trực tuyến {code}",
                          "Hồ sơ {code} ({procedure}) đã được nộp trực tuyến lúc {at} và đang chờ cán bộ tiếp nhận kiểm tra."),
    ev.DossierIntakeSupplementRequested: ("Hồ sơ {code} cần bổ sung",
                                          "Hồ sơ {code} cần bổ sung trước khi tiếp nhận: {reason}"),
    ev.DossierRefusedAtIntake: ("Hồ sơ {code} không được tiếp nhận", "Lý do: {reason}"),
    ev.DossierReceived: ("Hồ sơ {code} đã được tiếp nhận",
                         "Hồ sơ {code} ({procedure}) đã được tiếp nhận lúc {received}. Hẹn trả kết quả: {due}."),
    ev.DossierFeesRequested: ("Hồ sơ {code}: đề nghị nộp phí, lệ phí", "Hồ sơ {code} cần nộp phí, lệ phí để nhận kết quả."),
    ev.DossierSupplementRequested: ("Hồ sơ {code} cần bổ sung", "Cơ quan giải quyết đề nghị bổ sung hồ sơ {code}: {reason}"),
    ev.DossierSupplementProvided: ("Hồ sơ {code} đã được bổ sung",
                                   "Hồ sơ {code} đã được bổ sung. Hẹn trả kết quả mới: {due}."),
    ev.DossierRefused: ("Hồ sơ {code} bị từ chối giải quyết", "Lý do: {reason}"),
    ev.DossierExtended: ("Thư xin lỗi và hẹn lại ngày trả kết quả hồ sơ {code}",
                         "Chúng tôi xin lỗi vì hồ sơ {code} chưa giải quyết đúng hẹn. Lý do: {reason}. "
                         "Hẹn trả kết quả mới: {due}."),
    ev.DossierStopped: ("Hồ sơ {code} đã dừng xử lý", "Hồ sơ {code} đã dừng xử lý. {reason}"),
    ev.DossierResolved: ("Hồ sơ {code} đã có kết quả", "Hồ sơ {code} ({procedure}) đã giải quyết xong."),
    ev.DossierReturned: ("Đã trả kết quả hồ sơ {code}", "Kết quả hồ sơ {code} đã được trả. Cảm ơn ông/bà."),
}
OFFICER_TEXTS: dict[type[DossierChange], tuple[str, str]] = {
    ev.DossierOverdue: ("Hồ sơ {code} đã quá hạn", "Hồ sơ {code} ({procedure}) đã quá hạn giải quyết ({due})."),
    ev.DossierStalled: ("Hồ sơ {code} chưa được xử lý", "Hồ sơ {code} ({procedure}) không có tiến triển từ {idle}."),
}


def messages_for(event_id: str, data: EventData, *, now: datetime, tz: ZoneInfo) -> list[OutboundMessage]:
    if not isinstance(data, DossierChange):
        return []
    texts = CITIZEN_TEXTS.get(type(data)) or OFFICER_TEXTS.get(type(data))
    if texts is None:
        return []
    fields = {"code": data.code, "procedure": data.procedure_name, "at": _local(data.occurred_at, tz),
              "received": _local(data.received_at, tz), "due": _local(data.due_at, tz), "reason": data.reason or "",
              "idle": _local(getattr(data, "idle_since", None), tz)}
    subject, body = (t.format(**fields) for t in texts)
    if type(data) in OFFICER_TEXTS:
        # The leader's inbox of the agency holding the dossier (the centre's before any transfer).
        targets: list[tuple[Channel, str]] = [("in_app", f"agency:{data.current_agency or data.agency_code}")]
    else:
        contact = data.applicant
        targets = [("in_app", data.code)]
        if contact and contact.email:
            targets.append(("email", contact.email))
        if contact and contact.phone:
            targets.append(("sms", contact.phone))
    return [OutboundMessage(id=message_id(event_id, channel, recipient), cause_event_id=event_id,
                            cause_event_type=data.event_type, dossier_code=data.code, channel=channel,
                            recipient=recipient, subject=subject, body=body, recorded_at=now)
            for channel, recipient in targets]
