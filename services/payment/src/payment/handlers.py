"""Use cases of the payment service: the fee copy kept from events, paying a fee item (online or at the
counter), the provider's callbacks, refunds, reviews, and the reconciliation with the provider.

Every change to a payment goes through `advance`: load the payment with all its steps, let the domain decide
the next step, claim it (insert-only), then write its ledger entry and the snapshot. A writer that lost the
claim decides again on the newer payment, so the IPN, the reconciliation and a person can race freely."""

import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from kit.events import CloudEvent, utcnow
from kit.identity import Caller
from kit.problems import Conflict, NotFound, Problem
from kit.replica import keep_latest
from kit.security_codes import matches

from contracts import UnknownEventType, parse
from contracts.catalog import Fee, ProcedurePublished, ProcedureRevised
from contracts.dossier import DossierFeesRequested, DossierReceived
from payment.domain import (CLOSED_UNPAID, OPEN, PAID, FeeItem, Outcome, Payment, State, Step,
                            Verdict, catalogue_items)
from payment.providers.base import (CallbackVerdict, Checkout, PaymentProvider, ProviderUnavailable,
                                    StatusAnswer)
from payment.providers.base import RefundOutcomeUnknown
from payment.settings import PaymentSettings
from payment.store import Attempts, FeeBook, Payments

log = logging.getLogger("payment.handlers")

STAFF = ("cashier", "reception_officer", "admin")
MONEY_STAFF = ("cashier", "admin")
COUNTER = "counter"

# The same answer for an unknown dossier and a wrong security code, as in the lookup.
NO_MATCH = Problem(404, "dossier-not-found", "Không tìm thấy hồ sơ / Dossier not found",
                   "Không có hồ sơ khớp với mã hồ sơ và mã bảo mật. / No dossier matches this code and security code.")


@dataclass
class Deps:
    settings: PaymentSettings
    fees: FeeBook
    attempts: Attempts
    payments: Payments
    providers: dict[str, PaymentProvider]
    pepper: str
    clock: Callable[[], datetime] = field(default=utcnow)

    @property
    def ttl(self) -> timedelta:
        return timedelta(seconds=self.settings.payment_ttl_seconds)


def new_payment_id(at: datetime) -> str:
    """Our reference at the provider (VNPay vnp_TxnRef): letters and digits, unique, dated for people."""
    return f"{at:%y%m%d}{secrets.token_hex(6).upper()}"


# -- the fee copy, kept from events -------------------------------------------------------------------------


async def on_catalog_event(deps: Deps, event: CloudEvent) -> None:
    try:
        data = parse(event)
    except UnknownEventType:
        return
    if not isinstance(data, (ProcedurePublished, ProcedureRevised)):
        return
    await keep_latest(deps.fees.procedures, data.code, {"procedure_version": data.version,
                                                        "fees": [f.model_dump() for f in data.fees]},
                      order="procedure_version")


async def on_dossier_event(deps: Deps, event: CloudEvent) -> None:
    """At receipt, the catalogue's fees of the dossier's channel; on a request for fees, that item. Both are
    insert-only with deterministic ids, so a redelivered event changes nothing."""
    try:
        data = parse(event)
    except UnknownEventType:
        return
    if isinstance(data, DossierReceived):
        procedure = await deps.fees.procedures.get(data.procedure_code)
        fees = [Fee.model_validate(f) for f in (procedure or {}).get("fees", [])]
        await deps.fees.add_dossier(data.code, _header(data, security_code_hash=data.security_code_hash))
        for item in catalogue_items(dossier_code=data.code, channel=data.channel, fees=fees, at=data.occurred_at,
                                    case_code=data.case_code):
            await deps.fees.add_item(item)
    elif isinstance(data, DossierFeesRequested):
        await deps.fees.add_dossier(data.code, _header(data, security_code_hash=None))
        await deps.fees.add_item(FeeItem(item_id=data.item_id, dossier_code=data.code, description=data.description,
                                         amount=data.amount, source="requested", created_at=data.occurred_at))


