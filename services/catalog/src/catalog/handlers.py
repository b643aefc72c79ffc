"""Use cases of the catalogue."""

import asyncio
from datetime import date
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from kit.events import utcnow
from kit.paging import decode_cursor, encode_cursor
from kit.problems import Conflict, NotFound, Problem
from kit.store import DuplicateKey, VersionConflict

from catalog.domain import IllegalChange, Procedure, ProcedureDraft, ProcedureVersion, new_procedure
from catalog.search import Entry, SearchIndex, fold
from catalog.store import CatalogStore


VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


class SearchPage(BaseModel):
    items: list[ProcedureVersion]
    total: int
    next_cursor: str | None = None


class Catalog:
    def __init__(self, store: CatalogStore):
        self.store = store
        self.index = SearchIndex([])
        self.versions: dict[str, ProcedureVersion] = {}
        self.index_generation = -1  # the store's change counter the index was built at
        self.index_day: date | None = None  # versions come into force by date
        self.lock = asyncio.Lock()

    # --- reads -------------------------------------------------------------------------

    async def in_force(self, code: str, on: date | None = None) -> ProcedureVersion:
        procedure = await self.store.get(code)
        version = procedure.in_force(on or today()) if procedure else None
        if version is None:
            raise NotFound("Procedure", code)
        return version

    async def procedure(self, code: str) -> Procedure:
        procedure = await self.store.get(code)
        if procedure is None:
            raise NotFound("Procedure", code)
        return procedure

    async def search(self, *, q: str = "", level: str | None = None, field_code: str | None = None,
                     agency_code: str | None = None, online_level: str | None = None, limit: int = 20,
                     cursor: str | None = None) -> SearchPage:
        position = decode_cursor(cursor) or {}
        offset = position.get("o", 0)
        if not isinstance(offset, int) or offset < 0 or position.get("q", fold(q)) != fold(q):
            raise Problem(422, "invalid-cursor", "Invalid cursor", "The cursor belongs to another search; start again.",
                          field="cursor")
        index, versions = await self._index()
        codes = index.search(q, level=level, field_code=field_code, agency_code=agency_code, online_level=online_level)
        page = codes[offset:offset + limit]
        more = offset + limit < len(codes)
        return SearchPage(items=[versions[c] for c in page], total=len(codes),
                          next_cursor=encode_cursor({"q": fold(q), "o": offset + limit}) if more else None)

    async def _index(self) -> tuple[SearchIndex, dict[str, ProcedureVersion]]:
        """The index of versions in force today, rebuilt when any replica changed the catalogue."""
        generation = await self.store.generation()
        async with self.lock:
            if generation != self.index_generation or self.index_day != today():
                fields = {f.code: f.name_vi for f in await self.store.list_fields()}
                agencies = {a.code: a.name_vi for a in await self.store.list_agencies()}
                versions: dict[str, ProcedureVersion] = {}
                for procedure in await self.store.all():
                    version = procedure.in_force(today())
                    if version is not None:
                        versions[procedure.code] = version
                self.index = SearchIndex([
                    Entry(code=v.code, name=fold(v.name_vi), name_en=fold(v.name_en),
                          field=fold(fields.get(v.field_code, v.field_code)),
                          agency=fold(agencies.get(v.agency_code, v.agency_code)), level=v.level,
                          field_code=v.field_code, agency_code=v.agency_code, online_level=v.online_level)
                    for v in versions.values()])
                self.versions = versions
                self.index_generation = generation
                self.index_day = today()
        return self.index, self.versions

    # --- writes ------------------------------------------------------------------------

    async def check_references(self, draft: ProcedureDraft) -> None:
        if await self.store.field(draft.field_code) is None:
            raise Problem(422, "unknown-field", "Unknown field", f"There is no field (lĩnh vực) '{draft.field_code}'.",
                          field="field_code")
        if await self.store.agency(draft.agency_code) is None:
            raise Problem(422, "unknown-agency", "Unknown agency", f"There is no agency '{draft.agency_code}'.",
                          field="agency_code")

    async def create(self, draft: ProcedureDraft) -> Procedure:
        await self.check_references(draft)
        try:
            return await self.store.add(new_procedure(draft), [])
        except DuplicateKey:
            raise Conflict("procedure-exists", "Procedure already exists",
                           f"Procedure {draft.code} exists; revise it instead.", code=draft.code) from None

    async def publish(self, code: str) -> Procedure:
        return await self._change(code, lambda p: p.publish(at=utcnow()), "publish")

    async def revise(self, code: str, draft: ProcedureDraft) -> Procedure:
        if draft.code != code:
            raise Problem(422, "code-mismatch", "Code does not match", f"The body is for {draft.code}, not {code}.",
                          field="code")
        await self.check_references(draft)
        return await self._change(code, lambda p: p.revise(draft, at=utcnow()), "revise")

    async def withdraw(self, code: str, *, effective_from: date, reason: str) -> Procedure:
        return await self._change(code, lambda p: p.withdraw(effective_from=effective_from, reason=reason), "withdraw")

    async def _change(self, code: str, change, action: str) -> Procedure:
        for _ in range(3):
            procedure = await self.procedure(code)
            try:
                events = change(procedure)
            except IllegalChange as exc:
                raise Conflict("illegal-change", f"Cannot {action} this procedure",
                               f"Procedure {code} is {exc.status}.", procedure_status=exc.status) from None
            try:
                return await self.store.save(procedure, events)
            except VersionConflict:
                continue
        raise Conflict("concurrent-update", "The procedure is being changed by someone else", "Try again.")


def today() -> date:
    return utcnow().astimezone(VIETNAM).date()
