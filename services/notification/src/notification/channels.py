"""The delivery channels behind one interface: send a message, get an outcome the worker can act on."""

from typing import Protocol

from notification.domain import OutboundMessage, SendOutcome
from notification.email import EmailSender, InvalidAddress
from notification.sms import FailoverSender, InvalidPhoneNumber, segments, unaccent


class ChannelSender(Protocol):
    async def send(self, message: OutboundMessage) -> SendOutcome: ...


class EmailChannel:
    """SMTP acceptance is "sent": e-mail has no delivery report we could wait for."""

    def __init__(self, sender: EmailSender):
        self.sender = sender

    async def send(self, message: OutboundMessage) -> SendOutcome:
        try:
            result = await self.sender.send(message.recipient, message.subject, message.body, message_id=message.id)
        except InvalidAddress as exc:
            return SendOutcome("permanent", detail=str(exc))
        if result.accepted:
            return SendOutcome("sent", provider="smtp")
        return SendOutcome("temporary" if result.temporary else "permanent", provider="smtp", detail=result.error)


class SmsChannel:
    """Through the providers with failover. A text too long accented is sent unaccented when that fits
    (Vietnamese stays readable without diacritics), or always unaccented when the brand name requires it."""

    def __init__(self, sender: FailoverSender, *, max_parts: int, always_unaccented: bool = False):
        self.sender = sender
        self.max_parts = max_parts
        self.always_unaccented = always_unaccented

    def text_for(self, body: str) -> str:
        if self.always_unaccented or segments(body).parts > self.max_parts:
            return unaccent(body)
        return body

    async def send(self, message: OutboundMessage) -> SendOutcome:
        text = self.text_for(message.body)
        if segments(text).parts > self.max_parts:
            return SendOutcome("permanent", detail=f"the text takes {segments(text).parts} SMS parts "
                                                   f"even unaccented (at most {self.max_parts})")
        try:
            sent = await self.sender.send(message.recipient, text, message.id)
        except InvalidPhoneNumber as exc:
            return SendOutcome("permanent", detail=str(exc))
        result = sent.result
        if result.accepted:
            return SendOutcome("sent", provider=sent.provider, provider_id=result.provider_id, tries=sent.attempts)
        return SendOutcome("temporary" if result.temporary else "permanent", detail=result.error, tries=sent.attempts)
