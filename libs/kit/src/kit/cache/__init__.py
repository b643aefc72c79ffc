"""Cache port: the lookup read model, rate-limit counters, short caches. Losing it loses no data."""

from kit.cache.base import Cache, CacheUnavailable

__all__ = ["Cache", "CacheUnavailable", "make_cache"]


def make_cache(settings) -> Cache:
    """The adapter chosen by MOTCUA_CACHE."""
    if settings.cache == "redis":
        from kit.cache.redis import RedisCache

        return RedisCache(settings.redis_url, prefix=settings.cache_prefix)
    from kit.cache.memory import MemoryCache

    return MemoryCache(prefix=settings.cache_prefix)
