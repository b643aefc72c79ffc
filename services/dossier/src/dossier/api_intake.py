"""HTTP routes that take files: submitting a dossier online, receiving one at the counter, supplying
documents after a supplement request; and downloading an attachment.

The body is `multipart/form-data`: one part `submission` holding the JSON (each document lists its
`files` by name) and one part `files` per file. A plain JSON body is a submission without files.
`POST /dossiers` and `POST /dossiers/counter` take an `Idempotency-Key`: the same request again gets
the first answer (201 again, with `Idempotent-Replayed: true`), never a second dossier."""

import asyncio
import base64
import logging
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

from kit.blobs import BlobNotFound
from kit.identity import Caller, CurrentCaller
from kit.problems import NotFound, validation_problem

from dossier import handlers, intake
from dossier.api import DepsDep, DossierRead, NewDossier
from dossier.attachments import FILES_PART, SUBMISSION_PART, Attachments, Limits, Received, read_request
from dossier.domain import Action, Dossier
from dossier.handlers import Deps
from dossier.idempotency import HEADER, Claim, Idempotency, Replay, check_key, json_body
from dossier.intake import CounterIntake, DocumentsSubmission, OnlineSubmission
from dossier.security import matches

log = logging.getLogger("dossier.api_intake")
router = APIRouter(tags=["dossiers"])
REPLAYED = "Idempotent-Replayed"
DOWNLOADERS = ("reception_officer", "specialist", "leader")


@dataclass
class IntakeParts:
    attachments: Attachments
    idempotency: Idempotency
    limits: Limits


def get_parts(request: Request) -> IntakeParts:
    return request.app.state.intake


PartsDep = Annotated[IntakeParts, Depends(get_parts)]
IdempotencyKey = Annotated[str | None, Header(alias=HEADER, description=(
    "8–128 letters, digits, '-' or '_'. The same key with the same request returns the first answer; "
    "with another request, 422; while the first is still running, 409 with Retry-After."))]


# -- parsing --------------------------------------------------------------------------------------


@asynccontextmanager
async def _receiving(request: Request, parts: IntakeParts) -> AsyncIterator[Received]:
    received = await read_request(request, parts.limits)
    try:
        yield received
    finally:
        await received.close()


M = TypeVar("M", bound=BaseModel)


def _model(model: type[M], received: Received) -> M:
    try:
        return model.model_validate(received.submission)
    except ValidationError as exc:
        errors = [{**e, "loc": (received.location, *e["loc"])} for e in exc.errors()]
        raise validation_problem(errors) from None


def _request_body(model: type[BaseModel], max_files: int = 20) -> dict:
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    form = {"type": "object", "required": [SUBMISSION_PART], "properties": {
        SUBMISSION_PART: {**ref, "description": "the JSON submission; each document lists its files by name"},
        FILES_PART: {"type": "array", "maxItems": max_files, "items": {"type": "string", "format": "binary"},
                     "description": "PDF, JPEG or PNG (judged by content), at most 10 MiB each; each file name "
                                    "appears in exactly one document's `files`"}}}
    return {"requestBody": {"required": True, "content": {
        "multipart/form-data": {"schema": form, "encoding": {SUBMISSION_PART: {"contentType": "application/json"}}},
        "application/json": {"schema": ref, "description": "a submission without files"}}}}


UPLOAD_ERRORS = {
    400: {"description": "malformed multipart or JSON, missing part, invalid file name or Idempotency-Key"},
    401: {"description": "not signed in"},
    403: {"description": "wrong role"},
    409: {"description": "the same Idempotency-Key is still being processed (Retry-After)"},
    413: {"description": "a file over 10 MiB, too many files, or the body over the limit"},
    415: {"description": "a file that is not a PDF, JPEG or PNG, or named unlike its content"},
    422: {"description": "invalid submission; files and lists differ; a document without files (online); "
                         "Idempotency-Key reused for another request"},
}


