"""The dossier aggregate as a specification (DOMAIN.md sections 1-3, Decree 118/2025/NĐ-CP).

Read top to bottom:
  1. the lifecycle table, and every action tried in every state by every role;
  2. the special rules (intake supplement, ownership, agency, assignee, extension, withdrawal, fees);
  3. due dates computed through the aggregate, every expectation worked by hand;
  4. the timers (overdue, stalled, the 8-working-hour intake alarm, unanswered supplement).

Working hours are the defaults: 07:00-11:30 and 13:30-17:00 (8 h = 1 working day), Asia/Ho_Chi_Minh.
March 2026 has no public holiday; the holidays used below come from the `holidays` package (0.109):
  2026: Sat 22 Aug is the make-up working day for the day off Mon 31 Aug (the package lists the day
        off, not the working Saturday, which the operator adds with `extra_working_days`).
  2027 Tết: Thu 4 Feb "29 Tết", Fri 5 Feb New Year's Eve, Sat 6 - Tue 9 Feb New Year days 1-4,
        Wed 10 Feb day 5: off from Thu 4 to Wed 10 Feb inclusive; Thu 11 Feb is the first working day.
"""

from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest

from contracts import dossier as ev
from contracts.catalog import Case, ProcessingTime, RequiredDocument
from contracts.dossier import MissingItem
from kit.calendar import TZ, BusinessCalendar
from dossier.domain import (
    CITIZEN,
    LEADER,
    RECEPTION,
    RULES,
    SPECIALIST,
    STATUS_CODE,
    SYSTEM,
    SYSTEM_ACTOR,
    Action,
    Actor,
    Applicant,
    DomainError,
    Dossier,
    Forbidden,
    IllegalTransition,
    IncompleteDossier,
    Policy,
    ProcedureRef,
    ProvidedDocument,
    ReasonRequired,
    State,
    allowed_actions,
    intake_at_counter,
    submit_online,
)

A, S = Action, State


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=TZ)


# -- fixtures as plain values ----------------------------------------------------------------------

CENTRE = "000.00.00.H49"  # the provincial centre (reception officers)
AGENCY = "000.00.16.H49"  # the competent agency (Sở Tư pháp)
OTHER_AGENCY = "000.00.21.H49"

OWNER = Actor("citizen-an", frozenset({CITIZEN}), name="Nguyễn Văn An")
OTHER_CITIZEN = Actor("citizen-binh", frozenset({CITIZEN}), name="Lê Thị Bình")
OFFICER = Actor("officer-lan", frozenset({RECEPTION}), agency=CENTRE, name="Trần Thị Lan")
CHIEF = Actor("leader-hung", frozenset({LEADER}), agency=AGENCY, name="Phạm Văn Hùng")
EXPERT = Actor("specialist-mai", frozenset({SPECIALIST}), agency=AGENCY, name="Đỗ Thị Mai")
COLLEAGUE = Actor("specialist-tuan", frozenset({SPECIALIST}), agency=AGENCY)  # same agency, not the assignee
CHIEF_ELSEWHERE = Actor("leader-khoa", frozenset({LEADER}), agency=OTHER_AGENCY)
EXPERT_ELSEWHERE = Actor("specialist-mai", frozenset({SPECIALIST}), agency=OTHER_AGENCY)  # same name, wrong agency
BY_ROLE = {CITIZEN: OWNER, RECEPTION: OFFICER, SPECIALIST: EXPERT, LEADER: CHIEF, SYSTEM: SYSTEM_ACTOR}
ROLES = tuple(BY_ROLE)

REQUIRED = [
    RequiredDocument(code="TK", name="Tờ khai đăng ký kết hôn", originals=1),
    RequiredDocument(code="XNTTHN", name="Giấy xác nhận tình trạng hôn nhân", originals=1),
    RequiredDocument(code="CCCD", name="Căn cước công dân", copies=1),
]
COMPLETE = ["TK", "XNTTHN", "CCCD"]
BLURRED_PHOTO = MissingItem(name="Ảnh chân dung 4x6", note="ảnh bị mờ")
APPLICANT = Applicant(name="Nguyễn Văn An", id_number="022090001234", phone="0912345678",
                      email="an@example.vn", address="Phường Hồng Gai, Hạ Long, Quảng Ninh")

CALENDAR = BusinessCalendar()
POLICY = Policy(calendar=CALENDAR)  # stall after 3 working days, intake alarm after 8 working hours
QUIET = Policy(calendar=CALENDAR, stall_working_days=60)  # keeps the stall alarm out of overdue tests
REASON = "Lý do ghi trên phiếu"


def procedure(value: float = 10, unit: str = "working_days") -> ProcedureRef:
    return ProcedureRef(code="1.000894", version=3, name_vi="Đăng ký kết hôn", agency_code=AGENCY,
                        required_documents=REQUIRED,
                        processing_times=[ProcessingTime(channel=c, value=value, unit=unit)
                                          for c in ("online", "in_person")])


def docs(*codes: str) -> list[ProvidedDocument]:
    return [ProvidedDocument(code=c) for c in codes]


def online(when: datetime, *, proc: ProcedureRef | None = None, provided=COMPLETE,
           policy: Policy = POLICY) -> Dossier:
    d, _ = submit_online(code=f"{AGENCY}-{when:%y%m%d}-0001", security_code_hash="h", procedure=proc or procedure(),
                         applicant=APPLICANT, documents=docs(*provided), result_channel="online", actor=OWNER,
                         at=when, policy=policy)
    return d


def counter(when: datetime, value: float = 5, unit: str = "working_days", *, policy: Policy = POLICY) -> Dossier:
    """A complete paper dossier received at the counter: the clock starts at `when`."""
    d, _ = intake_at_counter(code=f"{AGENCY}-{when:%y%m%d}-0001", security_code_hash="h",
                             procedure=procedure(value, unit), applicant=APPLICANT, documents=docs(*COMPLETE),
                             channel="in_person", result_channel="counter", sets=1, actor=OFFICER, at=when,
                             policy=policy)
    return d


def refused(d: Dossier, error: type[DomainError], command: Callable[[], object]) -> DomainError:
    """Run a command that must be refused, and check that nothing at all changed."""
    before = d.model_dump()
    with pytest.raises(error) as info:
        command()
    assert d.model_dump() == before, "a refused command must leave the dossier untouched"
    return info.value


# Short commands with the usual actor, for the scenarios.
def transfer(d, t, actor=OFFICER, to=AGENCY, policy=POLICY, **kw):
    return d.transfer(actor=actor, at=t, policy=policy, to_agency=to, **kw)


def assign(d, t, specialist=EXPERT.subject, policy=POLICY):
    return d.assign(actor=CHIEF, at=t, policy=policy, specialist=specialist)


def appraise(d, t, proposal="approve", policy=POLICY):
    return d.appraise(actor=EXPERT, at=t, policy=policy, proposal=proposal, reason="Hồ sơ hợp lệ")


def approve(d, t, policy=POLICY):
    return d.approve(actor=CHIEF, at=t, policy=policy)


def resolve(d, t, policy=POLICY):
    return d.resolve(actor=CHIEF, at=t, policy=policy, result_number="123/QĐ")


def ask_supplement(d, t, policy=POLICY):
    return d.request_supplement(actor=EXPERT, at=t, policy=policy, reason="Thiếu bản sao sổ hộ khẩu",
                                items=[MissingItem(name="Bản sao sổ hộ khẩu")])


def supply(d, t, policy=POLICY):
    return d.provide_supplement(actor=OFFICER, at=t, policy=policy, documents=docs("SHK"))


# -- 1. the lifecycle table ------------------------------------------------------------------------

STAY, RESUME = "stays where it is", "resumes the state it interrupted"
BEFORE_DECISION = {S.RECEIVED, S.TRANSFERRED, S.ASSIGNED, S.APPRAISED, S.APPROVED, S.AWAITING_FEES,
                   S.SUPPLEMENT_REQUESTED}

