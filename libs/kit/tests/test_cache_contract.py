"""The cache contract: the same tests on the in-memory adapter and on Redis."""

import asyncio


async def test_set_get_delete(cache):
    assert await cache.get("k") is None
    await cache.set("k", "Đã tiếp nhận".encode())
    assert (await cache.get("k")).decode() == "Đã tiếp nhận"
    assert await cache.get_many(["k", "missing"]) == ["Đã tiếp nhận".encode(), None]
    await cache.delete("k")
    assert await cache.get("k") is None


async def test_values_expire(cache):
    await cache.set("short", b"1", ttl=0.2)
    assert await cache.get("short") == b"1"
    assert 0 < await cache.ttl("short") <= 0.2
    await asyncio.sleep(0.35)
    assert await cache.get("short") is None


async def test_incr_counts_and_keeps_the_first_expiry(cache):
    assert await cache.incr("n", ttl=5) == 1
    assert await cache.incr("n", ttl=60) == 2
    assert await cache.ttl("n") <= 5


async def test_delete_prefix_removes_only_that_prefix(cache):
    for key in ("lookup:a", "lookup:b", "other:c"):
        await cache.set(key, b"x")
    assert await cache.delete_prefix("lookup:") == 2
    assert await cache.get("other:c") == b"x"


async def test_ping(cache):
    await cache.ping()
