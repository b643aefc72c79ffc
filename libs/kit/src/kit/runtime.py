"""A service's adapters and background work, started and stopped together.

Adapters passed in (the embedded mode shares one in-process bus) are used but not owned."""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from kit import metrics
from kit.bus import EventBus, Handler, make_bus
from kit.bus.base import raise_if_cancelled
from kit.cache import Cache, make_cache
from kit.idempotency import AppliedEvents
from kit.outbox import OutboxRelay
from kit.settings import PlatformSettings
from kit.store import DocumentStore, make_store

log = logging.getLogger("kit.runtime")


class Runtime:
    def __init__(self, settings: PlatformSettings, *, bus: EventBus | None = None, store: DocumentStore | None = None,
                 cache: Cache | None = None, uses_store: bool = True, uses_cache: bool = False):
        self.settings = settings
        self.bus = bus or make_bus(settings)
        self.store = (store or make_store(settings)) if uses_store else None
        self.cache = (cache or make_cache(settings)) if uses_cache else None
        self._owned = {"bus": bus is None, "store": store is None, "cache": cache is None}
        self.relay: OutboxRelay | None = None
        self._outbox_collections: list[str] = []
        self._periodic: list[tuple[str, float, Callable[[], Awaitable[None]]]] = []
        self._tasks: list[asyncio.Task] = []
        self._gauges: list[Callable[[], Awaitable[None]]] = []
        self.started = False

    def gauges(self, refresh: Callable[[], Awaitable[None]]) -> None:
        """Set gauges read from the store: before each `/metrics` answer (Prometheus pulls), and every
        `metrics_refresh_seconds` while the service runs (OTLP pushes what they last read)."""
        self._gauges.append(refresh)
        self.every(self.settings.metrics_refresh_seconds, lambda: metrics.refresh_gauges(refresh), name="metrics")

    def outbox(self, *collections: str) -> None:
        """Publish the events that aggregates of these collections hold in their outbox."""
        if not self._outbox_collections:
            self.gauges(self._outbox_backlog)
        self._outbox_collections.extend(collections)

    async def _outbox_backlog(self) -> None:
        if self.store is None:
            return
        gauge = metrics.instruments().outbox
        for name in self._outbox_collections:
            gauge.set(await self.store.collection(name).outbox_backlog(),
                      {"service": self.settings.service_name, "collection": name})

    def subscribe(self, topic: str, group: str, handler: Handler, *, idempotent: bool = True) -> None:
        """Consume `topic` in consumer group `group`; by default, skip events this group already applied."""
        if idempotent:
            if self.store is None:
                raise RuntimeError("an idempotent consumer needs a store to record applied events")
            handler = AppliedEvents(self.store, group).guard(handler)
        self.bus.subscribe(topic, group, handler)

    def every(self, seconds: float, job: Callable[[], Awaitable[None]], *, name: str) -> None:
        """Run `job` every `seconds` while the service runs (a failure is logged, the next round retries)."""
        self._periodic.append((name, seconds, job))

    async def _repeat(self, name: str, seconds: float, job: Callable[[], Awaitable[None]]) -> None:
        while True:
            try:
                await job()
            except Exception:
                log.exception("periodic job %s failed; retrying in %.1f s", name, seconds)
            raise_if_cancelled()
            await asyncio.sleep(seconds)

    def notify_outbox(self) -> None:
        if self.relay is not None:
            self.relay.notify()

    async def start(self) -> None:
        if self.started:
            return
        if self.store is not None:
            await self.store.start()
        if self.cache is not None:
            await self.cache.start()
        await self.bus.start()
        if self._outbox_collections and self.store is not None:
            colls = [self.store.collection(c) for c in self._outbox_collections]
            self.relay = OutboxRelay(self.bus, colls, poll_seconds=self.settings.outbox_poll_seconds,
                                     sweep_seconds=self.settings.outbox_sweep_seconds)
            await self.relay.start()
        self._tasks = [asyncio.create_task(self._repeat(*p), name=p[0]) for p in self._periodic]
        for refresh in self._gauges:
            metrics.on_scrape(refresh)
        self.started = True

    async def stop(self) -> None:
        if not self.started:
            return
        for refresh in self._gauges:
            metrics.forget_refresher(refresh)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self.relay is not None:
            await self.relay.stop()
        if self._owned["bus"]:
            await self.bus.stop()
        if self.cache is not None and self._owned["cache"]:
            await self.cache.stop()
        if self.store is not None and self._owned["store"]:
            await self.store.stop()
        self.started = False

    async def readiness(self) -> dict[str, str]:
        """One entry per dependency: "ok" or the reason it is not ready."""
        checks = {"bus": self.bus.ping}
        if self.store is not None:
            checks["store"] = self.store.ping
        if self.cache is not None:
            checks["cache"] = self.cache.ping
        async def check(ping) -> str:
            # Bounded: a dependency that hangs must read as not ready before the kubelet's probe times out.
            try:
                await asyncio.wait_for(ping(), timeout=self.settings.readiness_timeout_seconds)
                return "ok"
            except TimeoutError:
                return "unavailable: no answer"
            except Exception as exc:
                return f"unavailable: {type(exc).__name__}"

        results = await asyncio.gather(*(check(ping) for ping in checks.values()))
        return dict(zip(checks, results))
