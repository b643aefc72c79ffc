"""`python -m notification.sms.sandbox`: a fake HTTP SMS gateway on MOTCUA_SMS_SANDBOX_HOST:PORT (8197).

It speaks the protocol of `http_gateway`: `POST /v1/sms` with a bearer key, deduplicated by `client_ref`;
after accepting, it POSTs a delivery report signed with `X-Signature` (hex HMAC-SHA256 of the body) to
MOTCUA_SMS_SANDBOX_CALLBACK_URL. Test hooks: `POST /_sandbox/fail?count=N&status=503` fails the next N sends,
`POST /_sandbox/undeliverable?count=N` reports the next N accepted messages as failed,
`GET /_sandbox/messages` lists what it took. Run two (different ports) to play primary and secondary."""

import asyncio
import contextlib
import hmac
import json
import logging
import uuid
from datetime import UTC, datetime

import httpx
from fastapi import APIRouter, FastAPI, Header, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from notification.sms.base import mask_phone, sign
from notification.sms.settings import SmsSandboxSettings
from notification.sms.text import segments

log = logging.getLogger("notification.sms.sandbox")


class SmsRequest(BaseModel):
    to: str
    text: str
    client_ref: str


class SandboxGateway:
    """The gateway's state: messages taken, failures still to inject, reports in flight."""

    def __init__(self, settings: SmsSandboxSettings):
        self.settings = settings
        self.messages: list[dict] = []
        self.by_client_ref: dict[str, dict] = {}
        self.failures_left = 0
        self.failure_status = 503
        self.undeliverable_left = 0  # the next N accepted messages are reported "failed" (handset unreachable)
        self.reports: set[asyncio.Task] = set()
        self.http: httpx.AsyncClient | None = None

    def authorized(self, authorization: str | None) -> bool:
        expected = f"Bearer {self.settings.api_key.get_secret_value()}".encode()
        return hmac.compare_digest((authorization or "").encode("utf-8", "replace"), expected)

    def accept(self, request: SmsRequest) -> dict:
        encoding, parts = segments(request.text)
        message = {"id": f"sbx-{uuid.uuid4().hex[:16]}", "to": request.to, "text": request.text,
                   "client_ref": request.client_ref, "encoding": encoding, "parts": parts,
                   "accepted_at": datetime.now(UTC).isoformat()}
        self.messages.append(message)
        self.by_client_ref[request.client_ref] = message
        if self.settings.callback_url:
            task = asyncio.create_task(self.report(message))
            self.reports.add(task)
            task.add_done_callback(self.reports.discard)
        return message

    async def report(self, message: dict) -> None:
        await asyncio.sleep(self.settings.report_delay_seconds)
        status = "delivered"
        if self.undeliverable_left > 0:
            self.undeliverable_left -= 1
            status = "failed"
        body = json.dumps({"provider_id": message["id"], "client_ref": message["client_ref"], "status": status,
                           "error": None if status == "delivered" else "subscriber_unreachable",
                           "delivered_at": datetime.now(UTC).isoformat()}).encode()
        signature = sign(body, self.settings.callback_secret.get_secret_value())
        try:
            assert self.http is not None
            await self.http.post(self.settings.callback_url, content=body,
                                 headers={"Content-Type": "application/json", "X-Signature": signature})
        except httpx.HTTPError as exc:
            log.warning("delivery report not delivered", extra={"provider_id": message["id"], "error": str(exc)})


def create_app(settings: SmsSandboxSettings | None = None) -> FastAPI:
    settings = settings or SmsSandboxSettings()
    gateway = SandboxGateway(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        gateway.http = httpx.AsyncClient(timeout=5.0)
        try:
            yield
        finally:
            for task in list(gateway.reports):
                task.cancel()
            await asyncio.gather(*gateway.reports, return_exceptions=True)
            await gateway.http.aclose()

    app = FastAPI(title="SMS gateway sandbox", lifespan=lifespan)
    app.state.gateway = gateway

    @app.get("/health/live", include_in_schema=False)
    @app.get("/health/ready", include_in_schema=False)  # no dependency: ready once it answers
    async def health():
        return {"status": "ok"}

    @app.post("/v1/sms")
    async def send_sms(request: SmsRequest, authorization: str | None = Header(default=None)):
        if not gateway.authorized(authorization):
            return JSONResponse({"error": "invalid_api_key"}, status_code=401)
        if gateway.failures_left > 0:
            gateway.failures_left -= 1
            return JSONResponse({"error": "sandbox_injected_failure"}, status_code=gateway.failure_status)
        if not request.to.startswith("+84") or not request.to[1:].isdigit() or not request.text:
            return JSONResponse({"error": "invalid_message"}, status_code=400)
        existing = gateway.by_client_ref.get(request.client_ref)
        message = existing or gateway.accept(request)
        log.info("sms taken", extra={"provider_id": message["id"], "to": mask_phone(request.to),
                                     "duplicate": existing is not None})
        return {"id": message["id"], "status": "accepted", "parts": message["parts"]}

    if settings.test_hooks:
        hooks = APIRouter(prefix="/_sandbox")

        @hooks.post("/fail")
        async def fail_next(count: int = Query(1, ge=0), status: int = Query(503, ge=400, le=599)):
            gateway.failures_left, gateway.failure_status = count, status
            return {"failures_left": count, "status": status}

        @hooks.post("/undeliverable")
        async def undeliverable(count: int = Query(1, ge=0)):
            gateway.undeliverable_left = count
            return {"undeliverable_left": count}

        @hooks.get("/messages")
        async def messages():
            return gateway.messages

        @hooks.post("/reset")
        async def reset():
            gateway.messages.clear()
            gateway.by_client_ref.clear()
            gateway.failures_left = gateway.undeliverable_left = 0
            return {"messages": 0}

        app.include_router(hooks)
    return app


def main() -> None:
    import uvicorn

    from kit.settings import PlatformSettings
    from kit.telemetry import setup_logging

    platform = PlatformSettings()
    setup_logging(platform.log_level, platform.log_format)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings = SmsSandboxSettings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, access_log=False, log_config=None)


if __name__ == "__main__":
    main()
