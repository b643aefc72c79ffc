"""MongoDB adapter through PyMongo's async client (AsyncMongoClient; Motor is deprecated).

Stays within what FerretDB also supports: single-document updates, no transactions,
no change streams, no $lookup, no TTL indexes.

FerretDB 1.x (the test stand-in) runs an update as read, modify, write back by _id
(internal/handler/msg_findandmodify.go, backends/sqlite UpdateAll), so a conditional update is
not atomic there, as it is on MongoDB. Writes to one document are therefore also serialised
within the process; across processes, MongoDB's atomic conditional update is what guarantees it."""

import asyncio
import weakref
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, ReturnDocument
from pymongo.errors import ConnectionFailure, DuplicateKeyError, ServerSelectionTimeoutError

from kit.store.base import (Collection, Doc, DocumentStore, DuplicateKey, Filter, Sort, StoreUnavailable,
                            VersionConflict, check_filter, state_fields)

_UNREACHABLE = (ConnectionFailure, ServerSelectionTimeoutError)


class MongoCollection(Collection):
    def __init__(self, store: "MongoStore", name: str):
        self.store = store
        self.name = name
        self._locks = store.locks

    @property
    def coll(self):
        # Resolved at each call, so a collection can be taken before the store starts.
        if self.store.db is None:
            raise StoreUnavailable("mongodb store is not started")
        return self.store.db[self.name]

    def _lock(self, doc_id: str) -> asyncio.Lock:
        key = (self.name, str(doc_id))
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        return lock

    async def ensure_index(self, fields: list[str], *, unique: bool = False) -> None:
        try:
            await self.coll.create_index([(f, ASCENDING) for f in fields], unique=unique)
        except _UNREACHABLE as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def insert(self, doc: Doc, events: list[Doc] | None = None) -> Doc:
        stored = {"_id": str(doc["_id"]), **state_fields(doc), "version": 1, "outbox": list(events or [])}
        try:
            # FerretDB 1.x can let two concurrent inserts of one _id both succeed (seen in CI): serialised per
            # _id within the process, like save; across processes only MongoDB itself guarantees it.
            async with self._lock(doc["_id"]):
                await self.coll.insert_one(stored)
        except DuplicateKeyError as exc:
            raise DuplicateKey(str(exc)) from exc
        except _UNREACHABLE as exc:
            raise StoreUnavailable(str(exc)) from exc
        if events:
            self._written_with_events(stored["_id"])
        return stored

    async def save(self, doc: Doc, expected_version: int, events: list[Doc] | None = None) -> Doc:
        update: dict = {"$set": {**state_fields(doc), "version": expected_version + 1}}
        if events:
            update["$push"] = {"outbox": {"$each": list(events)}}
        try:
            async with self._lock(doc["_id"]):
                result = await self.coll.find_one_and_update(
                    {"_id": str(doc["_id"]), "version": expected_version}, update, return_document=ReturnDocument.AFTER)
        except DuplicateKeyError as exc:
            raise DuplicateKey(str(exc)) from exc
        except _UNREACHABLE as exc:
            raise StoreUnavailable(str(exc)) from exc
        if result is None:
            raise VersionConflict(f"{self.name}/{doc['_id']} is not at version {expected_version}")
        if events:
            self._written_with_events(result["_id"])
        return result

    async def get(self, doc_id: str) -> Doc | None:
        try:
            return await self.coll.find_one({"_id": str(doc_id)})
        except _UNREACHABLE as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def find(self, flt: Filter | None = None, *, sort: Sort | None = None, limit: int | None = None) -> list[Doc]:
        flt = flt or {}
        check_filter(flt)
        cursor = self.coll.find(flt)
        if sort:
            cursor = cursor.sort([(f, ASCENDING if d >= 0 else DESCENDING) for f, d in sort])
        if limit is not None:
            cursor = cursor.limit(int(limit))
        try:
            return await cursor.to_list(None)
        except _UNREACHABLE as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def count(self, flt: Filter | None = None) -> int:
        flt = flt or {}
        check_filter(flt)
        try:
            return await self.coll.count_documents(flt)
        except _UNREACHABLE as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def count_by(self, field: str, flt: Filter | None = None) -> dict[Any, int]:
        flt = flt or {}
        check_filter(flt)
        pipeline = [{"$match": flt}, {"$group": {"_id": f"${field}", "n": {"$sum": 1}}}]
        try:
            return {row["_id"]: row["n"] async for row in await self.coll.aggregate(pipeline)}
        except _UNREACHABLE as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def delete(self, doc_id: str) -> bool:
        try:
            result = await self.coll.delete_one({"_id": str(doc_id)})
        except _UNREACHABLE as exc:
            raise StoreUnavailable(str(exc)) from exc
        return result.deleted_count > 0

    async def with_outbox(self, limit: int = 100) -> list[Doc]:
        try:
            return await self.coll.find({"outbox.0": {"$exists": True}}).limit(limit).to_list(None)
        except _UNREACHABLE as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def outbox_backlog(self) -> int:
        try:
            return await self.coll.count_documents({"outbox.0": {"$exists": True}})
        except _UNREACHABLE as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def remove_from_outbox(self, doc_id: str, entries: list[Doc]) -> None:
        try:
            # $pullAll with the exact entries: FerretDB does not support $pull with a condition.
            async with self._lock(doc_id):
                await self.coll.update_one({"_id": str(doc_id)}, {"$pullAll": {"outbox": list(entries)}})
        except _UNREACHABLE as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def increment(self, doc_id: str, by: int = 1) -> int:
        for _ in range(10):
            try:
                async with self._lock(doc_id):
                    result = await self.coll.find_one_and_update(
                        {"_id": str(doc_id)}, {"$inc": {"value": by, "version": 1}, "$setOnInsert": {"outbox": []}},
                        upsert=True, return_document=ReturnDocument.AFTER)
                return int(result["value"])
            except DuplicateKeyError:
                continue  # two upserts raced to create the counter: the loser now finds it and increments
            except _UNREACHABLE as exc:
                raise StoreUnavailable(str(exc)) from exc
        raise StoreUnavailable(f"counter {doc_id} is too contended")


class MongoStore(DocumentStore):
    def __init__(self, url: str, database: str, *, timeout_ms: int = 5000):
        self.url = url
        self.database_name = database
        self.timeout_ms = timeout_ms
        self.client: AsyncMongoClient | None = None
        self.db = None
        self.locks: weakref.WeakValueDictionary = weakref.WeakValueDictionary()

    async def start(self) -> None:
        if self.client is not None:
            return
        self.client = AsyncMongoClient(self.url, serverSelectionTimeoutMS=self.timeout_ms,
                                       connectTimeoutMS=self.timeout_ms, tz_aware=True)
        self.db = self.client[self.database_name]

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.close()
            self.client = None
            self.db = None

    async def ping(self) -> None:
        if self.client is None:
            raise StoreUnavailable("mongodb store is not started")
        try:
            await self.client.admin.command("ping")
        except _UNREACHABLE as exc:
            raise StoreUnavailable(str(exc)) from exc

    def collection(self, name: str) -> MongoCollection:
        return MongoCollection(self, name)

    async def drop_all(self) -> None:
        assert self.client is not None
        await self.client.drop_database(self.database_name)
