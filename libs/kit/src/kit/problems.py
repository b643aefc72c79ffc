"""RFC 9457 problem details: one exception type, and FastAPI handlers that never leak a 500 for client input."""

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from kit.rules import TITLES, RuleViolation

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("kit.problems")


class Problem(Exception):
    """An error a client can act on. `type` is a stable slug, turned into /problems/<slug>."""

    def __init__(self, status: int, slug: str, title: str, detail: str | None = None, **extra: Any):
        super().__init__(detail or title)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.extra = extra
        self.headers: dict[str, str] = {}

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"type": f"/problems/{self.slug}", "title": self.title, "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


class NotFound(Problem):
    def __init__(self, what: str, key: str):
        super().__init__(404, "not-found", f"{what} not found", f"No {what.lower()} '{key}'.", resource=what.lower())


class Conflict(Problem):
    def __init__(self, slug: str, title: str, detail: str | None = None, **extra: Any):
        super().__init__(409, slug, title, detail, **extra)


class Unavailable(Problem):
    def __init__(self, detail: str, retry_after: int = 5):
        super().__init__(503, "service-unavailable", "Service temporarily unavailable", detail)
        self.headers["Retry-After"] = str(retry_after)


def problem_response(problem: Problem, instance: str | None = None) -> JSONResponse:
    return JSONResponse(problem.body(instance), status_code=problem.status, media_type=PROBLEM_JSON, headers=problem.headers)


def _field_path(loc: tuple | list) -> str:
    return ".".join(str(part) for part in loc)


def validation_problem(errors: list[dict[str, Any]]) -> Problem:
    fields = []
    for err in errors:
        loc = err.get("loc", ())
        if err.get("type") == "json_invalid":
            return Problem(400, "malformed-json", "Malformed JSON body", f"The body is not valid JSON: {err.get('msg')}.")
        fields.append({"field": _field_path(loc), "message": err.get("msg", "invalid")})
    names = ", ".join(f["field"] for f in fields)
    return Problem(422, "validation-error", "Invalid request", f"Invalid or missing: {names}.", errors=fields)


def install(app: FastAPI) -> None:
    """Map every error a request can cause onto problem+json."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request.url.path)

    @app.exception_handler(RuleViolation)
    async def _rule(request: Request, exc: RuleViolation) -> JSONResponse:
        problem = Problem(exc.status, exc.kind, TITLES.get(exc.status, "Refused"), exc.detail, **exc.extra)
        return problem_response(problem, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(validation_problem(list(exc.errors())), request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug = {404: "not-found", 405: "method-not-allowed", 413: "payload-too-large"}.get(exc.status_code, "http-error")
        problem = Problem(exc.status_code, slug, str(exc.detail) if exc.detail else "Error")
        problem.headers.update(exc.headers or {})
        return problem_response(problem, request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(Problem(500, "internal-error", "Internal error"), request.url.path)


class BodyLimit:
    """Refuse bodies over `max_bytes` with 413 before the route reads them (pure ASGI, streams counted).

    A service that takes file uploads raises `max_bytes` to fit them and sets `max_non_multipart_bytes`
    to keep every other body (JSON) to a small limit: only `multipart/form-data` gets the large one."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_non_multipart_bytes: int | None = None):
        self.app = app
        self.max_bytes = max_bytes
        self.max_non_multipart_bytes = max_non_multipart_bytes

    def _limit(self, headers: dict[bytes, bytes]) -> int:
        if self.max_non_multipart_bytes is None:
            return self.max_bytes
        media = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        return self.max_bytes if media == b"multipart/form-data" else min(self.max_bytes, self.max_non_multipart_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        limit = self._limit(headers)
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, send, limit)
            return
        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge()
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await self._refuse(scope, send, limit)

    async def _refuse(self, scope: Scope, send: Send, limit: int) -> None:
        problem = Problem(413, "payload-too-large", "Request body too large", f"The body exceeds {limit} bytes.")
        body = json.dumps(problem.body(scope.get("path"))).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass
