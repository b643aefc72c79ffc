"""Composition root of the payment service."""

from fastapi import FastAPI

from kit.bus import EventBus
from kit.http import create_service_app
from kit.runtime import Runtime
from kit.store import DocumentStore

from contracts.catalog import TOPIC as CATALOG_EVENTS
from contracts.dossier import TOPIC as DOSSIER_EVENTS
from payment import api
from payment.handlers import Fees
from payment.settings import PaymentSettings


def create_app(settings: PaymentSettings | None = None, *, bus: EventBus | None = None,
               store: DocumentStore | None = None) -> FastAPI:
    settings = settings or PaymentSettings()
    runtime = Runtime(settings, bus=bus, store=store)
    fees = Fees(runtime.store)
    runtime.subscribe(CATALOG_EVENTS, "payment.catalog", fees.on_catalog_event)
    runtime.subscribe(DOSSIER_EVENTS, "payment.dossier", fees.on_dossier_event)
    app = create_service_app(runtime, title="Một Cửa — payments", description="Online fee payment.",
                             routers=[api.router])
    app.state.fees = fees
    return app
