"""Idempotency-Key on the intake routes: a submission repeated with the same key (a citizen pressing
refresh, a client retrying after a timeout) gets the first dossier's answer, never a second dossier.

One record per caller and key, inserted before any work (an insert-only claim: a duplicate insert
means an earlier or concurrent request). Its id is a keyed hash of subject and key, so the table
names no one. The answer is kept for replay; the security code in it is sealed with AES-GCM under
a key derived (HKDF) from the security pepper, never stored in plain text. The code and its sealed
security code are written *before* the dossier is inserted, so a request that dies after the insert
can still be answered: once its lease runs out, the next attempt finds the dossier and replays it.
Records are dropped after `ttl` (24 h) by the sweep."""

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kit.events import utcnow
from kit.problems import Problem
from kit.request_keys import HEADER, KEY_PATTERN, check_key, time_key  # noqa: F401  (re-exported)
from kit.store import DocumentStore, DuplicateKey, VersionConflict

log = logging.getLogger("dossier.idempotency")

KEYS = "idempotency_keys"
RUNNING, DONE = "running", "done"


def _derive(pepper: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"motcua/dossier/idempotency",
                info=purpose).derive(pepper.encode())


@dataclass
class Claim:
    """This request owns the key and does the work. `code` and `security_code` are set when an
    earlier attempt chose a code and died: its dossier may exist."""

    id: str
    owner: str
    version: int
    doc: dict
    code: str | None = None
    security_code: str | None = None


@dataclass
class Replay:
    status: int
    body: dict


