"""HTTP routes of the payment service: parse, call a handler, shape the answer. Behind the gateway they are
under /api/v1; the provider's IPN and the browser return are public there (the provider's signature is the
credential), every other route needs a signed-in user."""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from kit.identity import Caller, CurrentCaller
from kit.problems import Problem

from payment import handlers
from payment.domain import PAID, ItemStatus, LedgerEntry, Payment, Refund, State, dossier_status, item_status
from payment.handlers import MONEY_STAFF, Deps
from payment.idempotency import HEADER, REPLAYED, Idempotency, Replay, check_key
from payment.receipt import EReceipt, ReceiptRefund, render_e_receipt

router = APIRouter(tags=["payments"])


def get_deps(request: Request) -> Deps:
    return request.app.state.deps


def get_idempotency(request: Request) -> Idempotency:
    return request.app.state.idempotency


DepsDep = Annotated[Deps, Depends(get_deps)]
IdempotencyDep = Annotated[Idempotency, Depends(get_idempotency)]
IdempotencyKey = Annotated[str | None, Header(alias=HEADER, description=(
    "8–128 letters, digits, '-' or '_'. The same key with the same request returns the first answer "
    "(`Idempotent-Replayed: true`); with another request, 422; while the first is still running, 409."))]
SecurityCode = Annotated[str | None, Query(min_length=4, max_length=32,
                                           description="citizens: the security code printed on the receipt")]
ItemId = Annotated[str, Field(min_length=3, max_length=120, pattern=r"^[^/\s]+/[^/\s]+$",
                              examples=["000.00.21.H49-261123-0003/1"])]

STATE_LABELS: dict[State, tuple[str, str]] = {
    State.CREATED: ("Mới tạo", "Created"),
    State.STARTED: ("Đang chờ thanh toán", "Awaiting payment"),
    State.SUCCEEDED: ("Đã thanh toán", "Paid"),
    State.FAILED: ("Thanh toán không thành công", "Failed"),
    State.CANCELLED: ("Đã hủy", "Cancelled"),
    State.EXPIRED: ("Hết thời hạn thanh toán", "Expired"),
    State.MANUAL_REVIEW: ("Đang được kiểm tra", "Under review"),
    State.PARTIALLY_REFUNDED: ("Đã hoàn tiền một phần", "Partially refunded"),
    State.REFUNDED: ("Đã hoàn tiền", "Refunded"),
}
ITEM_LABELS: dict[ItemStatus, tuple[str, str]] = {
    ItemStatus.DUE: ("Chưa nộp", "Due"),
    ItemStatus.IN_PROGRESS: ("Đang thanh toán", "Payment in progress"),
    ItemStatus.UNDER_REVIEW: ("Đang được kiểm tra", "Under review"),
    ItemStatus.PAID: ("Đã nộp", "Paid"),
    ItemStatus.PARTIALLY_REFUNDED: ("Đã hoàn tiền một phần", "Partially refunded"),
    ItemStatus.REFUNDED: ("Đã hoàn tiền", "Refunded"),
}
ERRORS = {401: {"description": "not signed in"}, 403: {"description": "wrong role"},
          404: {"description": "no such dossier, fee item or payment (or a wrong security code)"}}


# -- shapes ---------------------------------------------------------------------------------------------------


class FeeItemRead(BaseModel):
    item_id: str
    description: str
    amount: int
    source: Literal["catalogue", "requested"]
    status: ItemStatus
    status_label_vi: str
    status_label_en: str
    payment_id: str | None = Field(description="the latest attempt, if any")
    paid_at: datetime | None
    refunded: int


class DossierFeesRead(BaseModel):
    dossier_code: str
    procedure_code: str
    channel: str
    status: Literal["no_fee", "unpaid", "partially_paid", "paid", "refunded"]
    total: int
    paid: int
    items: list[FeeItemRead]


class RefundRead(BaseModel):
    number: int
    amount: int
    state: Literal["pending", "completed", "released"]
    reason: str
    requested_by: str
    requested_at: datetime
    completed_at: datetime | None
    provider_reference: str | None
    note: str

    @classmethod
    def of(cls, r: Refund) -> "RefundRead":
        return cls(**r.model_dump())


