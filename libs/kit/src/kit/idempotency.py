"""Idempotent consumers: each consumer records the ids of the events it has applied, and skips an
event it has already applied (a redelivery after a crash, a duplicate publish, a DLQ replay)."""

import functools

from kit.bus import Handler
from kit.events import CloudEvent, utcnow
from kit.store import DocumentStore, DuplicateKey

APPLIED = "applied_events"


class AppliedEvents:
    def __init__(self, store: DocumentStore, consumer: str):
        self.store = store
        self.consumer = consumer

    def _key(self, event_id: str) -> str:
        return f"{self.consumer}:{event_id}"

    async def seen(self, event_id: str) -> bool:
        return await self.store.collection(APPLIED).get(self._key(event_id)) is not None

    async def record(self, event: CloudEvent) -> None:
        try:
            await self.store.collection(APPLIED).insert(
                {"_id": self._key(event.id), "type": event.type, "at": utcnow().isoformat()})
        except DuplicateKey:
            pass

    def guard(self, handler: Handler) -> Handler:
        """Wrap a handler: skip events already applied, record an event once its handler succeeded."""

        @functools.wraps(handler)
        async def once(event: CloudEvent) -> None:
            if await self.seen(event.id):
                return
            await handler(event)
            await self.record(event)

        return once