def _header(data: DossierReceived | DossierFeesRequested, *, security_code_hash: str | None) -> dict:
    return {"procedure_code": data.procedure_code, "procedure_name": data.procedure_name, "channel": data.channel,
            "agency_code": data.agency_code, "security_code_hash": security_code_hash,
            "applicant_name": data.applicant.name if data.applicant else None}


# -- who may see and pay ------------------------------------------------------------------------------------


async def dossier_for(deps: Deps, *, code: str, caller: Caller, security_code: str | None) -> dict:
    """The dossier's header, if the caller may act on its fees: staff, or a citizen who presents the
    dossier's security code (the payment service knows no owners; the code on the receipt is the proof)."""
    caller.require("citizen", *STAFF)
    header = await deps.fees.dossier(code)
    if caller.roles.intersection(STAFF):
        if header is None:
            raise NotFound("Dossier fees", code)
        return header
    if not security_code or not matches(deps.pepper, code, security_code,
                                        header.get("security_code_hash") if header else None):
        raise NO_MATCH
    return header


def may_see(caller: Caller, payment: Payment) -> bool:
    return bool(caller.roles.intersection(STAFF)) or (caller.subject is not None and caller.subject == payment.payer)


async def get_payment(deps: Deps, *, payment_id: str, caller: Caller) -> Payment:
    caller.require("citizen", *STAFF)
    payment = await deps.payments.load(payment_id, repair=False)
    if payment is None or not may_see(caller, payment):
        raise NotFound("Payment", payment_id)  # a citizen cannot tell someone else's payment from none
    return payment


async def fees_of(deps: Deps, *, code: str) -> tuple[list[FeeItem], dict[str, Payment]]:
    """The dossier's fee items and, for each, its latest attempt."""
    items = await deps.fees.items_of(code)
    latest: dict[str, dict] = {}
    for attempt in await deps.attempts.of_dossier(code):
        if attempt["item_id"] not in latest or attempt["attempt"] > latest[attempt["item_id"]]["attempt"]:
            latest[attempt["item_id"]] = attempt
    payments = await deps.payments.load_many([a["payment_id"] for a in latest.values()])
    return items, {item_id: payments[a["payment_id"]] for item_id, a in latest.items() if a["payment_id"] in payments}


# -- changing a payment -------------------------------------------------------------------------------------

Decide = Callable[[Payment], Step | Verdict | None]


async def advance(deps: Deps, payment_id: str, decide: Decide, *, attempts: int = 10) -> tuple[Payment, Step | Verdict | None]:
    """Decide and claim the payment's next step; returns the payment after it and the step (or why none)."""
    for _ in range(attempts):
        payment = await deps.payments.load(payment_id)
        if payment is None:
            raise NotFound("Payment", payment_id)
        decision = decide(payment)  # a refusal is a RuleViolation: answered as a 4xx by the kit
        if not isinstance(decision, Step):
            return payment, decision
        after = payment.model_copy(deep=True)
        events = after.apply(decision)
        if not await deps.payments.claim(payment, decision, events):
            continue  # another writer took this step: decide again on what it did
        await deps.payments.record(after.ledger_entry(decision))
        return await deps.payments.save(after), decision
    raise Conflict("concurrent-update", "The payment is being changed by someone else", "Try again.")


# -- paying ---------------------------------------------------------------------------------------------------


def _ascii_description(item: FeeItem) -> str:
    return f"Thanh toan phi, le phi ho so {item.dossier_code}"


