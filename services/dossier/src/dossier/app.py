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
from dossier import api, handlers
from dossier.handlers import Deps
from dossier.policy import PolicySource
from dossier.procedures import ProcedureCopy
from dossier.settings import DossierSettings
from dossier.store import DOSSIERS, DossierStore


def create_app(settings: DossierSettings | None = None, *, bus: EventBus | None = None,
               store: DocumentStore | None = None, catalog_client: httpx.AsyncClient | None = None) -> FastAPI:
    settings = settings or DossierSettings()
    runtime = Runtime(settings, bus=bus, store=store)
    runtime.outbox(DOSSIERS)
    procedures = ProcedureCopy(runtime.store, settings.catalog_url, catalog_client)
    runtime.subscribe(CATALOG_EVENTS, "dossier", procedures.on_catalog_event)
    deps = Deps(dossiers=DossierStore(runtime), procedures=procedures, policy=PolicySource(runtime.store, settings),
                blobs=make_blobs(settings, runtime.store), settings=settings,
                pepper=settings.security_pepper.get_secret_value(), timezone=ZoneInfo(settings.timezone))
    runtime.every(settings.timer_poll_seconds, lambda: handlers.fire_due_timers(deps), name="dossier-timers")

    async def on_startup() -> None:
        await deps.dossiers.ensure_indexes()

    app = create_service_app(runtime, title="Một Cửa — dossiers",
                             description="The dossier lifecycle under the one-stop-shop rules (Decree 118/2025).",
                             routers=[api.router], on_startup=on_startup)
    app.state.deps = deps
    return app
