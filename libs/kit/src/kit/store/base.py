"""The store port. Both adapters keep the same semantics; the contract tests prove it.

Documents are JSON-compatible dicts with a string `_id`. The store adds `version` (optimistic
concurrency) and `outbox` (events waiting for the relay). Filters are a small Mongo-like subset
both adapters support: equality on dotted paths, and $in, $nin, $ne, $gt, $gte, $lt, $lte, $exists.
"""

from abc import ABC, abstractmethod
from typing import Any

Doc = dict[str, Any]
Filter = dict[str, Any]
Sort = list[tuple[str, int]]
OPERATORS = {"$in", "$nin", "$ne", "$gt", "$gte", "$lt", "$lte", "$exists"}
RESERVED = ("_id", "version", "outbox")


class VersionConflict(Exception):
    """The document changed since it was read (another writer won the race)."""


class DuplicateKey(Exception):
    """An insert hit an existing `_id` or a unique index."""


class StoreUnavailable(Exception):
    """The database cannot be reached; callers answer 503 and change nothing."""


def check_filter(flt: Filter) -> None:
    for field, cond in flt.items():
        if field.startswith("$"):
            raise ValueError(f"unsupported top-level operator {field}")
        if isinstance(cond, dict) and any(k.startswith("$") for k in cond):
            unknown = set(cond) - OPERATORS
            if unknown:
                raise ValueError(f"unsupported operators {sorted(unknown)}")


class Collection(ABC):
    name: str

    @abstractmethod
    async def ensure_index(self, fields: list[str], *, unique: bool = False) -> None: ...

    @abstractmethod
    async def insert(self, doc: Doc, events: list[Doc] | None = None) -> Doc:
        """Insert a new document at version 1 with its first outbox events. DuplicateKey if present."""

    @abstractmethod
    async def save(self, doc: Doc, expected_version: int, events: list[Doc] | None = None) -> Doc:
        """Replace the state fields of a document at `expected_version` and append `events` to its
        outbox, in one single-document write. Raises VersionConflict if the version moved on."""

    @abstractmethod
    async def get(self, doc_id: str) -> Doc | None: ...

    @abstractmethod
    async def find(self, flt: Filter | None = None, *, sort: Sort | None = None, limit: int | None = None) -> list[Doc]: ...

    @abstractmethod
    async def count(self, flt: Filter | None = None) -> int: ...

    @abstractmethod
    async def delete(self, doc_id: str) -> bool: ...

    @abstractmethod
    async def with_outbox(self, limit: int = 100) -> list[Doc]:
        """Documents that still hold events to publish, oldest change first."""

    @abstractmethod
    async def outbox_backlog(self) -> int:
        """How many documents hold events not yet published (the relay's backlog, for metrics)."""

    @abstractmethod
    async def remove_from_outbox(self, doc_id: str, entries: list[Doc]) -> None:
        """Drop published outbox entries (as read) without touching `version`, so writers never
        conflict with the relay."""

    @abstractmethod
    async def increment(self, doc_id: str, by: int = 1) -> int:
        """Atomically add to a counter document (created at 0) and return the new value."""

    async def find_one(self, flt: Filter) -> Doc | None:
        found = await self.find(flt, limit=1)
        return found[0] if found else None

    @abstractmethod
    async def count_by(self, field: str, flt: Filter | None = None) -> dict[Any, int]:
        """How many documents (matching `flt`) have each value of `field`: one pass, not one count per value."""

    def _written_with_events(self, doc_id: str) -> None:
        """Called by insert and save when they added outbox entries: a relay takes these first."""
        pending = self.store.pending_outbox(self.name)
        if pending is not None:
            pending.add(str(doc_id))

    async def take_pending_outbox(self, limit: int = 100) -> list[Doc]:
        """The documents this process wrote events into since the last call (read by `_id`, so this costs
        no scan); those whose outbox is already empty are left out. What another process wrote, or what a
        crash left behind, is for `with_outbox`, which the relay runs less often."""
        pending = self.store.watch_outbox(self.name)
        taken = [pending.pop() for _ in range(min(limit, len(pending)))]
        docs = [await self.get(doc_id) for doc_id in taken]
        return [doc for doc in docs if doc is not None and doc.get("outbox")]


class DocumentStore(ABC):
    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def stop(self) -> None: ...

    @abstractmethod
    async def ping(self) -> None:
        """Raise StoreUnavailable if the database does not answer."""

    @abstractmethod
    def collection(self, name: str) -> Collection: ...

    def watch_outbox(self, collection: str) -> set[str]:
        """From now on, record the ids of the documents of `collection` written with events (a relay
        publishes this collection). Unwatched collections record nothing, so nothing accumulates."""
        registry = self.__dict__.setdefault("_pending_outbox", {})
        return registry.setdefault(collection, set())

    def pending_outbox(self, collection: str) -> set[str] | None:
        """Ids of the documents of a watched `collection` written with events, not yet taken by a relay."""
        return self.__dict__.get("_pending_outbox", {}).get(collection)

    async def drop_all(self) -> None:
        """Tests only: remove every collection."""
        raise NotImplementedError


def state_fields(doc: Doc) -> Doc:
    return {k: v for k, v in doc.items() if k not in RESERVED}
