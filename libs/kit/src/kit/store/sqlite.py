"""SQLite adapter for the embedded mode: one table per collection, documents as JSON text.

Writes go through one connection under one lock, so read-check-write is atomic in the process
(the embedded mode is one process)."""

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import aiosqlite

from kit.store.base import (Collection, Doc, DocumentStore, DuplicateKey, Filter, Sort, StoreUnavailable,
                            VersionConflict, check_filter, state_fields)

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


def _dumps(doc: Doc) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def _path(field: str) -> str:
    if not _FIELD.match(field):
        raise ValueError(f"invalid field name {field!r}")
    return "$." + field


class _Where:
    """Translate the filter subset into SQL over json_extract, with bound parameters."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: list[Any] = []

    def add(self, field: str, cond: Any) -> None:
        if field == "_id":
            expr = "id"
        else:
            expr = f"json_extract(doc, '{_path(field)}')"
        if isinstance(cond, dict) and any(k.startswith("$") for k in cond):
            for op, value in cond.items():
                self._op(expr, field, op, value)
        else:
            self._eq(expr, cond)

    def _value(self, value: Any) -> Any:
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, (dict, list)):
            return _dumps(value)
        return value

    def _eq(self, expr: str, value: Any) -> None:
        if value is None:
            self.clauses.append(f"{expr} IS NULL")
        else:
            self.clauses.append(f"{expr} = ?")
            self.params.append(self._value(value))

    def _op(self, expr: str, field: str, op: str, value: Any) -> None:
        if op == "$ne":
            if value is None:
                self.clauses.append(f"{expr} IS NOT NULL")
            else:
                self.clauses.append(f"({expr} IS NULL OR {expr} != ?)")
                self.params.append(self._value(value))
        elif op in ("$in", "$nin"):
            values = list(value)
            if not values:
                self.clauses.append("0" if op == "$in" else "1")
                return
            marks = ",".join("?" for _ in values)
            if op == "$in":
                self.clauses.append(f"{expr} IN ({marks})")
            else:
                self.clauses.append(f"({expr} IS NULL OR {expr} NOT IN ({marks}))")
            self.params.extend(self._value(v) for v in values)
        elif op in ("$gt", "$gte", "$lt", "$lte"):
            sign = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}[op]
            self.clauses.append(f"{expr} {sign} ?")
            self.params.append(self._value(value))
        elif op == "$exists":
            json_type = "id" if field == "_id" else f"json_type(doc, '{_path(field)}')"
            self.clauses.append(f"{json_type} IS {'NOT ' if value else ''}NULL")

    def sql(self) -> str:
        return " WHERE " + " AND ".join(self.clauses) if self.clauses else ""


class SqliteCollection(Collection):
    def __init__(self, store: "SqliteStore", name: str):
        if not _NAME.match(name):
            raise ValueError(f"invalid collection name {name!r}")
        self.store = store
        self.name = name
        self.table = f"c_{name}"

    async def _db(self) -> aiosqlite.Connection:
        return await self.store.table(self.table)

    async def ensure_index(self, fields: list[str], *, unique: bool = False) -> None:
        db = await self._db()
        exprs = ", ".join(f"json_extract(doc, '{_path(f)}')" for f in fields)
        index = f"ix_{self.name}_{'_'.join(f.replace('.', '_') for f in fields)}"
        async with self.store.lock:
            await db.execute(f"CREATE {'UNIQUE ' if unique else ''}INDEX IF NOT EXISTS {index} ON {self.table} ({exprs})")
            await db.commit()

    async def insert(self, doc: Doc, events: list[Doc] | None = None) -> Doc:
        stored = {**state_fields(doc), "_id": str(doc["_id"]), "version": 1, "outbox": list(events or [])}
        db = await self._db()
        async with self.store.lock:
            try:
                await db.execute(f"INSERT INTO {self.table} (id, doc, outbox_n) VALUES (?, ?, ?)",
                                 (stored["_id"], _dumps(stored), len(stored["outbox"])))
                await db.commit()
            except aiosqlite.IntegrityError as exc:
                await db.rollback()
                raise DuplicateKey(str(exc)) from exc
        if events:
            self._written_with_events(stored["_id"])
        return stored

    async def save(self, doc: Doc, expected_version: int, events: list[Doc] | None = None) -> Doc:
        db = await self._db()
        async with self.store.lock:
            current = await self._read(db, str(doc["_id"]))
            if current is None or current.get("version") != expected_version:
                raise VersionConflict(f"{self.name}/{doc['_id']} is not at version {expected_version}")
            stored = {**state_fields(doc), "_id": current["_id"], "version": expected_version + 1,
                      "outbox": current.get("outbox", []) + list(events or [])}
            try:
                await db.execute(f"UPDATE {self.table} SET doc = ?, outbox_n = ? WHERE id = ?",
                                 (_dumps(stored), len(stored["outbox"]), stored["_id"]))
                await db.commit()
            except aiosqlite.IntegrityError as exc:
                await db.rollback()
                raise DuplicateKey(str(exc)) from exc
        if events:
            self._written_with_events(stored["_id"])
        return stored

    async def _read(self, db: aiosqlite.Connection, doc_id: str) -> Doc | None:
        async with db.execute(f"SELECT doc FROM {self.table} WHERE id = ?", (doc_id,)) as cur:
            row = await cur.fetchone()
        return json.loads(row[0]) if row else None

    async def get(self, doc_id: str) -> Doc | None:
        return await self._read(await self._db(), str(doc_id))

    async def find(self, flt: Filter | None = None, *, sort: Sort | None = None, limit: int | None = None) -> list[Doc]:
        flt = flt or {}
        check_filter(flt)
        where = _Where()
        for field, cond in flt.items():
            where.add(field, cond)
        sql = f"SELECT doc FROM {self.table}{where.sql()}"
        if sort:
            order = ", ".join(
                f"{'id' if f == '_id' else f'json_extract(doc, {chr(39)}{_path(f)}{chr(39)})'} {'ASC' if d >= 0 else 'DESC'}"
                for f, d in sort)
            sql += f" ORDER BY {order}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        db = await self._db()
        async with db.execute(sql, where.params) as cur:
            rows = await cur.fetchall()
        return [json.loads(r[0]) for r in rows]

    async def count(self, flt: Filter | None = None) -> int:
        flt = flt or {}
        check_filter(flt)
        where = _Where()
        for field, cond in flt.items():
            where.add(field, cond)
        db = await self._db()
        async with db.execute(f"SELECT COUNT(*) FROM {self.table}{where.sql()}", where.params) as cur:
            row = await cur.fetchone()
        return int(row[0])

    async def count_by(self, field: str, flt: Filter | None = None) -> dict[Any, int]:
        flt = flt or {}
        check_filter(flt)
        where = _Where()
        for name, cond in flt.items():
            where.add(name, cond)
        expr = "id" if field == "_id" else f"json_extract(doc, '{_path(field)}')"
        db = await self._db()
        async with db.execute(f"SELECT {expr}, COUNT(*) FROM {self.table}{where.sql()} GROUP BY 1", where.params) as cur:
            rows = await cur.fetchall()
        return {value: int(n) for value, n in rows}

    async def delete(self, doc_id: str) -> bool:
        db = await self._db()
        async with self.store.lock:
            cur = await db.execute(f"DELETE FROM {self.table} WHERE id = ?", (str(doc_id),))
            await db.commit()
        return cur.rowcount > 0

    async def with_outbox(self, limit: int = 100) -> list[Doc]:
        db = await self._db()
        async with db.execute(f"SELECT doc FROM {self.table} WHERE outbox_n > 0 ORDER BY rowid LIMIT ?", (limit,)) as cur:
            rows = await cur.fetchall()
        return [json.loads(r[0]) for r in rows]

    async def outbox_backlog(self) -> int:
        db = await self._db()
        async with db.execute(f"SELECT COUNT(*) FROM {self.table} WHERE outbox_n > 0") as cur:
            (count,) = await cur.fetchone()
        return count

    async def remove_from_outbox(self, doc_id: str, entries: list[Doc]) -> None:
        db = await self._db()
        drop = {e.get("id") for e in entries}
        async with self.store.lock:
            current = await self._read(db, str(doc_id))
            if current is None:
                return
            current["outbox"] = [e for e in current.get("outbox", []) if e.get("id") not in drop]
            await db.execute(f"UPDATE {self.table} SET doc = ?, outbox_n = ? WHERE id = ?",
                             (_dumps(current), len(current["outbox"]), current["_id"]))
            await db.commit()

    async def increment(self, doc_id: str, by: int = 1) -> int:
        db = await self._db()
        async with self.store.lock:
            current = await self._read(db, str(doc_id))
            value = (current or {}).get("value", 0) + by
            doc = {"_id": str(doc_id), "value": value, "version": (current or {}).get("version", 0) + 1, "outbox": []}
            await db.execute(f"INSERT INTO {self.table} (id, doc, outbox_n) VALUES (?, ?, 0) "
                             f"ON CONFLICT(id) DO UPDATE SET doc = excluded.doc", (doc["_id"], _dumps(doc)))
            await db.commit()
        return value


class SqliteStore(DocumentStore):
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.db: aiosqlite.Connection | None = None
        self.lock = asyncio.Lock()
        self._tables: set[str] = set()
        self._collections: dict[str, SqliteCollection] = {}

    async def start(self) -> None:
        if self.db is not None:
            return
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = await aiosqlite.connect(str(self.path))
        except Exception as exc:  # pragma: no cover - disk problems
            raise StoreUnavailable(str(exc)) from exc
        await self.db.execute("PRAGMA journal_mode=WAL")
        await self.db.execute("PRAGMA synchronous=NORMAL")

    async def stop(self) -> None:
        if self.db is not None:
            await self.db.close()
            self.db = None
            self._tables.clear()

    async def ping(self) -> None:
        if self.db is None:
            raise StoreUnavailable("sqlite store is not started")
        await self.db.execute("SELECT 1")

    async def table(self, table: str) -> aiosqlite.Connection:
        if self.db is None:
            raise StoreUnavailable("sqlite store is not started")
        if table not in self._tables:
            async with self.lock:
                await self.db.execute(f"CREATE TABLE IF NOT EXISTS {table} "
                                      "(id TEXT PRIMARY KEY, doc TEXT NOT NULL, outbox_n INTEGER NOT NULL DEFAULT 0)")
                await self.db.execute(f"CREATE INDEX IF NOT EXISTS ix_{table}_outbox ON {table} (outbox_n) WHERE outbox_n > 0")
                await self.db.commit()
            self._tables.add(table)
        return self.db

    def collection(self, name: str) -> SqliteCollection:
        if name not in self._collections:
            self._collections[name] = SqliteCollection(self, name)
        return self._collections[name]

    async def drop_all(self) -> None:
        assert self.db is not None
        async with self.db.execute("SELECT name FROM sqlite_master WHERE type='table' AND name LIKE 'c_%'") as cur:
            names = [r[0] for r in await cur.fetchall()]
        async with self.lock:
            for name in names:
                await self.db.execute(f"DROP TABLE {name}")
            await self.db.commit()
        self._tables.clear()
