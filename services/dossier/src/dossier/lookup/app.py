"""Composition root of the lookup process."""

from fastapi import FastAPI

from kit.bus import EventBus
from kit.cache import Cache
from kit.http import create_service_app
from kit.runtime import Runtime

from contracts.dossier import TOPIC as DOSSIER_EVENTS
from dossier.lookup import api
from dossier.lookup.projection import LookupProjection
from dossier.settings import LookupSettings


def create_app(settings: LookupSettings | None = None, *, bus: EventBus | None = None,
               cache: Cache | None = None) -> FastAPI:
    settings = settings or LookupSettings()
    runtime = Runtime(settings, bus=bus, cache=cache, uses_store=False, uses_cache=True)
    projection = LookupProjection(runtime.cache)
    # Idempotent by construction: the projection keeps the highest sequence it has seen.
    runtime.subscribe(DOSSIER_EVENTS, "lookup", projection.apply, idempotent=False)
    app = create_service_app(runtime, title="Một Cửa — status lookup",
                             description="Dossier status by dossier code and security code.", routers=[api.router])
    app.state.cache = runtime.cache
    app.state.pepper = settings.security_pepper.get_secret_value()
    return app
