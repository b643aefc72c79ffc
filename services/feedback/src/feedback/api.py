"""HTTP routes for petitions: sending one (public), recording one from the counter or hotline, handling it
step by step, and the public questions and answers. Each caller sees what their role may: the submitter's
identity only the centre's feedback officers."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kit.identity import Caller, CurrentCaller
from kit.paging import decode_cursor, encode_cursor
from kit.problems import NotFound, Problem, validation_problem

from feedback.petitions import (AGENCY_STAFF, CENTRE, Actor, Attachment, Channel, Petition, PetitionDraft, Submitter,
                                TrailLine, allowed_actions)

router = APIRouter(tags=["petitions"])
ACTIONS = ("accept", "reject", "request-information", "provide-information", "assign", "transfer", "escalate",
           "answer", "publish", "moderate")


# --- views -----------------------------------------------------------------------------------------

class PetitionPublicRead(BaseModel):
    """A published question and its answer, as moderated: nothing about who asked."""

    id: str
    category: str
    question: str
    answer: str
    agency_code: str | None
    received_at: datetime
    answered_at: datetime | None
    published_at: datetime | None


class PetitionReceipt(BaseModel):
    """What the sender gets back: no personal data echoed."""

    id: str
    state: str
    category: str
    title: str
    received_at: datetime
    decision_due_at: datetime
    answer_due_at: datetime


class PetitionRead(BaseModel):
    """The handling view. `submitter` and `owner` are filled for the centre's feedback officers (and the
    submitter themself) only: the agency answering never learns who complained."""

    id: str
    category: str
    title: str
    content: str
    state: str
    channel: str
    dossier_code: str | None
    procedure_code: str | None
    named_agency: str | None
    agency_code: str | None
    address: str | None
    received_at: datetime
    updated_at: datetime
    due_at: datetime | None
    deadlines: dict[str, datetime]
    information_request: str | None
    rejection_reason: str | None
    answer: str | None
    answered_at: datetime | None
    public_question: str | None
    public_answer: str | None
    published_at: datetime | None
    attachments: list[Attachment]
    trail: list[TrailLine]
    allowed_actions: list[str]
    submitter: Submitter | None = None
    owner: str | None = None


class PetitionPage(BaseModel):
    items: list[PetitionRead]
    next_cursor: str | None = None


class PublicPage(BaseModel):
    items: list[PetitionPublicRead]
    total: int


class RecordedPetition(PetitionDraft):
    """A petition taken at the counter, by phone or from the comment box, by a feedback officer."""

    channel: Channel = "counter"
    received_at: datetime | None = Field(default=None, description="when it was received, if earlier than now")


class ActionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=2000)
    text: str | None = Field(default=None, max_length=10_000, description="the request, the information or the answer")
    to_agency: str | None = Field(default=None, pattern=r"^[0-9A-Za-z.]{3,32}$")
    public_question: str | None = Field(default=None, max_length=10_000)
    public_answer: str | None = Field(default=None, max_length=10_000)


def actor_of(caller: Caller) -> Actor:
    if caller.anonymous:
        raise Problem(401, "unauthenticated", "Sign-in required", "This action needs a signed-in user.")
    return Actor(subject=caller.subject, roles=caller.roles, agency=caller.agency)


def view(petition: Petition, actor: Actor, *, just_acted: bool = False) -> PetitionRead:
    """The petition as this caller may see it; 404 (not 403) when they may not see it at all. An agency that
    just transferred it away still gets the answer to its step (without the submitter, as always)."""
    is_owner = actor.subject is not None and actor.subject == petition.owner
    of_agency = bool(actor.roles & AGENCY_STAFF) and petition.agency_code is not None \
        and actor.agency == petition.agency_code
    if not (actor.is_centre or is_owner or of_agency or just_acted):
        raise NotFound("petition", petition.id)
    body: dict[str, Any] = petition.model_dump(exclude={"submitter", "owner", "trail", "version", "overdue_sent",
                                                        "timer_key", "received_key", "search_text", "lat", "long",
                                                        "answered_by"})
    trail = petition.trail
    if not (actor.is_centre or is_owner):
        # The receiving line names the citizen account that sent it: the agency must not see even that.
        trail = [t.model_copy(update={"actor": None}) if t.actor == petition.owner else t for t in trail]
    return PetitionRead(**body, trail=trail, allowed_actions=allowed_actions(petition, actor),
                        submitter=petition.submitter if actor.is_centre or is_owner else None,
                        owner=petition.owner if actor.is_centre else None)


def receipt(petition: Petition) -> PetitionReceipt:
    return PetitionReceipt(id=petition.id, state=petition.state.value, category=petition.category,
                           title=petition.title, received_at=petition.received_at,
                           decision_due_at=petition.deadlines["decision"], answer_due_at=petition.deadlines["answer"])


def public(petition: Petition) -> PetitionPublicRead:
    return PetitionPublicRead(id=petition.id, category=petition.category, question=petition.public_question or "",
                              answer=petition.public_answer or "", agency_code=petition.agency_code,
                              received_at=petition.received_at, answered_at=petition.answered_at,
                              published_at=petition.published_at)


# --- routes ----------------------------------------------------------------------------------------

@router.post("/petitions", response_model=PetitionReceipt, status_code=201,
             summary="Send a petition (public): JSON, or multipart with a `petition` JSON part and `files`",
             openapi_extra={"requestBody": {"content": {
                 "application/json": {"schema": PetitionDraft.model_json_schema()},
                 "multipart/form-data": {"schema": {"type": "object", "required": ["petition"], "properties": {
                     "petition": {"type": "string", "description": "the petition as JSON"},
                     "files": {"type": "array", "items": {"type": "string", "format": "binary"}}}}}}}})
async def submit(request: Request, caller: CurrentCaller) -> PetitionReceipt:
    draft, files = await _draft_and_files(request, PetitionDraft)
    owner = caller.subject if "citizen" in caller.roles else None
    petition = await request.app.state.feedback.submit(draft, channel="online", owner=owner, files=files)
    return receipt(petition)


@router.post("/petitions/recorded", response_model=PetitionRead, status_code=201,
             summary="Record a petition received at the counter, by phone or in the comment box (feedback officers)")
async def record(request: Request, caller: CurrentCaller, body: RecordedPetition) -> PetitionRead:
    caller.require(*CENTRE)
    if body.channel in ("online", "open311"):
        raise Problem(422, "wrong-channel", "Wrong channel",
                      "online and Open311 petitions arrive by themselves; record counter, hotline or comment_box ones",
                      field="channel")
    draft = PetitionDraft.model_validate(body.model_dump(exclude={"channel", "received_at"}))
    petition = await request.app.state.feedback.submit(draft, channel=body.channel, received_at=body.received_at,
                                                       recorded_by=caller.subject)
    return view(petition, actor_of(caller))


@router.get("/petitions/published", response_model=PublicPage, tags=["public questions and answers"],
            summary="Citizens ask – the administration answers: published petitions, searched without diacritics")
async def published(request: Request, q: Annotated[str | None, Query(max_length=200)] = None,
                    limit: Annotated[int, Query(ge=1, le=100)] = 20,
                    offset: Annotated[int, Query(ge=0, le=10_000)] = 0) -> PublicPage:
    items, total = await request.app.state.feedback.search_published(q, limit, offset)
    return PublicPage(items=[public(p) for p in items], total=total)


@router.get("/petitions/published/{petition_id}", response_model=PetitionPublicRead,
            tags=["public questions and answers"], summary="One published question and answer")
async def published_one(request: Request, petition_id: str) -> PetitionPublicRead:
    petition = await request.app.state.feedback.get(petition_id)
    if petition.state != "published":
        raise NotFound("published petition", petition_id)
    return public(petition)


@router.get("/petitions", response_model=PetitionPage,
            summary="Petitions to handle, newest first (the centre: all; an agency's staff: theirs)")
async def petitions(request: Request, caller: CurrentCaller, state: Annotated[list[str] | None, Query()] = None,
                    agency: str | None = None, limit: Annotated[int, Query(ge=1, le=200)] = 50,
                    cursor: str | None = None) -> PetitionPage:
    caller.require(*CENTRE, *AGENCY_STAFF)
    actor = actor_of(caller)
    if not actor.is_centre:
        if not caller.agency:
            raise Problem(403, "no-agency", "No agency", "the signed-in officer has no agency")
        agency = caller.agency  # an agency sees its own petitions only
    known = {"received", "accepted", "rejected", "info_requested", "assigned", "answered", "published"}
    unknown = sorted(set(state or []) - known)
    if unknown:
        raise Problem(422, "unknown-state", "Unknown state", f"unknown state(s): {', '.join(unknown)}",
                      field="state", known=sorted(known))
    before = (decode_cursor(cursor) or {}).get("before")
    if before is not None and not isinstance(before, str):
        raise Problem(422, "invalid-cursor", "Invalid cursor", "The cursor is not one this API returned.")
    found = await request.app.state.feedback.find(states=state, agency=agency, before_key=before, limit=limit)
    items = [view(p, actor) for p in found]
    next_cursor = encode_cursor({"before": found[-1].model_dump()["received_key"]}) if len(found) == limit else None
    return PetitionPage(items=items, next_cursor=next_cursor)


@router.get("/petitions/{petition_id}", response_model=PetitionRead, summary="One petition, as your role may see it")
async def petition(request: Request, caller: CurrentCaller, petition_id: str) -> PetitionRead:
    actor = actor_of(caller)
    return view(await request.app.state.feedback.get(petition_id), actor)


@router.post("/petitions/{petition_id}/{action}", response_model=PetitionRead,
             summary="Take a step: accept, reject, request-information, provide-information, assign, transfer, "
                     "escalate, answer, publish, moderate")
async def take(request: Request, caller: CurrentCaller, petition_id: str, action: str,
               body: ActionBody | None = None) -> PetitionRead:
    if action not in ACTIONS:
        raise NotFound("action", action)
    actor = actor_of(caller)
    feedback = request.app.state.feedback
    view(await feedback.get(petition_id), actor)  # 404 for a petition this caller may not even see
    given = (body or ActionBody()).model_dump()
    changed = await feedback.act(petition_id, action.replace("-", "_"), actor, **given)
    return view(changed, actor, just_acted=True)


@router.get("/petitions/{petition_id}/attachments/{number}", summary="A file sent with the petition",
            response_class=StreamingResponse)
async def attachment(request: Request, caller: CurrentCaller, petition_id: str, number: int):
    actor = actor_of(caller)
    feedback = request.app.state.feedback
    view(await feedback.get(petition_id), actor)
    blob, chunks = await feedback.attachment(petition_id, number)
    return StreamingResponse(chunks, media_type=blob.content_type,
                             headers={"Content-Disposition": f"attachment; filename*=UTF-8''{_quote(blob.filename)}",
                                      "X-Content-SHA256": blob.sha256})


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


async def _draft_and_files(request: Request, model: type[BaseModel]) -> tuple[Any, list[tuple[str, bytes]]]:
    """The petition from a JSON body, or from the `petition` part of a multipart body with its files."""
    content_type = request.headers.get("content-type", "")
    files: list[tuple[str, bytes]] = []
    if content_type.startswith("multipart/form-data"):
        try:
            form = await request.form(max_files=20, max_fields=10)
        except Exception as exc:  # starlette's MultiPartException and friends: the client's malformed body
            raise Problem(400, "malformed-multipart", "Malformed multipart body", str(exc)) from None
        raw = form.get("petition")
        if not isinstance(raw, str):
            raise Problem(422, "missing-part", "Missing part", "the multipart body needs a `petition` JSON part",
                          field="petition")
        for upload in form.getlist("files"):
            if isinstance(upload, str):
                raise Problem(422, "not-a-file", "Not a file", "`files` parts must be files", field="files")
            files.append((upload.filename or "file", await upload.read()))
    elif content_type.startswith("application/json"):
        try:
            raw = (await request.body()).decode("utf-8")
        except UnicodeDecodeError:
            raise Problem(400, "malformed-json", "Malformed JSON body", "The body is not UTF-8.") from None
    else:
        raise Problem(415, "unsupported-media-type", "Unsupported media type",
                      "send application/json, or multipart/form-data with a `petition` part")
    try:
        return model.model_validate_json(raw), files
    except ValidationError as exc:
        raise validation_problem(exc.errors(include_url=False)) from None
