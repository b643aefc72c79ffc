"""Rate limits at the gateway, through its HTTP interface, on real Redis and on the memory fallback: per
client address, per signed-in user, per caller on lookups, and the lockout of a dossier code after wrong
security codes, in front of the real lookup process and the real dossier service (each wrapped so the
test sees every request that reached it). Windows are a second, so recovery is waited for."""

import asyncio
import contextlib
import logging
from types import SimpleNamespace

import httpx
import pytest
import pytest_asyncio
from asgi_lifespan import LifespanManager

from dossier.app import create_app as dossier_app
from dossier.lookup.app import create_app as lookup_app
from dossier.lookup.projection import key
from dossier.lookup.view import Entry
from dossier.security import hash_security_code
from dossier.settings import DossierSettings, LookupSettings
from gateway.app import create_app
from kit.bus.memory import MemoryBus
from kit.cache.memory import MemoryCache
from kit.testing import REDIS, require_server, unique

from .conftest import PUBLIC_URL, gateway_settings, is_problem, refusing, running, signed_in

pytestmark = pytest.mark.asyncio(loop_scope="module")

DOSSIER = "000.00.21.H49-260101-0001"
OTHER = "000.00.21.H49-260101-0002"
CODES = {DOSSIER: "ABCD2345", OTHER: "WXYZ6789"}
WRONG = "ZZZZ9999"
# Roomy limits, so a test meets only the one it is about (and no development issuer: its key takes a while).
ROOMY = {"dev_issuer": False, "rate_client_limit": 1000, "rate_user_limit": 1000, "rate_lookup_limit": 1000,
         "rate_lookup_max_failures": 5, "rate_lookup_failure_window_seconds": 60, "rate_lookup_lock_seconds": 60}


def recorded(app, seen: list[tuple[str, str]]):
    """The app, noting the method and path of every request that reaches it."""
    async def asgi(scope, receive, send):
        if scope["type"] == "http":
            seen.append((scope["method"], scope["path"]))
        await app(scope, receive, send)
    return asgi


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def services(tmp_path_factory, down):
    """The lookup process (its read model holding DOSSIER and OTHER) and the dossier service (empty: every
    receipt asked of it is a wrong code), on real ports, each recording what reached it in `.seen`."""
    seen: list[tuple[str, str]] = []
    bus = MemoryBus()
    lookup_settings = LookupSettings(bus="memory", cache="memory")
    cache = MemoryCache()
    pepper = lookup_settings.security_pepper.get_secret_value()
    for code, security_code in CODES.items():
        public = b'{"code": "%s", "state": "submitted"}' % code.encode()
        await cache.set(key(code), Entry(1, hash_security_code(pepper, code, security_code), public).encode())
    try:
        async with contextlib.AsyncExitStack() as stack:
            lookup_url = await stack.enter_async_context(
                running(recorded(lookup_app(lookup_settings, bus=bus, cache=cache), seen)))
            catalog_client = await stack.enter_async_context(httpx.AsyncClient(timeout=5))
            dossier_url = await stack.enter_async_context(running(recorded(dossier_app(
                DossierSettings(store="sqlite", sqlite_dir=tmp_path_factory.mktemp("dossier"), catalog_url=down),
                bus=bus, catalog_client=catalog_client), seen)))
            yield SimpleNamespace(lookup_url=lookup_url, dossier_url=dossier_url, seen=seen)
    finally:
        await bus.stop()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.integration)])
def backend(request) -> dict:
    """The counters' settings: in memory (embedded mode), or on the real Redis under a fresh prefix."""
    if request.param == "memory":
        return {"cache": "memory"}
    require_server("Redis", REDIS)
    return {"cache": "redis", "redis_url": REDIS, "cache_prefix": unique("t") + ":"}


