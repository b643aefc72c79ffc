"""Petitions (phản ánh, kiến nghị), DOMAIN.md section 6: the handling workflow with a deadline per step
in working days (766/QĐ-TTg: decide within 2, ask for information within 5, answer within 15, publish
within 2 after answering). Pure: no I/O.

The submitter's identity is confidential: only the centre's feedback officers see it; the public and the
agency that answers (which may employ the officer complained about) never do."""

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, computed_field, field_validator

from kit.calendar import BusinessCalendar
from kit.request_keys import time_key
from kit.rules import RuleViolation
from kit.text import fold

from contracts import feedback as ev
from contracts.dossier import ApplicantContact

Category = Literal["procedure", "conduct"]
Channel = Literal["online", "counter", "hotline", "comment_box", "open311"]
Deadline = Literal["decision", "information", "answer", "publication"]
FEEDBACK_OFFICER, ADMIN, LEADER, SPECIALIST, CITIZEN = "feedback_officer", "admin", "leader", "specialist", "citizen"
CENTRE = frozenset({FEEDBACK_OFFICER, ADMIN})
AGENCY_STAFF = frozenset({LEADER, SPECIALIST})


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()


class State(StrEnum):
    RECEIVED = "received"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    INFO_REQUESTED = "info_requested"
    ASSIGNED = "assigned"
    ANSWERED = "answered"
    PUBLISHED = "published"


@dataclass(frozen=True)
class Limits:
    """Working days allowed for each step (settings; defaults from DOMAIN.md section 6)."""

    decision: float = 2
    information: float = 5
    answer: float = 15
    publication: float = 2


class Submitter(BaseModel):
    """Confidential: never shown to the public nor to the agency answering."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=2, max_length=200)
    phone: str | None = Field(default=None, pattern=r"^(\+84|0)\d{9,10}$")
    email: EmailStr | None = None

    @field_validator("name")
    @classmethod
    def _normalised(cls, value: str) -> str:
        return _nfc(value)


class PetitionDraft(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: Category
    title: str = Field(min_length=5, max_length=200)
    content: str = Field(min_length=10, max_length=10_000)
    dossier_code: str | None = Field(default=None, pattern=r"^[0-9A-Za-z.]{5,32}-\d{6}-\d{4,6}$")
    procedure_code: str | None = Field(default=None, pattern=r"^[0-9A-Za-z.\-]{3,32}$")
    agency_code: str | None = Field(default=None, pattern=r"^[0-9A-Za-z.]{3,32}$",
                                    description="the agency the petition is about, if the submitter knows it")
    address: str | None = Field(default=None, max_length=500)
    lat: float | None = Field(default=None, ge=-90, le=90)
    long: float | None = Field(default=None, ge=-180, le=180)
    submitter: Submitter

    @field_validator("title", "content", "address")
    @classmethod
    def _normalised(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = _nfc(value)
        if not value:
            raise ValueError("must not be blank")
        return value


class TrailLine(BaseModel):
    """One line of the audit trail: who, when, from which state to which, why, and what changed."""

    at: datetime
    actor: str | None
    action: str
    from_state: str | None
    to_state: str
    reason: str | None = None
    details: dict = {}


class Attachment(BaseModel):
    blob_id: str
    filename: str
    content_type: str
    size: int
    sha256: str


class Petition(BaseModel):
    id: str
    category: Category
    title: str
    content: str
    dossier_code: str | None = None
    procedure_code: str | None = None
    named_agency: str | None = None  # the agency the submitter named
    agency_code: str | None = None  # the agency handling it, once assigned
    address: str | None = None
    lat: float | None = None
    long: float | None = None
    submitter: Submitter
    owner: str | None = None  # the citizen account that sent it online
    channel: Channel
    state: State = State.RECEIVED
    received_at: datetime
    updated_at: datetime
    deadlines: dict[str, datetime] = {}  # Deadline → due
    overdue_sent: list[str] = []  # deadlines whose overdue event was published: once each
    information_request: str | None = None
    rejection_reason: str | None = None
    answer: str | None = None
    answered_at: datetime | None = None
    answered_by: str | None = None
    public_question: str | None = None
    public_answer: str | None = None
    published_at: datetime | None = None
    attachments: list[Attachment] = []
    trail: list[TrailLine] = []
    version: int = 0

    # Query keys (recomputed on every save).
    @computed_field
    def due_at(self) -> datetime | None:
        """The deadline of the step the petition is in now."""
        step = STEP_DEADLINE.get(self.state)
        return self.deadlines.get(step) if step else None

    @computed_field
    def timer_key(self) -> str | None:
        """When the current step's deadline passes, unless its overdue event was already published."""
        step = STEP_DEADLINE.get(self.state)
        if step is None or step in self.overdue_sent or step not in self.deadlines:
            return None
        return time_key(self.deadlines[step])

    @computed_field
    def received_key(self) -> str:
        return time_key(self.received_at)

    @computed_field
    def search_text(self) -> str | None:
        """What the public search looks in (published petitions only), without diacritics."""
        if self.state != State.PUBLISHED:
            return None
        return fold(f"{self.public_question or ''} {self.public_answer or ''}")