def document(app: FastAPI) -> None:
    """Put the JSON schemas of the submissions into the app's OpenAPI components (the routes read
    their body themselves, so FastAPI does not see them)."""
    _, schema = models_json_schema([(m, "validation") for m in (OnlineSubmission, CounterIntake, DocumentsSubmission)],
                                   ref_template="#/components/schemas/{model}")
    original = app.openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        doc = original()
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        for name, definition in schema.get("$defs", {}).items():
            schemas.setdefault(name, definition)
        return doc

    app.openapi = openapi


# -- Idempotency-Key --------------------------------------------------------------------------------

Work = Callable[[intake.Prepare | None], Awaitable[tuple[Dossier, str]]]


async def _ours(deps: Deps, code: str | None, security_code: str | None) -> Dossier | None:
    """The dossier stored under `code` if it is the one this key created (its security code matches)."""
    if not code or not security_code:
        return None
    dossier = await deps.dossiers.get(code)
    if dossier is None or not matches(deps.pepper, code, security_code, dossier.security_code_hash):
        return None
    return dossier


async def _answer(parts: IntakeParts, claim: Claim | None, dossier: Dossier, security_code: str, *,
                  replayed: bool = False) -> JSONResponse:
    body = json_body(NewDossier(**DossierRead.of(dossier).model_dump(), security_code=security_code))
    if claim is not None:
        try:
            await parts.idempotency.complete(claim, status=201, body=body)
        except Exception as exc:  # the dossier exists: once the lease is over, a retry rebuilds this answer
            log.warning("idempotency record not completed (%s)", type(exc).__name__)
    return JSONResponse(body, status_code=201, headers={REPLAYED: "true"} if replayed else None)


async def _abandon(deps: Deps, parts: IntakeParts, claim: Claim) -> None:
    """The work failed. If its dossier was stored all the same (the error came after the insert),
    keep its answer; otherwise free the key so that a retry does the work."""
    try:
        security_code = parts.idempotency.sealed_security_code(claim.doc)
        dossier = await _ours(deps, claim.doc.get("code"), security_code)
        if dossier is not None:
            await _answer(parts, claim, dossier, security_code)
        else:
            await parts.idempotency.release(claim)
    except Exception as exc:  # left to the lease: a retry after it takes over
        log.warning("idempotency key not released (%s)", type(exc).__name__)


async def _once(deps: Deps, parts: IntakeParts, caller: Caller, key: str | None, fingerprint: str,
                work: Work) -> JSONResponse:
    if key is None:
        dossier, security_code = await work(None)
        return await _answer(parts, None, dossier, security_code)
    outcome = await parts.idempotency.begin(subject=caller.subject, key=key, fingerprint=fingerprint)
    if isinstance(outcome, Replay):
        return JSONResponse(outcome.body, status_code=outcome.status, headers={REPLAYED: "true"})
    claim = outcome
    dossier = await _ours(deps, claim.code, claim.security_code)
    if dossier is not None:  # an attempt that died right after inserting its dossier
        return await _answer(parts, claim, dossier, claim.security_code, replayed=True)

    async def prepare(code: str, security_code: str) -> None:
        await parts.idempotency.prepare(claim, code=code, security_code=security_code)

    try:
        dossier, security_code = await work(prepare)
    except BaseException:
        await asyncio.shield(_abandon(deps, parts, claim))
        raise
    return await _answer(parts, claim, dossier, security_code)


# -- routes -----------------------------------------------------------------------------------------


@router.post("/dossiers", response_model=NewDossier, status_code=201, summary="Submit a dossier online, with its files",
             openapi_extra=_request_body(OnlineSubmission), responses=UPLOAD_ERRORS)
async def submit(request: Request, deps: DepsDep, parts: PartsDep, caller: CurrentCaller,
                 idempotency_key: IdempotencyKey = None) -> JSONResponse:
    caller.require("citizen")
    key = check_key(idempotency_key)
    async with _receiving(request, parts) as received:
        submission = _model(OnlineSubmission, received)
        return await _once(deps, parts, caller, key, received.fingerprint("online"),
                           lambda prepare: intake.submit_online(deps, parts.attachments, submission=submission,
                                                                uploads=received.uploads, caller=caller,
                                                                prepare=prepare))


