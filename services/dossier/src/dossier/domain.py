"""The dossier aggregate and its lifecycle (DOMAIN.md sections 1-3). Pure: no I/O.

The lifecycle is one explicit table, `RULES`: for each action, the states it may start from, the
state it leads to, the roles allowed to take it and whether the law requires a reason. Every change
appends a line to the audit trail (the control slip) and returns the events it causes; the
repository stores them in the document's outbox in the same write."""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, EmailStr, Field, computed_field

from kit.rules import RuleViolation

from contracts import dossier as ev
from contracts.catalog import Case, ProcessingTime, RequiredDocument
from contracts.dossier import ApplicantContact, DossierChange, MissingItem
from kit.calendar import TZ, BusinessCalendar, classify

CODE_PATTERN = r"^[0-9A-Z.]+-\d{6}-\d{4}$"
SYSTEM = "system"


class State(StrEnum):
    SUBMITTED = "submitted"
    INTAKE_SUPPLEMENT = "intake_supplement"
    REFUSED_AT_INTAKE = "refused_at_intake"
    RECEIVED = "received"
    TRANSFERRED = "transferred"
    ASSIGNED = "assigned"
    APPRAISED = "appraised"
    APPROVED = "approved"
    AWAITING_FEES = "awaiting_fees"
    SUPPLEMENT_REQUESTED = "supplement_requested"
    REFUSED = "refused"
    WITHDRAWAL_REQUESTED = "withdrawal_requested"
    STOPPED = "stopped"
    RESOLVED = "resolved"
    RETURNED = "returned"


# National (DVCQG) status codes, DOMAIN.md section 1. Codes for the intake supplement and for a
# refusal after appraisal are not in the published list: inferred (5 and 3).
STATUS_CODE: dict[State, int] = {
    State.SUBMITTED: 1, State.INTAKE_SUPPLEMENT: 5, State.REFUSED_AT_INTAKE: 3, State.RECEIVED: 2,
    State.TRANSFERRED: 4, State.ASSIGNED: 4, State.APPRAISED: 4, State.APPROVED: 4, State.AWAITING_FEES: 6,
    State.SUPPLEMENT_REQUESTED: 5, State.REFUSED: 3, State.WITHDRAWAL_REQUESTED: 7, State.STOPPED: 8,
    State.RESOLVED: 9, State.RETURNED: 10,
}
LABELS: dict[State, tuple[str, str]] = {
    State.SUBMITTED: ("Mới đăng ký", "Submitted"),
    State.INTAKE_SUPPLEMENT: ("Yêu cầu bổ sung trước khi tiếp nhận", "Supplement requested before receipt"),
    State.REFUSED_AT_INTAKE: ("Không được tiếp nhận", "Refused at intake"),
    State.RECEIVED: ("Đã tiếp nhận", "Received"),
    State.TRANSFERRED: ("Đã chuyển cơ quan giải quyết", "Transferred to the competent agency"),
    State.ASSIGNED: ("Đang xử lý", "Being processed"),
    State.APPRAISED: ("Đã thẩm định, chờ phê duyệt", "Appraised, awaiting approval"),
    State.APPROVED: ("Đã phê duyệt", "Approved"),
    State.AWAITING_FEES: ("Chờ thực hiện nghĩa vụ tài chính", "Awaiting fees"),
    State.SUPPLEMENT_REQUESTED: ("Yêu cầu bổ sung hồ sơ", "Supplement requested"),
    State.REFUSED: ("Từ chối giải quyết", "Refused"),
    State.WITHDRAWAL_REQUESTED: ("Công dân yêu cầu rút hồ sơ", "Withdrawal requested"),
    State.STOPPED: ("Dừng xử lý", "Stopped"),
    State.RESOLVED: ("Đã xử lý xong", "Resolved"),
    State.RETURNED: ("Đã trả kết quả", "Result returned"),
}
TERMINAL = frozenset({State.REFUSED_AT_INTAKE, State.REFUSED, State.STOPPED, State.RETURNED})
COMPLETED = TERMINAL | {State.RESOLVED}  # the clock has stopped
# States where the dossier waits on the citizen: no stall alarm, and no overdue while the clock is paused.
WAITING_ON_CITIZEN = frozenset({State.INTAKE_SUPPLEMENT, State.SUPPLEMENT_REQUESTED, State.AWAITING_FEES})
IN_PROCESS = frozenset({State.TRANSFERRED, State.ASSIGNED, State.APPRAISED, State.APPROVED})

CITIZEN, RECEPTION, SPECIALIST, LEADER = "citizen", "reception_officer", "specialist", "leader"
AGENCY_ROLES = frozenset({SPECIALIST, LEADER})  # act only on dossiers at their own agency


