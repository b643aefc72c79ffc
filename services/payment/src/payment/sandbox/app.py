"""The sandbox's HTTP face: VNPay's payment page and merchant API, plus test hooks under /_sandbox."""

import logging
from contextlib import asynccontextmanager
from typing import Annotated, Literal
from urllib.parse import parse_qsl, urlsplit

from fastapi import APIRouter, FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel

from payment.provider_settings import SandboxSettings
from payment.sandbox import pages
from payment.sandbox import protocol as p
from payment.sandbox.gateway import Gateway, PayError, Transaction

Outcome = Literal["success", "cancel", "fail", "suspicious"]


def _pay_params(request: Request) -> dict[str, str]:
    query = request.query_params
    if any(len(query.getlist(k)) > 1 for k in query.keys()):
        raise PayError("03")
    return {k: v for k, v in query.items() if k.startswith("vnp_")}


def _error(code: str) -> RedirectResponse:
    # Relative, like the page's forms, so that it also works when the sandbox is mounted under a prefix.
    return RedirectResponse(f"Payment/Error.html?code={code}", status_code=302)


def _back_to_merchant(result: dict[str, str], return_url: str) -> RedirectResponse:
    separator = "&" if urlsplit(return_url).query else "?"
    return RedirectResponse(f"{return_url}{separator}{p.query_string(result)}", status_code=303)


def _gateway(request: Request) -> Gateway:
    return request.app.state.gateway


async def _finish(gateway: Gateway, txn: Transaction, outcome: str) -> RedirectResponse:
    result, first_time = gateway.complete(txn, outcome)
    if first_time:
        await gateway.notify(txn)
    return _back_to_merchant(result, txn.return_url)


def pay_router() -> APIRouter:
    router = APIRouter()

    @router.get("/paymentv2/vpcpay.html", response_class=HTMLResponse, summary="VNPay payment page")
    async def payment_page(request: Request):
        try:
            txn = _gateway(request).open(_pay_params(request))
        except PayError as exc:
            return _error(exc.code)
        return HTMLResponse(pages.payment_page(txn))

    @router.post("/paymentv2/vpcpay.html",
                 summary="Pay without a browser: ?vnp_...&auto=success|cancel|fail|suspicious")
    async def pay_automatically(request: Request, auto: Outcome):
        gateway = _gateway(request)
        try:
            txn = gateway.open(_pay_params(request))
        except PayError as exc:
            return _error(exc.code)
        return await _finish(gateway, txn, auto)

    @router.post("/paymentv2/sandbox/choose/{session}", summary="The citizen's choice on the payment page")
    async def choose(request: Request, session: str, outcome: Annotated[Outcome, Form()]):
        gateway = _gateway(request)
        txn = gateway.by_session(session)
        if txn is None:
            return _error("03")
        return await _finish(gateway, txn, outcome)

    @router.get("/paymentv2/Payment/Error.html", response_class=HTMLResponse, summary="VNPay error page")
    async def error_page(code: str = "99"):
        return HTMLResponse(pages.error_page(code[:4]), status_code=400)

    @router.post("/merchant_webapi/api/transaction", summary="querydr and refund")
    async def transaction_api(request: Request):
        try:
            body = await request.json()
        except ValueError:
            body = None
        return JSONResponse(_gateway(request).api(body))

    @router.get("/health/live", include_in_schema=False)
    @router.get("/health/ready", include_in_schema=False)  # no dependency: ready once it answers
    async def live():
        return {"status": "ok"}

    return router


class Settle(BaseModel):
    txn_ref: str | None = None
    tmn_code: str | None = None
    payment_url: str | None = None  # a merchant's pay URL: opened (as if the citizen had loaded it), then settled
    outcome: Outcome = "success"


def hooks_router() -> APIRouter:
    router = APIRouter(prefix="/_sandbox", tags=["test hooks"])

    def transaction(request: Request, txn_ref: str, tmn_code: str | None) -> Transaction:
        txn = _gateway(request).find(txn_ref, tmn_code)
        if txn is None:
            raise HTTPException(404, f"no transaction {txn_ref}")
        return txn

    @router.get("/transactions")
    async def transactions(request: Request):
        return _gateway(request).transactions()

    @router.get("/ipn-log")
    async def ipn_log(request: Request, txn_ref: str | None = None):
        return _gateway(request).ipn_log(txn_ref)

    @router.post("/transactions/{txn_ref}/deliver-ipn", summary="Send the IPN again, as is or tampered with")
    async def deliver_ipn(request: Request, txn_ref: str, tmn_code: str | None = None,
                          tamper: Literal["amount", "signed_amount", "signature"] | None = None,
                          times: Annotated[int, Query(ge=1, le=20)] = 1):
        txn = transaction(request, txn_ref, tmn_code)
        if txn.result is None:
            raise HTTPException(409, "the transaction is not completed yet")
        gateway = _gateway(request)
        return [await gateway.send_ipn(txn, kind="redeliver", tamper=tamper) for _ in range(times)]

    @router.post("/settle-silently", summary="Complete a payment without IPN nor browser return (reconciliation)")
    async def settle_silently(request: Request, settle: Settle):
        gateway = _gateway(request)
        if settle.payment_url:
            query = urlsplit(settle.payment_url).query
            try:
                txn = gateway.open({k: v for k, v in parse_qsl(query, keep_blank_values=True) if k.startswith("vnp_")})
            except PayError as exc:
                raise HTTPException(400, f"VNPay error {exc.code}: {exc}") from None
        elif settle.txn_ref:
            txn = transaction(request, settle.txn_ref, settle.tmn_code)
        else:
            raise HTTPException(422, "txn_ref or payment_url is required")
        _, first_time = gateway.complete(txn, settle.outcome, silently=True)
        if not first_time:
            raise HTTPException(409, "the transaction was already completed")
        return txn.public()

    @router.post("/reset", status_code=204)
    async def reset(request: Request):
        _gateway(request).reset()

    return router


class RedactSignedUrls(logging.Filter):
    """httpx logs each request's URL at INFO; an IPN URL carries the signed result: keep only its path."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any("vnp_SecureHash" in str(a) for a in record.args):
            record.args = tuple(str(a).split("?", 1)[0] + "?…" if "vnp_SecureHash" in str(a) else a
                                for a in record.args)
        return True


def _redact_httpx_logs() -> None:
    httpx_log = logging.getLogger("httpx")
    if not any(isinstance(f, RedactSignedUrls) for f in httpx_log.filters):
        httpx_log.addFilter(RedactSignedUrls())


def create_app(settings: SandboxSettings | None = None, *, gateway: Gateway | None = None) -> FastAPI:
    """The sandbox as an ASGI app; run it (`python -m payment.sandbox`) or mount it in-process (then close
    `app.state.gateway` when the host stops: a mounted app's lifespan does not run)."""
    settings = settings or SandboxSettings()
    _redact_httpx_logs()
    gateway = gateway or Gateway(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        try:
            yield
        finally:
            await gateway.aclose()

    app = FastAPI(title="VNPay sandbox (Một Cửa)", version=p.VERSION, lifespan=lifespan,
                  description="A fake VNPay 2.1.0 gateway for development and tests: no real money moves.")
    app.state.gateway = gateway
    app.state.settings = settings

    @app.exception_handler(PayError)
    async def pay_error(request: Request, exc: PayError):
        return _error(exc.code)

    app.include_router(pay_router())
    if settings.sandbox_test_hooks:
        app.include_router(hooks_router())
    return app
