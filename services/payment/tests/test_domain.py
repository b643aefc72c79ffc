"""The payment aggregate as a specification, table by table:

  1. the state machine: every command in every state, and where it leads (written out here, not read
     from the code's table);
  2. what a provider's answer does in every state (IPN, browser return, status query): the step it
     decides or why none (a duplicate, a wrong amount, nothing known yet);
  3. refunds: never more than is left, counting refunds under way; release gives the amount back;
  4. the unsettled alert: once, 30 minutes after the start, only while unsettled;
  5. the events and ledger entries each step makes; fee items and their status; amounts in words.
"""

from datetime import UTC, datetime, timedelta

import pytest

from contracts.catalog import Fee
from contracts.payment import PaymentFailed, PaymentRefunded, PaymentSucceeded, PaymentUnsettled
from payment.domain import (
    SYSTEM,
    Command,
    DomainError,
    FeeItem,
    IllegalTransition,
    ItemStatus,
    Outcome,
    Payment,
    RefundExceedsPaid,
    State,
    Step,
    Verdict,
    catalogue_items,
    dossier_status,
    item_status,
)
from payment.receipt import vnd_in_words

C, S = Command, State
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
TTL = timedelta(minutes=15)
ITEM = FeeItem(item_id="000.00.21.H49-261123-0003/1", dossier_code="000.00.21.H49-261123-0003",
               description="Lệ phí cấp giấy phép xây dựng", amount=75_000, source="catalogue", created_at=T0)


def created() -> Payment:
    return Payment.open(payment_id="261123AAAAAAAAAAAA", item=ITEM, attempt=1, method="vnpay",
                        description=ITEM.description, created_by="citizen1", payer="citizen1", payer_name="An", at=T0)


def started() -> Payment:
    p = created()
    p.start(checkout_url="https://pay.example/x", at=T0, expires_at=T0 + TTL)
    return p


def step(p: Payment, command: Command, **data) -> Step:
    return Step(number=p.step, command=command, at=T0 + timedelta(minutes=1 + p.step), source="test", **data)


def in_state(state: State) -> Payment:
    """A payment brought to `state` by the shortest legal path."""
    if state is S.CREATED:
        return created()
    p = started()
    path = {S.STARTED: [], S.SUCCEEDED: [C.SUCCEED], S.FAILED: [C.FAIL], S.CANCELLED: [C.CANCEL],
            S.EXPIRED: [C.EXPIRE], S.MANUAL_REVIEW: [C.FLAG]}
    if state in path:
        for c in path[state]:
            p.apply(step(p, c))
        return p
    p.apply(step(p, C.SUCCEED))
    amount = 25_000 if state is S.PARTIALLY_REFUNDED else p.amount
    p.apply(step(p, C.RESERVE_REFUND, refund_number=1, amount=amount, reason="r"))
    p.apply(step(p, C.COMPLETE_REFUND, refund_number=1, amount=amount, provider_reference="R1"))
    assert p.state is state
    return p


# -- 1. the state machine -----------------------------------------------------------------------------------

# state → {command: the state it leads to}. Anything else is refused (409) and changes nothing.
SPEC: dict[State, dict[Command, State]] = {
    S.CREATED: {C.START: S.STARTED, C.CANCEL: S.CANCELLED, C.EXPIRE: S.EXPIRED},
    S.STARTED: {C.SUCCEED: S.SUCCEEDED, C.FAIL: S.FAILED, C.CANCEL: S.CANCELLED, C.EXPIRE: S.EXPIRED,
                C.FLAG: S.MANUAL_REVIEW, C.ALERT: S.STARTED},
    S.SUCCEEDED: {C.RESERVE_REFUND: S.SUCCEEDED, C.COMPLETE_REFUND: S.REFUNDED, C.RELEASE_REFUND: S.SUCCEEDED},
    S.FAILED: {C.FLAG: S.MANUAL_REVIEW},
    S.CANCELLED: {C.FLAG: S.MANUAL_REVIEW},
    S.EXPIRED: {C.FLAG: S.MANUAL_REVIEW},
    S.MANUAL_REVIEW: {C.ACCEPT: S.SUCCEEDED, C.REJECT: S.FAILED, C.ALERT: S.MANUAL_REVIEW},
    S.PARTIALLY_REFUNDED: {C.RESERVE_REFUND: S.PARTIALLY_REFUNDED, C.COMPLETE_REFUND: S.REFUNDED,
                           C.RELEASE_REFUND: S.PARTIALLY_REFUNDED},
    S.REFUNDED: {},
}
CASES = [(state, command) for state in State for command in Command]


