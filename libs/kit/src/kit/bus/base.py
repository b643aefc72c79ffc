"""What both adapters share: the port, the retry policy, and the deliver-or-park step."""

import asyncio
import logging
import traceback
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass


from kit import metrics, telemetry
from kit.events import CloudEvent

Handler = Callable[[CloudEvent], Awaitable[None]]
log = logging.getLogger("kit.bus")

DLQ_SUFFIX = ".dlq"
# CloudEvents extension attributes written on a parked event (lowercase alphanumerics only).
DLQ_ERROR, DLQ_GROUP, DLQ_TOPIC, DLQ_ATTEMPTS = "dlqerror", "dlqgroup", "dlqtopic", "dlqattempts"
DLQ_EXTENSIONS = (DLQ_ERROR, DLQ_GROUP, DLQ_TOPIC, DLQ_ATTEMPTS)


def dlq_topic(topic: str) -> str:
    return topic + DLQ_SUFFIX


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    backoff: float = 0.2
    max_backoff: float = 5.0


@dataclass(frozen=True)
class Subscription:
    topic: str
    group: str
    handler: Handler


class EventBus(ABC):
    retry: RetryPolicy

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def stop(self) -> None:
        """Stop consuming, let in-flight handlers finish and commit, then close."""

    async def publish(self, topic: str, event: CloudEvent, key: str | None = None) -> None:
        """Return once the event is durably accepted (acks=all on Kafka). The record carries the
        trace context of a producer span, itself a child of the request that caused the event."""
        with telemetry.producer_span(topic=topic, event_type=event.type, event_id=event.id,
                                     traceparent=event.traceparent, tracestate=event.tracestate) as headers:
            stamped = event.model_copy(update={"traceparent": headers.get("traceparent", event.traceparent)})
            await self._send(topic, stamped, key)
        metrics.instruments().published.add(1, {"topic": topic})

    @abstractmethod
    async def _send(self, topic: str, event: CloudEvent, key: str | None) -> None: ...

    @abstractmethod
    def subscribe(self, topic: str, group: str, handler: Handler) -> None:
        """Deliver every event of `topic` to one member of `group`, in order per key, at least once."""

    @abstractmethod
    def read_all(self, topic: str) -> AsyncIterator[CloudEvent]:
        """Every event in `topic` now, from the beginning of each partition up to its end when the call
        starts (later events are left out), in order per key. Uses no consumer group and commits
        nothing, so it neither moves nor waits for anyone's offsets. Read models are rebuilt with it.
        Needs no `start()`."""

    @abstractmethod
    async def replay_dlq(self, topic: str) -> int:
        """Move every event parked on `<topic>.dlq` back onto `topic` (without the DLQ attributes).
        Groups that had already applied an event skip it: consumers are idempotent."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise if the broker cannot be reached."""

    async def deliver(self, sub: Subscription, event: CloudEvent) -> CloudEvent | None:
        """Run the handler with retries and backoff. Returns None when handled, or the event to
        park on the DLQ (with the error attached) when every attempt failed."""
        meter = metrics.instruments()
        labels = {"topic": sub.topic, "group": sub.group}
        with telemetry.consumer_span(topic=sub.topic, group=sub.group, event_type=event.type, event_id=event.id,
                                     traceparent=event.traceparent, tracestate=event.tracestate) as span:
            error: Exception | None = None
            for attempts in range(1, max(1, self.retry.attempts) + 1):
                try:
                    await sub.handler(event)
                    meter.consumed.add(1, {**labels, "outcome": "handled"})
                    return None
                except Exception as exc:  # BaseException (cancellation, a crash) must not be retried
                    error = exc
                    if attempts < self.retry.attempts:
                        meter.retries.add(1, labels)
                        await asyncio.sleep(min(self.retry.max_backoff, self.retry.backoff * 2 ** (attempts - 1)))
            assert error is not None
            span.record_exception(error)
            meter.consumed.add(1, {**labels, "outcome": "dead_lettered"})
            meter.dead_lettered.add(1, labels)
            log.error("event parked on DLQ after %d attempts: %s", attempts, type(error).__name__,
                      extra={"topic": sub.topic, "group": sub.group, "event_type": event.type, "event_id": event.id})
            detail = "".join(traceback.format_exception_only(type(error), error)).strip()
            return event.with_extensions(**{DLQ_ERROR: detail[:2000], DLQ_GROUP: sub.group,
                                            DLQ_TOPIC: sub.topic, DLQ_ATTEMPTS: str(attempts)})


def raise_if_cancelled() -> None:
    """Stop a loop whose cancellation a step swallowed: on Python 3.11, `asyncio.wait_for` returns the
    inner result when it completes in the same round as the cancel, and the loop would go on forever
    (a service's shutdown then waited out its timeout)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def cancel_and_wait(tasks: list[asyncio.Task]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