# The lifecycle as the law and DOMAIN.md section 1 describe it, written out independently of `RULES`:
# action: (from states, to state, roles allowed, reason required).
SPEC: dict[Action, tuple[set[State], State | str, set[str], bool]] = {
    A.REQUEST_INTAKE_SUPPLEMENT: ({S.SUBMITTED}, S.INTAKE_SUPPLEMENT, {RECEPTION}, True),
    A.RESUBMIT: ({S.INTAKE_SUPPLEMENT}, S.SUBMITTED, {CITIZEN, RECEPTION}, False),
    A.REFUSE_INTAKE: ({S.SUBMITTED, S.INTAKE_SUPPLEMENT}, S.REFUSED_AT_INTAKE, {RECEPTION}, True),
    A.RECEIVE: ({S.SUBMITTED}, S.RECEIVED, {RECEPTION}, False),
    A.TRANSFER: ({S.RECEIVED, S.TRANSFERRED, S.ASSIGNED, S.APPRAISED}, S.TRANSFERRED, {RECEPTION, LEADER}, False),
    A.ASSIGN: ({S.TRANSFERRED, S.ASSIGNED, S.APPRAISED}, S.ASSIGNED, {LEADER}, False),
    A.APPRAISE: ({S.ASSIGNED}, S.APPRAISED, {SPECIALIST}, True),
    A.APPROVE: ({S.APPRAISED}, S.APPROVED, {LEADER}, False),
    A.REQUEST_FEES: ({S.APPRAISED, S.APPROVED}, S.AWAITING_FEES, {SPECIALIST, LEADER}, False),
    A.RECORD_FEES_PAID: ({S.AWAITING_FEES}, RESUME, {RECEPTION, SYSTEM}, False),
    A.REQUEST_SUPPLEMENT: ({S.ASSIGNED, S.APPRAISED}, S.SUPPLEMENT_REQUESTED, {SPECIALIST, LEADER}, True),
    A.PROVIDE_SUPPLEMENT: ({S.SUPPLEMENT_REQUESTED}, S.ASSIGNED, {CITIZEN, RECEPTION}, False),
    A.REFUSE: ({S.ASSIGNED, S.APPRAISED}, S.REFUSED, {LEADER}, True),
    A.EXTEND: ({S.TRANSFERRED, S.ASSIGNED, S.APPRAISED, S.APPROVED}, STAY, {LEADER}, True),
    A.REQUEST_WITHDRAWAL: (BEFORE_DECISION, S.WITHDRAWAL_REQUESTED, {CITIZEN, RECEPTION}, True),
    A.CONFIRM_WITHDRAWAL: ({S.WITHDRAWAL_REQUESTED}, S.STOPPED, {RECEPTION, LEADER}, False),
    A.CANCEL_WITHDRAWAL: ({S.WITHDRAWAL_REQUESTED}, RESUME, {CITIZEN, RECEPTION}, False),
    A.RESOLVE: ({S.APPROVED}, S.RESOLVED, {LEADER}, False),
    A.RETURN_RESULT: ({S.RESOLVED}, S.RETURNED, {RECEPTION}, False),
}
EVENT = {
    A.REQUEST_INTAKE_SUPPLEMENT: ev.DossierIntakeSupplementRequested, A.RESUBMIT: ev.DossierResubmitted,
    A.REFUSE_INTAKE: ev.DossierRefusedAtIntake, A.RECEIVE: ev.DossierReceived, A.TRANSFER: ev.DossierTransferred,
    A.ASSIGN: ev.DossierAssigned, A.APPRAISE: ev.DossierAppraised, A.APPROVE: ev.DossierApproved,
    A.REQUEST_FEES: ev.DossierFeesRequested, A.RECORD_FEES_PAID: ev.DossierFeesPaid,
    A.REQUEST_SUPPLEMENT: ev.DossierSupplementRequested, A.PROVIDE_SUPPLEMENT: ev.DossierSupplementProvided,
    A.REFUSE: ev.DossierRefused, A.EXTEND: ev.DossierExtended, A.REQUEST_WITHDRAWAL: ev.DossierWithdrawalRequested,
    A.CONFIRM_WITHDRAWAL: ev.DossierStopped, A.CANCEL_WITHDRAWAL: ev.DossierWithdrawalCancelled,
    A.RESOLVE: ev.DossierResolved, A.RETURN_RESULT: ev.DossierReturned,
}
# What each state offers (the `allowed_actions` of a 409 answer), in the order of the table.
OFFERED: dict[State, list[str]] = {
    S.SUBMITTED: ["request_intake_supplement", "refuse_intake", "receive"],
    S.INTAKE_SUPPLEMENT: ["resubmit", "refuse_intake"],
    S.RECEIVED: ["transfer", "request_withdrawal"],
    S.TRANSFERRED: ["transfer", "assign", "extend", "request_withdrawal"],
    S.ASSIGNED: ["transfer", "assign", "appraise", "request_supplement", "refuse", "extend", "request_withdrawal"],
    S.APPRAISED: ["transfer", "assign", "approve", "request_fees", "request_supplement", "refuse", "extend",
                  "request_withdrawal"],
    S.APPROVED: ["request_fees", "extend", "request_withdrawal", "resolve"],
    S.AWAITING_FEES: ["record_fees_paid", "request_withdrawal"],
    S.SUPPLEMENT_REQUESTED: ["provide_supplement", "request_withdrawal"],
    S.WITHDRAWAL_REQUESTED: ["confirm_withdrawal", "cancel_withdrawal"],
    S.RESOLVED: ["return_result"],
    S.REFUSED_AT_INTAKE: [], S.REFUSED: [], S.STOPPED: [], S.RETURNED: [],
}


def test_the_rules_table_is_the_specification():
    assert set(RULES) == set(SPEC) == set(Action)
    for action, (sources, target, roles, reason) in SPEC.items():
        rule = RULES[action]
        assert (rule.sources, rule.roles, rule.reason_required) == (sources, roles, reason), action
        assert rule.event is EVENT[action], action
        assert rule.target == (None if target in (STAY, RESUME) else target), action


@pytest.mark.parametrize("state", list(State), ids=str)
def test_each_state_offers_exactly_these_actions(state):
    assert allowed_actions(state) == OFFERED[state]


# Walking a dossier to any state along the legal path, with the right actors, 10 minutes a step.
# Starts Monday 2 March 2026 08:00; received 08:10 with 10 working days: due Monday 16 March 08:10.
T0 = at(2026, 3, 2, 8, 0)
STEP = timedelta(minutes=10)
PATH: dict[State, tuple[State, Callable[[Dossier, datetime], object]]] = {
    S.INTAKE_SUPPLEMENT: (S.SUBMITTED, lambda d, t: d.request_intake_supplement(
        actor=OFFICER, at=t, policy=POLICY, reason="Ảnh không đạt", extra_items=[BLURRED_PHOTO])),
    S.REFUSED_AT_INTAKE: (S.SUBMITTED, lambda d, t: d.refuse_intake(
        actor=OFFICER, at=t, policy=POLICY, reason="Không thuộc thẩm quyền")),
    S.RECEIVED: (S.SUBMITTED, lambda d, t: d.receive(actor=OFFICER, at=t, policy=POLICY)),
    S.TRANSFERRED: (S.RECEIVED, lambda d, t: transfer(d, t)),
    S.ASSIGNED: (S.TRANSFERRED, lambda d, t: assign(d, t)),
    S.APPRAISED: (S.ASSIGNED, lambda d, t: appraise(d, t)),
    S.APPROVED: (S.APPRAISED, lambda d, t: approve(d, t)),
    S.AWAITING_FEES: (S.APPROVED, lambda d, t: d.request_fees(
        actor=CHIEF, at=t, policy=POLICY, amount=1_000_000, description="Lệ phí")),
    S.SUPPLEMENT_REQUESTED: (S.ASSIGNED, lambda d, t: ask_supplement(d, t)),
    S.REFUSED: (S.APPRAISED, lambda d, t: d.refuse(
        actor=CHIEF, at=t, policy=POLICY, reason="Không đủ điều kiện")),
    S.WITHDRAWAL_REQUESTED: (S.ASSIGNED, lambda d, t: d.request_withdrawal(
        actor=OWNER, at=t, policy=POLICY, reason="Không còn nhu cầu")),
    S.STOPPED: (S.WITHDRAWAL_REQUESTED, lambda d, t: d.confirm_withdrawal(actor=OFFICER, at=t, policy=POLICY)),
    S.RESOLVED: (S.APPROVED, lambda d, t: resolve(d, t)),
    S.RETURNED: (S.RESOLVED, lambda d, t: d.return_result(actor=OFFICER, at=t, policy=POLICY)),
}
_WALKED: dict[State, Dossier] = {}


