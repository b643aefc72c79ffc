"""Transactional outbox without transactions: events live in the aggregate's own document, written
by the same single-document update as the state change; the relay publishes them, then removes them.

A crash between publish and removal publishes again: delivery is at least once and every consumer
is idempotent."""

import asyncio
import logging
from typing import Any

from kit.bus import EventBus
from kit.events import CloudEvent
from kit.store import Collection

log = logging.getLogger("kit.outbox")


def outbox_entry(topic: str, event: CloudEvent, key: str | None) -> dict[str, Any]:
    return {"id": event.id, "topic": topic, "key": key, "event": event.to_dict()}


class OutboxRelay:
    """Publishes first what this process just wrote (the ids the store recorded: read by `_id`, no scan),
    and sweeps every collection for leftovers (another replica's crash, a failed publish) every
    `sweep_seconds`: a scan for non-empty outboxes is a full pass over the collection on FerretDB
    (loadtests/README.md, Profiles), which every 0.5 s took most of the database's CPU under load."""

    def __init__(self, bus: EventBus, collections: list[Collection], *, poll_seconds: float = 0.5, batch: int = 100,
                 sweep_seconds: float = 10.0):
        self.bus = bus
        self.collections = collections
        for coll in collections:  # record what is written from now on, for the fast path
            coll.store.watch_outbox(coll.name)
        self.poll_seconds = poll_seconds
        self.sweep_seconds = sweep_seconds
        self.batch = batch
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._stopping = False
        self._last_sweep = float("-inf")  # the first round sweeps: what an earlier run left
        self.published = 0

    def notify(self) -> None:
        """Called after a save that added events, so they leave now rather than at the next poll."""
        self._wake.set()

    async def run_once(self, *, sweep: bool = True) -> int:
        """Publish what waits: the documents just written, and with `sweep` every one with events."""
        sent = 0
        for coll in self.collections:
            docs = await coll.take_pending_outbox(self.batch)
            if sweep:
                seen = {doc["_id"] for doc in docs}
                docs += [doc for doc in await coll.with_outbox(self.batch) if doc["_id"] not in seen]
            for doc in docs:
                done: list[dict] = []
                try:
                    # In order: one aggregate's events keep their order on its key's partition.
                    for entry in doc.get("outbox", []):
                        await self.bus.publish(entry["topic"], CloudEvent.from_dict(entry["event"]), entry.get("key"))
                        done.append(entry)
                finally:
                    if done:
                        await coll.remove_from_outbox(doc["_id"], done)
                        sent += len(done)
        self.published += sent
        return sent

    async def _loop(self) -> None:
        failures = 0
        while not self._stopping:
            self._wake.clear()
            loop = asyncio.get_running_loop()
            sweep = failures > 0 or loop.time() - self._last_sweep >= self.sweep_seconds
            try:
                sent = await self.run_once(sweep=sweep)
                failures = 0
                if sweep:
                    self._last_sweep = loop.time()
            except Exception as exc:  # broker or store down: keep the events, sweep them up once it is back
                failures += 1
                sent = 0
                log.warning("outbox relay could not publish (%s); retrying", type(exc).__name__)
                await asyncio.sleep(min(5.0, 0.2 * 2 ** min(failures, 5)))
            if sent >= self.batch:
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
            except TimeoutError:
                pass

    async def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._loop(), name="outbox relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._stopping = True
            self._wake.set()
            try:
                await asyncio.wait_for(self._task, timeout=10)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
            self._task = None
