"""Use cases of the catalogue."""

from kit.paging import Page, decode_cursor, encode_cursor
from kit.problems import Conflict, NotFound
from kit.store import DuplicateKey

from catalog.domain import Procedure, ProcedureDraft
from catalog.store import ProcedureStore
from contracts.catalog import ProcedurePublished


async def publish_procedure(store: ProcedureStore, *, draft: ProcedureDraft) -> Procedure:
    procedure = Procedure(**draft.model_dump())
    try:
        await store.add(procedure, ProcedurePublished(**procedure.snapshot()))
    except DuplicateKey:
        raise Conflict("procedure-exists", "Procedure already exists",
                       f"Procedure {draft.code} exists; publish a revision instead.", code=draft.code) from None
    return procedure


async def get_procedure(store: ProcedureStore, *, code: str) -> Procedure:
    found = await store.get(code)
    if found is None:
        raise NotFound("Procedure", code)
    return found[0]


async def list_procedures(store: ProcedureStore, *, limit: int, cursor: str | None) -> Page[Procedure]:
    position = decode_cursor(cursor)
    after = str(position.get("code")) if position else None
    items = await store.page(after=after, limit=limit + 1)
    more = len(items) > limit
    items = items[:limit]
    return Page[Procedure](items=items, next_cursor=encode_cursor({"code": items[-1].code}) if more and items else None)