def walk(state: State) -> Dossier:
    """A fresh dossier in `state`, reached by the legal path (a copy of one built once)."""
    if state not in _WALKED:
        if state is S.SUBMITTED:
            d = online(T0)
        else:
            before, step = PATH[state]
            d = walk(before)
            step(d, d.last_moved_at + STEP)
        assert d.state is state
        _WALKED[state] = d
    return _WALKED[state].model_copy(deep=True)


TAKES_REASON = {A.REQUEST_INTAKE_SUPPLEMENT, A.REFUSE_INTAKE, A.TRANSFER, A.APPRAISE, A.APPROVE, A.REQUEST_SUPPLEMENT,
                A.REFUSE, A.EXTEND, A.REQUEST_WITHDRAWAL, A.CONFIRM_WITHDRAWAL, A.CANCEL_WITHDRAWAL}


def command(action: Action, d: Dossier, actor: Actor, t: datetime, reason: str | None = REASON):
    """Call the command for `action` with valid arguments (only the reason varies)."""
    kw = {"actor": actor, "at": t, "policy": POLICY}
    if action in TAKES_REASON:
        kw["reason"] = reason
    match action:
        case A.REQUEST_INTAKE_SUPPLEMENT:
            return d.request_intake_supplement(**kw, extra_items=[BLURRED_PHOTO])
        case A.RESUBMIT:
            return d.resubmit(**kw, documents=docs("CCCD"))
        case A.REFUSE_INTAKE:
            return d.refuse_intake(**kw)
        case A.RECEIVE:
            return d.receive(**kw)
        case A.TRANSFER:
            return d.transfer(**kw, to_agency=OTHER_AGENCY if d.current_agency == AGENCY else AGENCY)
        case A.ASSIGN:
            return d.assign(**kw, specialist=COLLEAGUE.subject)
        case A.APPRAISE:
            return d.appraise(**kw, proposal="approve")
        case A.APPROVE:
            return d.approve(**kw)
        case A.REQUEST_FEES:
            return d.request_fees(**kw, amount=500_000, description="Lệ phí cấp giấy")
        case A.RECORD_FEES_PAID:
            return d.record_fees_paid(**kw)
        case A.REQUEST_SUPPLEMENT:
            return d.request_supplement(**kw, items=[MissingItem(name="Bản sao giấy khai sinh")])
        case A.PROVIDE_SUPPLEMENT:
            return d.provide_supplement(**kw, documents=docs("GKS"))
        case A.REFUSE:
            return d.refuse(**kw)
        case A.EXTEND:
            return d.extend(**kw, new_due_on=(d.due_at or t).date() + timedelta(days=7))
        case A.REQUEST_WITHDRAWAL:
            return d.request_withdrawal(**kw)
        case A.CONFIRM_WITHDRAWAL:
            return d.confirm_withdrawal(**kw)
        case A.CANCEL_WITHDRAWAL:
            return d.cancel_withdrawal(**kw)
        case A.RESOLVE:
            return d.resolve(**kw, result_number="45/GCN")
        case A.RETURN_RESULT:
            return d.return_result(**kw)
    raise AssertionError(action)


def first_source(action: Action) -> State:
    return next(s for s in State if s in SPEC[action][0])


def _allowed_cases():
    for action, (sources, _, roles, _) in SPEC.items():
        for state in (s for s in State if s in sources):
            for role in sorted(roles):
                if action is A.TRANSFER and role == RECEPTION and state is not S.RECEIVED:
                    continue  # only the agency's leader routes on (test_reception_only_transfers_from_the_centre)
                yield pytest.param(action, state, role, id=f"{action}-from-{state}-by-{role}")


def _illegal_cases():
    for action, (sources, _, roles, _) in SPEC.items():
        for state in State:
            if state not in sources:
                yield pytest.param(action, state, id=f"{action}-refused-in-{state}")


def _forbidden_cases():
    for action, (_, _, roles, _) in SPEC.items():
        for role in ROLES:
            if role not in roles:
                yield pytest.param(action, role, id=f"{action}-forbidden-to-{role}")


def _reason_cases():
    for action, (*_, reason_required) in SPEC.items():
        if reason_required:
            for blank, label in ((None, "none"), ("", "empty"), ("  \t ", "blank")):
                yield pytest.param(action, blank, id=f"{action}-without-reason-{label}")


@pytest.mark.parametrize(("action", "state", "role"), list(_allowed_cases()))
def test_an_allowed_action_moves_the_dossier_emits_one_event_and_writes_one_audit_line(action, state, role):
    d = walk(state)
    d.version = 7  # as stored: the event carries the version the save will give
    actor, t = BY_ROLE[role], d.last_moved_at + STEP
    target = SPEC[action][1]
    expected = state if target == STAY else d.resume_state if target == RESUME else target
    lines = len(d.history)

    events = command(action, d, actor, t)

    assert d.state is expected
    assert d.last_moved_at == t and d.version == 7
    assert [type(e) for e in events] == [EVENT[action]]
    event = events[0]
    assert (event.sequence, event.action, event.state, event.status_code) == (8, action.value, expected.value,
                                                                                STATUS_CODE[expected])
    assert (event.code, event.actor, event.occurred_at) == (d.code, actor.subject, t)
    assert len(d.history) == lines + 1
    line = d.history[-1]
    assert (line.action, line.actor, line.at, line.from_state, line.to_state) == (action.value, actor.subject, t,
                                                                                   state, expected)
    assert line.reason == (REASON if action in TAKES_REASON else None)
    assert event.reason == line.reason


@pytest.mark.parametrize(("action", "state"), list(_illegal_cases()))
def test_an_action_from_a_state_not_in_its_sources_is_an_illegal_transition(action, state):
    d = walk(state)
    actor = BY_ROLE[sorted(SPEC[action][2])[0]]
    error = refused(d, IllegalTransition, lambda: command(action, d, actor, d.last_moved_at + STEP))
    assert error.status == 409 and error.kind == "illegal-transition"
    assert error.extra == {"state": state.value, "allowed_actions": OFFERED[state]}
    assert state.value in error.detail and action.value in error.detail


@pytest.mark.parametrize(("action", "role"), list(_forbidden_cases()))
def test_a_role_not_allowed_is_forbidden_even_where_the_action_is_legal(action, role):
    d = walk(first_source(action))
    error = refused(d, Forbidden, lambda: command(action, d, BY_ROLE[role], d.last_moved_at + STEP))
    assert error.status == 403 and error.extra["required_roles"] == sorted(SPEC[action][2])


@pytest.mark.parametrize(("action", "blank"), list(_reason_cases()))
def test_the_law_requires_a_reason_for_this_action(action, blank):
    d = walk(first_source(action))
    actor = BY_ROLE[sorted(SPEC[action][2])[0]]
    error = refused(d, ReasonRequired, lambda: command(action, d, actor, d.last_moved_at + STEP, reason=blank))
    assert error.status == 422 and error.kind == "reason-required"


def test_the_control_slip_records_the_whole_path():
    d = walk(S.RETURNED)
    assert [(h.action, h.from_state, h.to_state, h.actor) for h in d.history] == [
        ("submit_online", None, S.SUBMITTED, OWNER.subject),
        ("receive", S.SUBMITTED, S.RECEIVED, OFFICER.subject),
        ("transfer", S.RECEIVED, S.TRANSFERRED, OFFICER.subject),
        ("assign", S.TRANSFERRED, S.ASSIGNED, CHIEF.subject),
        ("appraise", S.ASSIGNED, S.APPRAISED, EXPERT.subject),
        ("approve", S.APPRAISED, S.APPROVED, CHIEF.subject),
        ("resolve", S.APPROVED, S.RESOLVED, CHIEF.subject),
        ("return_result", S.RESOLVED, S.RETURNED, OFFICER.subject),
    ]
    assert [h.at for h in d.history] == [T0 + i * STEP for i in range(8)]
    assert d.history[4].reason and d.history[4].details == {"proposal": "approve"}


# -- 2. special rules ------------------------------------------------------------------------------


