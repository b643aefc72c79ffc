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
    def __init__(self, bus: EventBus, collections: list[Collection], *, poll_seconds: float = 0.5, batch: int = 100):
        self.bus = bus
        self.collections = collections
        self.poll_seconds = poll_seconds
        self.batch = batch
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._stopping = False
        self.published = 0

    def notify(self) -> None:
        """Called after a save that added events, so they leave now rather than at the next poll."""
        self._wake.set()

    async def run_once(self) -> int:
        sent = 0
        for coll in self.collections:
            for doc in await coll.with_outbox(self.batch):
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
            try:
                sent = await self.run_once()
                failures = 0
            except Exception as exc:  # broker or store down: keep the events, try again with backoff
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
