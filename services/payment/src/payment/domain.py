"""Fee items and payments (DOMAIN.md section 4). Pure: no I/O, no framework.

Fee items: what a dossier owes, from the catalogue's fee list at receipt (`<code>/<n>`) and from the
officer's request for fees (`DossierFeesRequested`, whose item id the dossier service chose).

A payment is one attempt to pay one fee item, with an explicit state machine (`TRANSITIONS`). It is
created and started in memory before it is first stored (the provider's checkout URL is part of the start);
every later change is a numbered `Step`, decided here against the payment as it stands (`decide_*`), then
applied (`apply`), which returns the events the step causes. The store claims step n of a payment with an
insert-only record, so two writers can never both decide step n (see store.py).

    created ──start──▶ started ──succeed──▶ succeeded ──refund──▶ partially_refunded ──refund──▶ refunded
       │                 │ ├──fail──▶ failed          ◀──accept── manual_review ──reject──▶ failed
       └─cancel/expire───┤ ├──cancel─▶ cancelled                      ▲
                         │ └──expire─▶ expired   ──paid late──────────┘ (also from failed, cancelled)
                         └──suspicious answer──────────────────────────┘
"""

from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from kit.rules import RuleViolation

from contracts.catalog import Fee
from contracts.payment import PaymentChange, PaymentFailed, PaymentRefunded, PaymentSucceeded, PaymentUnsettled

SYSTEM = "system"


class DomainError(RuleViolation):
    """A rule refused the command; nothing changed (answered as problem+json by the kit)."""


class IllegalTransition(DomainError):
    status, kind = 409, "illegal-transition"

    def __init__(self, state: "State", command: "Command"):
        super().__init__(f"A payment in state '{state.value}' cannot {command.value.replace('_', ' ')}.",
                         state=state.value, command=command.value)


class RefundExceedsPaid(DomainError):
    status, kind = 409, "refund-exceeds-paid"

    def __init__(self, asked: int, refundable: int):
        super().__init__(f"Only {refundable} VND of this payment can still be refunded ({asked} VND asked).",
                         refundable=refundable, asked=asked)


# -- fee items -----------------------------------------------------------------------------------------


class FeeItem(BaseModel):
    item_id: str
    dossier_code: str
    description: str
    amount: int = Field(gt=0)  # VND
    source: Literal["catalogue", "requested"]
    created_at: datetime


def catalogue_items(*, dossier_code: str, channel: str, fees: list[Fee], at: datetime,
                    case_code: str | None = None) -> list[FeeItem]:
    """The fees of the channel the dossier came by and of its case (a fee without a case applies to every
    case), numbered `<code>/1`, `<code>/2`… in catalogue order."""
    owed = [f for f in fees if f.channel == channel and f.amount > 0 and f.case_code in (None, case_code)]
    return [FeeItem(item_id=f"{dossier_code}/{n}", dossier_code=dossier_code, description=f.description or "Lệ phí",
                    amount=f.amount, source="catalogue", created_at=at)
            for n, f in enumerate(owed, start=1)]


class ItemStatus(StrEnum):
    DUE = "due"
    IN_PROGRESS = "in_progress"  # an attempt is open (the citizen is at the provider)
    UNDER_REVIEW = "under_review"  # the provider flagged the payment, or money came for a closed attempt
    PAID = "paid"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


def item_status(current: "Payment | None") -> ItemStatus:
    """An item's status is its latest attempt's: there is at most one attempt open, and none after a payment."""
    if current is None or current.state in CLOSED_UNPAID:
        return ItemStatus.DUE
    return {State.CREATED: ItemStatus.IN_PROGRESS, State.STARTED: ItemStatus.IN_PROGRESS,
            State.MANUAL_REVIEW: ItemStatus.UNDER_REVIEW, State.SUCCEEDED: ItemStatus.PAID,
            State.PARTIALLY_REFUNDED: ItemStatus.PARTIALLY_REFUNDED, State.REFUNDED: ItemStatus.REFUNDED}[current.state]


DossierStatus = Literal["no_fee", "unpaid", "partially_paid", "paid", "refunded"]
SETTLED_ITEM = frozenset({ItemStatus.PAID, ItemStatus.PARTIALLY_REFUNDED})


