"""The public status lookup: dossier code plus security code. A wrong code and an unknown dossier
get the same answer, so the API tells nothing to someone guessing."""

import json
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from kit.problems import Problem

from dossier.lookup.projection import key
from dossier.security import matches

router = APIRouter(tags=["lookup"])

NOT_FOUND = Problem(404, "dossier-not-found", "Không tìm thấy hồ sơ / Dossier not found",
                    "Không có hồ sơ khớp với mã hồ sơ và mã bảo mật. / No dossier matches this code and security code.")


class LookupRequest(BaseModel):
    code: str = Field(min_length=5, max_length=64)
    security_code: str = Field(min_length=4, max_length=32)


class StatusView(BaseModel):
    code: str
    state: str
    status_code: int | None
    state_label_vi: str
    state_label_en: str
    procedure_code: str
    procedure_name: str
    agency_code: str
    due_at: datetime | None
    updated_at: datetime


async def _lookup(request: Request, code: str, security_code: str) -> StatusView:
    raw = await request.app.state.cache.get(key(code))
    view = json.loads(raw) if raw else {}
    if not matches(request.app.state.pepper, code, security_code, view.get("sc")):
        raise NOT_FOUND
    return StatusView.model_validate(view)


@router.post("/lookup", response_model=StatusView, summary="Look up a dossier's status")
async def lookup(request: Request, body: LookupRequest) -> StatusView:
    return await _lookup(request, body.code, body.security_code)


@router.get("/lookup/{code}", response_model=StatusView, summary="Look up a dossier's status (QR code link)")
async def lookup_get(request: Request, code: str,
                     security_code: Annotated[str, Query(min_length=4, max_length=32)]) -> StatusView:
    return await _lookup(request, code, security_code)