class Action(StrEnum):
    REQUEST_INTAKE_SUPPLEMENT = "request_intake_supplement"
    RESUBMIT = "resubmit"
    REFUSE_INTAKE = "refuse_intake"
    RECEIVE = "receive"
    TRANSFER = "transfer"
    ASSIGN = "assign"
    APPRAISE = "appraise"
    APPROVE = "approve"
    REQUEST_FEES = "request_fees"
    RECORD_FEES_PAID = "record_fees_paid"
    REQUEST_SUPPLEMENT = "request_supplement"
    PROVIDE_SUPPLEMENT = "provide_supplement"
    REFUSE = "refuse"
    EXTEND = "extend"
    REQUEST_WITHDRAWAL = "request_withdrawal"
    CONFIRM_WITHDRAWAL = "confirm_withdrawal"
    CANCEL_WITHDRAWAL = "cancel_withdrawal"
    RESOLVE = "resolve"
    RETURN_RESULT = "return_result"


@dataclass(frozen=True)
class Rule:
    sources: frozenset[State]
    target: State | None  # None: back to the state the dossier was in before (fees, withdrawal)
    roles: frozenset[str]
    reason_required: bool
    event: type[DossierChange]


def _rule(sources, target, roles, event, *, reason=False) -> Rule:
    return Rule(frozenset(sources), target, frozenset(roles), reason, event)


S = State
BEFORE_DECISION = {S.RECEIVED, S.TRANSFERRED, S.ASSIGNED, S.APPRAISED, S.APPROVED, S.AWAITING_FEES,
                   S.SUPPLEMENT_REQUESTED}
RULES: dict[Action, Rule] = {
    Action.REQUEST_INTAKE_SUPPLEMENT: _rule({S.SUBMITTED}, S.INTAKE_SUPPLEMENT, {RECEPTION},
                                            ev.DossierIntakeSupplementRequested, reason=True),
    Action.RESUBMIT: _rule({S.INTAKE_SUPPLEMENT}, S.SUBMITTED, {CITIZEN, RECEPTION}, ev.DossierResubmitted),
    Action.REFUSE_INTAKE: _rule({S.SUBMITTED, S.INTAKE_SUPPLEMENT}, S.REFUSED_AT_INTAKE, {RECEPTION},
                                ev.DossierRefusedAtIntake, reason=True),
    Action.RECEIVE: _rule({S.SUBMITTED}, S.RECEIVED, {RECEPTION}, ev.DossierReceived),
    Action.TRANSFER: _rule({S.RECEIVED, S.TRANSFERRED, S.ASSIGNED, S.APPRAISED}, S.TRANSFERRED, {RECEPTION, LEADER},
                           ev.DossierTransferred),
    # From APPRAISED: the leader sends the proposal back to a specialist (see `approve`).
    Action.ASSIGN: _rule({S.TRANSFERRED, S.ASSIGNED, S.APPRAISED}, S.ASSIGNED, {LEADER}, ev.DossierAssigned),
    Action.APPRAISE: _rule({S.ASSIGNED}, S.APPRAISED, {SPECIALIST}, ev.DossierAppraised, reason=True),
    Action.APPROVE: _rule({S.APPRAISED}, S.APPROVED, {LEADER}, ev.DossierApproved),
    Action.REQUEST_FEES: _rule({S.APPRAISED, S.APPROVED}, S.AWAITING_FEES, {SPECIALIST, LEADER},
                               ev.DossierFeesRequested),
    Action.RECORD_FEES_PAID: _rule({S.AWAITING_FEES}, None, {RECEPTION, SYSTEM}, ev.DossierFeesPaid),
    Action.REQUEST_SUPPLEMENT: _rule({S.ASSIGNED, S.APPRAISED}, S.SUPPLEMENT_REQUESTED, {SPECIALIST, LEADER},
                                     ev.DossierSupplementRequested, reason=True),
    Action.PROVIDE_SUPPLEMENT: _rule({S.SUPPLEMENT_REQUESTED}, S.ASSIGNED, {CITIZEN, RECEPTION},
                                     ev.DossierSupplementProvided),
    Action.REFUSE: _rule({S.ASSIGNED, S.APPRAISED}, S.REFUSED, {LEADER}, ev.DossierRefused, reason=True),
    Action.EXTEND: _rule({S.TRANSFERRED, S.ASSIGNED, S.APPRAISED, S.APPROVED}, None, {LEADER}, ev.DossierExtended,
                         reason=True),
    Action.REQUEST_WITHDRAWAL: _rule(BEFORE_DECISION, S.WITHDRAWAL_REQUESTED, {CITIZEN, RECEPTION},
                                     ev.DossierWithdrawalRequested, reason=True),
    Action.CONFIRM_WITHDRAWAL: _rule({S.WITHDRAWAL_REQUESTED}, S.STOPPED, {RECEPTION, LEADER}, ev.DossierStopped),
    Action.CANCEL_WITHDRAWAL: _rule({S.WITHDRAWAL_REQUESTED}, None, {CITIZEN, RECEPTION},
                                    ev.DossierWithdrawalCancelled),
    Action.RESOLVE: _rule({S.APPROVED}, S.RESOLVED, {LEADER}, ev.DossierResolved),
    Action.RETURN_RESULT: _rule({S.RESOLVED}, S.RETURNED, {RECEPTION}, ev.DossierReturned),
}


def allowed_actions(state: State) -> list[str]:
    return [action.value for action, rule in RULES.items() if state in rule.sources]


# -- errors ------------------------------------------------------------------------------------


