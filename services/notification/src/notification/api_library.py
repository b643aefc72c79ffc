"""HTTP routes of the notification rules and templates an operator edits. Admins change them; reception
officers and leaders may read them. Every refusal is problem+json with a stable type."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated

from contracts import REGISTRY
from fastapi import APIRouter, Depends, Path, Request, Response
from kit.identity import Caller, CurrentCaller
from kit.problems import Conflict, NotFound, Problem
from kit.store import VersionConflict
from pydantic import BaseModel, ConfigDict, Field, model_validator

from notification.domain import Language
from notification.library import Library, SavedTemplate, StaleVersion
from notification.placeholders import PLACEHOLDERS, sample_values
from notification.rules import (
    Audience,
    Channels,
    Rule,
    RuleError,
    TemplateKey,
    check_audience,
    check_event_type,
    known_event_types,
)
from notification.templates import (
    KEY_PATTERN,
    MissingValues,
    SmsLength,
    TemplateError,
    TemplateVersion,
    Texts,
    render,
    sms_length,
)

router = APIRouter(tags=["notification rules and templates"])
READERS = ("admin", "reception_officer", "leader")
EDITORS = ("admin",)
TITLES = {"template-syntax": "Template syntax error", "unknown-placeholder": "Unknown placeholder",
          "sms-too-long": "SMS too long", "unknown-event-type": "Unknown event type",
          "unknown-template": "Unknown template"}


def get_library(request: Request) -> Library:
    return request.app.state.library


LibraryDep = Annotated[Library, Depends(get_library)]


def _editor(caller: Caller) -> str:
    caller.require(*EDITORS)
    return caller.subject or "unknown"


@contextmanager
def _refusals() -> Iterator[None]:
    """The library's refusals, as the problems a client can act on."""
    try:
        yield
    except TemplateError as exc:
        first = exc.problems[0]
        raise Problem(422, first.kind, TITLES[first.kind], str(exc), **first.details,
                      errors=[p.as_dict() for p in exc.problems]) from None
    except RuleError as exc:
        raise Problem(422, exc.kind, TITLES.get(exc.kind, "Invalid rule"), exc.message, **exc.details) from None
    except StaleVersion as exc:
        raise Conflict("stale-template-version", "The template has changed",
                       f"Template '{exc.key}' is at version {exc.current}, not {exc.based_on}: read it again, "
                       "then save your change on top of it.", current_version=exc.current,
                       based_on_version=exc.based_on) from None
    except VersionConflict as exc:
        raise Conflict("concurrent-change", "Changed by someone else meanwhile", f"{exc}; retry.") from None


# --- placeholders -----------------------------------------------------------------------------------

class PlaceholderRead(BaseModel):
    name: str
    description: str
    sample_vi: str
    sample_en: str


class EventPlaceholders(BaseModel):
    event_type: str
    summary: str
    placeholders: list[PlaceholderRead]


class PlaceholderCatalogue(BaseModel):
    items: list[EventPlaceholders]


@router.get("/notifications/placeholders", response_model=PlaceholderCatalogue,
            summary="The values a template may use, per event type, with sample values")
async def placeholders(caller: CurrentCaller) -> PlaceholderCatalogue:
    caller.require(*READERS)
    vi, en = sample_values("vi"), sample_values("en")
    return PlaceholderCatalogue(items=[
        EventPlaceholders(event_type=event_type, summary=REGISTRY[event_type].summary, placeholders=[
            PlaceholderRead(name=name, description=description, sample_vi=vi[name], sample_en=en[name])
            for name, description in PLACEHOLDERS[event_type].items()])
        for event_type in known_event_types()])


# --- rules --------------------------------------------------------------------------------------------

class RulePage(BaseModel):
    items: list[Rule]


class RuleWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")
    template: TemplateKey
    channels: Channels = Field(description="In order of preference; an agency is told in-app only")
    audience: Audience = "applicant"
    enabled: bool = True

    @model_validator(mode="after")
    def _audience_channels(self) -> "RuleWrite":
        check_audience(self.audience, self.channels)
        return self


@router.get("/notifications/rules", response_model=RulePage, summary="Every notification rule")
async def list_rules(library: LibraryDep, caller: CurrentCaller) -> RulePage:
    caller.require(*READERS)
    return RulePage(items=await library.rules())


@router.get("/notifications/rules/{event_type}", response_model=Rule, summary="The rule of one event type")
async def get_rule(library: LibraryDep, caller: CurrentCaller, event_type: str) -> Rule:
    caller.require(*READERS)
    rule = await library.rule_for(event_type)
    if rule is None:
        raise NotFound("Rule", event_type)
    return rule


@router.put("/notifications/rules/{event_type}", response_model=Rule,
            responses={201: {"model": Rule, "description": "The first rule of this event type"}},
            summary="Create or replace the rule of an event type (checked against its template)")