@contextlib.asynccontextmanager
async def gateway(down, services, echo, **settings):
    """A gateway with the lookup and dossier upstreams real, the catalogue an echo; `.at(address)` is a
    client whose requests come from that peer address."""
    values = {**ROOMY, **settings}
    app = create_app(gateway_settings(down=down, lookup_url=services.lookup_url, dossier_url=services.dossier_url,
                                      catalog_url=f"{echo.url}/catalog", **values))
    clients: list[httpx.AsyncClient] = []
    async with LifespanManager(app) as manager:
        def at(address: str = "127.0.0.1") -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=manager.app, client=(address, 41000))
            clients.append(httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL))
            return clients[-1]

        client = at()
        client.at = at
        client.issuer = app.state.dev_issuer
        try:
            yield client
        finally:
            for c in clients:
                await c.aclose()
    services.seen.clear()


@pytest.fixture(autouse=True)
def fresh(services):
    services.seen.clear()


def refused(response, slug: str = "rate-limited", scope: str | None = None) -> int:
    """A 429 problem with a Retry-After in whole seconds and a detail in Vietnamese and English."""
    body = is_problem(response, 429, slug)
    if scope:
        assert body["scope"] == scope, body
    assert " / " in body["detail"] and "vui lòng thử lại sau" in body["detail"] and "please retry" in body["detail"]
    assert response.headers["retry-after"].isdigit(), response.headers
    return int(response.headers["retry-after"])


def lookup(client, code: str, security_code: str, how: str = "get"):
    if how == "get":
        return client.get(f"/api/v1/lookup/{code}", params={"security_code": security_code})
    if how == "post":
        return client.post("/api/v1/lookup", json={"code": code, "security_code": security_code})
    return client.post(f"/api/v1/dossiers/{code}/receipt", json={"security_code": security_code})


# --- callers -----------------------------------------------------------------------------------

async def test_a_client_over_its_limit_gets_429_with_retry_after_then_recovers(backend, down, services, echo):
    async with gateway(down, services, echo, rate_client_limit=2, rate_client_period_seconds=1, **backend) as gw:
        for _ in range(2):
            assert (await gw.get("/api/v1/procedures")).status_code == 200
        r = await gw.get("/api/v1/procedures")
        assert refused(r, scope="client") == 1
        assert len(echo.received) == 2  # the refused request never left the gateway

        other = gw.at("198.51.100.20")  # another address, another bucket
        assert (await other.get("/api/v1/procedures")).status_code == 200

        await asyncio.sleep(1.0)  # a whole period: the whole burst is back
        for _ in range(2):
            assert (await gw.get("/api/v1/procedures")).status_code == 200
        refused(await gw.get("/api/v1/procedures"), scope="client")


async def test_a_signed_in_user_has_a_limit_of_their_own_apart_from_their_address(backend, down, services, echo):
    async with gateway(down, services, echo, rate_client_limit=2, rate_client_period_seconds=60, rate_user_limit=3,
                       rate_user_period_seconds=60, dev_issuer=True, **backend) as gw:
        for _ in range(2):
            assert (await gw.get("/api/v1/procedures")).status_code == 200
        refused(await gw.get("/api/v1/procedures"), scope="client")

        citizen = signed_in(gw, "citizen1")  # same address, signed in: the user's bucket, not the address's
        for _ in range(3):
            assert (await gw.get("/api/v1/procedures", headers=citizen)).status_code == 200
        r = await gw.get("/api/v1/procedures", headers=citizen)
        assert 1 <= refused(r, scope="user") <= 20  # 3 per minute: one comes back every 20 s

        officer = signed_in(gw, "reception1")  # another user behind the same address
        assert (await gw.get("/api/v1/procedures", headers=officer)).status_code == 200
        refused(await gw.get("/api/v1/procedures"), scope="client")  # and the address is still refused


async def test_lookups_have_a_stricter_limit_per_caller(backend, down, services, echo):
    async with gateway(down, services, echo, rate_lookup_limit=3, rate_lookup_period_seconds=60, **backend) as gw:
        for how in ("get", "post", "receipt"):  # the three routes share the caller's lookup bucket
            r = await lookup(gw, DOSSIER if how != "receipt" else OTHER, CODES[DOSSIER], how)
            assert r.status_code in (200, 404), r.text
        refused(await lookup(gw, OTHER, CODES[OTHER]), scope="lookup")
        assert (await gw.get("/api/v1/procedures")).status_code == 200  # other routes are not lookups
        assert (await lookup(gw.at("198.51.100.21"), OTHER, CODES[OTHER])).status_code == 200


