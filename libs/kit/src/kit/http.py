"""The FastAPI shell every service shares: problem+json errors, body limit, access log without
query strings (they may carry security codes), health endpoints, tracing, and serving."""

import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

import uvicorn
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.metrics import NoOpMeterProvider
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from kit import metrics, problems
from kit.bus.kafka import BrokerUnavailable
from kit.cache import CacheUnavailable
from kit.runtime import Runtime
from kit.settings import PlatformSettings
from kit.store import StoreUnavailable

access_log = logging.getLogger("motcua.access")


UNMATCHED_ROUTE = "(unmatched)"  # the metrics' route label for a path no route took: raw paths are unbounded
METRICS_ROUTE = "motcua.route"  # scope key: a catch-all route (the gateway's proxy) names the finer template here


class AccessLog:
    """One line per request: method, route (the path's template when the app matched one, so a credential in
    the path, such as a rating link's token, is not written; never the query string), status, duration.
    The same figures feed the request metrics, per route template."""

    def __init__(self, app: ASGIApp, service: str):
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(("/health", "/metrics")):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get(METRICS_ROUTE) or getattr(scope.get("route"), "path_format", None)
            path = route or scope["path"]
            if access_log.isEnabledFor(logging.INFO):  # the lookup's hot path runs at WARNING in load tests
                access_log.info("%s %s %s", scope["method"], path, status, extra={
                    "service": self.service, "method": scope["method"], "path": path, "status": status,
                    "duration_ms": round(elapsed * 1000, 2)})
            record_request(self.service, scope["method"], route or UNMATCHED_ROUTE, status, elapsed)


def record_request(service: str, method: str, route: str, status: int, seconds: float) -> None:
    meter = metrics.instruments()
    labels = {"service": service, "method": method, "route": route}
    meter.requests.add(1, {**labels, "status": str(status)})
    meter.duration.record(seconds, labels)


def metrics_router(settings: PlatformSettings) -> APIRouter:
    """`/metrics` in Prometheus' text format; with `metrics_token` set, only for `Authorization: Bearer
    <token>` (Prometheus' `authorization.credentials_file`), for a deployable reachable from outside."""
    router = APIRouter(tags=["health"])
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def prometheus(request: Request) -> Response:
        given = request.headers.get("authorization", "").encode("utf-8", "replace")
        if token and not hmac.compare_digest(given, f"Bearer {token}".encode()):
            raise problems.Problem(401, "metrics-token", "Metrics token required",
                                   "This deployable's metrics need `Authorization: Bearer <metrics token>`.")
        return Response(await metrics.prometheus_text(), media_type=metrics.PROMETHEUS_CONTENT_TYPE)

    return router


def create_service_app(runtime: Runtime, *, title: str, description: str, routers: list[APIRouter],
                       on_startup: Callable[[], Awaitable[None]] | None = None,
                       on_shutdown: Callable[[], Awaitable[None]] | None = None,
                       fast_paths: Sequence[Middleware] = ()) -> FastAPI:
    """`fast_paths`: pure ASGI middleware in front of the router but inside kit's own (access log, metrics,
    body limit, trace context), for a hot route that must not pay for FastAPI's routing."""
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await runtime.start()
        if on_startup is not None:
            await on_startup()
        try:
            yield
        finally:
            try:
                await runtime.stop()
            finally:
                if on_shutdown is not None:  # after the runtime: its jobs may still use what this closes
                    await on_shutdown()

    app = FastAPI(title=title, description=description, version="1.0.0", lifespan=lifespan, telemetry=NO_NATIVE_TELEMETRY)
    app.state.runtime = runtime
    problems.install(app)

    async def unavailable(request, exc):
        return problems.problem_response(problems.Unavailable(
            f"A dependency is unavailable ({type(exc).__name__}); nothing was changed, retry later."), request.url.path)

    for exc_type in (StoreUnavailable, CacheUnavailable, BrokerUnavailable):
        app.add_exception_handler(exc_type, unavailable)

    health = APIRouter(tags=["health"])

    @health.get("/health/live", summary="The process is up")
    async def live() -> dict:
        return {"status": "ok"}

    @health.get("/health/ready", summary="Every dependency answers")
    async def ready():
        report = await runtime.readiness()
        ok = all(v == "ok" for v in report.values())
        return JSONResponse({"status": "ok" if ok else "unavailable", "checks": report}, status_code=200 if ok else 503)

    app.include_router(health)
    app.include_router(metrics_router(runtime.settings))
    for router in routers:
        app.include_router(router)
    for middleware in reversed(fast_paths):  # the first listed is the outermost
        app.add_middleware(middleware.cls, *middleware.args, **middleware.kwargs)
    instrument(app)
    app.add_middleware(AccessLog, service=runtime.settings.service_name)
    app.add_middleware(problems.BodyLimit, max_bytes=runtime.settings.max_body_bytes,
                       max_non_multipart_bytes=runtime.settings.max_non_multipart_body_bytes)
    return app


# FastAPI's own OpenTelemetry layer, off: the spans are the OpenTelemetry instrumentation's (when recorded)
# and the metrics kit's; left on, it would record both again, and it writes query strings (where a
# security code travels) into its spans.
NO_NATIVE_TELEMETRY = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}


def instrument(app: FastAPI) -> None:
    """Spans for every request when they are recorded (an exporter is set); else only the caller's trace
    context, which costs next to nothing. Request metrics are kit.metrics' own (per route template, with
    the service's name), so the instrumentation's are off. Call after the app's routes, before its
    other middleware."""
    from kit import telemetry

    if telemetry.recording():
        FastAPIInstrumentor.instrument_app(app, excluded_urls="health/live,health/ready,metrics",
                                           meter_provider=NoOpMeterProvider())
    else:
        app.add_middleware(telemetry.TraceContext)


def server(app: ASGIApp, settings: PlatformSettings, *, host: str | None = None, port: int | None = None) -> uvicorn.Server:
    config = uvicorn.Config(app, host=host or settings.host, port=port or settings.port, access_log=False,
                            log_config=None, lifespan="on", timeout_graceful_shutdown=15)
    return uvicorn.Server(config)


def serve(app: ASGIApp, settings: PlatformSettings) -> None:
    """Run one deployable in the foreground (distributed mode)."""
    server(app, settings).run()


def run_service(create_app: Callable[..., ASGIApp], settings: PlatformSettings) -> None:
    """`python -m <service>`: logs, traces, then serve."""
    from kit.telemetry import setup_logging, setup_tracing

    setup_logging(settings.log_level, settings.log_format)
    setup_tracing(settings.service_name, settings.otel_exporter, settings.otel_endpoint,
                  sample_ratio=settings.otel_traces_sample_ratio)
    metrics.setup_metrics(settings.service_name, settings.otel_exporter, settings.otel_endpoint,
                          settings.otel_metrics_export_seconds)
    serve(create_app(settings), settings)
