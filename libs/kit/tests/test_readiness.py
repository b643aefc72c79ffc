"""`/health/ready`, the readiness probe: 503 naming the dependency while the MongoDB-compatible store or
Redis cannot be reached (so Kubernetes takes the pod out of its Service), 200 again once it is back,
and all the while `/health/live` stays 200 (no restart for a dependency's outage)."""

import time

import pytest

from kit.http import create_service_app
from kit.runtime import Runtime
from kit.settings import PlatformSettings
from kit.testing import MONGODB, REDIS, TcpProxy, eventually, require_server, serving, unique

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("dependency", ["store", "cache"])
async def test_ready_follows_a_dependency_cut_and_restored(dependency):
    require_server("FerretDB", MONGODB)
    require_server("Redis", REDIS)
    target = MONGODB.removeprefix("mongodb://").split("/")[0] if dependency == "store" else \
        REDIS.removeprefix("redis://").split("/")[0]
    proxy = TcpProxy(target)
    await proxy.restore()
    via = dict(mongodb_url=f"mongodb://{proxy.address}") if dependency == "store" else \
        dict(redis_url=f"redis://{proxy.address}/0")
    settings = PlatformSettings(service_name="ready", store="mongodb", cache="redis", bus="memory",
                                **{"mongodb_url": MONGODB, "redis_url": REDIS, **via},
                                database_prefix=unique("ready_"), cache_prefix=unique("ready") + ":",
                                readiness_timeout_seconds=1.0)
    runtime = Runtime(settings, uses_cache=True)
    app = create_service_app(runtime, title="ready", description="readiness", routers=[])
    try:
        async with serving(app) as client:
            ok = await client.get("/health/ready")
            assert ok.status_code == 200 and ok.json() == {"status": "ok",
                                                           "checks": {"bus": "ok", "store": "ok", "cache": "ok"}}
            await proxy.cut()
            started = time.monotonic()
            down = await eventually(lambda: _not_ready(client), timeout=20)
            assert down["status"] == "unavailable"
            assert down["checks"][dependency].startswith("unavailable")
            assert all(v == "ok" for k, v in down["checks"].items() if k != dependency)
            assert time.monotonic() - started < 10  # bounded by readiness_timeout_seconds, not the driver's own
            assert (await client.get("/health/live")).status_code == 200
            await proxy.restore()
            await eventually(lambda: _ready(client), timeout=30)
    finally:
        await proxy.cut()  # nothing was written: the database and the keys are never created


async def _not_ready(client):
    r = await client.get("/health/ready")
    return r.json() if r.status_code == 503 else None


async def _ready(client):
    return (await client.get("/health/ready")).status_code == 200
