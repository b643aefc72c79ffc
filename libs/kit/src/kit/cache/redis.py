from redis import asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from kit.cache.base import Cache, CacheUnavailable

_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)


class RedisCache(Cache):
    def __init__(self, url: str, prefix: str = "", *, timeout: float = 2.0, max_connections: int = 64):
        self.url = url
        self.prefix = prefix
        self.timeout = timeout
        self.max_connections = max_connections
        self.client: aioredis.Redis | None = None

    async def start(self) -> None:
        if self.client is None:
            self.client = aioredis.from_url(self.url, socket_timeout=self.timeout, socket_connect_timeout=self.timeout,
                                            max_connections=self.max_connections)

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.aclose()
            self.client = None

    def _c(self) -> aioredis.Redis:
        if self.client is None:
            raise CacheUnavailable("redis cache is not started")
        return self.client

    async def ping(self) -> None:
        try:
            await self._c().ping()
        except _DOWN as exc:
            raise CacheUnavailable(str(exc)) from exc

    async def get(self, key: str) -> bytes | None:
        try:
            return await self._c().get(self.prefix + key)
        except _DOWN as exc:
            raise CacheUnavailable(str(exc)) from exc

    async def get_many(self, keys: list[str]) -> list[bytes | None]:
        if not keys:
            return []
        try:
            return await self._c().mget([self.prefix + k for k in keys])
        except _DOWN as exc:
            raise CacheUnavailable(str(exc)) from exc

    async def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        try:
            await self._c().set(self.prefix + key, value, px=int(ttl * 1000) if ttl else None)
        except _DOWN as exc:
            raise CacheUnavailable(str(exc)) from exc

    async def delete(self, key: str) -> None:
        try:
            await self._c().delete(self.prefix + key)
        except _DOWN as exc:
            raise CacheUnavailable(str(exc)) from exc

    async def incr(self, key: str, *, ttl: float | None = None) -> int:
        try:
            async with self._c().pipeline(transaction=True) as pipe:
                pipe.incr(self.prefix + key)
                if ttl:
                    pipe.pexpire(self.prefix + key, int(ttl * 1000), nx=True)
                result = await pipe.execute()
        except _DOWN as exc:
            raise CacheUnavailable(str(exc)) from exc
        return int(result[0])

    async def ttl(self, key: str) -> float | None:
        try:
            ms = await self._c().pttl(self.prefix + key)
        except _DOWN as exc:
            raise CacheUnavailable(str(exc)) from exc
        return ms / 1000 if ms is not None and ms >= 0 else None

    async def delete_prefix(self, prefix: str) -> int:
        removed = 0
        try:
            async for key in self._c().scan_iter(match=self.prefix + prefix + "*", count=500):
                removed += await self._c().delete(key)
        except _DOWN as exc:
            raise CacheUnavailable(str(exc)) from exc
        return removed
