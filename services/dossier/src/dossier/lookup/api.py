"""The public status lookup: dossier code plus security code. A wrong code and an unknown dossier
get the same answer, so the API tells nothing to someone guessing.

The hot path of the platform: the answer is the entry's stored JSON, sent as it is. `response_model`
only documents it (FastAPI does not validate a Response an endpoint returns)."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from kit.cache import Cache
from kit.problems import PROBLEM_JSON, Problem

from dossier.lookup.projection import key
from dossier.lookup.view import Entry, StatusView
from dossier.security import matches

router = APIRouter(tags=["lookup"])

NOT_FOUND = Problem(404, "dossier-not-found", "Không tìm thấy hồ sơ / Dossier not found",
                    "Không có hồ sơ khớp với mã hồ sơ và mã bảo mật. / No dossier matches this code and security code.")
DOCUMENTED = {"response_model": StatusView,
              "responses": {404: {"description": "no dossier matches this code and security code",
                                  "content": {PROBLEM_JSON: {}}}}}


class LookupRequest(BaseModel):
    code: str = Field(min_length=5, max_length=64)
    security_code: str = Field(min_length=4, max_length=32)


async def find_status(cache: Cache, pepper: str, code: str, security_code: str) -> bytes | None:
    """The dossier's public view as stored JSON, or None when no dossier matches both codes."""
    if not code.isprintable():  # no dossier code has a control character or an unpaired surrogate
        matches(pepper, code, security_code, None)  # the same work as for any unknown code
        return None
    entry = Entry.decode(await cache.get(key(code)))
    # Constant time, and the same HMAC work whether or not the dossier exists.
    if not matches(pepper, code, security_code, entry.security_code_hash if entry else None):
        return None
    return entry.public


async def _answer(request: Request, code: str, security_code: str) -> Response:
    public = await find_status(request.app.state.cache, request.app.state.pepper, code, security_code)
    if public is None:
        raise NOT_FOUND
    return Response(public, media_type="application/json")


@router.post("/lookup", summary="Look up a dossier's status", **DOCUMENTED)
async def lookup(request: Request, body: LookupRequest) -> Response:
    return await _answer(request, body.code, body.security_code)


@router.get("/lookup/{code}", summary="Look up a dossier's status (QR code link)", **DOCUMENTED)
async def lookup_get(request: Request, code: str,
                     security_code: Annotated[str, Query(min_length=4, max_length=32)]) -> Response:
    return await _answer(request, code, security_code)