async def open_attempt(deps: Deps, *, item: FeeItem, method: str, caller: Caller, payer_name: str | None,
                       client_ip: str) -> tuple[Payment, bool]:
    """The item's open attempt, or a new one (True). At most one attempt of an item is open: attempt n+1 is
    claimed (insert-only) only after attempt n closed unpaid, and only one claim of n+1 succeeds."""
    provider = deps.providers.get(method)
    if provider is None:
        raise Problem(422, "unknown-method", "Payment method not available",
                      f"No payment method '{method}' here.", field="method", methods=sorted(deps.providers))
    for _ in range(10):
        latest = await deps.attempts.latest(item.item_id)
        number = 1
        if latest is not None:
            current = await deps.payments.load(latest["payment_id"])
            if current is not None:
                if current.state in OPEN:
                    return current, False
                if current.state is State.MANUAL_REVIEW:
                    raise Conflict("payment-under-review", "A payment of this fee is under review",
                                   "The provider flagged a payment of this fee; staff review it before another.",
                                   payment_id=current.id)
                if current.state in PAID:
                    raise Conflict("fee-item-paid", "This fee is already paid",
                                   f"The fee item {item.item_id} was paid (payment {current.id}).",
                                   payment_id=current.id, state=current.state.value)
                assert current.state in CLOSED_UNPAID
            number = latest["attempt"] + 1
        now = deps.clock()
        payment = Payment.open(payment_id=new_payment_id(now), item=item, attempt=number, method=method,
                               description=item.description, created_by=caller.subject, payer=None if
                               caller.roles.intersection(STAFF) else caller.subject, payer_name=payer_name, at=now)
        expires_at = now + deps.ttl
        checkout_url = None
        if method != COUNTER:
            checkout_url = provider.checkout_url(Checkout(
                payment_id=payment.id, amount=payment.amount, description=_ascii_description(item),
                return_url=deps.settings.return_url, client_ip=client_ip, created_at=now, expires_at=expires_at))
        payment.start(checkout_url=checkout_url, at=now, expires_at=expires_at)
        payment = await deps.payments.insert(payment)
        if await deps.attempts.claim(item_id=item.item_id, attempt=number, payment_id=payment.id,
                                     dossier_code=item.dossier_code, at=now):
            log.info("payment started", extra={"payment_id": payment.id, "item_id": item.item_id, "method": method})
            return payment, True
        await deps.payments.forget(payment.id)  # another request opened attempt n first: look again
    raise Conflict("concurrent-update", "This fee is being paid by someone else", "Try again.")


async def _item(deps: Deps, item_id: str, code: str | None = None) -> FeeItem:
    item = await deps.fees.item(item_id)
    if item is None or (code is not None and item.dossier_code != code):
        raise NotFound("Fee item", item_id)
    return item


async def start_online(deps: Deps, *, item_id: str, method: str, caller: Caller, security_code: str | None,
                       client_ip: str) -> tuple[Payment, bool]:
    """A citizen pays a fee item online: the open attempt if there is one, else a new one (True)."""
    caller.require("citizen")
    if method not in deps.settings.online_methods:
        raise Problem(422, "unknown-method", "Payment method not available",
                      f"No online payment method '{method}' here.", field="method",
                      methods=list(deps.settings.online_methods))
    code = item_id.rsplit("/", 1)[0]
    await dossier_for(deps, code=code, caller=caller, security_code=security_code)
    item = await _item(deps, item_id, code)
    return await open_attempt(deps, item=item, method=method, caller=caller, payer_name=caller.name,
                              client_ip=client_ip)


