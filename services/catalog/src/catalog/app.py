"""Composition root of the catalogue: settings → adapters → handlers → app."""

import logging

from fastapi import FastAPI

from kit.bus import EventBus
from kit.http import create_service_app
from kit.problems import Conflict
from kit.runtime import Runtime
from kit.store import DocumentStore

from catalog import api, handlers
from catalog.seed import DEMO_PROCEDURES
from catalog.settings import CatalogSettings
from catalog.store import COLLECTION, ProcedureStore

log = logging.getLogger("catalog")


def create_app(settings: CatalogSettings | None = None, *, bus: EventBus | None = None,
               store: DocumentStore | None = None) -> FastAPI:
    settings = settings or CatalogSettings()
    runtime = Runtime(settings, bus=bus, store=store)
    runtime.outbox(COLLECTION)

    async def on_startup() -> None:
        procedures = ProcedureStore(runtime)
        app.state.procedures = procedures
        if settings.seed_demo:
            await seed_demo(procedures)

    app = create_service_app(runtime, title="Một Cửa — procedure catalogue",
                             description="Administrative procedures, fees, forms, agencies and centres.",
                             routers=[api.router], on_startup=on_startup)
    return app


async def seed_demo(procedures: ProcedureStore) -> int:
    added = 0
    for draft in DEMO_PROCEDURES:
        try:
            await handlers.publish_procedure(procedures, draft=draft)
            added += 1
        except Conflict:
            pass
    log.info("seeded %d demo procedures", added)
    return added
