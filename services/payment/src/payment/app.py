"""Composition root of the payment service: settings → adapters and providers → handlers → app, event
subscriptions and the periodic jobs (reconciliation, the daily sweep, expired Idempotency-Keys)."""

from fastapi import FastAPI

from kit.bus import EventBus
from kit.http import create_service_app
from kit.runtime import Runtime
from kit.store import DocumentStore

from contracts.catalog import TOPIC as CATALOG_EVENTS
from contracts.dossier import TOPIC as DOSSIER_EVENTS
from payment import api, handlers
from payment.handlers import Deps
from payment.idempotency import Idempotency
from payment.providers.base import PaymentProvider
from payment.providers.counter import CounterProvider
from payment.providers.vnpay import VnpayProvider
from payment.settings import PaymentSettings
from payment.store import STEPS, Attempts, FeeBook, Payments, ensure_indexes


def make_providers(settings: PaymentSettings) -> dict[str, PaymentProvider]:
    return {"counter": CounterProvider(), "vnpay": VnpayProvider(settings)}


def create_app(settings: PaymentSettings | None = None, *, bus: EventBus | None = None,
               store: DocumentStore | None = None, providers: dict[str, PaymentProvider] | None = None) -> FastAPI:
    settings = settings or PaymentSettings()
    runtime = Runtime(settings, bus=bus, store=store)
    runtime.outbox(STEPS)
    providers = providers if providers is not None else make_providers(settings)
    deps = Deps(settings=settings, fees=FeeBook(runtime), attempts=Attempts(runtime), payments=Payments(runtime),
                providers=providers, pepper=settings.security_pepper.get_secret_value())
    idempotency = Idempotency(runtime.store, deps.pepper, ttl_seconds=settings.idempotency_ttl_seconds,
                              wait_seconds=settings.idempotency_wait_seconds,
                              lease_seconds=settings.idempotency_lease_seconds)
    runtime.subscribe(CATALOG_EVENTS, "payment.catalog", lambda event: handlers.on_catalog_event(deps, event))
    runtime.subscribe(DOSSIER_EVENTS, "payment.dossier", lambda event: handlers.on_dossier_event(deps, event))

    async def reconcile() -> None:
        await handlers.reconcile(deps)

    async def sweep() -> None:
        await handlers.reconcile(deps, sweep=True)

    runtime.every(settings.reconcile_every_seconds, reconcile, name="payment-reconcile")
    runtime.every(settings.sweep_every_seconds, sweep, name="payment-daily-sweep")
    runtime.every(settings.idempotency_sweep_seconds, idempotency.sweep, name="payment-idempotency-keys")

    async def on_startup() -> None:
        await ensure_indexes(runtime)
        await idempotency.ensure_indexes()

    async def on_shutdown() -> None:
        for provider in providers.values():
            close = getattr(provider, "aclose", None)
            if close is not None:
                await close()

    app = create_service_app(runtime, title="Một Cửa — payments",
                             description="Fees owed per dossier, online payment (VNPay), cash at the counter, refunds, "
                                         "the ledger and e-receipts.",
                             routers=[api.router], on_startup=on_startup, on_shutdown=on_shutdown)
    app.state.deps = deps
    app.state.idempotency = idempotency
    app.state.fees = deps.fees
    return app
