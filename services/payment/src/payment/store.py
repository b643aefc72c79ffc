"""The payment service's documents. Every decision that must be taken once is an insert of a document with a
deterministic id, because an insert is atomic on every adapter and across processes, while FerretDB (the
test stand-in for MongoDB) runs a conditional update as read-modify-write (see kit.store.mongodb):

- `payment_attempts` `<item id>#<n>`: attempt n of a fee item. Attempt n+1 is claimed only once attempt n
  has closed unpaid, so a fee item has at most one live attempt, whoever starts it, on any replica.
- `payment_steps` `<payment id>/<n>`: step n of a payment (settle, fail, refund, alert…), with the events it
  causes in the same document's outbox. Two writers deciding step n: one insert wins; the other re-reads
  and decides again. Events are therefore emitted once, and their ids are deterministic besides.
- `payment_ledger` `<payment id>:payment`, `<payment id>:refund:<n>`: one document per money movement.

The `payments` document is the payment as of its last saved step (a snapshot, versioned), for queries; a
reader applies any later steps on top (`Payments.load`), and a writer saves the result."""

import logging
import uuid
from datetime import datetime

from kit.outbox import outbox_entry
from kit.runtime import Runtime
from kit.store import DuplicateKey, VersionConflict

from contracts import EventData, build
from payment.domain import FeeItem, LedgerEntry, Payment, Step, utc_key

log = logging.getLogger("payment.store")

PROCEDURE_FEES = "procedure_fees"
DOSSIER_FEES = "dossier_fees"
FEE_ITEMS = "fee_items"
ATTEMPTS = "payment_attempts"
PAYMENTS = "payments"
STEPS = "payment_steps"
LEDGER = "payment_ledger"
SOURCE = "/payment"
# Event ids derive from the step: a step replayed by another writer publishes the same event id, which
# every consumer skips (kit.idempotency).
EVENT_NAMESPACE = uuid.UUID("5b0f3b8e-8f0e-4a53-9a55-6f1c2a7d0b11")
INDEXES = {
    FEE_ITEMS: [["dossier_code"]],
    ATTEMPTS: [["item_id", "attempt"], ["dossier_code"]],
    PAYMENTS: [["dossier_code"], ["state", "started_key"]],
    STEPS: [["payment_id", "number"]],
    LEDGER: [["dossier_code", "at_key"]],
}


class FeeBook:
    """The procedures' fee lists (a copy from catalogue events), the dossiers' headers and fee items."""

    def __init__(self, runtime: Runtime):
        self.procedures = runtime.store.collection(PROCEDURE_FEES)
        self.dossiers = runtime.store.collection(DOSSIER_FEES)
        self.items = runtime.store.collection(FEE_ITEMS)

    async def add_dossier(self, code: str, header: dict) -> None:
        try:
            await self.dossiers.insert({"_id": code, **header})
        except DuplicateKey:
            pass

    async def add_item(self, item: FeeItem) -> None:
        try:
            await self.items.insert({"_id": item.item_id, **item.model_dump(mode="json")})
        except DuplicateKey:
            pass  # a redelivered event

    async def dossier(self, code: str) -> dict | None:
        return await self.dossiers.get(code)

    async def item(self, item_id: str) -> FeeItem | None:
        doc = await self.items.get(item_id)
        return FeeItem.model_validate(doc) if doc else None

    async def items_of(self, code: str) -> list[FeeItem]:
        docs = await self.items.find({"dossier_code": code})
        return sorted((FeeItem.model_validate(d) for d in docs), key=lambda i: (i.created_at, i.item_id))


class Attempts:
    """The live-attempt records: attempt n of an item, insert-only."""

    def __init__(self, runtime: Runtime):
        self.coll = runtime.store.collection(ATTEMPTS)

    async def latest(self, item_id: str) -> dict | None:
        found = await self.coll.find({"item_id": item_id}, sort=[("attempt", -1)], limit=1)
        return found[0] if found else None

    async def claim(self, *, item_id: str, attempt: int, payment_id: str, dossier_code: str, at: datetime) -> bool:
        try:
            await self.coll.insert({"_id": f"{item_id}#{attempt}", "item_id": item_id, "attempt": attempt,
                                    "payment_id": payment_id, "dossier_code": dossier_code, "at": utc_key(at)})
            return True
        except DuplicateKey:
            return False

    async def of_dossier(self, code: str) -> list[dict]:
        return await self.coll.find({"dossier_code": code})


