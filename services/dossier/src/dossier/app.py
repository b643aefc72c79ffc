"""Composition root of the dossier service (the write side)."""

from zoneinfo import ZoneInfo

import httpx

from fastapi import FastAPI

from kit.blobs import make_blobs
from kit.bus import EventBus
from kit.http import create_service_app
from kit.runtime import Runtime
from kit.store import DocumentStore

from contracts.catalog import TOPIC as CATALOG_EVENTS
from contracts.payment import TOPIC as PAYMENT_EVENTS
from dossier import api, api_calendar, api_intake, api_reports, gauges, handlers
from dossier.attachments import Attachments, Limits
from dossier.handlers import Deps
from dossier.idempotency import Idempotency
from dossier.policy import COLLECTION as CALENDAR
from dossier.policy import PolicySource
from dossier.procedures import ProcedureCopy
from dossier.satisfaction import FEEDBACK_TOPIC, DossierFeedback
from dossier.settings import DossierSettings
from dossier.store import DOSSIERS, DossierStore


def create_app(settings: DossierSettings | None = None, *, bus: EventBus | None = None,
               store: DocumentStore | None = None, catalog_client: httpx.AsyncClient | None = None) -> FastAPI:
    settings = settings or DossierSettings()
    runtime = Runtime(settings, bus=bus, store=store)
    runtime.outbox(DOSSIERS, CALENDAR)
    procedures = ProcedureCopy(runtime.store, settings.catalog_url, catalog_client)
    runtime.subscribe(CATALOG_EVENTS, "dossier", procedures.on_catalog_event)
    deps = Deps(dossiers=DossierStore(runtime), procedures=procedures, policy=PolicySource(runtime.store, settings),
                blobs=make_blobs(settings, runtime.store), settings=settings,
                pepper=settings.security_pepper.get_secret_value(), timezone=ZoneInfo(settings.timezone))
    runtime.subscribe(PAYMENT_EVENTS, "dossier.payment", lambda event: handlers.on_payment_event(deps, event))
    runtime.subscribe(FEEDBACK_TOPIC, "dossier-satisfaction", DossierFeedback(runtime.store).on_feedback_event)
    runtime.every(settings.timer_poll_seconds, lambda: handlers.fire_due_timers(deps), name="dossier-timers")
    runtime.gauges(lambda: gauges.refresh(deps.dossiers))
    intake = api_intake.IntakeParts(
        attachments=Attachments(runtime.store, deps.blobs, grace_seconds=settings.upload_grace_seconds),
        idempotency=Idempotency(runtime.store, deps.pepper, ttl_seconds=settings.idempotency_ttl_seconds,
                                wait_seconds=settings.idempotency_wait_seconds,
                                lease_seconds=settings.idempotency_lease_seconds),
        limits=Limits.of(settings))
    # Files whose dossier was never saved (a crash in between), and Idempotency-Keys past their 24 h.
    runtime.every(settings.intake_sweep_seconds, intake.attachments.sweep, name="dossier-orphan-files")
    runtime.every(settings.intake_sweep_seconds, intake.idempotency.sweep, name="dossier-idempotency-keys")

    async def on_startup() -> None:
        await deps.dossiers.ensure_indexes()
        await intake.attachments.ensure_indexes()
        await intake.idempotency.ensure_indexes()

    app = create_service_app(runtime, title="Một Cửa — dossiers",
                             description="The dossier lifecycle under the one-stop-shop rules (Decree 118/2025).",
                             routers=[api.router, api_intake.router, api_reports.router, api_calendar.router],
                             on_startup=on_startup)
    app.state.deps = deps
    app.state.intake = intake
    api_intake.document(app)
    return app
