"""Composition root of the gateway: identity, routing and docs in front of the services."""

from contextlib import asynccontextmanager
from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel

from kit import problems
from kit.http import NO_NATIVE_TELEMETRY, AccessLog, instrument, metrics_router
from kit.problems import Problem

from gateway import openapi
from gateway.forward import ApiForward
from gateway.identity import DEMO_USERS, DevIssuer, TokenVerifier
from gateway.proxy import Proxy
from gateway.ratelimit import RateLimits
from gateway.settings import GatewaySettings
from gateway.web import create_router as web_pages


class TokenRequest(BaseModel):
    username: str


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    dev = DevIssuer(settings.issuer, settings.jwt_audience, settings.token_ttl_seconds) if settings.dev_issuer else None
    verifier = TokenVerifier(issuer=settings.issuer, audience=settings.jwt_audience, jwks_url=settings.jwks_url, dev=dev)
    proxy = Proxy(settings.upstreams(), timeout=settings.upstream_timeout_seconds,
                  pool_size=settings.upstream_pool_size, breaker_failures=settings.upstream_breaker_failures,
                  breaker_cooldown=settings.upstream_breaker_cooldown_seconds,
                  max_in_flight=settings.max_in_flight(), shed_retry_after=settings.upstream_shed_retry_after_seconds)

    # Rate limits (gateway/ratelimit.py): per caller on /api/v1 (forward); the security-code lockout on
    # everything the proxy forwards, the web pages' lookup and receipt included.
    limits = RateLimits.from_settings(settings)
    limits.guard(proxy)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await proxy.start()
        await limits.start()
        try:
            yield
        finally:
            await limits.stop()
            await proxy.stop()

    app = FastAPI(title="Một Cửa — gateway", version="1.0.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  telemetry=NO_NATIVE_TELEMETRY)
    app.state.settings = settings
    app.state.dev_issuer = dev
    problems.install(app)

    health = APIRouter(tags=["health"])

    @health.get("/health/live")
    async def live() -> dict:
        return {"status": "ok"}

    @health.get("/health/ready")
    async def ready() -> dict:
        return {"status": "ok"}

    app.include_router(health)
    app.include_router(metrics_router(settings))

    if dev is not None:
        auth = APIRouter(prefix="/auth", tags=["development identity"])

        @auth.get("/.well-known/openid-configuration")
        async def discovery() -> dict:
            return {"issuer": settings.issuer, "jwks_uri": f"{settings.issuer}/.well-known/jwks.json",
                    "token_endpoint": f"{settings.issuer}/dev/token", "id_token_signing_alg_values_supported": ["RS256"]}

        @auth.get("/.well-known/jwks.json")
        async def jwks() -> dict:
            return dev.jwks()

        @auth.get("/dev/users", summary="Demo users of every role (development issuer only)")
        async def users() -> list[dict]:
            return [{"username": u.username, "name": u.name, "roles": list(u.roles), "agency": u.agency}
                    for u in DEMO_USERS]

        @auth.post("/dev/token", response_model=TokenResponse, summary="Sign in as a demo user")
        async def token(body: TokenRequest) -> TokenResponse:
            user = next((u for u in DEMO_USERS if u.username == body.username), None)
            if user is None:
                raise Problem(422, "unknown-user", "Unknown demo user", f"No demo user '{body.username}'.",
                              field="username", known=[u.username for u in DEMO_USERS])
            return TokenResponse(access_token=dev.token_for(user), expires_in=settings.token_ttl_seconds)

        app.include_router(auth)

    @app.get("/api/v1/openapi.json", include_in_schema=False)
    async def merged_openapi() -> JSONResponse:
        return JSONResponse(await openapi.merged_openapi(settings.upstreams(), app.openapi()))

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/api/v1/openapi.json", title="Một Cửa API")

    # The citizens' and officers' web pages (gateway/web), home page at "/".
    app.include_router(web_pages(settings=settings, proxy=proxy, verifier=verifier, dev=dev))

    # /api/v1/* to the services (gateway/forward.py), in front of the router, inside kit's middleware.
    app.add_middleware(ApiForward, verifier=verifier, limits=limits, proxy=proxy)
    instrument(app)
    app.add_middleware(AccessLog, service=settings.service_name)
    app.add_middleware(problems.BodyLimit, max_bytes=settings.max_body_bytes)
    return app