class PaymentRead(BaseModel):
    payment_id: str
    item_id: str
    dossier_code: str
    attempt: int
    amount: int
    description: str
    method: str
    state: State
    state_label_vi: str
    state_label_en: str
    created_at: datetime
    started_at: datetime | None
    expires_at: datetime | None
    settled_at: datetime | None
    closed_at: datetime | None
    checkout_url: str | None = Field(description="where to send the citizen's browser, while the payment is open")
    provider_transaction: str | None
    reason: str | None
    refunded_total: int
    refundable: int
    refunds: list[RefundRead]

    @classmethod
    def of(cls, p: Payment) -> "PaymentRead":
        vi, en = STATE_LABELS[p.state]
        return cls(payment_id=p.id, item_id=p.item_id, dossier_code=p.dossier_code, attempt=p.attempt,
                   amount=p.amount, description=p.description, method=p.method, state=p.state, state_label_vi=vi,
                   state_label_en=en, created_at=p.created_at, started_at=p.started_at, expires_at=p.expires_at,
                   settled_at=p.settled_at, closed_at=p.closed_at,
                   checkout_url=p.checkout_url if p.state is State.STARTED else None,
                   provider_transaction=p.provider_transaction, reason=p.reason, refunded_total=p.refunded_total,
                   refundable=p.refundable, refunds=[RefundRead.of(r) for r in p.refunds])


class PaymentCreate(BaseModel):
    item_id: ItemId
    method: str = Field(default="vnpay", pattern=r"^[a-z]{2,20}$")
    security_code: str = Field(min_length=4, max_length=32, description="printed on the dossier's receipt")


class CounterPaymentCreate(BaseModel):
    item_id: ItemId
    payer_name: str | None = Field(default=None, min_length=1, max_length=200,
                                   description="who hands over the cash (default: the applicant)")


class CancelBody(BaseModel):
    reason: str | None = Field(default=None, max_length=500)


class ReviewBody(BaseModel):
    decision: Literal["accept", "reject"]
    reason: str = Field(min_length=3, max_length=1000)


class RefundCreate(BaseModel):
    amount: int | None = Field(default=None, gt=0, le=10_000_000_000, description="VND; all that is left if absent")
    reason: str = Field(min_length=3, max_length=1000)


class RefundResult(BaseModel):
    refund: RefundRead
    payment: PaymentRead


class LedgerRead(BaseModel):
    dossier_code: str
    entries: list[LedgerEntry]
    received: int
    refunded: int
    net: int


class IpnAnswer(BaseModel):
    RspCode: Literal["00", "01", "02", "04", "97", "99"]
    Message: str


class PaymentReturn(BaseModel):
    """What the citizen sees back from the provider: our record of the payment, not the provider's word."""

    payment_id: str
    state: State | None
    state_label_vi: str
    state_label_en: str
    paid: bool
    provider_says: Literal["success", "failure", "review"]


# -- idempotent creates ---------------------------------------------------------------------------------------


async def _once(idempotency: Idempotency, caller: Caller, key: str | None, route: str, body: BaseModel,
                work: Callable[[], Awaitable[tuple[int, Any]]]) -> JSONResponse:
    """Run `work` once per (caller, key): a replay answers the first answer."""
    key = check_key(key)
    if key is None or caller.subject is None:
        status, answer = await work()
        return JSONResponse(answer, status_code=status)
    outcome = await idempotency.begin(subject=caller.subject, key=key,
                                      fingerprint=idempotency.fingerprint(route, body.model_dump(mode="json")))
    if isinstance(outcome, Replay):
        return JSONResponse(outcome.body, status_code=outcome.status, headers={REPLAYED: "true"})
    try:
        status, answer = await work()
    except BaseException:
        await idempotency.release(outcome)
        raise
    await idempotency.complete(outcome, status=status, body=answer)
    return JSONResponse(answer, status_code=status)


def _json(model: BaseModel) -> Any:
    return model.model_dump(mode="json")


def _client_ip(request: Request) -> str:
    forwarded = request.headers.get("x-forwarded-for", "")
    first = forwarded.split(",")[0].strip()
    return first or (request.client.host if request.client else "")


# -- fees and ledger --------------------------------------------------------------------------------------------


@router.get("/payments/dossiers/{code}", response_model=DossierFeesRead, summary="A dossier's fee items and their status",
            responses=ERRORS)
async def dossier_fees(deps: DepsDep, caller: CurrentCaller, code: str,
                       security_code: SecurityCode = None) -> DossierFeesRead:
    header = await handlers.dossier_for(deps, code=code, caller=caller, security_code=security_code)
    items, current = await handlers.fees_of(deps, code=code)
    reads = []
    for item in items:
        payment = current.get(item.item_id)
        status = item_status(payment)
        vi, en = ITEM_LABELS[status]
        reads.append(FeeItemRead(item_id=item.item_id, description=item.description, amount=item.amount,
                                 source=item.source, status=status, status_label_vi=vi, status_label_en=en,
                                 payment_id=payment.id if payment else None,
                                 paid_at=payment.settled_at if payment and payment.state in PAID else None,
                                 refunded=payment.refunded_total if payment else 0))
    paid = sum(r.amount - r.refunded for r in reads if r.status in (ItemStatus.PAID, ItemStatus.PARTIALLY_REFUNDED))
    return DossierFeesRead(dossier_code=code, procedure_code=header["procedure_code"], channel=header["channel"],
                           status=dossier_status([r.status for r in reads]), total=sum(r.amount for r in reads),
                           paid=paid, items=reads)