async def pay_at_counter(deps: Deps, *, item_id: str, caller: Caller, payer_name: str | None) -> tuple[Payment, bool]:
    """The cashier took the cash: open a counter attempt and settle it at once (True: this request did).

    An attempt already open is settled here only if it is this cashier's own counter attempt (a double
    click, a retry after a crash); another cashier's, or an online one, is a 409: two people must never
    both take the cash."""
    caller.require("cashier")
    item = await _item(deps, item_id)
    header = await deps.fees.dossier(item.dossier_code) or {}
    payment, created = await open_attempt(deps, item=item, method=COUNTER, caller=caller,
                                          payer_name=payer_name or header.get("applicant_name"), client_ip="")
    if payment.method != COUNTER:
        raise Conflict("payment-in-progress", "An online payment of this fee is open",
                       f"Payment {payment.id} is open at {payment.method} until it expires; cancel it first "
                       "(the citizen may be paying right now) or wait.", payment_id=payment.id,
                       expires_at=payment.expires_at.isoformat() if payment.expires_at else None)
    if payment.created_by != caller.subject:
        raise Conflict("payment-in-progress", "Another cashier is recording this fee",
                       f"Payment {payment.id} is being recorded by another cashier: do not take the cash twice.",
                       payment_id=payment.id)
    now = deps.clock()

    def settle(p: Payment) -> Step | Verdict:
        return p.decide_settle_at_counter(at=now, actor=caller.subject) if p.state is State.STARTED else Verdict.ALREADY

    payment, _ = await advance(deps, payment.id, settle)
    return payment, created


async def cancel(deps: Deps, *, payment_id: str, caller: Caller, reason: str | None) -> Payment:
    payment = await get_payment(deps, payment_id=payment_id, caller=caller)
    if caller.subject != payment.payer:
        caller.require(*MONEY_STAFF)
    now = deps.clock()
    payment, _ = await advance(deps, payment_id, lambda p: p.decide_cancel(at=now, actor=caller.subject, reason=reason))
    return payment


async def review(deps: Deps, *, payment_id: str, caller: Caller, accept: bool, reason: str) -> Payment:
    caller.require("admin")
    now = deps.clock()
    payment, _ = await advance(deps, payment_id,
                               lambda p: p.decide_review(accept=accept, at=now, actor=caller.subject, reason=reason))
    return payment


# -- the provider's answers -----------------------------------------------------------------------------------


def outcome_of(answer: CallbackVerdict | StatusAnswer) -> Outcome:
    if isinstance(answer, CallbackVerdict):
        kind = "suspicious" if answer.suspicious else "succeeded" if answer.succeeded else "failed"
    else:
        kind = "suspicious" if answer.suspicious else answer.status
    return Outcome(kind=kind, amount=answer.amount, provider_transaction=answer.provider_transaction,
                   code=answer.code)


async def settle(deps: Deps, *, payment_id: str, outcome: Outcome, source: str,
                 method: str | None = None, now: datetime | None = None) -> Step | Verdict | None:
    """The one path by which what the provider says changes a payment (IPN and reconciliation). Returns the
    step taken, or why none; None if there is no such payment (of this method)."""
    now = now or deps.clock()
    grace = timedelta(seconds=deps.settings.expiry_grace_seconds)
    payment = await deps.payments.load(payment_id)
    if payment is None or (method is not None and payment.method != method):
        return None
    _, decision = await advance(deps, payment_id,
                                lambda p: p.decide_outcome(outcome, at=now, source=source, expiry_grace=grace))
    if isinstance(decision, Step):
        log.info("payment %s", decision.command.value, extra={"payment_id": payment_id, "source": source})
    return decision


# VNPay's IPN answer codes.
IPN_MESSAGES = {
    "00": "Confirm Success",
    "01": "Order not found",
    "02": "Order already confirmed",
    "04": "Invalid amount",
    "97": "Invalid signature",
    "99": "Unknown error",
}


async def on_ipn(deps: Deps, *, provider_name: str, params: Mapping[str, str]) -> str:
    """The provider's server-to-server notification: check, then settle through `settle`. Returns VNPay's
    RspCode; never raises (99 asks the provider to try again later)."""
    provider = deps.providers.get(provider_name)
    if provider is None or provider_name == COUNTER:
        return "01"
    try:
        verdict = provider.verify_callback(params)
        if not verdict.signature_ok:
            return "97"
        if not verdict.payment_id:
            return "01"
        decision = await settle(deps, payment_id=verdict.payment_id, outcome=outcome_of(verdict), source="ipn",
                                method=provider_name)
    except Exception:
        log.exception("IPN could not be processed")  # no parameters logged: they are the signed callback
        return "99"
    if decision is None:
        return "01"
    if decision is Verdict.WRONG_AMOUNT:
        log.warning("IPN with a wrong amount", extra={"payment_id": verdict.payment_id})
        return "04"
    return "00" if isinstance(decision, Step) else "02"


