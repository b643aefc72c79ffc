"""Outbound messages and their delivery: the states, the retry schedule, the fallback channel. Pure.

What a message says comes from the operator's rules and templates (rules.py, templates.py); this module
only knows how one message moves: queued → sending → sent → delivered, or failed (temporary: retries ran
out; permanent: the recipient or the text is refused). A message that fails for good hands over to the
next channel the citizen can be reached on."""

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel

Channel = Literal["in_app", "email", "sms"]
Language = Literal["vi", "en"]
Status = Literal["queued", "sending", "sent", "delivered", "failed"]
Outcome = Literal["sent", "delivered", "temporary", "permanent"]
CHANNELS: tuple[Channel, ...] = ("in_app", "email", "sms")
# When a channel fails for good, the citizen is told on the other one (in-app is always recorded anyway).
FALLBACK: dict[Channel, Channel] = {"email": "sms", "sms": "email"}


class Attempt(BaseModel):
    at: datetime
    outcome: Outcome
    provider: str | None = None
    tries: int = 1  # calls made to providers in this attempt (the SMS failover retries within one)
    detail: str | None = None  # the provider's or relay's answer, personal data masked


class OutboundMessage(BaseModel):
    id: str
    cause_event_id: str
    cause_event_type: str
    dossier_code: str | None
    channel: Channel
    recipient: str  # personal data: stored for delivery, never logged
    language: Language = "vi"
    template: str | None = None  # "<key>@<version>" the text was rendered from
    subject: str
    body: str
    status: Status = "queued"
    failure: Literal["temporary", "permanent"] | None = None
    error: str | None = None
    attempts: list[Attempt] = []
    next_attempt_at: datetime | None = None
    lease_until: datetime | None = None  # a worker is sending it; past this, another may retry it
    provider: str | None = None
    provider_id: str | None = None
    fallback_of: str | None = None  # the message on another channel this one replaces
    recorded_at: datetime
    sent_at: datetime | None = None
    delivered_at: datetime | None = None

    @property
    def is_final(self) -> bool:
        return self.status in ("delivered", "failed")


def message_id(event_id: str, channel: str, recipient: str) -> str:
    """Exactly one message per event, recipient and channel, whatever the redeliveries."""
    digest = hashlib.sha256(f"{event_id}|{channel}|{recipient}".encode()).hexdigest()[:32]
    return f"msg-{digest}"


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5  # tries of one message on its channel, the first included
    backoff: timedelta = timedelta(seconds=30)  # doubled after each temporary failure
    max_backoff: timedelta = timedelta(minutes=30)
    lease: timedelta = timedelta(minutes=2)  # longer than any send takes (SMS failover included)

    def delay(self, failures: int) -> timedelta:
        return min(self.backoff * 2 ** max(failures - 1, 0), self.max_backoff)


@dataclass(frozen=True)
class SendOutcome:
    outcome: Outcome
    provider: str | None = None
    provider_id: str | None = None
    detail: str | None = None
    tries: int = 1


def claim(message: OutboundMessage, now: datetime, policy: RetryPolicy) -> OutboundMessage:
    return message.model_copy(update={"status": "sending", "lease_until": now + policy.lease})


def after_attempt(message: OutboundMessage, result: SendOutcome, now: datetime,
                  policy: RetryPolicy) -> OutboundMessage:
    attempts = [*message.attempts, Attempt(at=now, outcome=result.outcome, provider=result.provider,
                                           tries=result.tries, detail=result.detail)]
    update: dict = {"attempts": attempts, "lease_until": None}
    if result.outcome in ("sent", "delivered"):
        update.update(status=result.outcome, sent_at=now, provider=result.provider, provider_id=result.provider_id,
                      next_attempt_at=None, error=None)
        if result.outcome == "delivered":
            update["delivered_at"] = now
    elif result.outcome == "temporary" and len(attempts) < policy.attempts:
        update.update(status="queued", next_attempt_at=now + policy.delay(len(attempts)), error=result.detail)
    else:
        update.update(status="failed", failure=result.outcome if result.outcome == "permanent" else "temporary",
                      next_attempt_at=None, error=result.detail)
    return message.model_copy(update=update)


def after_report(message: OutboundMessage, delivered: bool, detail: str | None, now: datetime) -> OutboundMessage:
    """The provider's delivery report (SMS): the handset got it, or the network gave up on it."""
    if message.is_final:
        return message  # a late or repeated report changes nothing
    if delivered:
        return message.model_copy(update={"status": "delivered", "delivered_at": now})
    return message.model_copy(update={"status": "failed", "failure": "permanent", "error": detail})


def fails_over(message: OutboundMessage) -> Channel | None:
    """The channel to try next when this message failed for good, if any."""
    return FALLBACK.get(message.channel) if message.status == "failed" and message.fallback_of is None else None