@router.get("/payments/dossiers/{code}/ledger", response_model=LedgerRead,
            summary="The money movements of a dossier (payments in, refunds out), oldest first", responses=ERRORS)
async def ledger(deps: DepsDep, caller: CurrentCaller, code: str) -> LedgerRead:
    caller.require(*MONEY_STAFF)
    entries = await deps.payments.ledger_of(code)
    received = sum(e.amount for e in entries if e.direction == "in")
    refunded = sum(e.amount for e in entries if e.direction == "out")
    return LedgerRead(dossier_code=code, entries=entries, received=received, refunded=refunded,
                      net=received - refunded)


# -- paying -----------------------------------------------------------------------------------------------------


@router.post("/payments", response_model=PaymentRead, status_code=201,
             summary="Pay a fee item online: a new payment (201), or the one already open for it (200)",
             responses={**ERRORS, 200: {"model": PaymentRead, "description": "the item's payment already open"},
                        409: {"description": "the item is paid, or a payment of it is under review"},
                        422: {"description": "invalid body, unknown method, or Idempotency-Key reused"}})
async def create_payment(request: Request, deps: DepsDep, idempotency: IdempotencyDep, caller: CurrentCaller,
                         body: PaymentCreate, idempotency_key: IdempotencyKey = None) -> JSONResponse:
    caller.require("citizen")

    async def work() -> tuple[int, Any]:
        payment, created = await handlers.start_online(deps, item_id=body.item_id, method=body.method, caller=caller,
                                                       security_code=body.security_code,
                                                       client_ip=_client_ip(request))
        return (201 if created else 200), _json(PaymentRead.of(payment))

    return await _once(idempotency, caller, idempotency_key, "create_payment", body, work)


@router.post("/payments/counter", response_model=PaymentRead, status_code=201,
             summary="The cashier took the fee in cash: a paid payment (200: this cashier's own attempt, "
                     "already open, e.g. a double click)", responses={
                 **ERRORS, 409: {"description": "the item is paid, under review, being paid online, or being "
                                                "recorded by another cashier"}})
async def counter_payment(deps: DepsDep, idempotency: IdempotencyDep, caller: CurrentCaller,
                          body: CounterPaymentCreate, idempotency_key: IdempotencyKey = None) -> JSONResponse:
    caller.require("cashier")

    async def work() -> tuple[int, Any]:
        payment, created = await handlers.pay_at_counter(deps, item_id=body.item_id, caller=caller,
                                                         payer_name=body.payer_name)
        return (201 if created else 200), _json(PaymentRead.of(payment))

    return await _once(idempotency, caller, idempotency_key, "counter_payment", body, work)


@router.get("/payments/{payment_id}", response_model=PaymentRead, summary="A payment (its payer, or staff)",
            responses=ERRORS)
async def get_payment(deps: DepsDep, caller: CurrentCaller, payment_id: str) -> PaymentRead:
    return PaymentRead.of(await handlers.get_payment(deps, payment_id=payment_id, caller=caller))


@router.post("/payments/{payment_id}/cancel", response_model=PaymentRead,
             summary="Give up an open payment (its payer, or a cashier)",
             responses={**ERRORS, 409: {"description": "the payment is no longer open"}})
async def cancel(deps: DepsDep, caller: CurrentCaller, payment_id: str, body: CancelBody | None = None) -> PaymentRead:
    return PaymentRead.of(await handlers.cancel(deps, payment_id=payment_id, caller=caller,
                                                reason=(body or CancelBody()).reason))


@router.post("/payments/{payment_id}/review", response_model=PaymentRead,
             summary="Decide on a payment under review: keep the money (paid) or not (failed; give it back)",
             responses={**ERRORS, 409: {"description": "the payment is not under review"}})
async def review(deps: DepsDep, caller: CurrentCaller, payment_id: str, body: ReviewBody) -> PaymentRead:
    return PaymentRead.of(await handlers.review(deps, payment_id=payment_id, caller=caller,
                                                accept=body.decision == "accept", reason=body.reason))


@router.post("/payments/{payment_id}/refunds", response_model=RefundResult, status_code=201,
             summary="Refund part or all of a paid payment (never more than is left)", responses={
                 **ERRORS, 409: {"description": "not paid, or more than is left to refund"},
                 502: {"description": "the provider refused the refund, or its answer is unknown"},
                 503: {"description": "the provider is unavailable: nothing was refunded"}})