async def on_return(deps: Deps, *, provider_name: str, params: Mapping[str, str]) -> tuple[CallbackVerdict, Payment | None]:
    """The citizen's browser back from the provider: display only. What the payment is comes from our records
    (settled by the IPN or the reconciliation), never from these parameters."""
    provider = deps.providers.get(provider_name)
    if provider is None or provider_name == COUNTER:
        raise NotFound("Payment provider", provider_name)
    verdict = provider.verify_callback(params)
    if not verdict.signature_ok or not verdict.payment_id:
        raise Problem(400, "invalid-callback", "Invalid return from the payment provider",
                      "The parameters are not signed by the provider; nothing was changed.")
    payment = await deps.payments.load(verdict.payment_id, repair=False)
    if payment is not None and payment.method != provider_name:
        payment = None
    return verdict, payment


# -- refunds ----------------------------------------------------------------------------------------------------


def _refund_outcome_unknown(exc: Exception) -> bool:
    """A refund that may have reached the provider without an answer must not be released (nor sent again).
    (The VNPay adapter says so with its own subclass of ProviderUnavailable; the port could carry it.)"""
    return isinstance(exc, RefundOutcomeUnknown)


async def refund(deps: Deps, *, payment_id: str, caller: Caller, amount: int | None, reason: str) -> tuple[Payment, int]:
    """Give back part or all of a settled payment. The amount is reserved first as the payment's next step
    (so two refunds at once cannot together exceed what was paid: only one can claim a step, and the other
    is judged again against the reservation), then the provider is asked, then the result is recorded."""
    caller.require(*MONEY_STAFF)
    now = deps.clock()
    payment, step = await advance(deps, payment_id, lambda p: p.decide_refund(amount=amount, at=now,
                                                                              actor=caller.subject, reason=reason))
    number, asked = step.refund_number, step.amount
    provider = deps.providers.get(payment.method)
    full = asked == payment.amount
    try:
        if provider is None:
            raise ProviderUnavailable(f"no provider {payment.method}")
        answer = await provider.refund(payment_id=payment.id, amount=asked, full=full,
                                       provider_transaction=payment.provider_transaction,
                                       paid_at=payment.created_at, actor=caller.name or caller.subject)
    except ProviderUnavailable as exc:
        if _refund_outcome_unknown(exc):
            log.warning("refund outcome unknown", extra={"payment_id": payment.id, "refund": number})
            raise Problem(502, "refund-outcome-unknown", "The provider's answer to the refund is unknown",
                          f"Refund {number} may have been made: it stays pending and holds its amount. Check the "
                          "provider's merchant portal before doing anything else.", refund_number=number) from None
        await advance(deps, payment_id, lambda p: p.decide_refund_result(
            number, accepted=False, at=deps.clock(), actor=caller.subject, note="The provider could not be reached."))
        problem = Problem(503, "provider-unavailable", "The payment provider is unavailable",
                          "Nothing was refunded; try again later.")
        problem.headers["Retry-After"] = "30"
        raise problem from None
    payment, _ = await advance(deps, payment_id, lambda p: p.decide_refund_result(
        number, accepted=answer.accepted, at=deps.clock(), actor=caller.subject,
        reference=answer.provider_reference, note=answer.message))
    if not answer.accepted:
        raise Problem(502, "refund-refused", "The provider refused the refund",
                      answer.message or f"Provider code {answer.code}.", provider_code=answer.code)
    return payment, number


