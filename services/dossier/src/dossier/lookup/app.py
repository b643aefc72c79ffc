"""Composition root of the lookup process."""

import logging

from fastapi import FastAPI
from starlette.middleware import Middleware

from kit.bus import EventBus
from kit.cache import Cache
from kit.cache.memory import MemoryCache
from kit.http import create_service_app
from kit.runtime import Runtime

from contracts.dossier import TOPIC as DOSSIER_EVENTS
from dossier.lookup import api
from dossier.lookup.fast import FastLookup
from dossier.lookup.projection import LookupProjection
from dossier.lookup.rebuild import rebuild
from dossier.settings import LookupSettings

log = logging.getLogger("dossier.lookup")


def create_app(settings: LookupSettings | None = None, *, bus: EventBus | None = None,
               cache: Cache | None = None) -> FastAPI:
    settings = settings or LookupSettings()
    runtime = Runtime(settings, bus=bus, cache=cache, uses_store=False, uses_cache=True)
    projection = LookupProjection(runtime.cache)
    # Idempotent by construction: the projection keeps the highest sequence it has seen.
    runtime.subscribe(DOSSIER_EVENTS, "lookup", projection.apply, idempotent=False)

    async def rebuild_read_model() -> None:
        report = await rebuild(runtime.bus, runtime.cache)
        log.info("lookup read model rebuilt from the event log",
                 extra={"events": report.events, "dossiers": report.dossiers})

    # An in-process read model starts empty, while the group's committed offsets (durable on Kafka or
    # in the embedded bus's file) skip what was applied before: so it is rebuilt from the log first.
    in_process = isinstance(runtime.cache, MemoryCache)
    pepper = settings.security_pepper.get_secret_value()
    app = create_service_app(runtime, title="Một Cửa — status lookup",
                             description="Dossier status by dossier code and security code.", routers=[api.router],
                             on_startup=rebuild_read_model if in_process else None,
                             fast_paths=[Middleware(FastLookup, cache=runtime.cache, pepper=pepper)])
    app.state.cache = runtime.cache
    app.state.pepper = pepper
    return app
