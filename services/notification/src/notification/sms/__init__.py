"""SMS through HTTP gateway providers, with failover, signed delivery callbacks and GSM-7/UCS-2 length rules."""

from notification.sms.base import (DeliveryReport, InvalidPhoneNumber, ProviderError, SendResult, SmsProvider,
                                   mask_phone, normalize_phone)
from notification.sms.failover import FailoverResult, FailoverSender
from notification.sms.http_gateway import HttpSmsGateway
from notification.sms.settings import SmsSandboxSettings, SmsSettings
from notification.sms.text import Segments, segments, unaccent

__all__ = ["DeliveryReport", "FailoverResult", "FailoverSender", "HttpSmsGateway", "InvalidPhoneNumber",
           "ProviderError", "Segments", "SendResult", "SmsProvider", "SmsSandboxSettings", "SmsSettings",
           "mask_phone", "normalize_phone", "segments", "unaccent"]
