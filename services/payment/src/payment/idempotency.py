"""Idempotency-Key on every route that creates something (a payment, a counter payment, a refund): the same
key with the same request gets the first answer (`Idempotent-Replayed: true`); with another request, 422;
while the first is still running, 409 with Retry-After.

One record per caller and key, inserted before any work (an insert-only claim: a duplicate insert means an
earlier or concurrent request). Its id and the request's fingerprint are keyed hashes (HMAC under a key
derived from the security pepper), so the table names no one and a security code in a body cannot be
recovered from it. A request that fails with an error releases its key; one that never finished is taken
over after the lease. Records are dropped after the TTL by the sweep. (The dossier service's intake keeps
its own variant, which also seals the security code of the answer.)"""

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from kit.events import utcnow
from kit.problems import Problem
from kit.request_keys import HEADER, KEY_PATTERN, REPLAYED, check_key, time_key  # noqa: F401  (re-exported)
from kit.store import DocumentStore, DuplicateKey, VersionConflict

log = logging.getLogger("payment.idempotency")

KEYS = "payment_idempotency"
RUNNING, DONE = "running", "done"


@dataclass
class Claim:
    id: str
    owner: str
    version: int
    doc: dict


@dataclass
class Replay:
    status: int
    body: Any


class Idempotency:
    def __init__(self, store: DocumentStore, pepper: str, *, ttl_seconds: float, wait_seconds: float,
                 lease_seconds: float, poll_seconds: float = 0.05):
        self.coll = store.collection(KEYS)
        self._key = hmac.new(pepper.encode(), b"motcua/payment/idempotency/v1", hashlib.sha256).digest()
        self.ttl = timedelta(seconds=ttl_seconds)
        self.wait = wait_seconds
        self.lease = timedelta(seconds=lease_seconds)
        self.poll = poll_seconds

    async def ensure_indexes(self) -> None:
        await self.coll.ensure_index(["expires_at"])

    def _mac(self, text: str) -> str:
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()

    def fingerprint(self, route: str, body: Any) -> str:
        """The request as the route understood it: its name and its parsed body, canonically."""
        return self._mac(route + "\n" + json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                                                    default=str))

    async def begin(self, *, subject: str, key: str, fingerprint: str) -> Claim | Replay:
        record_id = self._mac(f"{subject}\n{key}")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait
        while True:
            now = utcnow()
            fresh = {"_id": record_id, "fingerprint": fingerprint, "state": RUNNING, "owner": secrets.token_hex(8),
                     "started_at": time_key(now), "expires_at": time_key(now + self.ttl), "status": None,
                     "response": None}
            try:
                stored = await self.coll.insert(fresh)
                return Claim(record_id, fresh["owner"], stored["version"], fresh)
            except DuplicateKey:
                pass
            found = await self.coll.get(record_id)
            if found is None:
                continue  # the first request failed and released the key meanwhile
            expired = found["expires_at"] <= time_key(now)
            if not expired and found["fingerprint"] != fingerprint:
                raise Problem(422, "idempotency-key-reused", "Idempotency-Key reused",
                              "This Idempotency-Key was used for a different request; use a new key for a new "
                              "request.", field=HEADER)
            if not expired and found["state"] == DONE:
                return Replay(found["status"], found["response"])
            if expired or found["started_at"] <= time_key(now - self.lease):  # its request died: take over
                try:
                    stored = await self.coll.save(fresh, found["version"])
                    return Claim(record_id, fresh["owner"], stored["version"], fresh)
                except VersionConflict:
                    continue
            if loop.time() >= deadline:
                problem = Problem(409, "idempotency-key-in-use", "The same request is still being processed",
                                  "A request with this Idempotency-Key is still running; retry after a moment to "
                                  "get its answer.", field=HEADER)
                problem.headers["Retry-After"] = "1"
                raise problem
            await asyncio.sleep(self.poll)

    async def complete(self, claim: Claim, *, status: int, body: Any) -> None:
        doc = {**claim.doc, "state": DONE, "status": status, "response": body}
        try:
            await self.coll.save(doc, claim.version)
        except VersionConflict:  # taken over after the lease: that request answers
            log.warning("idempotency record taken over before it completed")

    async def release(self, claim: Claim) -> None:
        """The work failed: free the key so that a retry does the work again."""
        found = await self.coll.get(claim.id)
        if found is not None and found.get("owner") == claim.owner and found["state"] == RUNNING:
            await self.coll.delete(claim.id)

    async def sweep(self, *, now: datetime | None = None, limit: int = 500) -> int:
        expired = await self.coll.find({"expires_at": {"$lt": time_key(now or utcnow())}},
                                       sort=[("expires_at", 1)], limit=limit)
        for doc in expired:
            await self.coll.delete(doc["_id"])
        return len(expired)
