"""Fixtures for the gateway's tests: the gateway over ASGI, and upstreams on real loopback TCP ports
(the proxy speaks aiohttp, which needs a socket).

Upstreams are either the real services (catalogue, dossier) or a small echo app standing for "any
service" where a test needs to see exactly what the gateway sent. Every server, bus and client a
fixture starts is stopped when the fixture ends."""

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncIterator
from types import SimpleNamespace

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gateway.app import create_app
from gateway.identity import DEMO_USERS, DemoUser
from gateway.settings import GatewaySettings
from kit.bus.memory import MemoryBus
from kit.identity import CurrentCaller
from kit.testing import bound_socket, eventually, serving
from kit.testing import running_server as running

UPSTREAMS = ("catalog", "dossier", "lookup", "payment", "notification", "feedback")
PUBLIC_URL = "http://gateway.test"


@contextlib.asynccontextmanager
async def catalog_and_dossier(data, down: str) -> AsyncIterator[tuple[GatewaySettings, str]]:
    """The seeded catalogue and the dossier service on real loopback ports, on one in-process bus and their
    own SQLite files in `data`; the gateway's settings pointing at them (other upstreams down), and the
    catalogue's own address. On exit the services' SQLite worker threads are checked to have ended."""
    from catalog.app import create_app as catalog_app
    from catalog.settings import CatalogSettings
    from dossier.app import create_app as dossier_app
    from dossier.settings import DossierSettings

    threads_before = set(threading.enumerate())
    bus = MemoryBus()
    try:
        async with contextlib.AsyncExitStack() as stack:
            catalog_url = await stack.enter_async_context(running(catalog_app(
                CatalogSettings(seed_demo=True, store="sqlite", sqlite_dir=data), bus=bus)))
            catalog_client = await stack.enter_async_context(httpx.AsyncClient(timeout=5))
            dossier_url = await stack.enter_async_context(running(dossier_app(
                DossierSettings(store="sqlite", sqlite_dir=data, catalog_url=catalog_url), bus=bus,
                catalog_client=catalog_client)))
            yield gateway_settings(down=down, catalog_url=catalog_url, dossier_url=dossier_url), catalog_url
    finally:
        await bus.stop()
        # the services closed their SQLite stores on shutdown: their worker threads end
        await eventually(lambda: not [t for t in threading.enumerate() if t not in threads_before
                                      and "_connection_worker_thread" in t.name and t.is_alive()], timeout=5)


def user(username: str) -> DemoUser:
    return next(u for u in DEMO_USERS if u.username == username)


def url_of(sock: socket.socket) -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


@contextlib.contextmanager
def refusing():
    """A loopback address where nothing listens: the port is held (bound, never listening), so no other
    process can take it, and every connection to it is refused."""
    sock = bound_socket()
    try:
        yield url_of(sock)
    finally:
        sock.close()


def echo_app(received: list[dict]) -> FastAPI:
    """Stands for any service: answers every request with what it received (and appends that to
    `received`), including the caller (subject, roles, agency) as a service reads it with kit.identity. `X-Echo-Status`
    chooses the answer's status; /slow/<seconds>/... answers only after that long."""
    app = FastAPI()

    @app.get("/slow/{seconds}/{rest:path}")
    async def slow(seconds: float, rest: str) -> dict:
        await asyncio.sleep(seconds)
        return {"slept": seconds}

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"])
    async def echo(request: Request, path: str, caller: CurrentCaller) -> JSONResponse:
        body = await request.body()
        echoed = {"method": request.method, "path": "/" + path,
                  "query": [[k, v] for k, v in request.query_params.multi_items()],
                  "headers": [[k, v] for k, v in request.headers.items()], "body": body.decode(),
                  "caller": {"subject": caller.subject, "roles": sorted(caller.roles), "agency": caller.agency}}
        received.append(echoed)
        return JSONResponse(echoed, status_code=int(request.headers.get("x-echo-status", "200")),
                            headers={"X-Echo": "yes", "Cache-Control": "no-store"})

    return app


def seen_headers(echoed: dict, name: str) -> list[str]:
    """Every value the upstream received for a header (case-insensitive)."""
    return [v for k, v in echoed["headers"] if k.lower() == name.lower()]


def gateway_settings(*, down: str, **overrides) -> GatewaySettings:
    """Settings with the development issuer; an upstream whose `<name>_url` is not given points at
    `down` (a refusing port), so no test depends on what else listens on this machine."""
    values = {"public_url": PUBLIC_URL, "jwt_issuer": None, "jwt_audience": "motcua", "jwks_url": None,
              "dev_issuer": True, "token_ttl_seconds": 600, "upstream_timeout_seconds": 5,
              **{f"{name}_url": down for name in UPSTREAMS}}
    return GatewaySettings(**{**values, **overrides})


# Starting and stopping a uvicorn server costs a few tenths of a second (its shutdown polls), so the
# servers and the gateway in front of them live for a test module; every test module runs its tests in
# one event loop (`pytestmark = pytest.mark.asyncio(loop_scope="module")`) for that.

@pytest.fixture(scope="module")
def down() -> str:
    with refusing() as url:
        yield url


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def echo_server() -> AsyncIterator[SimpleNamespace]:
    received: list[dict] = []
    async with running(echo_app(received)) as url:
        yield SimpleNamespace(url=url, received=received)


@pytest.fixture
def echo(echo_server) -> SimpleNamespace:
    """An echo upstream: `.url`, and `.received`, every request it was sent during this test."""
    echo_server.received.clear()
    return echo_server


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def gateway_client(echo_server, down):
    app = create_app(gateway_settings(down=down,
                                      **{f"{name}_url": f"{echo_server.url}/{name}" for name in UPSTREAMS}))
    async with serving(app) as client:
        client.issuer = app.state.dev_issuer
        yield client


@pytest.fixture
def gateway(gateway_client, echo):
    """The gateway (over ASGI) with every upstream routed to the echo server under /<upstream name>, so
    the path an answer echoes tells which upstream the gateway chose. `.issuer` is its dev issuer."""
    return gateway_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def signed_in(client, username: str) -> dict[str, str]:
    """The Authorization header of a demo user, signed by the gateway's own development issuer."""
    return bearer(client.issuer.token_for(user(username)))


def is_problem(response, status: int, slug: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json", response.headers
    body = response.json()
    assert body["status"] == status
    if slug is not None:
        assert body["type"] == f"/problems/{slug}", body
    return body