def attempt(p: Payment, command: Command) -> None:
    if command is C.START:
        p.start(checkout_url=None, at=T0, expires_at=T0 + TTL)
        return
    if command in (C.COMPLETE_REFUND, C.RELEASE_REFUND) and p.state in (S.SUCCEEDED, S.PARTIALLY_REFUNDED):
        p.apply(step(p, C.RESERVE_REFUND, refund_number=len(p.refunds) + 1, amount=p.refundable, reason="r"))
    number = len(p.refunds) if p.refunds else 1
    amount = p.refunds[-1].amount if p.refunds else 1000
    p.apply(step(p, command, refund_number=number if "REFUND" in command.name else None,
                 amount=amount if "REFUND" in command.name else None, reason="r"))


@pytest.mark.parametrize(("state", "command"), CASES, ids=[f"{s.value}-{c.value}" for s, c in CASES])
def test_every_command_in_every_state(state, command):
    p = in_state(state)
    before = p.model_dump()
    if command in SPEC[state]:
        attempt(p, command)
        assert p.state is SPEC[state][command]
        assert p.history[-1].command is command
    else:
        with pytest.raises(IllegalTransition) as refused:
            attempt(p, command)
        assert refused.value.status == 409
        assert p.model_dump() == before, "a refused command changes nothing"


def test_a_step_applies_once_and_in_order():
    p = started()
    s = step(p, C.SUCCEED)
    p.apply(s)
    with pytest.raises(ValueError):
        p.apply(s)  # step 0 again
    with pytest.raises(ValueError):
        p.apply(Step(number=5, command=C.ALERT, at=T0, source="test"))


def test_a_payment_must_expire_after_it_starts():
    with pytest.raises(DomainError):
        created().start(checkout_url=None, at=T0, expires_at=T0)


# -- 2. what the provider says ----------------------------------------------------------------------------------

PAID_OK = Outcome(kind="succeeded", amount=75_000, provider_transaction="14000001", code="00")
OUTCOMES = {
    "paid": PAID_OK,
    "paid, amount unknown": Outcome(kind="succeeded", provider_transaction="14000001"),
    "paid, other amount": Outcome(kind="succeeded", amount=76_000, provider_transaction="14000001"),
    "failed": Outcome(kind="failed", amount=75_000, code="51"),
    "suspicious": Outcome(kind="suspicious", amount=75_000, code="07"),
    "pending": Outcome(kind="pending"),
    "not found": Outcome(kind="not_found"),
}
BEFORE_EXPIRY, AFTER_EXPIRY = T0 + timedelta(minutes=5), T0 + timedelta(minutes=20)
W, A, N = Verdict.WRONG_AMOUNT, Verdict.ALREADY, Verdict.NOTHING
# (state, outcome) → (before expiry, after expiry): the command decided, or the verdict.
PROVIDER_SPEC = {
    (S.STARTED, "paid"): (C.SUCCEED, C.SUCCEED),
    (S.STARTED, "paid, amount unknown"): (C.SUCCEED, C.SUCCEED),
    (S.STARTED, "paid, other amount"): (W, W),
    (S.STARTED, "failed"): (C.FAIL, C.FAIL),
    (S.STARTED, "suspicious"): (C.FLAG, C.FLAG),
    (S.STARTED, "pending"): (N, C.EXPIRE),
    (S.STARTED, "not found"): (N, C.EXPIRE),
    (S.CREATED, "paid"): (N, N),  # never started (never stored so): the provider cannot know of it
    (S.CREATED, "not found"): (N, N),
}
for closed in (S.FAILED, S.CANCELLED, S.EXPIRED):
    PROVIDER_SPEC |= {(closed, "paid"): (C.FLAG, C.FLAG), (closed, "suspicious"): (C.FLAG, C.FLAG),
                      (closed, "paid, other amount"): (W, W), (closed, "failed"): (A, A),
                      (closed, "pending"): (A, A), (closed, "not found"): (A, A)}
for done in (S.SUCCEEDED, S.MANUAL_REVIEW, S.PARTIALLY_REFUNDED, S.REFUNDED):
    PROVIDER_SPEC |= {(done, o): ((W, W) if o == "paid, other amount" else (A, A)) for o in OUTCOMES}
PROVIDER_CASES = [(s, o, when) for (s, o) in PROVIDER_SPEC for when in (0, 1)]


@pytest.mark.parametrize(("state", "outcome", "late"), PROVIDER_CASES,
                         ids=[f"{s.value}-{o}-{'after' if w else 'before'} expiry" for s, o, w in PROVIDER_CASES])
