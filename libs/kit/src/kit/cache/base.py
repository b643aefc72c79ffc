from abc import ABC, abstractmethod


class CacheUnavailable(Exception):
    """The cache server cannot be reached."""


class Cache(ABC):
    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def stop(self) -> None: ...

    @abstractmethod
    async def ping(self) -> None: ...

    @abstractmethod
    async def get(self, key: str) -> bytes | None: ...

    @abstractmethod
    async def get_many(self, keys: list[str]) -> list[bytes | None]: ...

    @abstractmethod
    async def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None: ...

    @abstractmethod
    async def delete(self, key: str) -> None: ...

    @abstractmethod
    async def incr(self, key: str, *, ttl: float | None = None) -> int:
        """Add one and return the new value; `ttl` is set when the counter is created."""

    @abstractmethod
    async def ttl(self, key: str) -> float | None:
        """Seconds left before the key expires, None if it has no expiry or does not exist."""

    @abstractmethod
    async def delete_prefix(self, prefix: str) -> int:
        """Remove every key starting with `prefix` (read-model rebuilds)."""
