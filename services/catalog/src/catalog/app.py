"""Composition root of the catalogue: settings → adapters → handlers → app."""

from fastapi import FastAPI

from kit.blobs import make_blobs
from kit.bus import EventBus
from kit.http import create_service_app
from kit.runtime import Runtime
from kit.store import DocumentStore

from catalog import api
from catalog.forms import Forms
from catalog.handlers import Catalog
from catalog.seed import seed
from catalog.settings import CatalogSettings
from catalog.store import PROCEDURES, CatalogStore


def create_app(settings: CatalogSettings | None = None, *, bus: EventBus | None = None,
               store: DocumentStore | None = None) -> FastAPI:
    settings = settings or CatalogSettings()
    runtime = Runtime(settings, bus=bus, store=store)
    runtime.outbox(PROCEDURES)
    catalog = Catalog(CatalogStore(runtime))

    async def on_startup() -> None:
        if settings.seed_demo:
            await seed(catalog)

    app = create_service_app(runtime, title="Một Cửa — procedure catalogue",
                             description="Administrative procedures, fees, forms, agencies and centres.",
                             routers=[api.router], on_startup=on_startup)
    app.state.catalog = catalog
    app.state.forms = Forms(runtime.store.collection("forms"), make_blobs(settings, runtime.store))
    return app