def test_what_each_provider_answer_does_in_each_state(state, outcome, late):
    p = in_state(state)
    before = p.model_dump()
    at = (AFTER_EXPIRY if late else BEFORE_EXPIRY) + timedelta(minutes=p.step)
    decided = p.decide_outcome(OUTCOMES[outcome], at=at, source="ipn")
    expected = PROVIDER_SPEC[(state, outcome)][late]
    assert p.model_dump() == before, "deciding changes nothing"
    if isinstance(expected, Verdict):
        assert decided is expected
    else:
        assert isinstance(decided, Step) and decided.command is expected and decided.number == p.step
        p.apply(decided)


def test_a_success_records_the_provider_transaction_and_emits_one_event():
    p = started()
    events = p.apply(p.decide_outcome(PAID_OK, at=BEFORE_EXPIRY, source="ipn"))
    assert [type(e) for e in events] == [PaymentSucceeded]
    assert events[0].provider_transaction == "14000001" and events[0].paid_at == BEFORE_EXPIRY
    assert (events[0].payment_id, events[0].item_id, events[0].amount, events[0].method) == (
        p.id, ITEM.item_id, 75_000, "vnpay")
    assert p.decide_outcome(PAID_OK, at=BEFORE_EXPIRY, source="ipn") is Verdict.ALREADY  # the IPN again


def test_expiry_waits_for_the_grace():
    p = started()
    grace = timedelta(minutes=10)
    assert p.decide_outcome(OUTCOMES["pending"], at=AFTER_EXPIRY, source="r", expiry_grace=grace) is Verdict.NOTHING
    later = T0 + TTL + grace
    assert p.decide_outcome(OUTCOMES["pending"], at=later, source="r", expiry_grace=grace).command is C.EXPIRE


def test_money_for_a_closed_attempt_goes_to_review_once_and_a_rejection_is_final():
    p = in_state(S.EXPIRED)
    p.apply(p.decide_outcome(PAID_OK, at=AFTER_EXPIRY, source="ipn"))
    assert p.state is S.MANUAL_REVIEW and "expired" in p.reason
    p.apply(p.decide_review(accept=False, at=AFTER_EXPIRY, actor="admin1", reason="refunded by the bank"))
    assert p.state is S.FAILED and p.reviewed
    assert p.decide_outcome(PAID_OK, at=AFTER_EXPIRY, source="ipn") is Verdict.ALREADY  # the IPN redelivered


@pytest.mark.parametrize(("accept", "state", "event"), [(True, S.SUCCEEDED, PaymentSucceeded),
                                                         (False, S.FAILED, PaymentFailed)])
def test_a_review_decides(accept, state, event):
    p = in_state(S.MANUAL_REVIEW)
    events = p.apply(p.decide_review(accept=accept, at=AFTER_EXPIRY, actor="admin1", reason="checked"))
    assert p.state is state and [type(e) for e in events] == [event]
    assert (p.ledger_entry(p.history and Step(number=p.step - 1, command=p.history[-1].command, at=T0,
                                              source="review")) is not None) == accept, "money in only if kept"


@pytest.mark.parametrize(("command", "status"), [(C.FAIL, "failed"), (C.CANCEL, "cancelled"), (C.EXPIRE, "expired")])
def test_each_way_of_failing_says_which_in_its_event(command, status):
    p = started()
    events = p.apply(step(p, command, reason="why"))
    assert len(events) == 1 and isinstance(events[0], PaymentFailed)
    assert events[0].status == status and events[0].reason == "why"
    assert p.closed_at is not None


def test_a_cancel_is_for_open_payments_only():
    p = in_state(S.SUCCEEDED)
    with pytest.raises(IllegalTransition):
        p.decide_cancel(at=T0, actor="citizen1", reason=None)
    p = started()
    assert p.decide_cancel(at=T0, actor="citizen1", reason=None).command is C.CANCEL


def test_only_a_counter_payment_is_settled_by_the_cashier():
    with pytest.raises(DomainError):
        started().decide_settle_at_counter(at=T0, actor="cashier1")
    p = Payment.open(payment_id="P", item=ITEM, attempt=1, method="counter", description="d", created_by="cashier1",
                     payer=None, payer_name="An", at=T0)
    p.start(checkout_url=None, at=T0, expires_at=T0 + TTL)
    s = p.decide_settle_at_counter(at=T0, actor="cashier1")
    p.apply(s)
    assert p.state is S.SUCCEEDED and p.history[-1].actor == "cashier1"


# -- 3. refunds -------------------------------------------------------------------------------------------------