class Payments:
    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.snapshots = runtime.store.collection(PAYMENTS)
        self.steps = runtime.store.collection(STEPS)
        self.ledger = runtime.store.collection(LEDGER)

    # -- payments -------------------------------------------------------------------------------------

    async def insert(self, payment: Payment) -> Payment:
        doc = payment.model_dump(mode="json", exclude={"version"})
        stored = await self.snapshots.insert({"_id": payment.id, **doc})
        return payment.model_copy(update={"version": stored["version"]})

    async def forget(self, payment_id: str) -> None:
        """Drop a payment that lost its attempt claim before anyone saw it (it has no step)."""
        await self.snapshots.delete(payment_id)

    async def load(self, payment_id: str, *, repair: bool = True) -> Payment | None:
        """The payment with every claimed step applied. With `repair`, the ledger entries of those steps are
        made sure of and the snapshot is saved (a writer that died between its claim and its save)."""
        doc = await self.snapshots.get(payment_id)
        if doc is None:
            return None
        return await self._catch_up(Payment.model_validate(doc), repair=repair)

    async def load_many(self, payment_ids: list[str]) -> dict[str, Payment]:
        if not payment_ids:
            return {}
        docs = await self.snapshots.find({"_id": {"$in": payment_ids}})
        loaded = [await self._catch_up(Payment.model_validate(d), repair=False) for d in docs]
        return {p.id: p for p in loaded}

    async def _catch_up(self, payment: Payment, *, repair: bool) -> Payment:
        later = await self.steps.find({"payment_id": payment.id, "number": {"$gte": payment.step}},
                                      sort=[("number", 1)])
        applied: list[Step] = []
        for doc in later:
            step = Step.model_validate(doc["step"])
            if step.number != payment.step:
                break
            payment.apply(step)
            applied.append(step)
        if applied and repair:
            for step in applied:
                await self.record(payment.ledger_entry(step))
            payment = await self.save(payment)
        return payment

    async def save(self, payment: Payment) -> Payment:
        """Save the snapshot. Losing the race is harmless: the steps are the truth, the snapshot a cache."""
        doc = payment.model_dump(mode="json", exclude={"version"})
        try:
            stored = await self.snapshots.save({"_id": payment.id, **doc}, payment.version)
        except VersionConflict:
            return payment
        return payment.model_copy(update={"version": stored["version"]})

    async def claim(self, payment: Payment, step: Step, events: list[EventData]) -> bool:
        """Insert step n with its events; False if another writer has step n already."""
        entries = []
        for n, data in enumerate(events):
            event = build(data, source=SOURCE, subject=payment.id)
            event = event.model_copy(update={"id": str(uuid.uuid5(EVENT_NAMESPACE, f"{payment.id}/{step.number}/{n}"))})
            entries.append(outbox_entry(data.topic, event, payment.id))
        try:
            await self.steps.insert({"_id": f"{payment.id}/{step.number:06d}", "payment_id": payment.id,
                                     "number": step.number, "dossier_code": payment.dossier_code,
                                     "step": step.model_dump(mode="json")}, entries)
        except DuplicateKey:
            return False
        if entries:
            self.runtime.notify_outbox()
        return True

    async def candidates(self, states: list[str], *, started_from: datetime | None = None,
                         started_to: datetime | None = None, after_key: str | None = None,
                         unalerted: bool = False, limit: int = 200) -> list[Payment]:
        """Snapshots in these states whose start falls in the range, oldest first (candidates only: the caller
        loads each one, with its later steps, before deciding anything)."""
        bounds: dict = {}
        if started_from is not None:
            bounds["$gte"] = utc_key(started_from)
        if started_to is not None:
            bounds["$lte"] = utc_key(started_to)
        if after_key is not None:
            bounds["$gt"] = after_key
        flt: dict = {"state": {"$in": states}}
        if bounds:
            flt["started_key"] = bounds
        if unalerted:
            flt["alerted_at"] = None
        docs = await self.snapshots.find(flt, sort=[("started_key", 1)], limit=limit)
        return [Payment.model_validate(d) for d in docs]

    # -- ledger ---------------------------------------------------------------------------------------

    async def record(self, entry: LedgerEntry | None) -> None:
        if entry is None:
            return
        try:
            await self.ledger.insert({"_id": entry.id, **entry.model_dump(mode="json"), "at_key": utc_key(entry.at)})
        except DuplicateKey:
            pass  # the same movement, written by an earlier attempt

    async def ledger_of(self, code: str) -> list[LedgerEntry]:
        docs = await self.ledger.find({"dossier_code": code}, sort=[("at_key", 1)])
        return [LedgerEntry.model_validate(d) for d in docs]


async def ensure_indexes(runtime: Runtime) -> None:
    for name, indexes in INDEXES.items():
        for fields in indexes:
            await runtime.store.collection(name).ensure_index(fields)
