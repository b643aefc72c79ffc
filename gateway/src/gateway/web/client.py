"""Calls to the services from the pages, in process, through the gateway's own proxy: the same
upstream table, public-route rules, identity headers, tracing and retries as `/api/v1`."""

import json
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlencode

from fastapi import Request

from kit.problems import Problem

from gateway import routes
from gateway.identity import Principal, TokenVerifier
from gateway.proxy import Proxy

TOKEN_COOKIE = "motcua_token"


@dataclass
class Answer:
    status: int
    content: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self):
        try:
            return json.loads(self.content or b"null")
        except ValueError:
            return None

    @property
    def problem(self) -> dict:
        body = self.json()
        return body if isinstance(body, dict) else {}


def multipart(fields: dict[str, str], files: list[tuple[str, str, str, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body: text fields, then (part name, filename, content type, bytes) files."""
    boundary = uuid.uuid4().hex
    out = bytearray()
    for name, value in fields.items():
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n'
                f"Content-Type: application/json; charset=utf-8\r\n\r\n").encode()
        out += value.encode() + b"\r\n"
    for name, filename, content_type, data in files:
        safe = filename.replace('"', "").replace("\r", "").replace("\n", "")
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{safe}"\r\n'
                f"Content-Type: {content_type}\r\n\r\n").encode()
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


class Api:
    def __init__(self, proxy: Proxy, verifier: TokenVerifier):
        self.proxy = proxy
        self.verifier = verifier

    async def principal(self, request: Request) -> Principal | None:
        """The signed-in person, from the HttpOnly cookie; None when absent, expired or invalid."""
        token = request.cookies.get(TOKEN_COOKIE)
        if not token:
            return None
        try:
            return await self.verifier.verify_async(f"Bearer {token}")
        except Problem:
            return None

    async def call(self, request: Request, method: str, path: str, *, params: dict | None = None,
                   json_body: dict | None = None, body: bytes = b"", content_type: str | None = None,
                   headers: dict[str, str] | None = None) -> Answer:
        upstream = routes.upstream_for(path)
        if upstream is None:
            return Answer(404, json.dumps({"type": "/problems/not-found", "status": 404}).encode())
        principal = await self.principal(request)
        if principal is None and not routes.is_public(method, path):
            return Answer(401, json.dumps({"type": "/problems/unauthenticated", "status": 401}).encode())
        authorize = getattr(routes, "authorize", None)  # the role matrix, as on /api/v1 (404 or 403)
        if authorize is not None:
            try:
                authorize(method, path, principal)
            except Problem as problem:
                return Answer(problem.status, json.dumps(problem.body()).encode())
        if json_body is not None:
            body, content_type = json.dumps(json_body, ensure_ascii=False).encode(), "application/json"
        query = urlencode({k: v for k, v in (params or {}).items() if v not in (None, "")}, doseq=True)
        raw_headers = [(b"accept", b"application/json")]
        if content_type:
            raw_headers.append((b"content-type", content_type.encode("latin-1")))
        # The person's address as a proxy in front of the gateway reports it: the rate limits and the
        # security-code lockout (which wrap the proxy) count per client.
        for name in ("x-request-id", "traceparent", "user-agent", "accept-language", "x-forwarded-for"):
            if name in request.headers:
                raw_headers.append((name.encode(), request.headers[name].encode("latin-1")))
        for name, value in (headers or {}).items():
            raw_headers.append((name.lower().encode(), value.encode("latin-1")))
        scope = {"type": "http", "method": method, "path": "/api/v1" + path, "raw_path": ("/api/v1" + path).encode(),
                 "query_string": query.encode(), "headers": raw_headers, "client": request.client,
                 "server": request.scope.get("server"), "scheme": request.url.scheme, "root_path": "",
                 "http_version": "1.1", "app": request.scope.get("app")}
        sent = False

        async def receive():
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        inner = Request(scope, receive)
        try:
            response = await self.proxy.forward(inner, upstream, path, principal)
        except Problem as problem:
            return Answer(problem.status, json.dumps(problem.body()).encode())
        return Answer(response.status_code, bytes(response.body),
                      {k.lower(): v for k, v in response.headers.items()})