def test_intake_supplement_lists_every_missing_document_at_once_and_is_asked_only_once():
    d = online(at(2026, 3, 2, 8, 0), provided=["TK"])
    [event] = d.request_intake_supplement(actor=OFFICER, at=at(2026, 3, 2, 9, 0), policy=POLICY,
                                          reason="Hồ sơ chưa đầy đủ", extra_items=[BLURRED_PHOTO])
    everything = [("XNTTHN", "Giấy xác nhận tình trạng hôn nhân"), ("CCCD", "Căn cước công dân"),
                  (None, "Ảnh chân dung 4x6")]
    assert [(i.code, i.name) for i in event.items] == everything
    assert [(i.code, i.name) for i in d.supplements[0].items] == everything
    assert d.state is S.INTAKE_SUPPLEMENT and d.due_at is None and d.received_at is None  # clock not started

    d.resubmit(actor=OWNER, at=at(2026, 3, 3, 10, 0), policy=POLICY, documents=docs("XNTTHN"))
    assert d.state is S.SUBMITTED and d.supplements[0].answered_at == at(2026, 3, 3, 10, 0)

    again = refused(d, IllegalTransition, lambda: d.request_intake_supplement(
        actor=OFFICER, at=at(2026, 3, 3, 11, 0), policy=POLICY, reason="Còn thiếu CCCD"))
    assert "once" in again.detail
    still = refused(d, IncompleteDossier, lambda: d.receive(actor=OFFICER, at=at(2026, 3, 3, 11, 0), policy=POLICY))
    assert still.extra["missing"] == [{"code": "CCCD", "name": "Căn cước công dân"}]
    d.refuse_intake(actor=OFFICER, at=at(2026, 3, 3, 11, 5), policy=POLICY, reason="Không bổ sung đủ hồ sơ")
    assert d.state is S.REFUSED_AT_INTAKE and d.completed_at == at(2026, 3, 3, 11, 5)
    assert d.classification is None  # never received: the clock never ran


def test_receive_is_refused_while_documents_are_missing_and_the_error_lists_all_of_them():
    d = online(at(2026, 3, 2, 8, 0), provided=["TK"])
    error = refused(d, IncompleteDossier, lambda: d.receive(actor=OFFICER, at=at(2026, 3, 2, 9, 0), policy=POLICY))
    assert error.status == 409 and error.kind == "dossier-incomplete"
    assert error.extra["missing"] == [{"code": "XNTTHN", "name": "Giấy xác nhận tình trạng hôn nhân"},
                                      {"code": "CCCD", "name": "Căn cước công dân"}]
    assert error.extra["allowed_actions"] == ["request_intake_supplement", "refuse_intake"]


def test_an_intake_supplement_with_nothing_to_ask_for_is_refused():
    d = online(at(2026, 3, 2, 8, 0))
    refused(d, DomainError, lambda: d.request_intake_supplement(actor=OFFICER, at=at(2026, 3, 2, 9, 0),
                                                                policy=POLICY, reason="Kiểm tra"))


def test_the_counter_takes_only_a_complete_dossier_and_only_from_a_reception_officer():
    def take(actor, provided):
        return intake_at_counter(code=f"{AGENCY}-260302-0001", security_code_hash="h", procedure=procedure(),
                                 applicant=APPLICANT, documents=docs(*provided), channel="in_person",
                                 result_channel="counter", sets=2, actor=actor, at=at(2026, 3, 2, 8), policy=POLICY)

    with pytest.raises(IncompleteDossier) as info:
        take(OFFICER, ["TK", "CCCD"])
    assert info.value.extra["missing"] == [{"code": "XNTTHN", "name": "Giấy xác nhận tình trạng hôn nhân"}]
    with pytest.raises(Forbidden):
        take(EXPERT, COMPLETE)
    d, [event] = take(OFFICER, COMPLETE)
    assert d.state is S.RECEIVED and d.owner is None and d.received_by == OFFICER.subject
    assert isinstance(event, ev.DossierReceived) and event.sequence == 1 and event.action == "intake_at_counter"


def test_a_procedure_without_a_processing_time_cannot_be_received_and_nothing_changes():
    d = online(at(2026, 3, 2, 8, 0), proc=procedure().model_copy(update={"processing_times": []}))
    error = refused(d, DomainError, lambda: d.receive(actor=OFFICER, at=at(2026, 3, 2, 9), policy=POLICY))
    assert error.status == 422


@pytest.mark.parametrize(("action", "state"), [
    pytest.param(A.RESUBMIT, S.INTAKE_SUPPLEMENT, id="resubmit"),
    pytest.param(A.PROVIDE_SUPPLEMENT, S.SUPPLEMENT_REQUESTED, id="provide_supplement"),
    pytest.param(A.REQUEST_WITHDRAWAL, S.ASSIGNED, id="request_withdrawal"),
    pytest.param(A.REQUEST_WITHDRAWAL, S.RESOLVED, id="request_withdrawal-without-learning-the-state"),
])
def test_citizen_actions_only_by_the_citizen_who_filed(action, state):
    d = walk(state)
    error = refused(d, Forbidden, lambda: command(action, d, OTHER_CITIZEN, d.last_moved_at + STEP))
    assert "state" not in error.extra  # a stranger learns nothing about someone else's dossier


def test_a_dossier_filed_at_the_counter_has_no_citizen_account_to_act_for_it():
    d = counter(at(2026, 3, 2, 8, 0))
    refused(d, Forbidden, lambda: d.request_withdrawal(actor=OWNER, at=at(2026, 3, 2, 9), policy=POLICY,
                                                       reason="Không còn nhu cầu"))
    d.request_withdrawal(actor=OFFICER, at=at(2026, 3, 2, 9), policy=POLICY, reason="Công dân đến rút hồ sơ")
    assert d.state is S.WITHDRAWAL_REQUESTED


@pytest.mark.parametrize(("action", "state", "actor"), [
    pytest.param(A.TRANSFER, S.TRANSFERRED, CHIEF_ELSEWHERE, id="transfer-by-leader-elsewhere"),
    pytest.param(A.ASSIGN, S.TRANSFERRED, CHIEF_ELSEWHERE, id="assign-by-leader-elsewhere"),
    pytest.param(A.APPRAISE, S.ASSIGNED, EXPERT_ELSEWHERE, id="appraise-by-specialist-elsewhere"),
    pytest.param(A.APPROVE, S.APPRAISED, CHIEF_ELSEWHERE, id="approve-by-leader-elsewhere"),
    pytest.param(A.REQUEST_FEES, S.APPRAISED, EXPERT_ELSEWHERE, id="request_fees-by-specialist-elsewhere"),
    pytest.param(A.REQUEST_SUPPLEMENT, S.ASSIGNED, EXPERT_ELSEWHERE, id="request_supplement-by-specialist-elsewhere"),
    pytest.param(A.REQUEST_SUPPLEMENT, S.ASSIGNED, CHIEF_ELSEWHERE, id="request_supplement-by-leader-elsewhere"),
    pytest.param(A.REFUSE, S.ASSIGNED, CHIEF_ELSEWHERE, id="refuse-by-leader-elsewhere"),
    pytest.param(A.EXTEND, S.ASSIGNED, CHIEF_ELSEWHERE, id="extend-by-leader-elsewhere"),
    pytest.param(A.CONFIRM_WITHDRAWAL, S.WITHDRAWAL_REQUESTED, CHIEF_ELSEWHERE, id="confirm_withdrawal-elsewhere"),
    pytest.param(A.RESOLVE, S.APPROVED, CHIEF_ELSEWHERE, id="resolve-by-leader-elsewhere"),
])
def test_specialists_and_leaders_act_only_at_the_dossiers_current_agency(action, state, actor):
    d = walk(state)
    error = refused(d, Forbidden, lambda: command(action, d, actor, d.last_moved_at + STEP))
    assert error.extra["current_agency"] == AGENCY