def dossier_status(statuses: list[ItemStatus]) -> DossierStatus:
    if not statuses:
        return "no_fee"
    if all(s is ItemStatus.REFUNDED for s in statuses):
        return "refunded"
    settled = sum(s in SETTLED_ITEM for s in statuses)
    if settled == 0:
        return "unpaid"
    return "paid" if all(s in SETTLED_ITEM or s is ItemStatus.REFUNDED for s in statuses) else "partially_paid"


# -- the payment state machine ---------------------------------------------------------------------------


class State(StrEnum):
    CREATED = "created"
    STARTED = "started"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    MANUAL_REVIEW = "manual_review"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


class Command(StrEnum):
    START = "start"
    SUCCEED = "succeed"
    FAIL = "fail"
    CANCEL = "cancel"
    EXPIRE = "expire"
    FLAG = "flag"  # to manual review
    ACCEPT = "accept"  # review: the money is good
    REJECT = "reject"  # review: the money is not kept
    RESERVE_REFUND = "reserve_refund"
    COMPLETE_REFUND = "complete_refund"
    RELEASE_REFUND = "release_refund"
    ALERT = "alert"  # still unsettled after the alert delay: raise it once


S = State
OPEN = frozenset({S.CREATED, S.STARTED})  # a live attempt: a second start returns it
CLOSED_UNPAID = frozenset({S.FAILED, S.CANCELLED, S.EXPIRED})  # another attempt may start
PAID = frozenset({S.SUCCEEDED, S.PARTIALLY_REFUNDED, S.REFUNDED})
UNSETTLED = frozenset({S.STARTED, S.MANUAL_REVIEW})  # waiting on the provider or on a person
REFUNDABLE = frozenset({S.SUCCEEDED, S.PARTIALLY_REFUNDED})

# Command → (the states it may start from, the state it leads to; None: stays, or computed for refunds).
TRANSITIONS: dict[Command, tuple[frozenset[State], State | None]] = {
    Command.START: (frozenset({S.CREATED}), S.STARTED),
    Command.SUCCEED: (frozenset({S.STARTED}), S.SUCCEEDED),
    Command.FAIL: (frozenset({S.STARTED}), S.FAILED),
    Command.CANCEL: (OPEN, S.CANCELLED),
    Command.EXPIRE: (OPEN, S.EXPIRED),
    Command.FLAG: (frozenset({S.STARTED}) | CLOSED_UNPAID, S.MANUAL_REVIEW),
    Command.ACCEPT: (frozenset({S.MANUAL_REVIEW}), S.SUCCEEDED),
    Command.REJECT: (frozenset({S.MANUAL_REVIEW}), S.FAILED),
    Command.RESERVE_REFUND: (REFUNDABLE, None),
    Command.COMPLETE_REFUND: (REFUNDABLE, None),
    Command.RELEASE_REFUND: (REFUNDABLE, None),
    Command.ALERT: (UNSETTLED, None),
}
FAILED_STATUS = {Command.FAIL: "failed", Command.CANCEL: "cancelled", Command.EXPIRE: "expired",
                 Command.REJECT: "failed"}


def allowed(state: State) -> list[Command]:
    return [c for c, (sources, _) in TRANSITIONS.items() if state in sources]


class Refund(BaseModel):
    number: int
    amount: int
    state: Literal["pending", "completed", "released"]
    reason: str
    requested_by: str
    requested_at: datetime
    completed_at: datetime | None = None
    provider_reference: str | None = None
    note: str = ""  # why it was released (the provider's message)


class Change(BaseModel):
    """One line of the payment's history."""

    step: int | None  # None: the creation and start, before the payment was first stored
    command: Command
    from_state: State | None
    to_state: State
    at: datetime
    actor: str
    source: str
    reason: str | None = None


class Step(BaseModel):
    """A decided change, numbered: step n of a payment is decided once (the store's claim), then applied by
    every reader in order."""

    number: int
    command: Command
    at: datetime
    actor: str = SYSTEM
    source: str  # ipn, reconciliation, counter, api, review
    reason: str | None = None
    provider_transaction: str | None = None
    provider_code: str | None = None
    refund_number: int | None = None
    amount: int | None = None  # a refund's amount
    provider_reference: str | None = None


