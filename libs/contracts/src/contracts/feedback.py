"""Events of the feedback service."""

from datetime import datetime
from typing import Literal

from contracts.base import EventData, contract

TOPIC = "feedback.events"


@contract("vn.motcua.feedback.received.v1", TOPIC, "A petition (phản ánh, kiến nghị) was received.")
class FeedbackReceived(EventData):
    petition_id: str
    category: Literal["procedure", "conduct"]
    dossier_code: str | None = None
    received_at: datetime
