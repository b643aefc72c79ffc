"""Send one e-mail through the configured SMTP relay and classify the outcome.

A failure is *permanent* only when the relay refused this recipient or this message with a 5xx reply:
retrying cannot help. Everything else (4xx, connection errors, time-outs, and refusals caused by our own
configuration such as authentication, sender or TLS) is *temporary*, so the message is retried or parked,
never silently dropped while an operator fixes the relay settings.
"""

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

import aiosmtplib
from email_validator import EmailNotValidError, validate_email

from notification.email.settings import SmtpSettings

log = logging.getLogger("notification.email")

# Characters allowed in the left part of a Message-ID (RFC 5322 dot-atom-text, minus the rarely safe ones).
_MESSAGE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class InvalidAddress(ValueError):
    """The recipient is not a deliverable e-mail address; raised before any connection is made."""


@dataclass(frozen=True)
class SendResult:
    accepted: bool
    temporary: bool = False
    error: str | None = None
    code: int | None = None  # the SMTP reply code when the relay answered, for the delivery record


def mask_address(address: str) -> str:
    """`an.nguyen@example.vn` → `a***@example.vn`: enough to tell deliveries apart in logs, not to identify."""
    local, at, domain = address.rpartition("@")
    if not at or not local:
        return "***"
    return f"{local[0]}***@{domain}"


def validate_address(address: str) -> str:
    """The address in the ASCII form an SMTP envelope carries (an IDN domain becomes punycode)."""
    try:
        # No DNS lookup: it is slow, fails offline, and the relay tells us about dead domains anyway.
        # No SMTPUTF8: a non-ASCII local part needs every hop to support it, which we cannot promise.
        valid = validate_email(address, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        # The reason, not the address: exceptions end up in logs.
        raise InvalidAddress(f"không phải địa chỉ e-mail hợp lệ / not a valid e-mail address: {exc}") from None
    return valid.ascii_email or valid.normalized


class EmailSender:
    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings
        self._domain = settings.from_address.rpartition("@")[2] or "motcua.local"

    def message_id(self, message_id: str) -> str:
        """The same id gives the same header, so a resend is recognisable as such by the recipient's client."""
        if not _MESSAGE_ID.fullmatch(message_id):
            raise ValueError("message_id must be 1-128 letters, digits, '.', '_' or '-'")
        return f"<motcua.{message_id}@{self._domain}>"

    def build(self, to: str, subject: str, text: str, html: str | None, message_id: str) -> EmailMessage:
        s = self._settings
        message = EmailMessage(policy=policy.SMTP)
        message["From"] = Address(display_name=s.from_name, addr_spec=s.from_address)
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = self.message_id(message_id)
        # RFC 3834: keeps out-of-office robots from answering a no-reply address.
        message["Auto-Submitted"] = "auto-generated"
        # Quoted-printable keeps Vietnamese text 7-bit clean for relays without 8BITMIME, yet readable.
        message.set_content(text, charset="utf-8", cte="quoted-printable")
        if html is not None:
            message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
        return message

    async def send(self, to: str, subject: str, text: str, html: str | None = None, *, message_id: str) -> SendResult:
        address = validate_address(to)
        masked = mask_address(address)
        message = self.build(address, subject, text, html, message_id)
        s = self._settings
        try:
            await aiosmtplib.send(
                message,
                hostname=s.host,
                port=s.port,
                username=s.username,
                password=s.password.get_secret_value() if s.password else None,
                use_tls=s.security == "tls",
                start_tls=s.security == "starttls",
                timeout=s.timeout_seconds,
            )
        except Exception as exc:  # classified below; anything unknown is temporary so nothing is lost
            result = _classify(exc, address, masked)
            log.warning(
                "e-mail %s to %s failed (%s): %s",
                message["Message-ID"],
                masked,
                "temporary" if result.temporary else "permanent",
                result.error,
            )
            return result
        log.info("e-mail %s sent to %s", message["Message-ID"], masked)
        return SendResult(accepted=True)


def _classify(exc: Exception, address: str, masked: str) -> SendResult:
    code = None
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        exc = exc.recipients[0]
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        code = exc.code
        error = f"{exc.code} {exc.message}"
    else:
        error = f"{type(exc).__name__}: {exc}"
    # Relays often echo the recipient in their reply; the error is stored and logged, so mask it.
    error = error.replace(address, masked)
    refused = isinstance(exc, (aiosmtplib.SMTPRecipientRefused, aiosmtplib.SMTPDataError))
    permanent = refused and code is not None and 500 <= code < 600
    return SendResult(accepted=False, temporary=not permanent, error=error, code=code)