async def put_rule(library: LibraryDep, caller: CurrentCaller, response: Response,
                   event_type: Annotated[str, Path(max_length=200)], body: RuleWrite) -> Rule:
    by = _editor(caller)
    with _refusals():
        rule = await library.save_rule(event_type, body.template, list(body.channels), body.audience, body.enabled, by)
    response.status_code = 201 if rule.version == 1 else 200
    return rule


# --- templates ----------------------------------------------------------------------------------------

class TemplateRead(TemplateVersion):
    used_by: list[str] = Field(description="Event types whose rule sends this template")


class TemplatePage(BaseModel):
    items: list[TemplateRead]


class VersionSummary(BaseModel):
    version: int
    note: str
    created_by: str
    created_at: datetime


class TemplateDetail(BaseModel):
    current: TemplateVersion
    versions: list[VersionSummary]
    used_by: list[str]


class TemplateWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")
    texts: Texts
    note: Annotated[str, Field(max_length=500)] = ""
    based_on_version: Annotated[int | None, Field(ge=1, description="The version this change was made on; "
                                                                     "409 if another was saved since")] = None


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event_type: str = Field(max_length=200)
    lang: Language = "vi"
    version: Annotated[int | None, Field(ge=1, description="Default: the current version")] = None


class Preview(BaseModel):
    key: str
    version: int
    event_type: str
    lang: Language
    subject: str
    body: str
    sms: str
    sms_length: SmsLength


async def _used_by(library: Library) -> dict[str, list[str]]:
    used: dict[str, list[str]] = {}
    for rule in await library.rules():
        used.setdefault(rule.template, []).append(rule.event_type)
    return used


@router.get("/notifications/templates", response_model=TemplatePage,
            summary="The current version of every template")
async def list_templates(library: LibraryDep, caller: CurrentCaller) -> TemplatePage:
    caller.require(*READERS)
    used = await _used_by(library)
    return TemplatePage(items=[TemplateRead(**t.model_dump(), used_by=used.get(t.key, []))
                               for t in await library.templates()])


@router.get("/notifications/templates/{key}", response_model=TemplateDetail,
            summary="A template's current version and the list of its versions")
async def get_template(library: LibraryDep, caller: CurrentCaller, key: str) -> TemplateDetail:
    caller.require(*READERS)
    versions = await library.template_versions(key)
    if not versions:
        raise NotFound("Template", key)
    return TemplateDetail(current=versions[-1], used_by=(await _used_by(library)).get(key, []),
                          versions=[VersionSummary(version=v.version, note=v.note, created_by=v.created_by,
                                                   created_at=v.created_at) for v in versions])


@router.get("/notifications/templates/{key}/versions/{version}", response_model=TemplateVersion,
            summary="One version of a template (versions never change)")
async def get_template_version(library: LibraryDep, caller: CurrentCaller, key: str,
                               version: Annotated[int, Path(ge=1)]) -> TemplateVersion:
    caller.require(*READERS)
    template = await library.template(key, version)
    if template is None:
        raise NotFound("Template version", f"{key}@{version}")
    return template


@router.put("/notifications/templates/{key}", response_model=SavedTemplate,
            responses={201: {"model": SavedTemplate, "description": "A new template (version 1)"}},
            summary="Save a new version of a template (checked, with its SMS length per language)")
async def put_template(library: LibraryDep, caller: CurrentCaller, response: Response,
                       key: Annotated[str, Path(pattern=KEY_PATTERN)], body: TemplateWrite) -> SavedTemplate:
    by = _editor(caller)
    with _refusals():
        saved = await library.save_template(key, body.texts, body.note, by, body.based_on_version)
    response.status_code = 201 if saved.version == 1 else 200
    return saved


@router.post("/notifications/templates/{key}/preview", response_model=Preview,
             summary="Render a template for an event type with sample values")
async def preview(library: LibraryDep, caller: CurrentCaller, key: str, body: PreviewRequest) -> Preview:
    _editor(caller)
    with _refusals():
        check_event_type(body.event_type)
    template = await library.template(key, body.version)
    if template is None:
        raise NotFound("Template", key if body.version is None else f"{key}@{body.version}")
    samples = sample_values(body.lang)
    values = {name: samples[name] for name in PLACEHOLDERS[body.event_type]}
    try:
        rendered = render(template, body.lang, values)
    except MissingValues as exc:
        names = ", ".join("{" + n + "}" for n in exc.names)
        raise Problem(422, "unknown-placeholder", TITLES["unknown-placeholder"],
                      f"Template '{key}' uses {names}, which {body.event_type} does not carry.",
                      placeholders=exc.names, allowed=sorted(values)) from None
    return Preview(key=template.key, version=template.version, event_type=body.event_type, lang=body.lang,
                   subject=rendered.subject, body=rendered.body, sms=rendered.sms,
                   sms_length=sms_length(rendered.sms))

