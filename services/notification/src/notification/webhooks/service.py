"""Use cases of outbound webhooks over the document store: subscriptions, a delivery recorded per matching
event, the worker that sends what is due, and an operator's replays.

Two workers (replicas) never send one try twice: a worker first claims a delivery by saving it with the
version it read (the loser gets VersionConflict and leaves it), with its next try pushed past the request's
time limit, so a worker that dies mid-request leaves the delivery to be taken again later.

Logs carry ids, status codes and the receiver's host only: the payload holds citizens' personal data and
the URL's path or query may hold the integration's token; the secret is never logged."""

import asyncio
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import datetime, timedelta
from typing import Any

import httpx
from contracts import REGISTRY
from kit.events import CloudEvent, utcnow
from kit.paging import decode_cursor, encode_cursor
from kit.problems import Conflict, NotFound, Problem
from kit.runtime import Runtime
from kit.store import DuplicateKey, VersionConflict

from notification.webhooks.domain import (
    DEAD,
    MAX_ATTEMPTS_KEPT,
    PENDING,
    Delivery,
    DeliveryStatus,
    Outcome,
    RetryPolicy,
    Subscription,
    SubscriptionInactive,
    check_event_types,
    check_url,
    url_host,
    utc_key,
)
from notification.webhooks.settings import WebhookSettings
from notification.webhooks.signing import SIGNATURE_HEADER, sign

log = logging.getLogger("notification.webhooks")

SUBSCRIPTIONS = "webhook_subscriptions"
DELIVERIES = "webhook_deliveries"
CONSUMER_GROUP = "notification-webhooks"
CONTENT_TYPE = "application/cloudevents+json"
DELIVERY_HEADER = "X-MotCua-Delivery"
EVENT_TYPE_HEADER = "X-MotCua-Event-Type"
USER_AGENT = "MotCua-Webhooks/1.0"
BATCH = 100  # deliveries taken per round
CONCURRENCY = 10  # requests in flight per worker: one slow receiver does not hold up the others
RESPONSE_BYTES_READ = 64 * 1024  # what is read of an answer (only its status matters), so the connection is reused
LEASE_MARGIN = timedelta(seconds=30)
SAVE_RETRIES = 5
INDEXES = {
    SUBSCRIPTIONS: [["active"], ["order_key"]],
    DELIVERIES: [["status", "due_key"], ["subscription_id", "order_key"], ["subscription_id", "status", "order_key"]],
}


