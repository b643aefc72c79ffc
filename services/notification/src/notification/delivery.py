"""The delivery worker: sends queued messages through their channel, records every attempt, retries
temporary failures on the schedule, and hands a message that failed for good to the next channel.

Messages are the queue (status + next_attempt_at in the store): nothing is held only in memory, so a
restart resumes where it stopped. A worker claims a message with an optimistic write (version), so two
replicas never send the same one at once; a claim left by a crashed worker expires (lease) and the
message is sent again with the same id, which the SMS gateways and mail clients recognise."""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from kit.events import utcnow
from kit.request_keys import time_key
from kit.store import Collection, VersionConflict

from notification.channels import ChannelSender
from notification.domain import OutboundMessage, RetryPolicy, SendOutcome, after_attempt, claim
from notification.records import message_doc, status_events

log = logging.getLogger("notification.delivery")

FinalHook = Callable[[OutboundMessage], Awaitable[None]]


class DeliveryWorker:
    def __init__(self, messages: Collection, senders: dict[str, ChannelSender], policy: RetryPolicy, *,
                 poll_seconds: float = 1.0, batch: int = 100, concurrency: int = 16,
                 on_final: FinalHook | None = None, notify_outbox: Callable[[], None] = lambda: None):
        self.messages = messages
        self.senders = senders
        self.policy = policy
        self.poll_seconds = poll_seconds
        self.batch = batch
        self._slots = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        self.on_final = on_final
        self.notify_outbox = notify_outbox

    def wake(self) -> None:
        self._wake.set()

    async def cycle(self) -> None:
        """One round: wait for new work (or the poll interval), then send everything due."""
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
        except TimeoutError:
            pass
        self._wake.clear()
        await self.send_due()

    async def send_due(self) -> int:
        sent = 0
        while True:
            now = time_key(utcnow())
            due = await self.messages.find({"status": "queued", "due_key": {"$lte": now}},
                                           sort=[("due_key", 1)], limit=self.batch)
            due += await self.messages.find({"status": "sending", "lease_key": {"$lte": now}}, limit=self.batch)
            if not due:
                return sent
            results = await asyncio.gather(*(self._deliver(doc) for doc in due))
            sent += sum(results)
            if len(due) < self.batch:
                return sent

    async def _deliver(self, doc: dict) -> bool:
        async with self._slots:
            message = OutboundMessage.model_validate(doc)
            sender = self.senders.get(message.channel)
            if sender is None:
                return False
            now = utcnow()
            try:
                stored = await self.messages.save(message_doc(claim(message, now, self.policy), doc), doc["version"])
            except VersionConflict:
                return False  # another worker claimed it first
            try:
                outcome = await sender.send(message)
            except Exception as exc:  # a bug or an unexpected library error: retried like a provider fault
                log.exception("sending %s over %s failed unexpectedly", message.id, message.channel)
                outcome = SendOutcome("temporary", detail=f"{type(exc).__name__}")
            done = after_attempt(message, outcome, utcnow(), self.policy)
            try:
                await self.messages.save(message_doc(done, doc), stored["version"], status_events(message, done))
            except VersionConflict:
                # A delivery report overtook us (the SMS arrived before we wrote "sent"): it is newer.
                return True
            self.notify_outbox()
            log.info("message %s over %s: %s", message.id, message.channel, done.status,
                     extra={"message_id": message.id, "channel": message.channel, "status": done.status,
                            "attempt": len(done.attempts), "provider": outcome.provider})
            if done.is_final and self.on_final is not None:
                await self.on_final(done)
            return done.status in ("sent", "delivered")