class Outcome(BaseModel):
    """What the provider says of a payment (a callback or a status query), provider-neutral."""

    kind: Literal["succeeded", "failed", "suspicious", "pending", "not_found"]
    amount: int | None = None  # VND as the provider says it was paid
    provider_transaction: str | None = None
    code: str | None = None


class Verdict(StrEnum):
    """What a provider's outcome leads to when it decides no step."""

    ALREADY = "already"  # the payment is past the point this outcome could change (a duplicate, a late failure)
    WRONG_AMOUNT = "wrong_amount"  # the provider's amount differs from ours: nothing is changed
    NOTHING = "nothing"  # still open, nothing known yet


class LedgerEntry(BaseModel):
    """One money movement. Its id is deterministic, so a replay of the same step never writes twice."""

    id: str
    kind: Literal["payment", "refund"]
    direction: Literal["in", "out"]
    payment_id: str
    dossier_code: str
    item_id: str
    amount: int  # VND, positive
    signed_amount: int  # + in, - out
    method: str
    reference: str | None  # the provider's transaction or refund reference
    refund_number: int | None = None
    at: datetime
    actor: str


def utc_key(moment: datetime) -> str:
    """A sortable UTC string for range queries in the store."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Payment(BaseModel):
    id: str
    item_id: str
    dossier_code: str
    attempt: int  # the item's attempt number
    amount: int
    description: str
    method: str
    payer: str | None = None  # the signed-in citizen who started it, if one did
    payer_name: str | None = None
    created_by: str
    state: State
    step: int = 0  # steps applied
    created_at: datetime
    started_at: datetime | None = None
    started_key: str | None = None  # utc_key(started_at), for the reconciliation's range queries
    expires_at: datetime | None = None
    settled_at: datetime | None = None
    closed_at: datetime | None = None
    checkout_url: str | None = None
    provider_transaction: str | None = None
    provider_code: str | None = None
    reason: str | None = None
    reviewed: bool = False
    alerted_at: datetime | None = None
    refunds: list[Refund] = []
    history: list[Change] = []
    version: int = 0

    # -- creation -------------------------------------------------------------------------------------

    @classmethod
    def open(cls, *, payment_id: str, item: FeeItem, attempt: int, method: str, description: str,
             created_by: str, payer: str | None, payer_name: str | None, at: datetime) -> "Payment":
        payment = cls(id=payment_id, item_id=item.item_id, dossier_code=item.dossier_code, attempt=attempt,
                      amount=item.amount, description=description, method=method, payer=payer,
                      payer_name=payer_name, created_by=created_by, state=S.CREATED, created_at=at)
        payment.history.append(Change(step=None, command=Command.START, from_state=None, to_state=S.CREATED,
                                      at=at, actor=created_by, source="api"))
        return payment

    def start(self, *, checkout_url: str | None, at: datetime, expires_at: datetime) -> None:
        """created → started, before the first save: the checkout URL is ready, the clock runs."""
        self._check(Command.START)
        if expires_at <= at:
            raise DomainError("A payment must expire after it starts.")
        self.checkout_url, self.started_at, self.expires_at = checkout_url, at, expires_at
        self.started_key = utc_key(at)
        self.history.append(Change(step=None, command=Command.START, from_state=self.state, to_state=S.STARTED,
                                   at=at, actor=self.created_by, source="api"))
        self.state = S.STARTED

    # -- reading --------------------------------------------------------------------------------------

    @property
    def refunded_total(self) -> int:
        return sum(r.amount for r in self.refunds if r.state == "completed")

    @property
    def refundable(self) -> int:
        """What a new refund may still take: the amount less refunds done and refunds under way."""
        if self.state not in REFUNDABLE:
            return 0
        return self.amount - sum(r.amount for r in self.refunds if r.state in ("pending", "completed"))

    def refund(self, number: int) -> Refund:
        found = next((r for r in self.refunds if r.number == number), None)
        if found is None:
            raise DomainError(f"No refund number {number} on this payment.", refund_number=number)
        return found

    # -- deciding -------------------------------------------------------------------------------------

    def _check(self, command: Command) -> None:
        sources, _ = TRANSITIONS[command]
        if self.state not in sources:
            raise IllegalTransition(self.state, command)

    def _step(self, command: Command, *, at: datetime, actor: str, source: str, **data) -> Step:
        self._check(command)
        return Step(number=self.step, command=command, at=at, actor=actor, source=source, **data)

    def decide_outcome(self, outcome: Outcome, *, at: datetime, source: str,
                       expiry_grace: timedelta = timedelta(0)) -> Step | Verdict:
        """The provider says what became of the payment (IPN, browser return or status query). The amount
        is checked first (VNPay's order of checks): a different amount changes nothing."""
        if outcome.amount is not None and outcome.amount != self.amount:
            return Verdict.WRONG_AMOUNT
        data = {"provider_transaction": outcome.provider_transaction, "provider_code": outcome.code}
        money = outcome.kind in ("succeeded", "suspicious")
        if self.state in OPEN:
            if self.state is S.CREATED:
                return Verdict.NOTHING  # never started: the provider cannot know of it
            if outcome.kind == "succeeded":
                return self._step(Command.SUCCEED, at=at, actor=SYSTEM, source=source, **data)
            if outcome.kind == "suspicious":
                return self._step(Command.FLAG, at=at, actor=SYSTEM, source=source,
                                  reason="The provider flagged the payment as suspicious.", **data)
            if outcome.kind == "failed":
                return self._step(Command.FAIL, at=at, actor=SYSTEM, source=source,
                                  reason=f"The provider reports a failed payment (code {outcome.code}).", **data)
            if self.expires_at is not None and at >= self.expires_at + expiry_grace:
                return self._step(Command.EXPIRE, at=at, actor=SYSTEM, source=source,
                                  reason="Not paid before the payment expired.", **data)
            return Verdict.NOTHING
        if self.state in CLOSED_UNPAID and money and not self.reviewed:
            # Money came for an attempt already closed: a person decides (keep it, or give it back).
            return self._step(Command.FLAG, at=at, actor=SYSTEM, source=source,
                              reason=f"Paid after the attempt was {self.state.value}.", **data)
        return Verdict.ALREADY

    def decide_cancel(self, *, at: datetime, actor: str, reason: str | None) -> Step:
        return self._step(Command.CANCEL, at=at, actor=actor, source="api", reason=reason or "Cancelled.")

    def decide_settle_at_counter(self, *, at: datetime, actor: str) -> Step:
        if self.method != "counter":
            raise DomainError("Only a counter payment is settled by the cashier.")
        return self._step(Command.SUCCEED, at=at, actor=actor, source="counter")

    def decide_review(self, *, accept: bool, at: datetime, actor: str, reason: str) -> Step:
        return self._step(Command.ACCEPT if accept else Command.REJECT, at=at, actor=actor, source="review",
                          reason=reason)

    def decide_refund(self, *, amount: int | None, at: datetime, actor: str, reason: str) -> Step:
        self._check(Command.RESERVE_REFUND)
        refundable = self.refundable
        asked = refundable if amount is None else amount
        if asked <= 0:
            if amount is None:
                raise RefundExceedsPaid(0, 0)
            raise DomainError("A refund is of a positive amount (VND).", field="amount")
        if asked > refundable:
            raise RefundExceedsPaid(asked, refundable)
        return self._step(Command.RESERVE_REFUND, at=at, actor=actor, source="api", reason=reason,
                          amount=asked, refund_number=len(self.refunds) + 1)

    def decide_refund_result(self, number: int, *, accepted: bool, at: datetime, actor: str,
                             reference: str | None = None, note: str = "") -> Step:
        refund = self.refund(number)
        if refund.state != "pending":
            raise DomainError(f"Refund {number} is already {refund.state}.", refund_number=number)
        if accepted:
            return self._step(Command.COMPLETE_REFUND, at=at, actor=actor, source="api", refund_number=number,
                              amount=refund.amount, provider_reference=reference)
        return self._step(Command.RELEASE_REFUND, at=at, actor=actor, source="api", refund_number=number,
                          amount=refund.amount, reason=note or "The provider refused the refund.")

    def decide_alert(self, *, now: datetime, after: timedelta) -> Step | None:
        """Raise "still unsettled" once, `after` the start, while the payment waits on the provider or a person."""
        if self.state not in UNSETTLED or self.alerted_at is not None or self.started_at is None:
            return None
        if now < self.started_at + after:
            return None
        return self._step(Command.ALERT, at=now, actor=SYSTEM, source="reconciliation",
                          reason=f"Not settled {int(after.total_seconds() // 60)} minutes after it started.")

    # -- applying -------------------------------------------------------------------------------------

    def apply(self, step: Step) -> list[PaymentChange]:
        """Apply the next step; returns the events it causes. Steps come in order, each once."""
        if step.number != self.step:
            raise ValueError(f"payment {self.id}: step {step.number} applied at step {self.step}")
        if step.command is Command.START:
            raise ValueError("the start happens before the first save, not as a step")
        self._check(step.command)
        before = self.state
        events: list[PaymentChange] = []
        c = step.command
        if c in (Command.SUCCEED, Command.ACCEPT):
            self.state, self.settled_at = S.SUCCEEDED, step.at
            self.provider_transaction = step.provider_transaction or self.provider_transaction
            self.provider_code = step.provider_code or self.provider_code
            events.append(PaymentSucceeded(**self._event_base(step), provider_transaction=self.provider_transaction,
                                           paid_at=step.at))
        elif c in FAILED_STATUS:
            self.state = TRANSITIONS[c][1]
            self.closed_at, self.reason = step.at, step.reason
            self.provider_code = step.provider_code or self.provider_code
            events.append(PaymentFailed(**self._event_base(step), status=FAILED_STATUS[c], reason=step.reason or ""))
        elif c is Command.FLAG:
            self.state, self.reason = S.MANUAL_REVIEW, step.reason
            self.provider_transaction = step.provider_transaction or self.provider_transaction
            self.provider_code = step.provider_code or self.provider_code
        elif c is Command.RESERVE_REFUND:
            self.refunds.append(Refund(number=step.refund_number, amount=step.amount, state="pending",
                                       reason=step.reason or "", requested_by=step.actor, requested_at=step.at))
        elif c is Command.COMPLETE_REFUND:
            refund = self.refund(step.refund_number)
            refund.state, refund.completed_at = "completed", step.at
            refund.provider_reference = step.provider_reference
            total = self.refunded_total
            self.state = S.REFUNDED if total >= self.amount else S.PARTIALLY_REFUNDED
            events.append(PaymentRefunded(**self._event_base(step), refunded=refund.amount, refunded_total=total,
                                          full=total >= self.amount))
        elif c is Command.RELEASE_REFUND:
            refund = self.refund(step.refund_number)
            refund.state, refund.note = "released", step.reason or ""
        elif c is Command.ALERT:
            self.alerted_at = step.at
            events.append(PaymentUnsettled(**self._event_base(step), started_at=self.started_at))
        if c in (Command.ACCEPT, Command.REJECT):
            self.reviewed = True
        self.history.append(Change(step=step.number, command=c, from_state=before, to_state=self.state, at=step.at,
                                   actor=step.actor, source=step.source, reason=step.reason))
        self.step += 1
        return events

    def _event_base(self, step: Step) -> dict:
        return {"payment_id": self.id, "dossier_code": self.dossier_code, "item_id": self.item_id,
                "amount": self.amount, "method": self.method, "occurred_at": step.at}

    def ledger_entry(self, step: Step) -> LedgerEntry | None:
        """The money movement a step makes, if any (call after applying it)."""
        base = {"payment_id": self.id, "dossier_code": self.dossier_code, "item_id": self.item_id,
                "method": self.method, "at": step.at, "actor": step.actor}
        if step.command in (Command.SUCCEED, Command.ACCEPT):
            return LedgerEntry(id=f"{self.id}:payment", kind="payment", direction="in", amount=self.amount,
                               signed_amount=self.amount, reference=self.provider_transaction, **base)
        if step.command is Command.COMPLETE_REFUND:
            return LedgerEntry(id=f"{self.id}:refund:{step.refund_number}", kind="refund", direction="out",
                               amount=step.amount, signed_amount=-step.amount, reference=step.provider_reference,
                               refund_number=step.refund_number, **base)
        return None