# The deadline that runs in each state (the information deadline bounds when the centre may ask, it does
# not make a waiting petition late; while the submitter owes information, no clock runs).
STEP_DEADLINE: dict[State, Deadline] = {
    State.RECEIVED: "decision", State.ACCEPTED: "answer", State.ASSIGNED: "answer", State.ANSWERED: "publication",
}


@dataclass(frozen=True)
class Actor:
    subject: str | None
    roles: frozenset[str]
    agency: str | None = None

    @property
    def is_centre(self) -> bool:
        return bool(self.roles & CENTRE)


@dataclass(frozen=True)
class Rule:
    sources: frozenset[State]
    target: State | None  # None: stays where it is
    roles: frozenset[str]
    needs: str | None = None  # the text the action must carry ("reason", "text", "to_agency")


RULES: dict[str, Rule] = {
    "accept": Rule(frozenset({State.RECEIVED}), State.ACCEPTED, CENTRE),
    "reject": Rule(frozenset({State.RECEIVED, State.ACCEPTED, State.INFO_REQUESTED}), State.REJECTED, CENTRE, "reason"),
    "request_information": Rule(frozenset({State.RECEIVED, State.ACCEPTED}), State.INFO_REQUESTED, CENTRE, "text"),
    "provide_information": Rule(frozenset({State.INFO_REQUESTED}), State.ACCEPTED, CENTRE | {CITIZEN}, "text"),
    "assign": Rule(frozenset({State.ACCEPTED}), State.ASSIGNED, CENTRE, "to_agency"),
    "transfer": Rule(frozenset({State.ASSIGNED}), State.ASSIGNED, CENTRE | {LEADER}, "to_agency"),
    "escalate": Rule(frozenset({State.ASSIGNED}), State.ASSIGNED, CENTRE | {LEADER}, "to_agency"),
    "answer": Rule(frozenset({State.ASSIGNED}), State.ANSWERED, CENTRE | AGENCY_STAFF, "text"),
    "publish": Rule(frozenset({State.ANSWERED}), State.PUBLISHED, CENTRE),
    "moderate": Rule(frozenset({State.PUBLISHED}), None, CENTRE),
}


def _refused(status: int, kind: str, detail: str, **extra) -> RuleViolation:
    """A refusal answered as problem+json with this status and type; nothing changed."""
    error = RuleViolation(detail, **extra)
    error.status, error.kind = status, kind
    return error


def allowed_actions(petition: Petition, actor: Actor) -> list[str]:
    return [name for name, rule in RULES.items()
            if petition.state in rule.sources and _may(petition, actor, rule)]


def _may(petition: Petition, actor: Actor, rule: Rule) -> bool:
    if not actor.roles & rule.roles:
        return False
    if actor.is_centre:
        return True
    if CITIZEN in actor.roles and CITIZEN in rule.roles:
        return actor.subject is not None and actor.subject == petition.owner
    # Agency staff act only on what is assigned to their agency.
    return petition.agency_code is not None and actor.agency == petition.agency_code


def receive(petition_id: str, draft: PetitionDraft, *, channel: Channel, received_at: datetime, now: datetime,
            owner: str | None, recorded_by: str | None, calendar: BusinessCalendar,
            limits: Limits) -> tuple[Petition, list[ev.PetitionChange]]:
    petition = Petition(
        id=petition_id, category=draft.category, title=draft.title, content=draft.content,
        dossier_code=draft.dossier_code, procedure_code=draft.procedure_code, named_agency=draft.agency_code,
        address=draft.address, lat=draft.lat, long=draft.long, submitter=draft.submitter, owner=owner,
        channel=channel, received_at=received_at, updated_at=now,
        deadlines={step: calendar.due_date(received_at, getattr(limits, step), "working_days")
                   for step in ("decision", "information", "answer")})
    petition.trail.append(TrailLine(at=now, actor=recorded_by or owner, action="receive", from_state=None,
                                    to_state=State.RECEIVED, details={"channel": channel}))
    return petition, [ev.FeedbackReceived(**_common(petition, now, recorded_by), channel=channel,
                                          received_at=received_at)]


