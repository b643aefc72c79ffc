"""Composition root of the notification service."""

from datetime import timedelta
from zoneinfo import ZoneInfo

from fastapi import FastAPI

from kit.bus import EventBus
from kit.http import create_service_app
from kit.runtime import Runtime
from kit.store import DocumentStore

from contracts.catalog import TOPIC as CATALOG_EVENTS
from contracts.dossier import TOPIC as DOSSIER_EVENTS
from contracts.feedback import TOPIC as FEEDBACK_EVENTS
from contracts.payment import TOPIC as PAYMENT_EVENTS
from notification import api, api_library
from notification.channels import EmailChannel, SmsChannel
from notification.contacts import DossierContacts
from notification.delivery import DeliveryWorker
from notification.domain import RetryPolicy
from notification.email import EmailSender, SmtpSettings
from notification.handlers import Notifications
from notification.library import Library
from notification.placeholders import Links
from notification.preferences import PreferenceStore
from notification.records import INDEXES, MESSAGES
from notification.settings import NotificationSettings
from notification.sms import FailoverSender, HttpSmsGateway, SmsSettings
from notification.webhooks import WebhookSettings, install_webhooks


def create_app(settings: NotificationSettings | None = None, *, bus: EventBus | None = None,
               store: DocumentStore | None = None, smtp: SmtpSettings | None = None, sms: SmsSettings | None = None,
               webhooks: WebhookSettings | None = None) -> FastAPI:
    settings = settings or NotificationSettings()
    sms = sms or SmsSettings()
    runtime = Runtime(settings, bus=bus, store=store)
    runtime.outbox(MESSAGES)
    store = runtime.store
    library = Library(store, sms_max_parts=settings.sms_max_parts)
    sms_sender = FailoverSender.from_settings(sms, HttpSmsGateway.from_settings(sms))
    policy = RetryPolicy(attempts=settings.delivery_attempts,
                         backoff=timedelta(seconds=settings.delivery_backoff_seconds),
                         max_backoff=timedelta(seconds=settings.delivery_max_backoff_seconds))
    worker = DeliveryWorker(store.collection(MESSAGES),
                            {"email": EmailChannel(EmailSender(smtp or SmtpSettings())),
                             "sms": SmsChannel(sms_sender, max_parts=sms.max_parts,
                                               always_unaccented=settings.sms_unaccented)},
                            policy, poll_seconds=settings.delivery_poll_seconds,
                            concurrency=settings.delivery_concurrency, notify_outbox=runtime.notify_outbox)
    notifications = Notifications(
        store, library=library, preferences=PreferenceStore(store), contacts=DossierContacts(store), worker=worker,
        sms=sms_sender, tz=ZoneInfo(settings.timezone),
        links=Links(lookup_url=settings.lookup_link_template, payment_url=settings.payment_url_template,
                    petition_url=settings.petition_url_template),
        notify_outbox=runtime.notify_outbox)
    worker.on_final = notifications.on_final
    for topic in (DOSSIER_EVENTS, PAYMENT_EVENTS, FEEDBACK_EVENTS):
        runtime.subscribe(topic, "notification", notifications.on_event)
    runtime.every(0, worker.cycle, name="message-deliveries")
    hooks, hooks_router = install_webhooks(runtime, webhooks or WebhookSettings(),
                                           [DOSSIER_EVENTS, PAYMENT_EVENTS, CATALOG_EVENTS, FEEDBACK_EVENTS])

    async def on_startup() -> None:
        messages = store.collection(MESSAGES)
        for fields in INDEXES:
            await messages.ensure_index(fields)
        await library.ensure_started()

    app = create_service_app(runtime, title="Một Cửa — notifications",
                             description="SMS, e-mail, in-app messages and webhooks, by rules and templates an "
                                         "operator keeps.",
                             routers=[api.router, api_library.router, hooks_router], on_startup=on_startup,
                             on_shutdown=sms_sender.aclose)
    app.state.notifications = notifications
    app.state.preferences = notifications.preferences
    app.state.library = library
    app.state.webhooks = hooks
    app.state.worker = worker
    return app
