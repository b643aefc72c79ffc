"""Outbound webhook settings, from MOTCUA_WEBHOOK_* environment variables."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebhookSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOTCUA_WEBHOOK_", extra="ignore")

    # Tries of one delivery (the first included) before it is "dead" and waits for an operator's replay.
    attempts: int = Field(default=8, ge=1, le=50)
    # Wait after the first failed try, doubling after each further one, never above the maximum.
    backoff_seconds: float = Field(default=2.0, ge=0)
    max_backoff_seconds: float = Field(default=600.0, ge=0)
    # The whole request (connect, send, answer) to an integration's endpoint.
    timeout_seconds: float = Field(default=5.0, gt=0)
    # How often due deliveries (retries) are looked for; new ones wake the worker at once.
    poll_seconds: float = Field(default=1.0, gt=0)
    # Subscription URLs must be https unless this is set (development, tests on loopback).
    allow_plain_http: bool = False
    # How far a signature's timestamp may be from the receiver's clock (`verify`).
    signature_tolerance_seconds: int = Field(default=300, gt=0)
    # After a secret rotation, deliveries are also signed with the previous secret this long, so the
    # integration can switch over without a failed delivery (0: the old secret stops at once).
    previous_secret_valid_seconds: int = Field(default=86_400, ge=0, le=7 * 86_400)
