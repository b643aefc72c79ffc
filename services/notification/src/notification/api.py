"""HTTP routes of the notification service: messages (an officer's view of a dossier's, a citizen's inbox),
a citizen's preferences, and the SMS providers' delivery reports."""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from kit.events import utcnow
from kit.identity import CurrentCaller
from kit.paging import decode_cursor, encode_cursor
from kit.problems import NotFound, Problem

from notification.domain import Language, OutboundMessage
from notification.email import InvalidAddress, validate_address
from notification.placeholders import sample_values
from notification.preferences import Preferences, PreferencesUpdate
from notification.sms import InvalidPhoneNumber, normalize_phone
from notification.templates import KEY_PATTERN, render

router = APIRouter()
OFFICERS = ("reception_officer", "leader", "admin")


class MessagePage(BaseModel):
    items: list[OutboundMessage]
    next_cursor: str | None = None


class InboxItem(BaseModel):
    """What a citizen sees of an in-app message (no delivery internals)."""

    id: str
    dossier_code: str | None
    subject: str
    body: str
    recorded_at: str


class InboxPage(BaseModel):
    items: list[InboxItem]
    next_cursor: str | None = None


class TestMessageCreate(BaseModel):
    """A template rendered with sample values and sent to one address, so an operator sees the real thing."""

    model_config = ConfigDict(extra="forbid")

    template: str = Field(pattern=KEY_PATTERN)
    channel: Literal["email", "sms"]
    to: str = Field(min_length=1, max_length=320)
    language: Language = "vi"


class TestMessageRead(BaseModel):
    channel: str
    outcome: str
    provider: str | None
    detail: str | None


class ReportAck(BaseModel):
    message_id: str
    status: str


@router.get("/messages", response_model=MessagePage, tags=["messages"], summary="Messages recorded for a dossier")
async def messages(request: Request, caller: CurrentCaller,
                   dossier_code: Annotated[str, Query(min_length=5, max_length=64)]) -> MessagePage:
    caller.require(*OFFICERS)
    return MessagePage(items=await request.app.state.notifications.for_dossier(dossier_code))


@router.get("/messages/mine", response_model=InboxPage, tags=["messages"],
            summary="The signed-in citizen's in-app messages, newest first")
async def inbox(request: Request, caller: CurrentCaller, limit: Annotated[int, Query(ge=1, le=100)] = 20,
                cursor: str | None = None) -> InboxPage:
    caller.require("citizen")
    return await _inbox_page(request, f"account:{caller.subject}", limit, cursor)


@router.get("/messages/agency", response_model=InboxPage, tags=["messages"],
            summary="The officer's agency inbox (overdue and stalled dossiers), newest first")
async def agency_inbox(request: Request, caller: CurrentCaller, limit: Annotated[int, Query(ge=1, le=100)] = 20,
                       cursor: str | None = None) -> InboxPage:
    caller.require("leader", "specialist", "reception_officer")
    if not caller.agency:
        raise Problem(403, "no-agency", "Chưa gắn cơ quan / No agency", "the signed-in officer has no agency")
    return await _inbox_page(request, f"agency:{caller.agency}", limit, cursor)


async def _inbox_page(request: Request, recipient: str, limit: int, cursor: str | None) -> InboxPage:
    before = (decode_cursor(cursor) or {}).get("before")
    if before is not None and not isinstance(before, str):
        raise Problem(422, "invalid-cursor", "Invalid cursor", "The cursor is not one this API returned.")
    items = await request.app.state.notifications.inbox(recipient, limit, before)
    page = [InboxItem(id=m.id, dossier_code=m.dossier_code, subject=m.subject, body=m.body,
                      recorded_at=m.model_dump(mode="json")["recorded_at"]) for m in items]
    next_cursor = encode_cursor({"before": page[-1].recorded_at}) if len(page) == limit else None
    return InboxPage(items=page, next_cursor=next_cursor)


@router.get("/messages/{message_id}", response_model=OutboundMessage, tags=["messages"],
            summary="One message with its delivery attempts")
async def message(request: Request, caller: CurrentCaller, message_id: str) -> OutboundMessage:
    caller.require(*OFFICERS)
    return await request.app.state.notifications.get(message_id)


@router.get("/notifications/preferences/me", response_model=Preferences, tags=["preferences"],
            summary="The signed-in citizen's channels and language")
async def my_preferences(request: Request, caller: CurrentCaller) -> Preferences:
    caller.require("citizen")
    return await request.app.state.preferences.get(caller.subject)


@router.patch("/notifications/preferences/me", response_model=Preferences, tags=["preferences"],
              summary="Turn channels on or off, choose the language (only the fields given change)")
async def change_my_preferences(request: Request, caller: CurrentCaller, change: PreferencesUpdate) -> Preferences:
    caller.require("citizen")
    return await request.app.state.preferences.update(caller.subject, change)


@router.post("/notifications/sms/{provider}/reports", response_model=ReportAck, tags=["SMS delivery reports"],
             summary="A delivery report from an SMS provider (public: the HMAC signature is the credential)")
async def sms_report(request: Request, provider: str,
                     x_signature: Annotated[str | None, Header()] = None) -> ReportAck:
    body = await request.body()
    message = await request.app.state.notifications.on_sms_report(provider, body, x_signature)
    return ReportAck(message_id=message.id, status=message.status)


@router.post("/notifications/test-messages", response_model=TestMessageRead, tags=["notification rules and templates"],
             summary="Send a template, filled with sample values, to one e-mail address or phone (operators)")
async def test_message(request: Request, caller: CurrentCaller, body: TestMessageCreate) -> TestMessageRead:
    caller.require("admin")
    try:
        to = validate_address(body.to) if body.channel == "email" else normalize_phone(body.to)
    except (InvalidAddress, InvalidPhoneNumber) as exc:
        raise Problem(422, "invalid-recipient", "Người nhận không hợp lệ / Invalid recipient", str(exc)) from None
    template = await request.app.state.library.template(body.template)
    if template is None:
        raise NotFound("template", body.template)
    rendered = render(template, body.language, sample_values(body.language))
    message = OutboundMessage(
        id=f"test-{uuid.uuid4().hex[:16]}", cause_event_id="test", cause_event_type="test", dossier_code=None,
        channel=body.channel, recipient=to, language=body.language, template=f"{template.key}@{template.version}",
        subject=rendered.subject, body=rendered.sms if body.channel == "sms" else rendered.body, recorded_at=utcnow())
    outcome = await request.app.state.worker.senders[body.channel].send(message)
    return TestMessageRead(channel=body.channel, outcome=outcome.outcome, provider=outcome.provider,
                           detail=outcome.detail)