async def settle_refund(deps: Deps, *, payment_id: str, number: int, caller: Caller, made: bool,
                        reference: str | None, note: str) -> Payment:
    """An admin records what became of a refund whose answer never came (after checking the provider's
    merchant portal): made (money out, ledger, event) or not made (its amount is free again)."""
    caller.require("admin")
    payment, _ = await advance(deps, payment_id, lambda p: p.decide_refund_result(
        number, accepted=made, at=deps.clock(), actor=caller.subject, reference=reference, note=note))
    return payment


# -- reconciliation ---------------------------------------------------------------------------------------------


@dataclass
class Report:
    checked: int = 0
    steps: dict[str, int] = field(default_factory=dict)
    unavailable: int = 0
    alerts: int = 0

    def count(self, decision: Step | Verdict | None) -> None:
        if isinstance(decision, Step):
            self.steps[decision.command.value] = self.steps.get(decision.command.value, 0) + 1


async def check_with_provider(deps: Deps, payment: Payment, *, now: datetime, report: Report) -> None:
    provider = deps.providers.get(payment.method)
    if provider is None:
        return
    report.checked += 1
    try:
        answer = await provider.query(payment_id=payment.id, created_at=payment.created_at)
    except ProviderUnavailable as exc:
        report.unavailable += 1
        log.warning("provider query failed", extra={"payment_id": payment.id, "error": type(exc).__name__})
        return
    report.count(await settle(deps, payment_id=payment.id, outcome=outcome_of(answer), source="reconciliation",
                              now=now))


async def reconcile(deps: Deps, *, now: datetime | None = None, sweep: bool = False) -> Report:
    """Ask the provider about payments still started, and settle, fail or expire them through `settle` (as
    the IPN would). Every 15 min: those started 15-30 min ago; the daily sweep: all of them. Then raise the
    alert, once, for every payment still unsettled 30 min after it started."""
    now = now or deps.clock()
    s = deps.settings
    report = Report()
    after_key = None
    while True:
        if sweep:
            batch = await deps.payments.candidates([State.STARTED.value], started_to=now, after_key=after_key,
                                                   limit=s.reconcile_batch)
        else:
            batch = await deps.payments.candidates(
                [State.STARTED.value], started_from=now - timedelta(seconds=s.reconcile_max_age_seconds),
                started_to=now - timedelta(seconds=s.reconcile_min_age_seconds), after_key=after_key,
                limit=s.reconcile_batch)
        for candidate in batch:
            payment = await deps.payments.load(candidate.id)  # with its later steps (it may be settled by now)
            if payment is not None and payment.state is State.STARTED:
                await check_with_provider(deps, payment, now=now, report=report)
        if len(batch) < s.reconcile_batch:
            break
        after_key = batch[-1].started_key
    report.alerts = await raise_alerts(deps, now=now)
    if report.checked or report.alerts:
        log.info("reconciliation", extra={"sweep": sweep, "checked": report.checked, "steps": report.steps,
                                          "unavailable": report.unavailable, "alerts": report.alerts})
    return report


async def raise_alerts(deps: Deps, *, now: datetime) -> int:
    after = timedelta(seconds=deps.settings.unsettled_after_seconds)
    raised = 0
    after_key = None
    while True:
        batch = await deps.payments.candidates([State.STARTED.value, State.MANUAL_REVIEW.value],
                                               started_to=now - after, after_key=after_key, unalerted=True,
                                               limit=deps.settings.reconcile_batch)
        for candidate in batch:
            _, decision = await advance(deps, candidate.id, lambda p: p.decide_alert(now=now, after=after))
            if isinstance(decision, Step):
                raised += 1
                log.warning("payment unsettled", extra={"payment_id": candidate.id})
        if len(batch) < deps.settings.reconcile_batch:
            return raised
        after_key = batch[-1].started_key
