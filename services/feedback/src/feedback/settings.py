from pydantic import Field

from kit.settings import PlatformSettings


class FeedbackSettings(PlatformSettings):
    service_name: str = "feedback"
    port: int = 8106
    timezone: str = "Asia/Ho_Chi_Minh"
    # The working day, as the dossier service counts it (the same MOTCUA_* variables); the operator's days
    # off and make-up working days come from the dossier service's calendar.changed events.
    morning_start: str = "07:00"
    morning_end: str = "11:30"
    afternoon_start: str = "13:30"
    afternoon_end: str = "17:00"
    # Working days for each step (766/QĐ-TTg, DOMAIN.md section 6).
    decision_working_days: float = Field(default=2, gt=0, le=60)
    information_working_days: float = Field(default=5, gt=0, le=60)
    answer_working_days: float = Field(default=15, gt=0, le=120)
    publication_working_days: float = Field(default=2, gt=0, le=60)
    timer_poll_seconds: float = Field(default=5.0, gt=0)
    # Attachments to a petition: PDF, JPEG or PNG, checked by content.
    max_attachments: int = Field(default=5, ge=0, le=20)
    max_attachment_bytes: int = Field(default=5 * 1024 * 1024, gt=0)
    # Open311 GeoReport v2: the jurisdiction this endpoint answers for.
    open311_jurisdiction: str = "quangninh.gov.vn"