# --- wrong security codes ----------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["get", "post", "receipt"])
async def test_five_wrong_security_codes_lock_the_dossier_code(backend, down, services, echo, how):
    async with gateway(down, services, echo, **backend) as gw:
        for _ in range(5):
            is_problem(await lookup(gw, DOSSIER, WRONG, how), 404, "dossier-not-found")
        assert len(services.seen) == 5
        services.seen.clear()

        # Locked: the right code is refused too, on every route, from every address, without a service asked.
        wait = refused(await lookup(gw, DOSSIER, CODES[DOSSIER]), "dossier-code-locked", "dossier-code")
        assert 55 <= wait <= 60
        refused(await lookup(gw, DOSSIER, CODES[DOSSIER], "post"), "dossier-code-locked")
        refused(await lookup(gw, DOSSIER, CODES[DOSSIER], "receipt"), "dossier-code-locked")
        refused(await lookup(gw.at("198.51.100.22"), DOSSIER, CODES[DOSSIER]), "dossier-code-locked")
        # Spelled differently (escaped, lower case), it is the same code.
        refused(await gw.get(f"/api/v1/lookup/{DOSSIER.lower().replace('.', '%252E')}",
                             params={"security_code": CODES[DOSSIER]}), "dossier-code-locked")
        assert services.seen == []

        r = await lookup(gw, OTHER, CODES[OTHER])  # other dossier codes are not affected
        assert r.status_code == 200 and r.json()["code"] == OTHER


async def test_wrong_codes_on_all_three_routes_add_up(backend, down, services, echo):
    async with gateway(down, services, echo, **backend) as gw:
        for how in ("get", "post", "receipt", "get", "post"):
            is_problem(await lookup(gw, DOSSIER, WRONG, how), 404, "dossier-not-found")
        refused(await lookup(gw, DOSSIER, CODES[DOSSIER]), "dossier-code-locked")


async def test_the_lock_expires_and_a_right_code_forgets_the_failures(backend, down, services, echo):
    async with gateway(down, services, echo, rate_lookup_lock_seconds=1, **backend) as gw:
        for _ in range(5):
            is_problem(await lookup(gw, DOSSIER, WRONG), 404, "dossier-not-found")
        assert refused(await lookup(gw, DOSSIER, CODES[DOSSIER]), "dossier-code-locked") == 1

        await asyncio.sleep(1.0)
        assert (await lookup(gw, DOSSIER, CODES[DOSSIER])).status_code == 200

        # Four wrong, the right one (which clears them), four wrong again: still open.
        for _ in range(4):
            is_problem(await lookup(gw, DOSSIER, WRONG), 404, "dossier-not-found")
        assert (await lookup(gw, DOSSIER, CODES[DOSSIER], "post")).status_code == 200
        for _ in range(4):
            is_problem(await lookup(gw, DOSSIER, WRONG), 404, "dossier-not-found")
        assert (await lookup(gw, DOSSIER, CODES[DOSSIER])).status_code == 200


async def test_parallel_guesses_cannot_overshoot_the_limit(backend, down, services, echo):
    async with gateway(down, services, echo, **backend) as gw:
        answers = await asyncio.gather(*(lookup(gw.at(f"198.51.100.{i}"), DOSSIER, f"GUESS{i:03d}")
                                         for i in range(12)))
        statuses = sorted(r.status_code for r in answers)
        assert statuses == [404] * 5 + [429] * 7, statuses
        assert len(services.seen) == 5
        refused(await lookup(gw, DOSSIER, CODES[DOSSIER]), "dossier-code-locked")


# --- the client's address ------------------------------------------------------------------------

