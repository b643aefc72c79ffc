"""HTTP routes of the catalogue."""

from datetime import date
from typing import Annotated, Literal

from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from kit.identity import CurrentCaller
from kit.problems import NotFound

from catalog.domain import Agency, Centre, Procedure, ProcedureDraft, ProcedureField, ProcedureVersion
from catalog.forms import MAX_FORM_BYTES, FormRead, Forms
from catalog.handlers import Catalog, SearchPage

router = APIRouter()
ADMINS = ("catalog_admin", "admin")


def get_catalog(request: Request) -> Catalog:
    return request.app.state.catalog


CatalogDep = Annotated[Catalog, Depends(get_catalog)]


class Withdrawal(BaseModel):
    model_config = ConfigDict(extra="forbid")
    effective_from: date
    reason: str = Field(min_length=3, max_length=1000)


@router.get("/procedures", response_model=SearchPage, tags=["procedures"],
            summary="Search procedures (diacritics and case ignored), best matches first")
async def search(catalog: CatalogDep,
                 q: Annotated[str, Query(max_length=200, description="e.g. 'dang ky ket hon'")] = "",
                 level: Literal["province", "district", "commune"] | None = None,
                 field: Annotated[str | None, Query(max_length=100)] = None,
                 agency: Annotated[str | None, Query(max_length=50)] = None,
                 online_level: Literal["full", "partial"] | None = None,
                 limit: Annotated[int, Query(ge=1, le=100)] = 20,
                 cursor: Annotated[str | None, Query(max_length=500)] = None) -> SearchPage:
    return await catalog.search(q=q, level=level, field_code=field, agency_code=agency, online_level=online_level,
                                limit=limit, cursor=cursor)


@router.get("/procedures/{code}", response_model=ProcedureVersion, tags=["procedures"],
            summary="The version of a procedure in force on a date (default: today)")
async def get_procedure(catalog: CatalogDep, code: str, on: date | None = None) -> ProcedureVersion:
    return await catalog.in_force(code, on)


@router.get("/procedures/{code}/versions", response_model=Procedure, tags=["administration"],
            summary="Every version of a procedure, drafts included")
async def versions(catalog: CatalogDep, caller: CurrentCaller, code: str) -> Procedure:
    caller.require(*ADMINS)
    return await catalog.procedure(code)


@router.post("/procedures", response_model=Procedure, status_code=201, tags=["administration"],
             summary="Create a procedure as a draft")
async def create(catalog: CatalogDep, caller: CurrentCaller, draft: ProcedureDraft) -> Procedure:
    caller.require(*ADMINS)
    return await catalog.create(draft)


@router.put("/procedures/{code}", response_model=Procedure, tags=["administration"],
            summary="Revise a procedure: edits a draft, or adds a version to a published procedure")
async def revise(catalog: CatalogDep, caller: CurrentCaller, code: str, draft: ProcedureDraft) -> Procedure:
    caller.require(*ADMINS)
    return await catalog.revise(code, draft)


@router.post("/procedures/{code}/publish", response_model=Procedure, tags=["administration"],
             summary="Publish a draft procedure")
async def publish(catalog: CatalogDep, caller: CurrentCaller, code: str) -> Procedure:
    caller.require(*ADMINS)
    return await catalog.publish(code)


@router.post("/procedures/{code}/withdraw", response_model=Procedure, tags=["administration"],
             summary="Withdraw a published procedure from a date")
async def withdraw(catalog: CatalogDep, caller: CurrentCaller, code: str, body: Withdrawal) -> Procedure:
    caller.require(*ADMINS)
    return await catalog.withdraw(code, effective_from=body.effective_from, reason=body.reason)


@router.get("/fields", response_model=list[ProcedureField], tags=["reference data"], summary="Fields (lĩnh vực)")
async def fields(catalog: CatalogDep) -> list[ProcedureField]:
    return await catalog.store.list_fields()


@router.get("/agencies", response_model=list[Agency], tags=["reference data"],
            summary="Agencies with their electronic agency codes")
async def agencies(catalog: CatalogDep, level: Literal["province", "district", "commune"] | None = None) -> list[Agency]:
    return await catalog.store.list_agencies(level)


@router.get("/centres", response_model=list[Centre], tags=["reference data"], summary="Public administration service centres")
async def centres(catalog: CatalogDep) -> list[Centre]:
    return await catalog.store.list_centres()


@router.get("/centres/{code}", response_model=Centre, tags=["reference data"], summary="One service centre")
async def centre(catalog: CatalogDep, code: str) -> Centre:
    found = await catalog.store.centre(code)
    if found is None:
        raise NotFound("Centre", code)
    return found


def get_forms(request: Request) -> Forms:
    return request.app.state.forms


FormsDep = Annotated[Forms, Depends(get_forms)]


@router.post("/forms", response_model=FormRead, status_code=201, tags=["forms"],
             summary="Upload a form file (PDF, Word, Excel or OpenDocument)")
async def upload_form(forms: FormsDep, caller: CurrentCaller, code: Annotated[str, Form(max_length=50)],
                      title: Annotated[str, Form(min_length=3, max_length=300)],
                      file: Annotated[UploadFile, File()]) -> FormRead:
    caller.require(*ADMINS)
    data = await file.read(MAX_FORM_BYTES + 1)
    return await forms.upload(code=code, title=title, filename=file.filename or f"{code}", data=data)


@router.get("/forms", response_model=list[FormRead], tags=["forms"], summary="Every form")
async def list_forms(forms: FormsDep) -> list[FormRead]:
    return await forms.list()


@router.get("/forms/{code}", response_model=FormRead, tags=["forms"], summary="A form's description")
async def get_form(forms: FormsDep, code: str) -> FormRead:
    return await forms.get(code)


@router.get("/forms/{code}/file", tags=["forms"], summary="Download a form file",
            response_class=Response, responses={200: {"content": {"application/pdf": {}}}})
async def download_form(forms: FormsDep, code: str) -> Response:
    form, data = await forms.file(code)
    return Response(data, media_type=form.content_type, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(form.filename)}",
        "ETag": f'"{form.sha256}"'})
