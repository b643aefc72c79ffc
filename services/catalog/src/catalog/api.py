"""HTTP routes of the catalogue."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from kit.identity import CurrentCaller
from kit.paging import Page

from catalog import handlers
from catalog.domain import Procedure, ProcedureDraft
from catalog.store import ProcedureStore

router = APIRouter(tags=["procedures"])


def get_store(request: Request) -> ProcedureStore:
    return request.app.state.procedures


Store = Annotated[ProcedureStore, Depends(get_store)]


@router.get("/procedures", response_model=Page[Procedure], summary="List procedures")
async def list_procedures(store: Store, limit: Annotated[int, Query(ge=1, le=200)] = 50,
                          cursor: Annotated[str | None, Query(max_length=500)] = None) -> Page[Procedure]:
    return await handlers.list_procedures(store, limit=limit, cursor=cursor)


@router.get("/procedures/{code}", response_model=Procedure, summary="Get one procedure")
async def get_procedure(store: Store, code: str) -> Procedure:
    return await handlers.get_procedure(store, code=code)


@router.post("/procedures", response_model=Procedure, status_code=201, summary="Publish a new procedure")
async def publish_procedure(store: Store, caller: CurrentCaller, draft: ProcedureDraft) -> Procedure:
    caller.require("catalog_admin", "admin")
    return await handlers.publish_procedure(store, draft=draft)