def test_after_a_transfer_between_agencies_only_the_new_agency_acts():
    d = counter(at(2026, 3, 2, 8, 0), 10)  # due Mon 16 Mar 2026 08:00
    transfer(d, at(2026, 3, 2, 8, 30))
    assign(d, at(2026, 3, 2, 9, 0))
    [event] = transfer(d, at(2026, 3, 2, 10, 0), actor=CHIEF, to=OTHER_AGENCY, step_working_days=3,
                       reason="Liên thông lấy ý kiến")
    assert (event.from_agency, event.to_agency) == (AGENCY, OTHER_AGENCY)
    # Mon 2 Mar 10:00 + 3 working days = Thu 5 Mar 10:00 (this agency's deadline on the Phiếu chuyển xử lý)
    assert event.step_due_at == at(2026, 3, 5, 10, 0)
    assert [(s.agency, s.finished_at) for s in d.steps] == [(AGENCY, at(2026, 3, 2, 10)), (OTHER_AGENCY, None)]
    assert d.assignee is None and d.current_agency == OTHER_AGENCY
    refused(d, Forbidden, lambda: assign(d, at(2026, 3, 2, 11)))
    d.assign(actor=CHIEF_ELSEWHERE, at=at(2026, 3, 2, 11), policy=POLICY, specialist="specialist-ha")
    assert d.state is S.ASSIGNED and d.assignee == "specialist-ha"
    refused(d, DomainError, lambda: transfer(d, at(2026, 3, 2, 12), actor=CHIEF_ELSEWHERE, to=OTHER_AGENCY))


@pytest.mark.parametrize("state", [S.TRANSFERRED, S.ASSIGNED, S.APPRAISED], ids=str)
def test_reception_only_transfers_from_the_centre(state):
    d = walk(state)
    refused(d, Forbidden, lambda: command(A.TRANSFER, d, OFFICER, d.last_moved_at + STEP))


def test_only_the_assigned_specialist_appraises():
    d = walk(S.ASSIGNED)
    error = refused(d, Forbidden, lambda: command(A.APPRAISE, d, COLLEAGUE, d.last_moved_at + STEP))
    assert EXPERT.subject in error.detail


def test_a_proposed_refusal_cannot_be_approved_only_refused_or_sent_back():
    d = walk(S.ASSIGNED)
    appraise(d, at(2026, 3, 3, 9), proposal="refuse")
    error = refused(d, IllegalTransition, lambda: approve(d, at(2026, 3, 3, 10)))
    assert "refusal" in error.detail

    sent_back = d.model_copy(deep=True)
    assign(sent_back, at(2026, 3, 3, 10), specialist=COLLEAGUE.subject)
    assert sent_back.state is S.ASSIGNED and sent_back.assignee == COLLEAGUE.subject

    d.refuse(actor=CHIEF, at=at(2026, 3, 3, 10), policy=POLICY, reason="Không đủ điều kiện kết hôn")
    assert d.state is S.REFUSED and d.completed_at == at(2026, 3, 3, 10)


@pytest.mark.parametrize(("state", "allowed"), [
    (S.SUBMITTED, False), (S.INTAKE_SUPPLEMENT, False),  # not received yet: nothing to withdraw from
    (S.RECEIVED, True), (S.TRANSFERRED, True), (S.ASSIGNED, True), (S.APPRAISED, True), (S.APPROVED, True),
    (S.AWAITING_FEES, True), (S.SUPPLEMENT_REQUESTED, True),
    (S.RESOLVED, False), (S.RETURNED, False),  # the decision is issued
    (S.REFUSED, False), (S.REFUSED_AT_INTAKE, False), (S.STOPPED, False), (S.WITHDRAWAL_REQUESTED, False),
], ids=lambda v: str(v) if isinstance(v, State) else ("may-withdraw" if v else "may-not"))
def test_withdrawal_is_allowed_from_receipt_until_the_decision_is_issued(state, allowed):
    d = walk(state)
    t = d.last_moved_at + STEP
    if not allowed:
        refused(d, IllegalTransition, lambda: command(A.REQUEST_WITHDRAWAL, d, OWNER, t))
        return
    command(A.REQUEST_WITHDRAWAL, d, OWNER, t)
    d.confirm_withdrawal(actor=OFFICER, at=t + STEP, policy=POLICY, reason="Đã trả lại hồ sơ")
    assert d.state is S.STOPPED and d.completed_at == t + STEP
    assert d.classification == "early"  # stopped on Mon 2 Mar, due Mon 16 Mar
    assert d.timers.earliest() is None


@pytest.mark.parametrize("state", [S.APPRAISED, S.APPROVED], ids=str)
def test_fees_put_processing_on_hold_and_payment_resumes_where_it_stopped(state):
    d = walk(state)
    t = d.last_moved_at + STEP
    d.request_fees(actor=EXPERT, at=t, policy=POLICY, amount=200_000, description="Lệ phí đăng ký")
    assert d.state is S.AWAITING_FEES and d.resume_state is state and d.fees.paid_at is None
    [event] = d.record_fees_paid(actor=SYSTEM_ACTOR, at=t + STEP, policy=POLICY)
    assert isinstance(event, ev.DossierFeesPaid) and event.actor == SYSTEM
    assert d.state is state and d.resume_state is None and d.fees.paid_at == t + STEP
    assert d.history[-1].from_state is S.AWAITING_FEES and d.history[-1].to_state is state


def test_fees_must_be_paid_before_the_result_is_issued():
    d = walk(S.AWAITING_FEES)
    refused(d, IllegalTransition, lambda: resolve(d, d.last_moved_at + STEP))
    # Defensive: even if a dossier were approved with fees outstanding, it is not resolved.
    approved_unpaid = d.model_copy(deep=True, update={"state": S.APPROVED, "resume_state": None})
    error = refused(approved_unpaid, IllegalTransition, lambda: resolve(approved_unpaid, d.last_moved_at + STEP))
    assert "fees" in error.detail
    d.record_fees_paid(actor=OFFICER, at=d.last_moved_at + STEP, policy=POLICY)
    resolve(d, d.last_moved_at + STEP)
    assert d.state is S.RESOLVED


@pytest.mark.parametrize("amount", [0, -5], ids=["zero", "negative"])
def test_fees_must_be_a_positive_amount(amount):
    d = walk(S.APPROVED)
    refused(d, DomainError, lambda: d.request_fees(actor=CHIEF, at=d.last_moved_at + STEP, policy=POLICY,
                                                   amount=amount, description="Lệ phí"))


@pytest.mark.parametrize(("action", "state", "returns_to"), [
    pytest.param(A.RECORD_FEES_PAID, S.AWAITING_FEES, S.APPROVED, id="fees-paid-back-to-approved"),
    pytest.param(A.EXTEND, S.TRANSFERRED, S.TRANSFERRED, id="extend-stays-transferred"),
    pytest.param(A.EXTEND, S.APPROVED, S.APPROVED, id="extend-stays-approved"),
    pytest.param(A.PROVIDE_SUPPLEMENT, S.SUPPLEMENT_REQUESTED, S.ASSIGNED, id="supplement-back-to-the-specialist"),
    pytest.param(A.RESUBMIT, S.INTAKE_SUPPLEMENT, S.SUBMITTED, id="resubmit-back-to-intake"),
])
def test_where_an_interruption_returns_to(action, state, returns_to):
    d = walk(state)
    command(action, d, BY_ROLE[LEADER if action is A.EXTEND else RECEPTION], d.last_moved_at + STEP)
    assert d.state is returns_to


def test_a_supplement_asked_after_appraisal_goes_back_to_the_specialist_for_a_new_appraisal():
    d = walk(S.APPRAISED)
    ask_supplement(d, d.last_moved_at + STEP)
    supply(d, d.last_moved_at + STEP)
    assert d.state is S.ASSIGNED and d.assignee == EXPERT.subject
    assert "SHK" in [x.code for x in d.documents]
    refused(d, IllegalTransition, lambda: approve(d, d.last_moved_at + STEP))


def test_a_supplement_request_lists_what_is_asked():
    d = walk(S.ASSIGNED)
    refused(d, DomainError, lambda: d.request_supplement(actor=EXPERT, at=d.last_moved_at + STEP, policy=POLICY,
                                                         reason="Thiếu giấy tờ", items=[]))


def test_a_supplement_is_answered_with_documents():
    d = walk(S.SUPPLEMENT_REQUESTED)
    refused(d, DomainError, lambda: d.provide_supplement(actor=OWNER, at=d.last_moved_at + STEP, policy=POLICY,
                                                         documents=[]))


# -- 3. due dates through the aggregate ------------------------------------------------------------

SWAPPED_SATURDAY = Policy(calendar=BusinessCalendar(extra_working_days={date(2026, 8, 22)}))
EXTRA_DAY_OFF = Policy(calendar=BusinessCalendar(extra_days_off={date(2026, 3, 9)}))