def refund(p: Payment, amount: int | None, *, complete: bool | None = True) -> Step:
    s = p.decide_refund(amount=amount, at=T0, actor="cashier1", reason="hồ sơ bị từ chối")
    p.apply(s)
    if complete is not None:
        p.apply(p.decide_refund_result(s.refund_number, accepted=complete, at=T0, actor="cashier1", reference="R",
                                       note="" if complete else "refused"))
    return s


@pytest.mark.parametrize(("amounts", "state", "refunded"), [
    ([75_000], S.REFUNDED, 75_000),
    ([None], S.REFUNDED, 75_000),  # no amount: all that is left
    ([25_000], S.PARTIALLY_REFUNDED, 25_000),
    ([25_000, 50_000], S.REFUNDED, 75_000),
    ([25_000, None], S.REFUNDED, 75_000),
    ([1, 1, 1], S.PARTIALLY_REFUNDED, 3),
])
def test_refunds_add_up_to_at_most_the_amount_paid(amounts, state, refunded):
    p = in_state(S.SUCCEEDED)
    events = []
    for amount in amounts:
        s = p.decide_refund(amount=amount, at=T0, actor="cashier1", reason="r")
        p.apply(s)
        events += p.apply(p.decide_refund_result(s.refund_number, accepted=True, at=T0, actor="cashier1"))
    assert p.state is state and p.refunded_total == refunded
    assert [type(e) for e in events] == [PaymentRefunded] * len(amounts)
    assert events[-1].refunded_total == refunded and events[-1].full == (refunded == 75_000)


@pytest.mark.parametrize(("before", "asked", "error"), [
    ([], 75_001, RefundExceedsPaid),
    ([50_000], 25_001, RefundExceedsPaid),
    ([75_000], None, IllegalTransition),  # refunded: nothing left, not refundable
    ([], 0, DomainError),
    ([], -5, DomainError),
])
def test_a_refund_above_what_is_left_is_refused(before, asked, error):
    p = in_state(S.SUCCEEDED)
    for amount in before:
        refund(p, amount)
    with pytest.raises(error) as refused:
        p.decide_refund(amount=asked, at=T0, actor="cashier1", reason="r")
    if error is RefundExceedsPaid:
        assert refused.value.status == 409 and refused.value.extra["refundable"] == 75_000 - sum(before)


def test_a_refund_under_way_holds_its_amount_and_a_release_gives_it_back():
    p = in_state(S.SUCCEEDED)
    first = refund(p, 60_000, complete=None)  # reserved, the provider not answered yet
    assert p.refundable == 15_000 and p.refunded_total == 0 and p.state is S.SUCCEEDED
    with pytest.raises(RefundExceedsPaid):
        p.decide_refund(amount=20_000, at=T0, actor="admin1", reason="r")
    p.apply(p.decide_refund_result(first.refund_number, accepted=False, at=T0, actor="cashier1", note="code 95"))
    assert p.refundable == 75_000 and p.refunds[0].state == "released" and p.refunds[0].note == "code 95"
    with pytest.raises(DomainError):
        p.decide_refund_result(first.refund_number, accepted=True, at=T0, actor="cashier1")  # released already


def test_refund_and_payment_ledger_entries_have_deterministic_ids():
    p = started()
    s = step(p, C.SUCCEED, provider_transaction="14000001")
    p.apply(s)
    entry = p.ledger_entry(s)
    assert (entry.id, entry.direction, entry.signed_amount, entry.reference) == (f"{p.id}:payment", "in", 75_000,
                                                                               "14000001")
    s1 = refund(p, 5_000, complete=None)
    p.apply(done := p.decide_refund_result(s1.refund_number, accepted=True, at=T0, actor="c", reference="R9"))
    entry = p.ledger_entry(done)
    assert (entry.id, entry.direction, entry.signed_amount, entry.reference) == (f"{p.id}:refund:1", "out", -5_000,
                                                                               "R9")
    assert p.ledger_entry(s1) is None  # a reservation moves no money


# -- 4. the unsettled alert -----------------------------------------------------------------------------------------

AFTER = timedelta(minutes=30)


@pytest.mark.parametrize(("state", "minutes", "raised"), [
    (S.STARTED, 29, False), (S.STARTED, 30, True), (S.STARTED, 600, True),
    (S.MANUAL_REVIEW, 31, True),
    (S.SUCCEEDED, 31, False), (S.FAILED, 31, False), (S.EXPIRED, 31, False), (S.CANCELLED, 31, False),
    (S.REFUNDED, 31, False), (S.CREATED, 31, False),
])
def test_the_unsettled_alert(state, minutes, raised):
    p = in_state(state)
    decided = p.decide_alert(now=T0 + timedelta(minutes=minutes), after=AFTER)
    assert (decided is not None) == raised
    if raised:
        events = p.apply(decided)
        assert [type(e) for e in events] == [PaymentUnsettled] and events[0].started_at == T0
        assert p.state is state, "an alert changes no state"
        assert p.decide_alert(now=T0 + timedelta(hours=5), after=AFTER) is None, "raised once"