@router.post("/dossiers/counter", response_model=NewDossier, status_code=201,
             summary="Receive a complete paper dossier at the counter (the clock starts); scans optional",
             openapi_extra=_request_body(CounterIntake), responses=UPLOAD_ERRORS)
async def counter(request: Request, deps: DepsDep, parts: PartsDep, caller: CurrentCaller,
                  idempotency_key: IdempotencyKey = None) -> JSONResponse:
    caller.require("reception_officer")
    key = check_key(idempotency_key)
    async with _receiving(request, parts) as received:
        body = _model(CounterIntake, received)
        return await _once(deps, parts, caller, key, received.fingerprint("counter"),
                           lambda prepare: intake.intake_at_counter(deps, parts.attachments, intake=body,
                                                                    uploads=received.uploads, caller=caller,
                                                                    prepare=prepare))


def _supply_route(action: Action, summary: str) -> None:
    async def endpoint(request: Request, deps: DepsDep, parts: PartsDep, caller: CurrentCaller,
                       code: str) -> DossierRead:
        handlers.actor_of(caller)  # 401 before the body is read
        async with _receiving(request, parts) as received:
            submission = _model(DocumentsSubmission, received)
            return DossierRead.of(await intake.supply_documents(deps, parts.attachments, code=code, action=action,
                                                                submission=submission, uploads=received.uploads,
                                                                caller=caller))

    endpoint.__name__ = action.value
    router.add_api_route(f"/dossiers/{{code}}/{action.value.replace('_', '-')}", endpoint, methods=["POST"],
                         response_model=DossierRead, summary=summary, openapi_extra=_request_body(DocumentsSubmission),
                         responses={**UPLOAD_ERRORS, 404: {"description": "no such dossier"},
                                    409: {"description": "not allowed in the current state (lists allowed_actions)"}})


_supply_route(Action.RESUBMIT, "Supply what the counter asked for, with the files")
_supply_route(Action.PROVIDE_SUPPLEMENT, "Supply the documents asked for after appraisal, with the files "
                                         "(the clock restarts)")


def _ascii_name(filename: str) -> str:
    plain = unicodedata.normalize("NFKD", filename.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return "".join(c if c.isascii() and (c.isalnum() or c in " ._-()") else "_" for c in plain)


@router.get("/dossiers/{code}/attachments/{blob_id}", summary="Download a file of a dossier, for officers",
            response_class=StreamingResponse,
            responses={200: {"content": {"application/pdf": {}, "image/jpeg": {}, "image/png": {}},
                             "description": "the file; its SHA-256 in `Repr-Digest` (RFC 9530) and `ETag`"},
                       403: {"description": "not an officer"}, 404: {"description": "no such dossier or file"}})
async def download(deps: DepsDep, caller: CurrentCaller, code: str, blob_id: str) -> StreamingResponse:
    caller.require(*DOWNLOADERS)
    dossier = await handlers.get_dossier(deps, code=code)
    attachment = next((a for d in dossier.documents for a in d.attachments if a.blob_id == blob_id), None)
    if attachment is None:
        raise NotFound("Attachment", blob_id)
    try:
        _, chunks = await deps.blobs.open(blob_id)
    except BlobNotFound:
        log.error("a dossier references a missing file", extra={"dossier": code, "blob": blob_id})
        raise NotFound("Attachment", blob_id) from None
    digest = base64.b64encode(bytes.fromhex(attachment.sha256)).decode()
    return StreamingResponse(chunks, media_type=attachment.content_type, headers={
        "Content-Disposition": f"attachment; filename=\"{_ascii_name(attachment.filename)}\"; "
                               f"filename*=UTF-8''{quote(attachment.filename, safe='')}",
        "Content-Length": str(attachment.size),
        "Repr-Digest": f"sha-256=:{digest}:",
        "ETag": f'"{attachment.sha256}"',
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff"})