class Idempotency:
    def __init__(self, store: DocumentStore, pepper: str, *, ttl_seconds: float, wait_seconds: float,
                 lease_seconds: float, poll_seconds: float = 0.05):
        self.coll = store.collection(KEYS)
        self._ids = _derive(pepper, b"record-id/v1")
        self._aead = AESGCM(_derive(pepper, b"seal/v1"))
        self.ttl = timedelta(seconds=ttl_seconds)
        self.wait = wait_seconds
        self.lease = timedelta(seconds=lease_seconds)
        self.poll = poll_seconds

    async def ensure_indexes(self) -> None:
        await self.coll.ensure_index(["expires_at"])

    def record_id(self, subject: str, key: str) -> str:
        return hmac.new(self._ids, f"{subject}\n{key}".encode(), hashlib.sha256).hexdigest()

    # -- sealing ----------------------------------------------------------------------------------

    def seal(self, plaintext: str, *, context: str) -> str:
        nonce = os.urandom(12)
        return base64.b64encode(nonce + self._aead.encrypt(nonce, plaintext.encode(), context.encode())).decode()

    def unseal(self, token: str, *, context: str) -> str:
        raw = base64.b64decode(token)
        return self._aead.decrypt(raw[:12], raw[12:], context.encode()).decode()

    def sealed_security_code(self, doc: dict) -> str | None:
        """The security code a record keeps sealed, or None."""
        if not doc.get("code") or not doc.get("sealed_security_code"):
            return None
        try:
            return self.unseal(doc["sealed_security_code"], context=f"{doc['_id']}\n{doc['code']}")
        except (InvalidTag, ValueError):  # the pepper changed since: the answer cannot be rebuilt
            return None

    # -- the protocol ---------------------------------------------------------------------------

    async def begin(self, *, subject: str, key: str, fingerprint: str) -> Claim | Replay:
        """Claim the key, or answer from its record: the first answer (Replay), 422 for another
        request under the same key, 409 with Retry-After while the first is still running."""
        record_id = self.record_id(subject, key)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait
        while True:
            now = utcnow()
            # Every field named, so that a record taken over keeps nothing of its former use.
            fresh = {"_id": record_id, "fingerprint": fingerprint, "state": RUNNING, "owner": secrets.token_hex(8),
                     "started_at": time_key(now), "expires_at": time_key(now + self.ttl), "code": None,
                     "sealed_security_code": None, "status": None, "response": None}
            try:
                stored = await self.coll.insert(fresh)
                return Claim(record_id, fresh["owner"], stored["version"], fresh)
            except DuplicateKey:
                pass
            found = await self.coll.get(record_id)
            if found is None:
                continue  # the first attempt failed and released the key meanwhile
            if found["expires_at"] <= time_key(now):  # expired, not yet swept: as if absent
                claim = await self._take_over(found, fresh)
                if claim is not None:
                    return claim
                continue
            if found["fingerprint"] != fingerprint:
                raise Problem(422, "idempotency-key-reused", "Idempotency-Key reused",
                              "This Idempotency-Key was used for a different request; use a new key for a new "
                              "submission.", field=HEADER)
            if found["state"] == DONE:
                body = {**found["response"]}
                security_code = self.sealed_security_code(found)
                if security_code is not None:
                    body["security_code"] = security_code
                return Replay(found["status"], body)
            if found["started_at"] <= time_key(now - self.lease):  # its request died: take over
                claim = await self._take_over(found, {**fresh, "started_at": time_key(now),
                                                      "expires_at": found["expires_at"]}, keep=True)
                if claim is not None:
                    return claim
                continue
            if loop.time() >= deadline:
                problem = Problem(409, "idempotency-key-in-use", "The same request is still being processed",
                                  "A request with this Idempotency-Key is still running; retry after a moment to "
                                  "get its answer.", field=HEADER)
                problem.headers["Retry-After"] = "1"
                raise problem
            await asyncio.sleep(self.poll)

    async def _take_over(self, found: dict, fresh: dict, *, keep: bool = False) -> Claim | None:
        doc = {**fresh}
        if keep:  # what the dead attempt chose: its dossier may exist
            doc.update({k: found[k] for k in ("code", "sealed_security_code") if k in found})
        try:
            stored = await self.coll.save(doc, found["version"])
        except VersionConflict:
            return None  # another request took it first
        claim = Claim(doc["_id"], doc["owner"], stored["version"], doc)
        if keep:
            claim.code, claim.security_code = doc.get("code"), self.sealed_security_code(doc)
        return claim

    async def prepare(self, claim: Claim, *, code: str, security_code: str) -> None:
        """Before the dossier is inserted: remember its code and (sealed) security code."""
        doc = {**claim.doc, "code": code,
               "sealed_security_code": self.seal(security_code, context=f"{claim.id}\n{code}")}
        try:
            stored = await self.coll.save(doc, claim.version)
        except VersionConflict:
            raise Problem(409, "idempotency-key-in-use", "The same request is being processed elsewhere",
                          "Another request with this Idempotency-Key took over; retry to get its answer.",
                          field=HEADER) from None
        claim.version, claim.doc = stored["version"], doc

    async def complete(self, claim: Claim, *, status: int, body: dict) -> None:
        """Keep the answer for replay: everything but the security code, which stays sealed."""
        doc = {**claim.doc, "state": DONE, "status": status,
               "response": {k: v for k, v in body.items() if k != "security_code"}}
        stored = await self.coll.save(doc, claim.version)
        claim.version, claim.doc = stored["version"], doc

    async def release(self, claim: Claim) -> None:
        """The work failed and created nothing: free the key so that a retry does the work again."""
        found = await self.coll.get(claim.id)
        if found is not None and found.get("owner") == claim.owner and found["state"] == RUNNING:
            await self.coll.delete(claim.id)

    async def sweep(self, *, now: datetime | None = None, limit: int = 500) -> int:
        """Drop the records whose time is up (24 h after the first request)."""
        expired = await self.coll.find({"expires_at": {"$lt": time_key(now or utcnow())}},
                                       sort=[("expires_at", 1)], limit=limit)
        for doc in expired:
            await self.coll.delete(doc["_id"])
        if expired:
            log.info("idempotency keys expired", extra={"records": len(expired)})
        return len(expired)


def json_body(model) -> dict:
    """A response model as the JSON dict that is sent (and replayed)."""
    return json.loads(model.model_dump_json())