def act(petition: Petition, action: str, actor: Actor, *, now: datetime, calendar: BusinessCalendar, limits: Limits,
        reason: str | None = None, text: str | None = None, to_agency: str | None = None,
        public_question: str | None = None, public_answer: str | None = None) -> tuple[Petition, list]:
    """Apply one action; a refusal raises RuleViolation and changes nothing."""
    rule = RULES.get(action)
    if rule is None:
        raise _refused(404, "unknown-action", f"there is no action {action!r}")
    if not actor.roles & rule.roles:
        raise _refused(403, "forbidden-action",
                       f"{action} needs one of the roles {', '.join(sorted(rule.roles))}")
    if not _may(petition, actor, rule):
        mine = "assigned to your agency" if actor.agency is not None else "yours"
        raise _refused(403, "forbidden-action", f"petition {petition.id} is not {mine}")
    if petition.state not in rule.sources:
        raise _refused(409, "illegal-transition",
                       f"petition {petition.id} is {petition.state.value}; {action} is not possible",
                       state=petition.state.value, allowed_actions=allowed_actions(petition, actor))
    given = {"reason": reason, "text": text, "to_agency": to_agency}
    if rule.needs and not (given[rule.needs] or "").strip():
        raise _refused(422, "missing-" + rule.needs.replace("_", "-"),
                       f"{action} needs a {rule.needs.replace('_', ' ')}")
    if action in ("transfer", "escalate") and to_agency == petition.agency_code:
        raise _refused(422, "same-agency", f"petition {petition.id} is already with {to_agency}")
    before = petition.state
    p = petition.model_copy(deep=True)
    p.updated_at = now
    details: dict = {}
    events: list[ev.PetitionChange] = []
    if action == "accept":
        events.append(ev.FeedbackAccepted)
    elif action == "reject":
        p.rejection_reason = reason
        events.append(ev.FeedbackRejected)
    elif action == "request_information":
        if now > p.deadlines["information"]:
            raise _refused(409, "information-deadline-passed",
                           f"information could be asked until {p.deadlines['information'].isoformat()}")
        p.information_request = text
        events.append(ev.FeedbackInformationRequested)
    elif action == "provide_information":
        # The answer clock starts again from the information received.
        p.deadlines["answer"] = calendar.due_date(now, limits.answer, "working_days")
        p.overdue_sent = [d for d in p.overdue_sent if d != "answer"]
        details["information"] = text
    elif action in ("assign", "transfer", "escalate"):
        details.update(from_agency=p.agency_code, to_agency=to_agency)
        p.agency_code = to_agency
        events.append(ev.FeedbackAssigned)
    elif action == "answer":
        p.answer, p.answered_at, p.answered_by = text, now, actor.subject
        p.deadlines["publication"] = calendar.due_date(now, limits.publication, "working_days")
        events.append(ev.FeedbackAnswered)
    elif action in ("publish", "moderate"):
        question = _nfc(public_question) if public_question else (p.public_question or p.content)
        answer = _nfc(public_answer) if public_answer else (p.public_answer or p.answer)
        # Moderation keeps the original: the trail holds what the public texts were before.
        details.update(question_before=p.public_question, answer_before=p.public_answer,
                       question=question, answer=answer)
        p.public_question, p.public_answer = question, answer
        if action == "publish":
            p.published_at = now
            events.append(ev.FeedbackPublished)
    if rule.target is not None:
        p.state = rule.target
    p.trail.append(TrailLine(at=now, actor=actor.subject, action=action, from_state=before, to_state=p.state,
                             reason=reason, details=details))
    built = []
    for kind in events:
        extra = {}
        if kind is ev.FeedbackRejected:
            extra = {"reason": reason, "submitter": _contact(p)}
        elif kind is ev.FeedbackInformationRequested:
            extra = {"request": text, "submitter": _contact(p)}
        elif kind is ev.FeedbackAssigned:
            extra = {"how": {"assign": "assigned", "transfer": "transferred", "escalate": "escalated"}[action],
                     "from_agency": details["from_agency"]}
        elif kind is ev.FeedbackAnswered:
            extra = {"answered_at": now, "submitter": _contact(p)}
        built.append(kind(**_common(p, now, actor.subject), **extra))
    return p, built


def overdue(petition: Petition, now: datetime) -> tuple[Petition, list[ev.FeedbackOverdue]]:
    """The current step's deadline passed: its overdue event, once."""
    step = STEP_DEADLINE.get(petition.state)
    if step is None or step in petition.overdue_sent or now <= petition.deadlines.get(step, now):
        return petition, []
    p = petition.model_copy(deep=True)
    p.overdue_sent.append(step)
    return p, [ev.FeedbackOverdue(**_common(p, now, "system"), deadline=step)]


def _contact(p: Petition) -> ApplicantContact:
    return ApplicantContact(name=p.submitter.name, phone=p.submitter.phone, email=p.submitter.email, account=p.owner)


def _common(p: Petition, now: datetime, actor: str | None) -> dict:
    return {"petition_id": p.id, "state": p.state.value, "category": p.category,
            "agency_code": p.agency_code or p.named_agency, "dossier_code": p.dossier_code,
            "procedure_code": p.procedure_code, "occurred_at": now, "actor": actor, "due_at": p.due_at}