@pytest.mark.parametrize(("received", "value", "unit", "policy", "due"), [
    # Fri 6 Mar 15:00: 2 h left on Friday; Sat-Sun off; Mon 9 Mar 8 h; Tue 10 Mar 07:00-11:30 + 13:30-15:00 = 6 h.
    pytest.param(at(2026, 3, 6, 15, 0), 2, "working_days", POLICY, at(2026, 3, 10, 15, 0),
                 id="friday-afternoon-2-working-days-cross-the-weekend"),
    # Wed 3 Feb 2027 + 5 days = Mon 8 Feb (Tết, off Thu 4 - Wed 10 Feb) -> next working day Thu 11 Feb, 17:00.
    pytest.param(at(2027, 2, 3, 10, 0), 5, "days", POLICY, at(2027, 2, 11, 17, 0), id="just-before-tet-2027-in-days"),
    # Wed 3 Feb 2027 10:00: 5 h on Wednesday; Tết Thu 4 - Wed 10 Feb; Thu 11 Feb 8 h; Fri 12 Feb 3 h -> 10:00.
    pytest.param(at(2027, 2, 3, 10, 0), 2, "working_days", POLICY, at(2027, 2, 12, 10, 0),
                 id="just-before-tet-2027-in-working-days"),
    # Tue 3 Mar 17:30 counts from Wed 4 Mar 07:00; 8 h end exactly at the session end, Wed 17:00.
    pytest.param(at(2026, 3, 3, 17, 30), 1, "working_days", POLICY, at(2026, 3, 4, 17, 0),
                 id="after-17h-counts-from-next-morning"),
    # Tue 3 Mar 17:30 is received Wed 4 Mar; + 3 days = Sat 7 Mar -> Mon 9 Mar, 17:00.
    pytest.param(at(2026, 3, 3, 17, 30), 3, "days", POLICY, at(2026, 3, 9, 17, 0), id="after-17h-in-days"),
    # Tue 3 Mar 12:15 counts from 13:30: 3.5 h to 17:00, then 0.5 h on Wed 4 Mar -> 07:30.
    pytest.param(at(2026, 3, 3, 12, 15), 4, "hours", POLICY, at(2026, 3, 4, 7, 30), id="during-lunch-in-hours"),
    # Tue 3 Mar 12:15 from 13:30: 3.5 h Tuesday + 4.5 h Wednesday morning = 8 h, ending at 11:30.
    pytest.param(at(2026, 3, 3, 12, 15), 1, "working_days", POLICY, at(2026, 3, 4, 11, 30),
                 id="during-lunch-1-working-day"),
    # Fri 21 Aug 2026 15:00: 2 h Friday; Sun off; Mon 24 Aug 8 h; Tue 25 Aug 6 h -> 15:00 (no swap known).
    pytest.param(at(2026, 8, 21, 15, 0), 2, "working_days", POLICY, at(2026, 8, 25, 15, 0),
                 id="without-the-swapped-saturday"),
    # Same, with the operator's working Sat 22 Aug: 2 h Friday, 8 h Saturday, 6 h Mon 24 Aug -> 15:00, a day sooner.
    pytest.param(at(2026, 8, 21, 15, 0), 2, "working_days", SWAPPED_SATURDAY, at(2026, 8, 24, 15, 0),
                 id="a-swapped-working-saturday-shortens"),
    # Fri 6 Mar 15:00 with an extra day off Mon 9 Mar: 2 h Friday, 8 h Tue 10 Mar, 6 h Wed 11 Mar -> 15:00.
    pytest.param(at(2026, 3, 6, 15, 0), 2, "working_days", EXTRA_DAY_OFF, at(2026, 3, 11, 15, 0),
                 id="an-extra-day-off-lengthens"),
    # Fri 30 Jan 2026 + 1 month = Sat 28 Feb (clamped, 2026 is not a leap year) -> Mon 2 Mar, 17:00.
    pytest.param(at(2026, 1, 30, 10, 0), 1, "months", POLICY, at(2026, 3, 2, 17, 0), id="a-month-ending-on-a-weekend"),
])
def test_due_date_on_receipt(received, value, unit, policy, due):
    d = counter(received, value, unit, policy=policy)
    assert d.received_at == received and d.due_at == due
    assert d.history[-1].details == {"due_at": due.isoformat()}
    # overdue from the first instant of the day after the due date
    assert d.timers.overdue == datetime.combine(due.date() + timedelta(days=1), datetime.min.time(), tzinfo=TZ)


def test_the_clock_starts_at_receipt_not_at_online_submission():
    d = online(at(2026, 3, 6, 20, 0), proc=procedure(2, "working_days"))  # submitted Friday evening
    [event] = d.receive(actor=OFFICER, at=at(2026, 3, 9, 9, 0), policy=POLICY)
    # Mon 9 Mar 09:00 + 16 working hours = Wed 11 Mar 09:00
    assert d.due_at == event.due_at == at(2026, 3, 11, 9, 0)
    assert event.received_at == at(2026, 3, 9, 9, 0) and event.received_by == OFFICER.subject


def test_the_clock_restarts_when_the_supplement_is_provided():
    d = counter(at(2026, 3, 2, 8, 0), 5)  # Mon 2 Mar 08:00 + 5 working days = Mon 9 Mar 08:00
    assert d.due_at == at(2026, 3, 9, 8, 0)
    transfer(d, at(2026, 3, 2, 8, 30))
    assign(d, at(2026, 3, 2, 9, 0))
    [asked] = ask_supplement(d, at(2026, 3, 4, 10, 0))
    assert asked.respond_by == at(2026, 3, 19, 17, 0)  # Wed 4 Mar + 15 days = Thu 19 Mar, end of day
    assert d.timers.overdue is None  # paused: the old due date passes while the citizen is asked

    [provided] = supply(d, at(2026, 3, 10, 14, 0))
    # restarted from Tue 10 Mar 14:00: + 5 working days = Tue 17 Mar 14:00
    assert d.due_at == provided.due_at == at(2026, 3, 17, 14, 0)
    assert d.history[-1].details["previous_due_at"] == at(2026, 3, 9, 8, 0).isoformat()
    assert d.timers.overdue == at(2026, 3, 18)
    assert d.supplements[-1].answered_at == at(2026, 3, 10, 14, 0)


def test_the_one_extension_moves_the_due_date_to_a_working_day():
    d = counter(at(2026, 3, 2, 8, 0), 5)  # due Mon 9 Mar 08:00
    transfer(d, at(2026, 3, 2, 8, 30))
    assign(d, at(2026, 3, 2, 9, 0))
    [event] = d.extend(actor=CHIEF, at=at(2026, 3, 6, 10, 0), policy=POLICY, reason="Xin lỗi: cần xác minh thêm",
                       new_due_on=date(2026, 3, 14))
    # asked for Sat 14 Mar -> the next working day, Mon 16 Mar, at the end of the day
    assert d.due_at == event.due_at == at(2026, 3, 16, 17, 0)
    assert event.previous_due_at == at(2026, 3, 9, 8, 0)
    assert (d.extension.previous_due_at, d.extension.new_due_at, d.extension.by) == (
        at(2026, 3, 9, 8, 0), at(2026, 3, 16, 17, 0), CHIEF.subject)
    assert d.state is S.ASSIGNED and d.timers.overdue == at(2026, 3, 17)

    error = refused(d, IllegalTransition, lambda: d.extend(actor=CHIEF, at=at(2026, 3, 10, 9), policy=POLICY,
                                                           reason="Gia hạn lần hai", new_due_on=date(2026, 3, 20)))
    assert "once" in error.detail
    # The answer offers what can still be done, not the action just refused.
    assert "extend" not in error.extra["allowed_actions"] and "appraise" in error.extra["allowed_actions"]