async def create_refund(deps: DepsDep, idempotency: IdempotencyDep, caller: CurrentCaller, payment_id: str,
                        body: RefundCreate, idempotency_key: IdempotencyKey = None) -> JSONResponse:
    caller.require(*MONEY_STAFF)

    async def work() -> tuple[int, Any]:
        payment, number = await handlers.refund(deps, payment_id=payment_id, caller=caller, amount=body.amount,
                                                reason=body.reason)
        return 201, _json(RefundResult(refund=RefundRead.of(payment.refund(number)), payment=PaymentRead.of(payment)))

    return await _once(idempotency, caller, idempotency_key, f"refund:{payment_id}", body, work)


class RefundOutcome(BaseModel):
    made: bool = Field(description="whether the provider made the refund (its merchant portal says)")
    provider_reference: str | None = Field(default=None, max_length=100)
    note: str = Field(min_length=3, max_length=1000)


@router.post("/payments/{payment_id}/refunds/{number}/outcome", response_model=PaymentRead,
             summary="Record what became of a refund whose answer never came (admin, after checking the provider)",
             responses={**ERRORS, 409: {"description": "not paid"},
                        422: {"description": "no such refund, or it is not pending"}})
async def refund_outcome(deps: DepsDep, caller: CurrentCaller, payment_id: str, number: int,
                         body: RefundOutcome) -> PaymentRead:
    return PaymentRead.of(await handlers.settle_refund(deps, payment_id=payment_id, number=number, caller=caller,
                                                       made=body.made, reference=body.provider_reference,
                                                       note=body.note))


@router.get("/payments/{payment_id}/receipt", summary="The e-receipt of a paid fee (PDF)", response_class=Response,
            responses={**ERRORS, 200: {"content": {"application/pdf": {}}},
                       409: {"description": "the payment is not paid"}})
async def receipt(deps: DepsDep, caller: CurrentCaller, payment_id: str) -> Response:
    payment = await handlers.get_payment(deps, payment_id=payment_id, caller=caller)
    if payment.state not in PAID or payment.settled_at is None:
        raise Problem(409, "not-paid", "The payment is not paid", "An e-receipt is issued once the fee is paid.",
                      state=payment.state.value)
    header = await deps.fees.dossier(payment.dossier_code) or {}
    collected_by = next((c.actor for c in payment.history if c.to_state is State.SUCCEEDED and c.source == "counter"),
                        None)
    s = deps.settings
    document = EReceipt(
        centre_name=s.centre_name, centre_address=s.centre_address, centre_phone=s.centre_phone,
        payment_id=payment.id, payer_name=payment.payer_name, dossier_code=payment.dossier_code,
        procedure_name=header.get("procedure_name"), item_id=payment.item_id, item_description=payment.description,
        amount=payment.amount, method=payment.method, provider_transaction=payment.provider_transaction,
        paid_at=payment.settled_at, collected_by=collected_by,
        refunds=[ReceiptRefund(amount=r.amount, at=r.completed_at, reference=r.provider_reference)
                 for r in payment.refunds if r.state == "completed"],
        status=payment.state.value if payment.state is not State.SUCCEEDED else "paid")
    return Response(render_e_receipt(document), media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="bien-lai-{payment.id}.pdf"',
                             "Cache-Control": "private, no-store"})


# -- the provider's callbacks (public behind the gateway) --------------------------------------------------------


@router.get("/payments/providers/{provider}/ipn", response_model=IpnAnswer,
            summary="The provider's payment notification (VNPay IPN): settles the payment once")
async def ipn(request: Request, deps: DepsDep, provider: str) -> IpnAnswer:
    code = await handlers.on_ipn(deps, provider_name=provider, params=request.query_params)
    return IpnAnswer(RspCode=code, Message=handlers.IPN_MESSAGES[code])


@router.get("/payments/providers/{provider}/return", response_model=PaymentReturn,
            summary="Where the provider sends the citizen's browser back: shows our record, never settles",
            responses={400: {"description": "parameters not signed by the provider"},
                       404: {"description": "no such provider"}})
async def provider_return(request: Request, deps: DepsDep, provider: str) -> PaymentReturn:
    verdict, payment = await handlers.on_return(deps, provider_name=provider, params=request.query_params)
    says = "review" if verdict.suspicious else "success" if verdict.succeeded else "failure"
    if payment is None:
        return PaymentReturn(payment_id=verdict.payment_id, state=None, state_label_vi="Không tìm thấy giao dịch",
                             state_label_en="Payment not found", paid=False, provider_says=says)
    vi, en = STATE_LABELS[payment.state]
    if payment.state is State.STARTED and says == "success":
        vi, en = "Đang xác nhận thanh toán", "Confirming the payment"
    return PaymentReturn(payment_id=payment.id, state=payment.state, state_label_vi=vi, state_label_en=en,
                         paid=payment.state in PAID, provider_says=says)
