"""E-mail delivery over SMTP."""

from notification.email.sender import EmailSender, InvalidAddress, SendResult, mask_address, validate_address
from notification.email.settings import SmtpSettings

__all__ = ["EmailSender", "InvalidAddress", "SendResult", "SmtpSettings", "mask_address", "validate_address"]
