"""SMS settings from MOTCUA_SMS_* environment variables: two gateways (primary, secondary), the failover
policy, and the sandbox gateway (`python -m notification.sms.sandbox`, MOTCUA_SMS_SANDBOX_*).

The defaults point at sandboxes on loopback with development keys: production sets every key and secret."""

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_API_KEY = "MOTCUA-SMS-SANDBOX-KEY-NOT-FOR-PRODUCTION"
DEVELOPMENT_CALLBACK_SECRET = "MOTCUA-SMS-SANDBOX-SECRET-NOT-FOR-PRODUCTION"


class SmsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOTCUA_SMS_", extra="ignore")

    primary_name: str = "sandbox-primary"
    primary_url: str = "http://127.0.0.1:8197"
    primary_api_key: SecretStr = SecretStr(DEVELOPMENT_API_KEY)
    primary_callback_secret: SecretStr = SecretStr(DEVELOPMENT_CALLBACK_SECRET)
    # Unset: no failover, the primary alone.
    secondary_name: str = "sandbox-secondary"
    secondary_url: str | None = "http://127.0.0.1:8198"
    secondary_api_key: SecretStr = SecretStr(DEVELOPMENT_API_KEY)
    secondary_callback_secret: SecretStr = SecretStr(DEVELOPMENT_CALLBACK_SECRET)

    connect_timeout_seconds: float = Field(default=1.0, gt=0)
    timeout_seconds: float = Field(default=3.0, gt=0)
    # Tries per provider and call (the first included) on temporary failures, with doubling backoff.
    attempts: int = Field(default=4, ge=1, le=10)
    backoff_seconds: float = Field(default=0.2, ge=0)
    max_backoff_seconds: float = Field(default=2.0, ge=0)
    # Consecutive failed tries (across calls) that open a provider's circuit, and how long it stays open.
    breaker_failures: int = Field(default=5, ge=1)
    breaker_cooldown_seconds: float = Field(default=30.0, ge=0)
    # Longer texts are refused before sending (each part is billed).
    max_parts: int = Field(default=5, ge=1, le=10)


class SmsSandboxSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOTCUA_SMS_SANDBOX_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8197, ge=0, le=65535)
    api_key: SecretStr = SecretStr(DEVELOPMENT_API_KEY)
    callback_secret: SecretStr = SecretStr(DEVELOPMENT_CALLBACK_SECRET)
    # Where delivery reports are POSTed (the notification service's callback route). Unset: none are sent.
    callback_url: str | None = None
    report_delay_seconds: float = Field(default=0.0, ge=0)
    # The /_sandbox routes (failure injection, the message log).
    test_hooks: bool = True