@pytest.mark.parametrize(("asked_at", "granted"), [
    pytest.param(at(2026, 3, 8, 20, 0), True, id="sunday-evening-the-day-before-is-in-time"),
    pytest.param(at(2026, 3, 9, 7, 0), False, id="on-the-due-date-before-the-due-time-is-too-late"),
    pytest.param(at(2026, 3, 10, 9, 0), False, id="after-the-due-date-is-too-late"),
])
def test_an_extension_is_asked_at_least_one_day_before_the_due_date(asked_at, granted):
    d = counter(at(2026, 3, 2, 8, 0), 5)  # due Mon 9 Mar 08:00
    transfer(d, at(2026, 3, 2, 8, 30))

    def extend():
        return d.extend(actor=CHIEF, at=asked_at, policy=QUIET, reason="Xin lỗi", new_due_on=date(2026, 3, 13))

    if granted:
        extend()
        assert d.due_at == at(2026, 3, 13, 17, 0)
    else:
        assert "one day before" in refused(d, IllegalTransition, extend).detail


def test_an_extension_must_move_the_due_date_later():
    d = counter(at(2026, 3, 2, 8, 0), 5)  # due Mon 9 Mar 08:00
    transfer(d, at(2026, 3, 2, 8, 30))
    refused(d, DomainError, lambda: d.extend(actor=CHIEF, at=at(2026, 3, 4), policy=POLICY, reason="Xin lỗi",
                                             new_due_on=date(2026, 3, 6)))


def _appraised_on_monday_2_march(policy=POLICY) -> Dossier:
    d = counter(at(2026, 3, 2, 8, 0), 5, policy=policy)  # due Mon 9 Mar 2026 08:00
    transfer(d, at(2026, 3, 2, 8, 30), policy=policy)
    assign(d, at(2026, 3, 2, 9, 0), policy=policy)
    appraise(d, at(2026, 3, 2, 10, 0), policy=policy)
    return d


@pytest.mark.parametrize(("completed", "how", "classification"), [
    pytest.param(at(2026, 3, 6, 16, 0), "resolve", "early", id="resolved-friday-before-the-due-date-is-early"),
    pytest.param(at(2026, 3, 9, 16, 30), "resolve", "on_time", id="resolved-on-the-due-date-after-08h-is-on-time"),
    pytest.param(at(2026, 3, 10, 7, 30), "resolve", "late", id="resolved-the-day-after-is-late"),
    pytest.param(at(2026, 3, 9, 7, 0), "refuse", "on_time", id="refused-on-the-due-date-is-on-time"),
    pytest.param(at(2026, 3, 11, 9, 0), "refuse", "late", id="refused-two-days-after-is-late"),
])
def test_classification_on_completion(completed, how, classification):
    d = _appraised_on_monday_2_march()
    if how == "resolve":
        approve(d, at(2026, 3, 2, 11, 0))
        [event] = resolve(d, completed)
        assert event.classification == classification
        d.return_result(actor=OFFICER, at=completed + timedelta(days=3), policy=POLICY)
        assert d.state is S.RETURNED  # returning later does not change it: completion is the resolution
    else:
        d.refuse(actor=CHIEF, at=completed, policy=POLICY, reason="Không đủ điều kiện")
    assert d.completed_at == completed and d.classification == classification


@pytest.mark.parametrize(("requests", "classification"), [(1, "early"), (2, "late")],
                         ids=["one-supplement-request-early", "two-supplement-requests-count-as-late"])
def test_more_than_one_supplement_request_after_appraisal_counts_as_late(requests, classification):
    d = counter(at(2026, 3, 2, 8, 0), 5)  # due Mon 9 Mar 08:00
    transfer(d, at(2026, 3, 2, 8, 30))
    assign(d, at(2026, 3, 2, 9, 0))
    ask_supplement(d, at(2026, 3, 3, 9, 0))
    supply(d, at(2026, 3, 4, 9, 0))  # restarted: due Wed 11 Mar 09:00
    assert d.due_at == at(2026, 3, 11, 9, 0)
    if requests == 2:
        ask_supplement(d, at(2026, 3, 5, 9, 0))
        supply(d, at(2026, 3, 6, 9, 0))  # restarted: due Fri 13 Mar 09:00
        assert d.due_at == at(2026, 3, 13, 9, 0)
    appraise(d, at(2026, 3, 9, 8, 0))
    approve(d, at(2026, 3, 9, 9, 0))
    [event] = resolve(d, at(2026, 3, 9, 10, 0))  # Mon 9 Mar: before either due date
    assert d.appraisal_supplements == requests
    assert d.classification == event.classification == classification


# -- 4. timers -------------------------------------------------------------------------------------


def _fired(d: Dossier, now: datetime, policy: Policy = POLICY) -> list[type]:
    return [type(e) for e in d.fire_timers(now=now, policy=policy)]


def _assigned_on_monday_2_march(value: float = 5, policy: Policy = QUIET) -> Dossier:
    d = counter(at(2026, 3, 2, 8, 0), value, policy=policy)  # 5 working days: due Mon 9 Mar 08:00
    transfer(d, at(2026, 3, 2, 8, 30), policy=policy)
    assign(d, at(2026, 3, 2, 9, 0), policy=policy)
    return d


def test_overdue_fires_once_at_the_first_instant_of_the_day_after_the_due_date():
    d = _assigned_on_monday_2_march()
    d.version = 4
    assert d.timers.overdue == at(2026, 3, 10, 0, 0)
    assert _fired(d, at(2026, 3, 9, 23, 59, 59), QUIET) == []  # still the due date: on time if done now
    lines = len(d.history)

    events = d.fire_timers(now=at(2026, 3, 10, 0, 0), policy=QUIET)

    assert [type(e) for e in events] == [ev.DossierOverdue]
    assert (events[0].due_on, events[0].actor, events[0].sequence) == (date(2026, 3, 9), SYSTEM, 5)
    assert d.state is S.ASSIGNED and d.overdue_notified_for == at(2026, 3, 9, 8, 0)
    assert len(d.history) == lines + 1
    assert (d.history[-1].actor, d.history[-1].at, d.history[-1].from_state, d.history[-1].to_state) == (
        SYSTEM, at(2026, 3, 10), S.ASSIGNED, S.ASSIGNED)
    assert _fired(d, at(2026, 3, 10, 0, 0), QUIET) == []  # the same instant again: nothing
    assert _fired(d, at(2026, 3, 20), QUIET) == []
    appraise(d, at(2026, 3, 10, 9, 0), policy=QUIET)  # a later move does not re-arm it for the same due date
    assert d.timers.overdue is None


def test_no_overdue_while_waiting_for_a_supplement():
    d = _assigned_on_monday_2_march()  # due Mon 9 Mar 08:00
    ask_supplement(d, at(2026, 3, 6, 10, 0), policy=QUIET)
    assert d.timers.overdue is None and d.timers.stall is None
    assert _fired(d, at(2026, 3, 10, 0, 0), QUIET) == []
    assert _fired(d, at(2026, 3, 18, 12, 0), QUIET) == []
    assert d.state is S.SUPPLEMENT_REQUESTED


def test_overdue_fires_again_for_the_new_due_date_after_a_supplement():
    d = _assigned_on_monday_2_march()
    assert _fired(d, at(2026, 3, 10, 0, 0), QUIET) == [ev.DossierOverdue]
    ask_supplement(d, at(2026, 3, 10, 9, 0), policy=QUIET)
    supply(d, at(2026, 3, 11, 9, 0), policy=QUIET)  # + 5 working days: due Wed 18 Mar 09:00
    assert d.timers.overdue == at(2026, 3, 19, 0, 0)
    events = d.fire_timers(now=at(2026, 3, 19, 0, 0), policy=QUIET)
    assert [(type(e), e.due_on) for e in events] == [(ev.DossierOverdue, date(2026, 3, 18))]


def test_stalled_fires_once_after_three_idle_working_days_and_rearms_after_the_next_move():
    d = counter(at(2026, 3, 2, 8, 0), 10)  # received Mon 2 Mar 08:00, due Mon 16 Mar 08:00
    # Mon 2 Mar 08:00 + 3 working days = Thu 5 Mar 08:00
    assert d.timers.stall == at(2026, 3, 5, 8, 0)
    assert _fired(d, at(2026, 3, 5, 7, 59, 59)) == []
    events = d.fire_timers(now=at(2026, 3, 5, 8, 0), policy=POLICY)
    assert [(type(e), e.idle_since) for e in events] == [(ev.DossierStalled, at(2026, 3, 2, 8, 0))]
    assert _fired(d, at(2026, 3, 5, 8, 0)) == []  # the same instant again
    assert _fired(d, at(2026, 3, 6, 9, 0)) == []  # the same idle stretch

    transfer(d, at(2026, 3, 6, 10, 0))  # Fri 6 Mar 10:00 + 3 working days = Wed 11 Mar 10:00
    assert d.timers.stall == at(2026, 3, 11, 10, 0)
    assert _fired(d, at(2026, 3, 11, 9, 59)) == []
    events = d.fire_timers(now=at(2026, 3, 11, 10, 0), policy=POLICY)
    assert [(type(e), e.idle_since) for e in events] == [(ev.DossierStalled, at(2026, 3, 6, 10, 0))]