class Webhooks:
    def __init__(self, runtime: Runtime, settings: WebhookSettings, client: httpx.AsyncClient | None = None, *,
                 topics: list[str] | None = None):
        self.settings = settings
        self.subscriptions = runtime.store.collection(SUBSCRIPTIONS)
        self.deliveries = runtime.store.collection(DELIVERIES)
        # Only types whose topic is consumed can ever be delivered: subscribing to another would be silent.
        self.known_types = sorted(t for t, model in REGISTRY.items() if topics is None or model.topic in topics)
        self.policy = RetryPolicy(settings.attempts, settings.backoff_seconds, settings.max_backoff_seconds)
        self.lease = timedelta(seconds=settings.timeout_seconds) + LEASE_MARGIN
        self._client = client  # given: used, not closed
        self._worker_client: httpx.AsyncClient | None = None
        self._wake = asyncio.Event()
        self._indexed = False

    # --- subscriptions ---------------------------------------------------------------------------------

    async def create(self, *, url: str, event_types: list[str], description: str = "", active: bool = True,
                     by: str) -> tuple[Subscription, str]:
        """A new subscription, and its secret: the only time the secret is shown."""
        now = utcnow()
        secret = new_secret()
        subscription = Subscription(
            id=secrets.token_hex(16), url=check_url(url, allow_plain_http=self.settings.allow_plain_http),
            event_types=check_event_types(event_types, self.known_types), description=description, active=active,
            created_at=now, created_by=by, updated_at=now, updated_by=by, secret=secret)
        await self.subscriptions.insert(subscription_doc(subscription))
        log.info("webhook subscription %s created by %s for %s (%s)", subscription.id, by, url_host(subscription.url),
                 ", ".join(subscription.event_types))
        return subscription, secret

    async def subscription(self, subscription_id: str) -> Subscription:
        doc = await self.subscriptions.get(subscription_id)
        if doc is None:
            raise NotFound("Subscription", subscription_id)
        return Subscription.model_validate(doc)

    async def subscription_page(self, *, limit: int, cursor: str | None) -> tuple[list[Subscription], str | None]:
        """Subscriptions, oldest first."""
        after = _cursor_key(cursor, kind="subscriptions")
        flt: dict[str, Any] = {"order_key": {"$gt": after}} if after else {}
        docs = await self.subscriptions.find(flt, sort=[("order_key", 1)], limit=limit + 1)  # one more: a next page?
        page = docs[:limit]
        more = len(docs) > limit
        return ([Subscription.model_validate(d) for d in page],
                encode_cursor({"w": "subscriptions", "k": page[-1]["order_key"]}) if more else None)

    async def update(self, subscription_id: str, *, by: str, url: str | None = None,
                     event_types: list[str] | None = None, active: bool | None = None,
                     description: str | None = None) -> Subscription:
        changes: dict[str, Any] = {}
        if url is not None:
            changes["url"] = check_url(url, allow_plain_http=self.settings.allow_plain_http)
        if event_types is not None:
            changes["event_types"] = check_event_types(event_types, self.known_types)
        if active is not None:
            changes["active"] = active
        if description is not None:
            changes["description"] = description
        updated = await self._change(subscription_id, lambda s: s.model_copy(
            update={**changes, "updated_at": utcnow(), "updated_by": by}))
        log.info("webhook subscription %s changed by %s (%s)", subscription_id, by, ", ".join(sorted(changes)) or "-")
        return updated

    async def rotate_secret(self, subscription_id: str, *, by: str,
                            previous_valid_seconds: int | None = None) -> tuple[Subscription, str]:
        """A new secret, shown once; the previous one still signs deliveries for a grace period."""
        secret = new_secret()
        grace = timedelta(seconds=self.settings.previous_secret_valid_seconds if previous_valid_seconds is None
                          else previous_valid_seconds)
        rotated = await self._change(subscription_id, lambda s: s.rotated(secret, now=utcnow(), by=by,
                                                                          previous_valid_for=grace))
        log.info("webhook subscription %s: secret rotated by %s (previous valid %d s)", subscription_id, by,
                 grace.total_seconds())
        return rotated, secret

    async def delete(self, subscription_id: str, *, by: str) -> None:
        """Remove a subscription and its delivery log (the log holds personal data and would be orphaned)."""
        if not await self.subscriptions.delete(subscription_id):
            raise NotFound("Subscription", subscription_id)
        removed = 0
        while docs := await self.deliveries.find({"subscription_id": subscription_id}, limit=BATCH):
            for doc in docs:
                removed += await self.deliveries.delete(doc["_id"])
        log.info("webhook subscription %s deleted by %s with %d deliveries", subscription_id, by, removed)

    async def _change(self, subscription_id: str, change) -> Subscription:
        for _ in range(SAVE_RETRIES):
            doc = await self.subscriptions.get(subscription_id)
            if doc is None:
                raise NotFound("Subscription", subscription_id)
            changed = change(Subscription.model_validate(doc))
            try:
                await self.subscriptions.save(subscription_doc(changed), doc["version"])
            except VersionConflict:
                continue  # another admin's change won: apply this one on top of it
            return changed
        raise Conflict("subscription-busy", "Subscription busy", "The subscription kept changing; try again.")

    # --- recording deliveries ----------------------------------------------------------------------------

    async def on_event(self, event: CloudEvent) -> None:
        """One delivery per active subscription that wants this event's type (once, however often it comes)."""
        docs = await self.subscriptions.find({"active": True})
        wanting = [s for s in map(Subscription.model_validate, docs) if s.wants(event.type)]
        queued = 0
        for subscription in wanting:
            delivery = Delivery.new(event, subscription.id, now=utcnow())
            try:
                await self.deliveries.insert(delivery_doc(delivery))
            except DuplicateKey:
                continue  # the bus delivered this event again: already recorded
            queued += 1
            log.info("webhook delivery %s queued for subscription %s (event %s, %s)", delivery.id, subscription.id,
                     event.id, event.type, extra={"event_id": event.id, "event_type": event.type})
        if queued:
            self._wake.set()

    # --- sending -------------------------------------------------------------------------------------------

    async def work(self) -> None:
        """The delivery worker: a round at once when woken (new deliveries, a replay), else every poll_seconds
        for the retries that fell due. Runs until cancelled; a failure ends it and the runtime restarts it."""
        if not self._indexed:
            await self.ensure_indexes()
            self._indexed = True
        owned = self._new_client() if self._client is None else None
        self._worker_client = owned
        try:
            while True:
                self._wake.clear()  # before the round: a wake-up during it makes another round
                if await self.deliver_due() >= BATCH:
                    continue  # more may be due already
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.settings.poll_seconds)
        finally:
            self._worker_client = None
            if owned is not None:
                await owned.aclose()

    async def deliver_due(self) -> int:
        """Send the deliveries whose next try is due (up to one batch); how many were taken."""
        now = utcnow()
        docs = await self.deliveries.find({"status": PENDING, "due_key": {"$lte": utc_key(now)}},
                                          sort=[("due_key", 1)], limit=BATCH)
        if not docs:
            return 0
        subscriptions = {sid: await self._subscription_or_none(sid) for sid in {d["subscription_id"] for d in docs}}
        gate = asyncio.Semaphore(CONCURRENCY)
        async with self._http() as client:
            results = await asyncio.gather(
                *(self._deliver(doc, subscriptions[doc["subscription_id"]], client, gate) for doc in docs),
                return_exceptions=True)
        for doc, result in zip(docs, results, strict=True):
            if isinstance(result, Exception):  # the store failed: the delivery stays due, the next round retries
                log.error("webhook delivery %s not processed: %s", doc["_id"], type(result).__name__)
        return len(docs)

    async def _deliver(self, doc: dict, subscription: Subscription | None, client: httpx.AsyncClient,
                       gate: asyncio.Semaphore) -> None:
        async with gate:
            delivery = Delivery.model_validate(doc)
            now = utcnow()
            if subscription is None or not subscription.active:
                reason = "subscription deleted" if subscription is None else "subscription inactive"
                with suppress(VersionConflict):  # someone else changed it: theirs stands
                    await self.deliveries.save(delivery_doc(delivery.abandoned(reason, at=now)), doc["version"])
                    log.warning("webhook delivery %s is dead: %s", delivery.id, reason)
                return
            try:
                claimed = await self.deliveries.save(delivery_doc(delivery.claimed(until=now + self.lease)),
                                                     doc["version"])
            except VersionConflict:
                return  # another worker took it
            outcome = await self._post(client, subscription, delivery, now)
            done = delivery.recorded(outcome, at=now, policy=self.policy)
            try:
                await self.deliveries.save(delivery_doc(done), claimed["version"])
            except VersionConflict:
                # Replayed by an operator while in flight: the replay stands; the try is still logged.
                await self._log_late_attempt(done)
                return
            self._log_outcome(done, subscription)

    async def _post(self, client: httpx.AsyncClient, subscription: Subscription, delivery: Delivery,
                    now: datetime) -> Outcome:
        body = json.dumps(delivery.payload, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {
            "Content-Type": CONTENT_TYPE,
            SIGNATURE_HEADER: sign(subscription.signing_secrets(now), body, int(now.timestamp())),
            DELIVERY_HEADER: delivery.id,
            EVENT_TYPE_HEADER: delivery.event_type,
            "User-Agent": USER_AGENT,
        }
        started = time.perf_counter()

        def elapsed() -> float:
            return (time.perf_counter() - started) * 1000

        try:
            # The whole exchange is bounded: a receiver that answers byte by byte does not hold a worker.
            async with asyncio.timeout(self.settings.timeout_seconds):
                async with client.stream("POST", subscription.url, content=body, headers=headers) as response:
                    read = 0
                    async for chunk in response.aiter_raw():
                        read += len(chunk)
                        if read > RESPONSE_BYTES_READ:
                            break
        except (TimeoutError, httpx.TimeoutException):
            return Outcome(None, f"no answer within {self.settings.timeout_seconds:g} s", elapsed())
        except Exception as exc:  # noqa: BLE001  (connection refused, reset, TLS, a bad answer: all retried later)
            # The class only: some messages repeat the URL, whose path or query may hold a token.
            return Outcome(None, type(exc).__name__, elapsed())
        error = None if response.is_success else f"HTTP {response.status_code} {response.reason_phrase}".strip()
        return Outcome(response.status_code, error, elapsed())

    def _log_outcome(self, delivery: Delivery, subscription: Subscription) -> None:
        attempt = delivery.attempts[-1]
        host = url_host(subscription.url)
        answer = f"HTTP {attempt.status_code}" if attempt.status_code is not None else attempt.error
        extra = {"event_id": delivery.event_id, "event_type": delivery.event_type, "status": attempt.status_code}
        if delivery.status == PENDING:
            log.warning("webhook delivery %s to %s failed (try %d of %d): %s; next try at %s", delivery.id, host,
                        delivery.tries, self.policy.attempts, answer,
                        delivery.next_attempt_at.isoformat() if delivery.next_attempt_at else "-", extra=extra)
        elif delivery.status == DEAD:
            log.error("webhook delivery %s to %s is dead after %d tries: %s", delivery.id, host, delivery.tries,
                      answer, extra=extra)
        else:
            log.info("webhook delivery %s to %s succeeded: %s in %.0f ms", delivery.id, host, answer,
                     attempt.duration_ms, extra=extra)

    async def _log_late_attempt(self, done: Delivery) -> None:
        for _ in range(SAVE_RETRIES):
            doc = await self.deliveries.get(done.id)
            if doc is None:
                return  # deleted with its subscription
            current = Delivery.model_validate(doc)
            late = current.model_copy(update={"attempts": [*current.attempts, done.attempts[-1]][-MAX_ATTEMPTS_KEPT:]})
            try:
                await self.deliveries.save(delivery_doc(late), doc["version"])
                return
            except VersionConflict:
                continue

    # --- the delivery log and replays ------------------------------------------------------------------------

    async def delivery(self, delivery_id: str) -> Delivery:
        doc = await self.deliveries.get(delivery_id)
        if doc is None:
            raise NotFound("Delivery", delivery_id)
        return Delivery.model_validate(doc)

    async def delivery_page(self, subscription_id: str, *, status: DeliveryStatus | None, limit: int,
                            cursor: str | None) -> tuple[list[Delivery], str | None]:
        """A subscription's deliveries, newest first."""
        await self.subscription(subscription_id)  # 404 for an unknown one, rather than an empty page
        kind = f"deliveries:{subscription_id}:{status or ''}"
        before = _cursor_key(cursor, kind=kind)
        flt: dict[str, Any] = {"subscription_id": subscription_id}
        if status is not None:
            flt["status"] = status
        if before:
            flt["order_key"] = {"$lt": before}
        docs = await self.deliveries.find(flt, sort=[("order_key", -1)], limit=limit + 1)
        page = docs[:limit]
        more = len(docs) > limit
        return ([Delivery.model_validate(d) for d in page],
                encode_cursor({"w": kind, "k": page[-1]["order_key"]}) if more else None)

    async def replay(self, delivery_id: str, *, by: str) -> Delivery:
        """Send one delivery again now, whatever its status; its history is kept."""
        for _ in range(SAVE_RETRIES):
            doc = await self.deliveries.get(delivery_id)
            if doc is None:
                raise NotFound("Delivery", delivery_id)
            delivery = Delivery.model_validate(doc)
            await self._require_active(delivery.subscription_id)
            replayed = delivery.replayed(by=by, now=utcnow())
            try:
                await self.deliveries.save(delivery_doc(replayed), doc["version"])
            except VersionConflict:
                continue  # a worker just recorded a try: replay on top of it
            log.info("webhook delivery %s replayed by %s", delivery_id, by)
            self._wake.set()
            return replayed
        raise Conflict("delivery-busy", "Delivery busy", "The delivery kept changing; try the replay again.")

    async def replay_dead(self, subscription_id: str, *, by: str) -> int:
        """Replay every dead delivery of a subscription; how many."""
        subscription = await self.subscription(subscription_id)
        if not subscription.active:
            raise SubscriptionInactive(subscription_id)
        replayed, after = 0, ""
        now = utcnow()
        while docs := await self.deliveries.find(
                {"subscription_id": subscription_id, "status": DEAD, "order_key": {"$gt": after}},
                sort=[("order_key", 1)], limit=BATCH):
            for doc in docs:
                with suppress(VersionConflict):  # changed meanwhile (replayed singly): no longer dead
                    await self.deliveries.save(delivery_doc(Delivery.model_validate(doc).replayed(by=by, now=now)),
                                               doc["version"])
                    replayed += 1
            after = docs[-1]["order_key"]
        log.info("webhook subscription %s: %d dead deliveries replayed by %s", subscription_id, replayed, by)
        if replayed:
            self._wake.set()
        return replayed

    async def _require_active(self, subscription_id: str) -> None:
        subscription = await self._subscription_or_none(subscription_id)
        if subscription is None:
            raise Conflict("subscription-deleted", "Subscription deleted",
                           f"The delivery's subscription '{subscription_id}' no longer exists.")
        if not subscription.active:
            raise SubscriptionInactive(subscription_id)

    # --- plumbing ---------------------------------------------------------------------------------------

    async def ensure_indexes(self) -> None:
        for name, indexes in INDEXES.items():
            for fields in indexes:
                await (self.subscriptions if name == SUBSCRIPTIONS else self.deliveries).ensure_index(fields)

    async def _subscription_or_none(self, subscription_id: str) -> Subscription | None:
        doc = await self.subscriptions.get(subscription_id)
        return Subscription.model_validate(doc) if doc else None

    def _new_client(self) -> httpx.AsyncClient:
        # No redirects: a 3xx is a failure, and the signed payload never goes where the URL did not say.
        return httpx.AsyncClient(timeout=self.settings.timeout_seconds, follow_redirects=False,
                                 headers={"User-Agent": USER_AGENT})

    @asynccontextmanager
    async def _http(self) -> AsyncIterator[httpx.AsyncClient]:
        client = self._client or self._worker_client
        if client is not None:
            yield client
            return
        async with self._new_client() as temporary:  # deliver_due called outside the worker
            yield temporary


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def subscription_doc(subscription: Subscription) -> dict[str, Any]:
    doc = subscription.model_dump(mode="json")
    doc["secret"] = subscription.secret.get_secret_value()  # model_dump masks it
    doc["previous_secret"] = subscription.previous_secret.get_secret_value() if subscription.previous_secret else None
    return {"_id": subscription.id, **doc, "order_key": f"{utc_key(subscription.created_at)}#{subscription.id}"}


def delivery_doc(delivery: Delivery) -> dict[str, Any]:
    due = utc_key(delivery.next_attempt_at) if delivery.next_attempt_at else None
    return {"_id": delivery.id, **delivery.model_dump(mode="json"), "due_key": due,
            "order_key": f"{utc_key(delivery.created_at)}#{delivery.id}"}


def _cursor_key(cursor: str | None, *, kind: str) -> str | None:
    """The last key served, from a cursor this API returned for the same listing."""
    position = decode_cursor(cursor)
    if position is None:
        return None
    key = position.get("k")
    if position.get("w") != kind or not isinstance(key, str) or not 0 < len(key) <= 200:
        raise Problem(422, "invalid-cursor", "Invalid cursor",
                      "The cursor is not one this listing returned; start again without it.", field="cursor")
    return key