# -- 5. fee items ---------------------------------------------------------------------------------------------------


def test_catalogue_items_are_the_channel_s_fees_numbered_in_order():
    fees = [Fee(channel="online", amount=75_000, description="Lệ phí"), Fee(channel="in_person", amount=90_000),
            Fee(channel="online", amount=0, description="Miễn phí"), Fee(channel="online", amount=10_000)]
    items = catalogue_items(dossier_code="D-1", channel="online", fees=fees, at=T0)
    assert [(i.item_id, i.amount, i.description) for i in items] == [("D-1/1", 75_000, "Lệ phí"),
                                                                      ("D-1/2", 10_000, "Lệ phí")]


def test_catalogue_items_are_those_of_the_dossier_s_case_and_of_every_case():
    fees = [Fee(channel="online", amount=100_000, case_code="TH1", description="Trong nước"),
            Fee(channel="online", amount=1_000_000, case_code="TH2", description="Có yếu tố nước ngoài"),
            Fee(channel="online", amount=5_000, description="Bản sao trích lục")]
    items = catalogue_items(dossier_code="D-1", channel="online", fees=fees, at=T0, case_code="TH2")
    assert [(i.amount, i.description) for i in items] == [(1_000_000, "Có yếu tố nước ngoài"),
                                                          (5_000, "Bản sao trích lục")]


@pytest.mark.parametrize(("state", "status"), [
    (None, ItemStatus.DUE), (S.STARTED, ItemStatus.IN_PROGRESS), (S.CREATED, ItemStatus.IN_PROGRESS),
    (S.FAILED, ItemStatus.DUE), (S.EXPIRED, ItemStatus.DUE), (S.CANCELLED, ItemStatus.DUE),
    (S.MANUAL_REVIEW, ItemStatus.UNDER_REVIEW), (S.SUCCEEDED, ItemStatus.PAID),
    (S.PARTIALLY_REFUNDED, ItemStatus.PARTIALLY_REFUNDED), (S.REFUNDED, ItemStatus.REFUNDED),
])
def test_an_item_s_status_is_its_latest_attempt_s(state, status):
    assert item_status(None if state is None else in_state(state)) is status


I = ItemStatus


@pytest.mark.parametrize(("statuses", "expected"), [
    ([], "no_fee"), ([I.DUE], "unpaid"), ([I.IN_PROGRESS, I.DUE], "unpaid"), ([I.PAID], "paid"),
    ([I.PAID, I.DUE], "partially_paid"), ([I.PARTIALLY_REFUNDED, I.PAID], "paid"), ([I.REFUNDED], "refunded"),
    ([I.REFUNDED, I.PAID], "paid"), ([I.REFUNDED, I.DUE], "unpaid"), ([I.UNDER_REVIEW], "unpaid"),
])
def test_a_dossier_s_fee_status(statuses, expected):
    assert dossier_status(statuses) == expected


@pytest.mark.parametrize(("amount", "words"), [
    (0, "Không đồng"),
    (5, "Năm đồng"),
    (10, "Mười đồng"),
    (15, "Mười lăm đồng"),
    (21, "Hai mươi mốt đồng"),
    (25, "Hai mươi lăm đồng"),
    (105, "Một trăm linh năm đồng"),
    (110, "Một trăm mười đồng"),
    (2_015, "Hai nghìn không trăm mười lăm đồng"),
    (10_000, "Mười nghìn đồng"),
    (50_000, "Năm mươi nghìn đồng"),
    (75_000, "Bảy mươi lăm nghìn đồng"),
    (150_000, "Một trăm năm mươi nghìn đồng"),
    (1_005_000, "Một triệu không trăm linh năm nghìn đồng"),
    (1_000_500, "Một triệu năm trăm đồng"),
    (1_250_000, "Một triệu hai trăm năm mươi nghìn đồng"),
    (31_000_000, "Ba mươi mốt triệu đồng"),
    (1_000_000_000, "Một tỷ đồng"),
    (1_000_000_005, "Một tỷ không trăm linh năm đồng"),
    (2_500_000_000_000, "Hai nghìn năm trăm tỷ đồng"),
])
def test_amounts_in_words(amount, words):
    assert vnd_in_words(amount) == words


def test_the_system_is_the_actor_of_provider_steps():
    p = started()
    assert p.decide_outcome(PAID_OK, at=T0, source="ipn").actor == SYSTEM
