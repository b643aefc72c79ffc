"""Composition root of the notification service."""

from zoneinfo import ZoneInfo

from fastapi import FastAPI

from kit.bus import EventBus
from kit.http import create_service_app
from kit.runtime import Runtime
from kit.store import DocumentStore

from contracts.dossier import TOPIC as DOSSIER_EVENTS
from notification import api
from notification.handlers import MESSAGES, Notifications
from notification.settings import NotificationSettings


def create_app(settings: NotificationSettings | None = None, *, bus: EventBus | None = None,
               store: DocumentStore | None = None) -> FastAPI:
    settings = settings or NotificationSettings()
    runtime = Runtime(settings, bus=bus, store=store)
    runtime.outbox(MESSAGES)
    notifications = Notifications(runtime, ZoneInfo(settings.timezone))
    runtime.subscribe(DOSSIER_EVENTS, "notification", notifications.on_event)

    async def on_startup() -> None:
        await runtime.store.collection(MESSAGES).ensure_index(["dossier_code"])

    app = create_service_app(runtime, title="Một Cửa — notifications",
                             description="SMS, e-mail, in-app messages and webhooks.", routers=[api.router],
                             on_startup=on_startup)
    app.state.notifications = notifications
    return app