class DomainError(RuleViolation):
    """A rule of the lifecycle refused the command; nothing changed (answered as problem+json by the kit)."""


class IllegalTransition(DomainError):
    status, kind = 409, "illegal-transition"

    def __init__(self, state: State, action: str, detail: str | None = None):
        # With a detail, a rule beyond the state refused the action (extend twice, approve a refusal):
        # the state still lists it in general, so leave it out of what the answer offers.
        offered = [a for a in allowed_actions(state) if detail is None or a != action]
        super().__init__(detail or f"A dossier in state '{state}' cannot take the action '{action}'.",
                         state=state.value, allowed_actions=offered)
        self.state = state
        self.action = action


class Forbidden(DomainError):
    status, kind = 403, "forbidden-action"


class ReasonRequired(DomainError):
    kind = "reason-required"


class IncompleteDossier(DomainError):
    status, kind = 409, "dossier-incomplete"


# -- value objects -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    subject: str
    roles: frozenset[str]
    agency: str | None = None
    name: str | None = None


SYSTEM_ACTOR = Actor(subject=SYSTEM, roles=frozenset({SYSTEM}))


@dataclass(frozen=True)
class Policy:
    """The calendar and the operator-set thresholds a command is judged by."""

    calendar: BusinessCalendar = field(default_factory=BusinessCalendar)
    intake_response_hours: float = 8  # Decree 118 Art 17.2: accept or ask for fixes within 8 working hours
    stall_working_days: float = 3
    supplement_response_days: int = 15  # Art 19.5: closes after 15 days without an answer


class Applicant(BaseModel):
    name: str = Field(min_length=2, max_length=200)
    id_number: str = Field(pattern=r"^\d{12}$", description="12-digit citizen ID (CCCD)")
    phone: str = Field(pattern=r"^(\+84|0)\d{9,10}$")
    email: EmailStr | None = None
    address: str = Field(min_length=3, max_length=500)

    def contact(self, account: str | None = None) -> ApplicantContact:
        return ApplicantContact(name=self.name, phone=self.phone, email=self.email, account=account)


class Attachment(BaseModel):
    blob_id: str
    filename: str
    content_type: str
    size: int
    sha256: str


class ProvidedDocument(BaseModel):
    code: str = Field(min_length=1, max_length=50)
    originals: int = Field(default=1, ge=0, le=100)
    copies: int = Field(default=0, ge=0, le=100)
    attachments: list[Attachment] = []


class ProcedureRef(BaseModel):
    """The dossier service's own copy of what it needs of a procedure (as of one version)."""

    code: str
    version: int
    name_vi: str
    agency_code: str
    required_documents: list[RequiredDocument] = []
    processing_times: list[ProcessingTime] = []
    immediate_result: bool = False
    cases: list[Case] = []

    def processing_time(self, channel: str) -> ProcessingTime | None:
        """The time for the channel, else the first listed (a procedure gives one per channel)."""
        by_channel = {t.channel: t for t in self.processing_times}
        return by_channel.get(channel) or (self.processing_times[0] if self.processing_times else None)

    def processing_time_text(self, channel: str) -> str:
        t = self.processing_time(channel)
        if t is None:
            return "Theo quy định"
        unit = {"hours": "giờ làm việc", "days": "ngày", "working_days": "ngày làm việc", "months": "tháng"}[t.unit]
        return f"{t.value:g} {unit}"


class Transition(BaseModel):
    """One line of the control slip (Phiếu kiểm soát quá trình giải quyết hồ sơ)."""

    at: datetime
    actor: str
    actor_name: str | None = None
    agency: str | None = None
    action: str
    from_state: State | None
    to_state: State
    reason: str | None = None
    details: dict = {}


class RoutingStep(BaseModel):
    """One agency's part of the work (Phiếu chuyển xử lý), with its own deadline."""

    agency: str
    started_at: datetime
    due_at: datetime | None
    finished_at: datetime | None = None


class SupplementRequest(BaseModel):
    stage: Literal["intake", "appraisal"]
    items: list[MissingItem]
    reason: str
    requested_at: datetime
    requested_by: str
    respond_by: datetime | None = None
    answered_at: datetime | None = None


class Extension(BaseModel):
    at: datetime
    by: str
    reason: str  # the apology and the cause, printed on the Phiếu đề nghị gia hạn
    previous_due_at: datetime
    new_due_at: datetime


class Fees(BaseModel):
    item_id: str = ""  # the payment service's fee item: payment.succeeded names it
    amount: int
    description: str
    requested_at: datetime
    paid_at: datetime | None = None


class Timers(BaseModel):
    """Pending durable timers: the earliest is indexed, so firing them never scans every dossier."""

    overdue: datetime | None = None
    stall: datetime | None = None
    supplement_expiry: datetime | None = None

    def earliest(self) -> datetime | None:
        return min((t for t in (self.overdue, self.stall, self.supplement_expiry) if t), default=None)