async def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(backend, down, services, echo):
    async with gateway(down, services, echo, rate_client_limit=2, rate_client_period_seconds=60,
                       trusted_proxies=["10.0.0.0/8"], **backend) as gw:
        client = gw.at("192.0.2.10")
        for i in range(2):
            r = await client.get("/api/v1/procedures", headers={"X-Forwarded-For": f"203.0.113.{i}"})
            assert r.status_code == 200
        r = await client.get("/api/v1/procedures", headers={"X-Forwarded-For": "203.0.113.99"})
        refused(r, scope="client")


async def test_x_forwarded_for_from_a_trusted_proxy_names_the_client(backend, down, services, echo):
    async with gateway(down, services, echo, rate_client_limit=2, rate_client_period_seconds=60,
                       trusted_proxies=["10.0.0.0/8", "127.0.0.1"], **backend) as gw:
        proxy = gw.at("10.1.2.3")
        for _ in range(2):
            r = await proxy.get("/api/v1/procedures", headers={"X-Forwarded-For": "198.51.100.7"})
            assert r.status_code == 200
        # What the client itself wrote (left of what our proxy appended) does not give it a new bucket...
        r = await proxy.get("/api/v1/procedures", headers={"X-Forwarded-For": "203.0.113.50, 198.51.100.7"})
        refused(r, scope="client")
        # ...while another client behind the same proxies has its own; trusted hops are skipped.
        r = await proxy.get("/api/v1/procedures", headers={"X-Forwarded-For": "203.0.113.50, 198.51.100.8, 10.0.0.5"})
        assert r.status_code == 200
        # The proxy's own address is not the client's: with no header it is the proxy itself.
        assert (await proxy.get("/api/v1/procedures")).status_code == 200


# --- Redis down -----------------------------------------------------------------------------------

async def test_with_redis_down_callers_pass_and_lookups_answer_503(down, services, echo, caplog):
    with refusing() as nowhere:
        redis_url = nowhere.replace("http://", "redis://") + "/0"
        async with gateway(down, services, echo, cache="redis", redis_url=redis_url, rate_client_limit=1,
                           rate_redis_retry_seconds=3) as gw:
            with caplog.at_level(logging.WARNING, logger="gateway.ratelimit"):
                for _ in range(3):  # fail open: over the limit of 1, all through
                    assert (await gw.get("/api/v1/procedures")).status_code == 200
                for how in ("get", "post", "receipt"):  # fail closed: no unlimited guessing
                    r = await lookup(gw, DOSSIER, CODES[DOSSIER], how)
                    body = is_problem(r, 503, "rate-limit-unavailable")
                    assert 1 <= int(r.headers["retry-after"]) <= 3
                    assert " / " in body["detail"]
            assert services.seen == []
            assert len(echo.received) == 3
            assert len([rec for rec in caplog.records if rec.name == "gateway.ratelimit"]) == 1  # logged once


async def test_limits_can_be_turned_off(down, services, echo):
    async with gateway(down, services, echo, rate_limits=False, rate_client_limit=1, rate_lookup_max_failures=1) as gw:
        for _ in range(3):
            assert (await gw.get("/api/v1/procedures")).status_code == 200
            is_problem(await lookup(gw, DOSSIER, WRONG), 404, "dossier-not-found")
        assert (await lookup(gw, DOSSIER, CODES[DOSSIER])).status_code == 200


async def test_the_web_pages_lookup_is_locked_too(backend, down, services, echo):
    """The lockout sits on the proxy, so the web page that looks a dossier up (/tra-cuu) is no way round it."""
    async with gateway(down, services, echo, **backend) as gw:
        for _ in range(5):
            is_problem(await lookup(gw, DOSSIER, WRONG), 404, "dossier-not-found")
        services.seen.clear()
        r = await gw.get("/tra-cuu", params={"ma": DOSSIER, "security_code": CODES[DOSSIER]})
        assert r.status_code == 429
        assert services.seen == []
        assert (await gw.get("/tra-cuu", params={"ma": OTHER, "security_code": CODES[OTHER]})).status_code == 200