def test_the_intake_alarm_rings_after_8_working_hours_without_an_answer():
    d = online(at(2026, 3, 6, 15, 0))  # submitted Fri 6 Mar 15:00
    # 2 h on Friday, then Mon 9 Mar 07:00-11:30 (4.5 h) and 13:30-15:00 (1.5 h): Mon 9 Mar 15:00
    assert d.timers.stall == at(2026, 3, 9, 15, 0) and d.timers.overdue is None
    assert _fired(d, at(2026, 3, 9, 14, 59, 59)) == []
    assert _fired(d, at(2026, 3, 9, 15, 0)) == [ev.DossierStalled]
    assert d.state is S.SUBMITTED
    assert _fired(d, at(2026, 3, 9, 15, 0)) == []

    d.request_intake_supplement(actor=OFFICER, at=at(2026, 3, 9, 16, 0), policy=POLICY, reason="Ảnh mờ",
                                extra_items=[BLURRED_PHOTO])
    assert d.timers.stall is None  # waiting on the citizen
    d.resubmit(actor=OWNER, at=at(2026, 3, 10, 9, 0), policy=POLICY, documents=docs("TK"))
    # Tue 10 Mar 09:00: 2.5 h + 3.5 h on Tuesday, 2 h on Wednesday: Wed 11 Mar 09:00
    assert d.timers.stall == at(2026, 3, 11, 9, 0)


def test_an_unanswered_supplement_request_closes_the_dossier_after_15_days():
    d = _assigned_on_monday_2_march(10, POLICY)  # due Mon 16 Mar 08:00
    ask_supplement(d, at(2026, 3, 4, 10, 0))  # respond by Wed 4 Mar + 15 days = Thu 19 Mar 17:00
    assert d.timers.supplement_expiry == at(2026, 3, 19, 17, 0)
    d.version = 6
    assert _fired(d, at(2026, 3, 19, 16, 59, 59)) == []

    events = d.fire_timers(now=at(2026, 3, 19, 17, 0), policy=POLICY)

    assert [type(e) for e in events] == [ev.DossierStopped]
    assert (events[0].action, events[0].actor, events[0].sequence, events[0].state) == (
        "close_unanswered", SYSTEM, 7, "stopped")
    assert "15" in events[0].reason
    assert d.state is S.STOPPED and d.completed_at == at(2026, 3, 19, 17, 0)
    line = d.history[-1]
    assert (line.action, line.actor, line.from_state, line.to_state) == (
        "close_unanswered", SYSTEM, S.SUPPLEMENT_REQUESTED, S.STOPPED)
    assert d.timers.earliest() is None
    assert _fired(d, at(2026, 3, 19, 17, 0)) == []
    refused(d, IllegalTransition, lambda: supply(d, at(2026, 3, 20, 9, 0)))


def test_a_supplement_answered_in_time_keeps_the_dossier_open():
    d = _assigned_on_monday_2_march(10, POLICY)
    ask_supplement(d, at(2026, 3, 4, 10, 0))
    supply(d, at(2026, 3, 19, 16, 0))
    assert d.timers.supplement_expiry is None
    assert _fired(d, at(2026, 3, 19, 17, 0)) == []
    assert d.state is S.ASSIGNED


def test_overdue_and_stalled_due_together_fire_in_one_write_and_never_again():
    d = counter(at(2026, 3, 2, 8, 0), 1)  # due Tue 3 Mar 08:00: overdue from Wed 4 Mar 00:00
    assert (d.timers.overdue, d.timers.stall) == (at(2026, 3, 4), at(2026, 3, 5, 8, 0))
    lines = len(d.history)
    events = d.fire_timers(now=at(2026, 3, 5, 9, 0), policy=POLICY)
    assert [type(e) for e in events] == [ev.DossierOverdue, ev.DossierStalled]
    assert {e.sequence for e in events} == {d.version + 1}  # one write
    assert len(d.history) == lines + 1 and d.history[-1].details == {"events": ["overdue", "stalled"]}
    assert d.fire_timers(now=at(2026, 3, 5, 9, 0), policy=POLICY) == []
    assert d.timers.earliest() is None


@pytest.mark.parametrize("state", [S.INTAKE_SUPPLEMENT, S.SUPPLEMENT_REQUESTED, S.AWAITING_FEES], ids=str)
def test_no_stall_alarm_while_waiting_on_the_citizen(state):
    assert walk(state).timers.stall is None


@pytest.mark.parametrize("state", [S.REFUSED_AT_INTAKE, S.REFUSED, S.STOPPED, S.RESOLVED, S.RETURNED], ids=str)
def test_a_completed_dossier_has_no_timers(state):
    d = walk(state)
    assert d.timers.earliest() is None and d.completed_at is not None
    assert d.fire_timers(now=at(2027, 1, 1), policy=POLICY) == []


def test_a_supplement_deadline_on_a_day_off_moves_to_the_next_working_day():
    d = counter(at(2026, 3, 2, 8, 0), 5)
    transfer(d, at(2026, 3, 2, 8, 30))
    assign(d, at(2026, 3, 2, 9, 0))
    [asked] = ask_supplement(d, at(2026, 3, 6, 10, 0))  # Fri 6 Mar + 15 days = Sat 21 Mar: a day off
    assert asked.respond_by == at(2026, 3, 23, 17, 0)  # Mon 23 Mar, end of day [Civil Code 148.5]


def test_a_withdrawal_request_taken_back_resumes_where_the_dossier_was():
    d = walk(S.APPRAISED)
    d.request_withdrawal(actor=OWNER, at=d.last_moved_at + STEP, policy=POLICY, reason="Không còn nhu cầu")
    [event] = d.cancel_withdrawal(actor=OWNER, at=d.last_moved_at + STEP, policy=POLICY)
    assert d.state is S.APPRAISED and event.state == "appraised" and d.resume_state is None
    assert [line.action for line in d.history[-2:]] == ["request_withdrawal", "cancel_withdrawal"]


TWO_CASES = [Case(code="TH1", name_vi="Trong nước"), Case(code="TH2", name_vi="Có yếu tố nước ngoài")]


@pytest.mark.parametrize(("cases", "named", "filed_under"), [
    pytest.param([], None, None, id="no-cases"),
    pytest.param(TWO_CASES[:1], None, "TH1", id="one-case-implied"),
    pytest.param(TWO_CASES, "TH2", "TH2", id="one-of-several-named"),
])
def test_a_dossier_is_filed_under_a_case_of_its_procedure(cases, named, filed_under):
    proc = procedure().model_copy(update={"cases": cases})
    d, [event] = intake_at_counter(code=f"{AGENCY}-260302-0001", security_code_hash="h", procedure=proc,
                                   applicant=APPLICANT, documents=docs(*COMPLETE), channel="in_person",
                                   result_channel="counter", sets=1, actor=OFFICER, at=at(2026, 3, 2, 8, 0),
                                   policy=POLICY, case_code=named)
    assert d.case_code == event.case_code == filed_under  # the payment service bills the case's fees


@pytest.mark.parametrize(("cases", "named"), [
    pytest.param(TWO_CASES, None, id="several-none-named"), pytest.param(TWO_CASES, "TH9", id="unknown-case"),
    pytest.param([], "TH1", id="a-case-where-there-are-none"),
])
def test_a_case_the_procedure_does_not_list_is_refused(cases, named):
    proc = procedure().model_copy(update={"cases": cases})
    with pytest.raises(DomainError) as refused:
        submit_online(code=f"{AGENCY}-260302-0001", security_code_hash="h", procedure=proc, applicant=APPLICANT,
                      documents=docs(*COMPLETE), result_channel="online", actor=OWNER, at=at(2026, 3, 2, 8, 0),
                      policy=POLICY, case_code=named)
    assert refused.value.status == 422 and refused.value.extra["field"] == "case_code"