def utc_key(at: datetime | None) -> str | None:
    """Fixed-width UTC text, so stored timers and deadlines order correctly as strings."""
    return None if at is None else at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _local_day(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(TZ).date().isoformat()


# -- the aggregate -----------------------------------------------------------------------------


class Dossier(BaseModel):
    code: str
    security_code_hash: str
    procedure: ProcedureRef
    applicant: Applicant
    owner: str | None = None  # the citizen account that filed it online
    case_code: str | None = None  # the procedure's case (trường hợp), where it has several
    documents: list[ProvidedDocument]
    sets: int = 1
    channel: Literal["online", "in_person", "post"]
    result_channel: Literal["counter", "post", "online"]
    state: State
    submitted_at: datetime
    received_at: datetime | None = None
    received_by: str | None = None
    due_at: datetime | None = None
    current_agency: str | None = None
    assignee: str | None = None
    steps: list[RoutingStep] = []
    supplements: list[SupplementRequest] = []
    extension: Extension | None = None
    fees: Fees | None = None
    resume_state: State | None = None  # where fees or a withdrawal request return to
    proposal: str | None = None
    result_number: str | None = None
    returned_by: str | None = None
    completed_at: datetime | None = None
    classification: Literal["early", "on_time", "late"] | None = None
    overdue_notified_for: datetime | None = None  # the due date `dossier.overdue` was sent for
    last_moved_at: datetime
    timers: Timers = Timers()
    history: list[Transition] = []
    version: int = 0

    # Fields kept only for queries (indexes and the periodic report); recomputed on every save.
    @computed_field
    def is_open(self) -> bool:
        return self.state not in COMPLETED

    @computed_field
    def timer_at(self) -> str | None:
        return utc_key(self.timers.earliest())

    @computed_field
    def deadline_key(self) -> str:
        return f"{utc_key(self.due_at) or '9999'}#{self.code}"

    @computed_field
    def received_on(self) -> str | None:
        return _local_day(self.received_at)

    @computed_field
    def due_on(self) -> str | None:
        return _local_day(self.due_at)

    @computed_field
    def completed_on(self) -> str | None:
        return _local_day(self.completed_at)

    @property
    def missing_documents(self) -> list[RequiredDocument]:
        return missing_documents(self.procedure, self.documents)

    @property
    def appraisal_supplements(self) -> int:
        return sum(1 for s in self.supplements if s.stage == "appraisal")

    # -- the one path every transition takes -------------------------------------------------

    def _check(self, action: Action, actor: Actor, reason: str | None) -> Rule:
        rule = RULES[action]
        if not actor.roles & rule.roles:
            raise Forbidden(f"'{action}' needs one of the roles: {', '.join(sorted(rule.roles))}.",
                            required_roles=sorted(rule.roles))
        # Before the state check: a citizen must not learn the state of someone else's dossier.
        if CITIZEN in actor.roles and not actor.roles & (rule.roles - {CITIZEN}) and actor.subject != self.owner:
            raise Forbidden("Only the citizen who filed the dossier can do this.")
        if self.state not in rule.sources:
            raise IllegalTransition(self.state, action)
        if (actor.roles & AGENCY_ROLES and not actor.roles & (rule.roles - AGENCY_ROLES)
                and self.current_agency and actor.agency != self.current_agency):
            raise Forbidden(f"The dossier is at agency {self.current_agency}; you act for {actor.agency or 'none'}.",
                            current_agency=self.current_agency)
        if rule.reason_required and not (reason and reason.strip()):
            raise ReasonRequired(f"'{action}' requires a reason (it is printed on the slip given to the citizen).")
        return rule

    def _move(self, action: Action, rule: Rule, actor: Actor, at: datetime, policy: Policy, *,
              reason: str | None = None, target: State | None = None, details: dict | None = None,
              **event_fields) -> list[DossierChange]:
        previous = self.state
        self.state = target or rule.target or previous
        self.last_moved_at = at
        if self.state in COMPLETED and self.completed_at is None:
            self._complete(at)
        self.history.append(Transition(at=at, actor=actor.subject, actor_name=actor.name, agency=actor.agency,
                                       action=action.value, from_state=previous, to_state=self.state,
                                       reason=reason, details=details or {}))
        self._schedule(at, policy)
        return [self._event(rule.event, action, actor, at, reason, **event_fields)]

    def _complete(self, at: datetime) -> None:
        self.completed_at = at
        if self.due_at is None:
            return  # never received: the clock never ran
        self.classification = "late" if self.appraisal_supplements > 1 else classify(at, self.due_at)

    def _event(self, event_type: type[DossierChange], action: str, actor: Actor, at: datetime,
               reason: str | None = None, **extra) -> DossierChange:
        return event_type(
            code=self.code, sequence=self.version + 1, action=str(action), state=self.state.value,
            status_code=STATUS_CODE[self.state], procedure_code=self.procedure.code,
            procedure_name=self.procedure.name_vi, agency_code=self.procedure.agency_code,
            current_agency=self.current_agency, assignee=self.assignee, channel=self.channel,
            applicant=self.applicant.contact(self.owner), occurred_at=at, actor=actor.subject, reason=reason,
            received_at=self.received_at, due_at=self.due_at, **extra)

    def _schedule(self, at: datetime, policy: Policy) -> None:
        """Re-arm the timers for the new state; each fires at most once for what it watches."""
        cal = policy.calendar
        stall = None
        if self.state is State.SUBMITTED:
            stall = cal.add_working_hours(at, policy.intake_response_hours)
        elif self.state not in COMPLETED and self.state not in WAITING_ON_CITIZEN:
            stall = cal.add_working_days(at, policy.stall_working_days)
        overdue = None
        if (self.due_at and self.state not in COMPLETED and self.state is not State.SUPPLEMENT_REQUESTED
                and self.overdue_notified_for != self.due_at):
            overdue = overdue_moment(self.due_at)
        expiry = None
        if self.state is State.SUPPLEMENT_REQUESTED and self.supplements:
            expiry = self.supplements[-1].respond_by
        self.timers = Timers(overdue=overdue, stall=stall, supplement_expiry=expiry)

    # -- intake --------------------------------------------------------------------------------

    def request_intake_supplement(self, *, actor: Actor, at: datetime, policy: Policy, reason: str,
                                  extra_items: list[MissingItem] = ()) -> list[DossierChange]:
        rule = self._check(Action.REQUEST_INTAKE_SUPPLEMENT, actor, reason)
        if any(s.stage == "intake" for s in self.supplements):
            raise IllegalTransition(self.state, Action.REQUEST_INTAKE_SUPPLEMENT,
                                    "The counter asks only once, listing everything (Decree 118 Art 16.3); "
                                    "receive or refuse the dossier instead.")
        items = [MissingItem(code=r.code, name=r.name) for r in self.missing_documents] + list(extra_items)
        if not items:
            raise DomainError("Nothing is missing: list the faulty items to ask for.", field="items")
        self.supplements.append(SupplementRequest(stage="intake", items=items, reason=reason, requested_at=at,
                                                  requested_by=actor.subject))
        return self._move(Action.REQUEST_INTAKE_SUPPLEMENT, rule, actor, at, policy, reason=reason, items=items,
                          details={"items": [i.model_dump() for i in items]})

    def resubmit(self, *, actor: Actor, at: datetime, policy: Policy,
                 documents: list[ProvidedDocument]) -> list[DossierChange]:
        rule = self._check(Action.RESUBMIT, actor, None)
        self._merge_documents(documents)
        self.supplements[-1].answered_at = at
        return self._move(Action.RESUBMIT, rule, actor, at, policy,
                          details={"documents": [d.code for d in documents]})

    def refuse_intake(self, *, actor: Actor, at: datetime, policy: Policy, reason: str) -> list[DossierChange]:
        rule = self._check(Action.REFUSE_INTAKE, actor, reason)
        return self._move(Action.REFUSE_INTAKE, rule, actor, at, policy, reason=reason)

    def receive(self, *, actor: Actor, at: datetime, policy: Policy) -> list[DossierChange]:
        rule = self._check(Action.RECEIVE, actor, None)
        missing = self.missing_documents
        if missing:
            raise IncompleteDossier(
                "The dossier lacks required documents: ask for all of them at once, or refuse it.",
                missing=[{"code": r.code, "name": r.name} for r in missing],
                allowed_actions=[Action.REQUEST_INTAKE_SUPPLEMENT.value, Action.REFUSE_INTAKE.value])
        self._start_clock(actor, at, policy)
        return self._move(Action.RECEIVE, rule, actor, at, policy, security_code_hash=self.security_code_hash,
                          received_by=actor.subject, result_channel=self.result_channel, case_code=self.case_code,
                          details={"due_at": self.due_at.isoformat()})

    def _start_clock(self, actor: Actor, at: datetime, policy: Policy) -> None:
        due_at = self._due_from(at, policy)  # may refuse: before any change
        self.received_at = at
        self.received_by = actor.subject
        self.due_at = due_at

    def _due_from(self, start: datetime, policy: Policy) -> datetime:
        t = self.procedure.processing_time(self.channel)
        if t is None:
            raise DomainError(f"Procedure {self.procedure.code} has no processing time to count from.")
        return policy.calendar.due_date(start, t.value, t.unit)

    def _merge_documents(self, documents: list[ProvidedDocument]) -> None:
        by_code = {d.code: d for d in self.documents}
        for d in documents:
            if d.code in by_code:
                by_code[d.code].attachments.extend(d.attachments)
                by_code[d.code].originals = max(by_code[d.code].originals, d.originals)
                by_code[d.code].copies = max(by_code[d.code].copies, d.copies)
            else:
                self.documents.append(d)

    # -- processing ----------------------------------------------------------------------------

    def transfer(self, *, actor: Actor, at: datetime, policy: Policy, to_agency: str,
                 step_working_days: float | None = None, reason: str | None = None) -> list[DossierChange]:
        rule = self._check(Action.TRANSFER, actor, reason)
        if self.state is not State.RECEIVED and LEADER not in actor.roles:
            raise Forbidden("Only the leader of the agency holding the dossier routes it on to another agency.")
        if to_agency == self.current_agency:
            raise DomainError(f"The dossier is already at agency {to_agency}.", field="to_agency")
        step_due = (policy.calendar.add_working_days(at, step_working_days) if step_working_days
                    else self.due_at)
        if self.steps and self.steps[-1].finished_at is None:
            self.steps[-1].finished_at = at
        self.steps.append(RoutingStep(agency=to_agency, started_at=at, due_at=step_due))
        from_agency, self.current_agency, self.assignee = self.current_agency, to_agency, None
        return self._move(Action.TRANSFER, rule, actor, at, policy, reason=reason, from_agency=from_agency,
                          to_agency=to_agency, step_due_at=step_due,
                          details={"to_agency": to_agency, "step_due_at": step_due.isoformat() if step_due else None})

    def assign(self, *, actor: Actor, at: datetime, policy: Policy, specialist: str) -> list[DossierChange]:
        rule = self._check(Action.ASSIGN, actor, None)
        self.assignee = specialist
        return self._move(Action.ASSIGN, rule, actor, at, policy, details={"assignee": specialist})

    def appraise(self, *, actor: Actor, at: datetime, policy: Policy, proposal: Literal["approve", "refuse"],
                 reason: str) -> list[DossierChange]:
        rule = self._check(Action.APPRAISE, actor, reason)
        if actor.subject != self.assignee:
            raise Forbidden(f"The dossier is assigned to {self.assignee}; only they appraise it.")
        self.proposal = proposal
        return self._move(Action.APPRAISE, rule, actor, at, policy, reason=reason, proposal=proposal,
                          details={"proposal": proposal})

    def approve(self, *, actor: Actor, at: datetime, policy: Policy, reason: str | None = None) -> list[DossierChange]:
        rule = self._check(Action.APPROVE, actor, reason)
        if self.proposal != "approve":
            raise IllegalTransition(self.state, Action.APPROVE,
                                    "The specialist proposed a refusal: refuse it, or send it back by reassigning.")
        return self._move(Action.APPROVE, rule, actor, at, policy, reason=reason)

    def request_fees(self, *, actor: Actor, at: datetime, policy: Policy, amount: int,
                     description: str) -> list[DossierChange]:
        rule = self._check(Action.REQUEST_FEES, actor, None)
        if amount <= 0:
            raise DomainError("The amount must be positive (VND).", field="amount")
        item_id = f"{self.code}/fees-{self.version + 1}"
        self.fees = Fees(item_id=item_id, amount=amount, description=description, requested_at=at)
        self.resume_state = self.state
        return self._move(Action.REQUEST_FEES, rule, actor, at, policy, item_id=item_id, amount=amount,
                          description=description, details={"amount": amount, "description": description,
                                                            "item_id": item_id})

    def record_fees_paid(self, *, actor: Actor, at: datetime, policy: Policy) -> list[DossierChange]:
        rule = self._check(Action.RECORD_FEES_PAID, actor, None)
        self.fees.paid_at = at
        target, self.resume_state = self.resume_state, None
        return self._move(Action.RECORD_FEES_PAID, rule, actor, at, policy, target=target)

    def request_supplement(self, *, actor: Actor, at: datetime, policy: Policy, reason: str,
                           items: list[MissingItem]) -> list[DossierChange]:
        rule = self._check(Action.REQUEST_SUPPLEMENT, actor, reason)
        if not items:
            raise DomainError("List every document to supplement, at once.", field="items")
        # 15 days, and a last day that falls on a day off moves to the next working day [Civil Code 148.5].
        last_day = (at.astimezone(TZ) + timedelta(days=policy.supplement_response_days)).date()
        respond_by = policy.calendar.end_of_day(policy.calendar.working_day_on_or_after(last_day))
        self.supplements.append(SupplementRequest(stage="appraisal", items=items, reason=reason, requested_at=at,
                                                  requested_by=actor.subject, respond_by=respond_by))
        return self._move(Action.REQUEST_SUPPLEMENT, rule, actor, at, policy, reason=reason, items=items,
                          respond_by=respond_by, details={"items": [i.model_dump() for i in items]})

    def provide_supplement(self, *, actor: Actor, at: datetime, policy: Policy,
                           documents: list[ProvidedDocument]) -> list[DossierChange]:
        rule = self._check(Action.PROVIDE_SUPPLEMENT, actor, None)
        if not documents:
            raise DomainError("Attach the documents asked for.", field="documents")
        self._merge_documents(documents)
        self.supplements[-1].answered_at = at
        previous_due = self.due_at
        self.due_at = self._due_from(at, policy)  # Decree 118 Art 19.5: the clock restarts
        return self._move(Action.PROVIDE_SUPPLEMENT, rule, actor, at, policy,
                          details={"documents": [d.code for d in documents],
                                   "previous_due_at": previous_due.isoformat() if previous_due else None})

    def refuse(self, *, actor: Actor, at: datetime, policy: Policy, reason: str) -> list[DossierChange]:
        rule = self._check(Action.REFUSE, actor, reason)
        return self._move(Action.REFUSE, rule, actor, at, policy, reason=reason)

    def extend(self, *, actor: Actor, at: datetime, policy: Policy, reason: str, new_due_on: date) -> list[DossierChange]:
        rule = self._check(Action.EXTEND, actor, reason)
        if self.extension is not None:
            raise IllegalTransition(self.state, Action.EXTEND, "A dossier is extended once only (Decree 118 Art 19.6).")
        if at.astimezone(TZ).date() >= self.due_at.astimezone(TZ).date():
            raise IllegalTransition(self.state, Action.EXTEND,
                                    "An extension must be asked at least one day before the due date.")
        new_due = policy.calendar.end_of_day(policy.calendar.working_day_on_or_after(new_due_on))
        if new_due <= self.due_at:
            raise DomainError("The new appointment must be after the current due date.", field="new_due_on",
                              due_at=self.due_at.isoformat())
        previous = self.due_at
        self.extension = Extension(at=at, by=actor.subject, reason=reason, previous_due_at=previous, new_due_at=new_due)
        self.due_at = new_due
        return self._move(Action.EXTEND, rule, actor, at, policy, reason=reason, previous_due_at=previous,
                          details={"previous_due_at": previous.isoformat(), "new_due_at": new_due.isoformat()})

    # -- withdrawal, result --------------------------------------------------------------------

    def request_withdrawal(self, *, actor: Actor, at: datetime, policy: Policy, reason: str) -> list[DossierChange]:
        rule = self._check(Action.REQUEST_WITHDRAWAL, actor, reason)
        self.resume_state = self.state
        return self._move(Action.REQUEST_WITHDRAWAL, rule, actor, at, policy, reason=reason)

    def confirm_withdrawal(self, *, actor: Actor, at: datetime, policy: Policy,
                           reason: str | None = None) -> list[DossierChange]:
        rule = self._check(Action.CONFIRM_WITHDRAWAL, actor, reason)
        self.resume_state = None
        return self._move(Action.CONFIRM_WITHDRAWAL, rule, actor, at, policy, reason=reason)

    def cancel_withdrawal(self, *, actor: Actor, at: datetime, policy: Policy,
                          reason: str | None = None) -> list[DossierChange]:
        """The citizen changed their mind before the officer confirmed: processing resumes where it was."""
        rule = self._check(Action.CANCEL_WITHDRAWAL, actor, reason)
        target, self.resume_state = self.resume_state, None
        return self._move(Action.CANCEL_WITHDRAWAL, rule, actor, at, policy, reason=reason, target=target)

    def resolve(self, *, actor: Actor, at: datetime, policy: Policy,
                result_number: str | None = None) -> list[DossierChange]:
        rule = self._check(Action.RESOLVE, actor, None)
        if self.fees and self.fees.paid_at is None:
            raise IllegalTransition(self.state, Action.RESOLVE, "The fees asked for are not paid yet.")
        self.result_number = result_number
        if self.steps and self.steps[-1].finished_at is None:
            self.steps[-1].finished_at = at
        events = self._move(Action.RESOLVE, rule, actor, at, policy, result_number=result_number,
                            details={"result_number": result_number})
        events[0].classification = self.classification
        return events

    def return_result(self, *, actor: Actor, at: datetime, policy: Policy,
                      method: Literal["counter", "post", "online"] | None = None) -> list[DossierChange]:
        rule = self._check(Action.RETURN_RESULT, actor, None)
        method = method or self.result_channel
        self.returned_by = actor.subject
        return self._move(Action.RETURN_RESULT, rule, actor, at, policy, method=method, details={"method": method})

    # -- timers ----------------------------------------------------------------------------------

    def fire_timers(self, *, now: datetime, policy: Policy) -> list[DossierChange]:
        """Run every timer that is due. Idempotent: a timer that fired is disarmed in the same write."""
        events: list[DossierChange] = []
        t = self.timers
        if t.supplement_expiry and t.supplement_expiry <= now and self.state is State.SUPPLEMENT_REQUESTED:
            rule = RULES[Action.CONFIRM_WITHDRAWAL]  # the same end state and event: processing stops
            reason = (f"Không bổ sung hồ sơ trong {policy.supplement_response_days} ngày / "
                      f"No supplement within {policy.supplement_response_days} days")
            events += self._move_by_timer("close_unanswered", rule, now, policy, reason)
            return events
        if t.overdue and t.overdue <= now and self.state not in COMPLETED and self.due_at:
            self.overdue_notified_for = self.due_at
            events.append(self._event(ev.DossierOverdue, "overdue", SYSTEM_ACTOR, now,
                                      due_on=self.due_at.astimezone(TZ).date()))
            self.timers.overdue = None
        if t.stall and t.stall <= now and self.state not in COMPLETED:
            events.append(self._event(ev.DossierStalled, "stalled", SYSTEM_ACTOR, now, idle_since=self.last_moved_at))
            self.timers.stall = None  # once per idle stretch: the next move re-arms it
        # A timer that found nothing to do (its condition passed meanwhile) is disarmed too.
        self.timers = Timers(**{k: (v if v and v > now else None) for k, v in self.timers})
        if events:
            self.history.append(Transition(at=now, actor=SYSTEM, action=events[-1].action, from_state=self.state,
                                           to_state=self.state, details={"events": [e.action for e in events]}))
        return events

    def _move_by_timer(self, action: str, rule: Rule, at: datetime, policy: Policy, reason: str) -> list[DossierChange]:
        previous = self.state
        self.state = State.STOPPED
        self._complete(at)
        self.history.append(Transition(at=at, actor=SYSTEM, action=action, from_state=previous, to_state=self.state,
                                       reason=reason))
        self._schedule(at, policy)
        return [self._event(rule.event, action, SYSTEM_ACTOR, at, reason)]


def missing_documents(procedure: ProcedureRef, documents: list[ProvidedDocument]) -> list[RequiredDocument]:
    provided = {d.code for d in documents}
    return [r for r in procedure.required_documents if r.code not in provided]


def check_complete(procedure: ProcedureRef, documents: list[ProvidedDocument]) -> None:
    missing = missing_documents(procedure, documents)
    if missing:
        raise IncompleteDossier("The dossier lacks required documents; hand the citizen the list of all of them.",
                                missing=[{"code": r.code, "name": r.name} for r in missing])


def overdue_moment(due_at: datetime) -> datetime:
    """An open dossier is overdue from the first instant of the local day after its due date."""
    next_day = due_at.astimezone(TZ).date() + timedelta(days=1)
    return datetime.combine(next_day, time(0, 0), tzinfo=TZ)


# -- creating a dossier --------------------------------------------------------------------------


def resolve_case(procedure: ProcedureRef, case_code: str | None) -> str | None:
    """The case (trường hợp) a dossier is filed under: fees and steps differ by case. A procedure with one
    case implies it; with several, one must be named."""
    known = [c.code for c in procedure.cases]
    if case_code is None and len(known) <= 1:
        return known[0] if known else None
    if case_code not in known:
        raise DomainError(f"Procedure {procedure.code} has the cases {', '.join(known) or 'none'}; name one of them."
                          if known else f"Procedure {procedure.code} has no cases; leave case_code out.",
                          field="case_code", cases=known)
    return case_code


def _new(*, code, security_code_hash, procedure, applicant, documents, channel, result_channel, owner, sets,
         state, at, case_code=None) -> Dossier:
    case_code = resolve_case(procedure, case_code)
    return Dossier(code=code, security_code_hash=security_code_hash, procedure=procedure, applicant=applicant,
                   owner=owner, documents=documents, sets=sets, channel=channel, result_channel=result_channel,
                   state=state, submitted_at=at, last_moved_at=at, current_agency=None, case_code=case_code)


def submit_online(*, code: str, security_code_hash: str, procedure: ProcedureRef, applicant: Applicant,
                  documents: list[ProvidedDocument], result_channel: str, actor: Actor, at: datetime,
                  policy: Policy, case_code: str | None = None) -> tuple[Dossier, list[DossierChange]]:
    dossier = _new(code=code, security_code_hash=security_code_hash, procedure=procedure, applicant=applicant,
                   case_code=case_code,
                   documents=documents, channel="online", result_channel=result_channel, owner=actor.subject,
                   sets=1, state=State.SUBMITTED, at=at)
    dossier.history.append(Transition(at=at, actor=actor.subject, actor_name=actor.name, action="submit_online",
                                      from_state=None, to_state=State.SUBMITTED))
    dossier._schedule(at, policy)
    return dossier, [dossier._event(ev.DossierSubmitted, "submit_online", actor, at,
                                    security_code_hash=security_code_hash, result_channel=result_channel)]


def intake_at_counter(*, code: str, security_code_hash: str, procedure: ProcedureRef, applicant: Applicant,
                      documents: list[ProvidedDocument], channel: Literal["in_person", "post"], result_channel: str,
                      sets: int, actor: Actor, at: datetime, policy: Policy,
                      case_code: str | None = None) -> tuple[Dossier, list[DossierChange]]:
    """An officer receives a paper dossier: complete or it is not taken (the officer lists what is missing)."""
    if RECEPTION not in actor.roles:
        raise Forbidden(f"Counter intake needs the role {RECEPTION}.", required_roles=[RECEPTION])
    dossier = _new(code=code, security_code_hash=security_code_hash, procedure=procedure, applicant=applicant,
                   case_code=case_code,
                   documents=documents, channel=channel, result_channel=result_channel, owner=None, sets=sets,
                   state=State.RECEIVED, at=at)
    check_complete(procedure, documents)
    dossier._start_clock(actor, at, policy)
    dossier.history.append(Transition(at=at, actor=actor.subject, actor_name=actor.name, agency=actor.agency,
                                      action="intake_at_counter", from_state=None, to_state=State.RECEIVED,
                                      details={"due_at": dossier.due_at.isoformat()}))
    dossier._schedule(at, policy)
    return dossier, [dossier._event(ev.DossierReceived, "intake_at_counter", actor, at,
                                    security_code_hash=security_code_hash, received_by=actor.subject,
                                    result_channel=result_channel, case_code=dossier.case_code)]


def dossier_code(agency_code: str, day: datetime, sequence: int) -> str:
    """[agency e-ID]-[yymmdd]-[4-digit daily sequence] (Decree 118 Art 28)."""
    if not 1 <= sequence <= 9999:
        raise ValueError("daily sequence exhausted")
    return f"{agency_code}-{day:%y%m%d}-{sequence:04d}"
