import time

from kit.cache.base import Cache


class MemoryCache(Cache):
    def __init__(self, prefix: str = ""):
        self.prefix = prefix
        self.data: dict[str, tuple[bytes, float | None]] = {}

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def ping(self) -> None:
        return None

    def _live(self, key: str) -> tuple[bytes, float | None] | None:
        item = self.data.get(self.prefix + key)
        if item is None:
            return None
        if item[1] is not None and item[1] <= time.monotonic():
            del self.data[self.prefix + key]
            return None
        return item

    async def get(self, key: str) -> bytes | None:
        item = self._live(key)
        return item[0] if item else None

    async def get_many(self, keys: list[str]) -> list[bytes | None]:
        return [await self.get(k) for k in keys]

    async def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        self.data[self.prefix + key] = (bytes(value), time.monotonic() + ttl if ttl else None)

    async def delete(self, key: str) -> None:
        self.data.pop(self.prefix + key, None)

    async def incr(self, key: str, *, ttl: float | None = None) -> int:
        item = self._live(key)
        if item is None:
            value, expires = 1, (time.monotonic() + ttl if ttl else None)
        else:
            value, expires = int(item[0]) + 1, item[1]
        self.data[self.prefix + key] = (str(value).encode(), expires)
        return value

    async def ttl(self, key: str) -> float | None:
        item = self._live(key)
        if item is None or item[1] is None:
            return None
        return max(0.0, item[1] - time.monotonic())

    async def delete_prefix(self, prefix: str) -> int:
        full = self.prefix + prefix
        doomed = [k for k in self.data if k.startswith(full)]
        for k in doomed:
            del self.data[k]
        return len(doomed)
