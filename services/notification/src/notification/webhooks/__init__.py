"""Outbound webhooks: integrations (the national public-service portal…) subscribe to event types and
receive each matching event by a signed HTTP POST, retried with backoff, with a delivery log an operator
can read and replay.

The composition root calls `install_webhooks` and includes the router it returns."""

from fastapi import APIRouter
from kit.runtime import Runtime

from notification.webhooks.api import create_router
from notification.webhooks.service import CONSUMER_GROUP, Webhooks
from notification.webhooks.settings import WebhookSettings
from notification.webhooks.signing import SIGNATURE_HEADER, sign, verify

__all__ = ["SIGNATURE_HEADER", "WebhookSettings", "Webhooks", "install_webhooks", "sign", "verify"]


def install_webhooks(runtime: Runtime, settings: WebhookSettings, topics: list[str]) -> tuple[Webhooks, APIRouter]:
    """Consume `topics` (group "notification-webhooks"), run the delivery worker while the service runs,
    and return the service with its admin routes."""
    webhooks = Webhooks(runtime, settings, topics=topics)
    for topic in topics:
        runtime.subscribe(topic, CONSUMER_GROUP, webhooks.on_event)
    # The worker polls every poll_seconds and is woken at once by new deliveries and replays; if it fails,
    # the runtime logs it and starts it again after poll_seconds.
    runtime.every(settings.poll_seconds, webhooks.work, name="webhook-deliveries")
    return webhooks, create_router(webhooks)
